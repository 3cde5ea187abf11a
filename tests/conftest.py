"""Session fixtures: synthetic corpora (tiny for behaviour, PMC-sized for hashing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rocov2_fast import synth


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    synth.generate(out, synth.Options(articles=14, seed=3, profile="tiny", faults=True))
    return out


@pytest.fixture(scope="session")
def pmc_sized_corpus(tmp_path_factory) -> Path:
    """PMC-sized figures (500-3000 px): for the hash comparisons."""
    out = tmp_path_factory.mktemp("pmc_corpus")
    synth.generate(out, synth.Options(articles=40, seed=11, profile="pmc"))
    return out

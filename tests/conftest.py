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


@pytest.fixture(scope="session")
def dataset_corpus(tmp_path_factory) -> Path:
    """A corpus big enough to leave a dataset worth splitting (about 45 images)."""
    out = tmp_path_factory.mktemp("dataset_corpus")
    synth.generate(out, synth.Options(articles=90, seed=21, profile="tiny"))
    return out


@pytest.fixture(scope="session")
def built_run(dataset_corpus, tmp_path_factory) -> tuple[Path, list[str]]:
    """`build` run once over `dataset_corpus`: (run directory, the stage log lines)."""
    from rocov2_fast.build import BuildOptions, build

    run = tmp_path_factory.mktemp("built") / "run"
    lines: list[str] = []
    build(BuildOptions(inputs=[str(dataset_corpus)], out=run, file_list=str(dataset_corpus / "oa_file_list.csv"),
                       min_images=1, show_progress=False), log=lines.append)
    return run, lines


@pytest.fixture(scope="session")
def scale_corpus(tmp_path_factory) -> Path:
    """The corpus every executor runs over (test_scale.py, test_ray.py): 15 shards of 3 packages."""
    out = tmp_path_factory.mktemp("scale_corpus")
    synth.generate(out, synth.Options(articles=40, seed=5, profile="tiny", faults=True))
    return out


@pytest.fixture(scope="session")
def scale_reference(scale_corpus, tmp_path_factory) -> Path:
    """One in-process worker: the result every other way of running must equal."""
    from helpers import filter_cli, run_cli

    out = tmp_path_factory.mktemp("reference") / "run"
    done = run_cli(filter_cli(scale_corpus, out, "--no-progress"))
    assert done.returncode == 0, done.stderr
    return out

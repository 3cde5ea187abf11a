"""Session fixtures: synthetic corpora (tiny for behaviour, PMC-sized for hashing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rocov2_fast import synth


@pytest.fixture(scope="session")
def make_corpus(tmp_path_factory):
    """The one corpus factory: `make_corpus(articles, seed=0, profile="tiny", **synth_options)` → a
    synthetic PMC OA corpus (packages, oa_file_list.csv, truth.csv), written once per session for
    each set of options. Shared: a test that changes its corpus makes its own (`synth` into tmp_path)."""
    made: dict[tuple, Path] = {}

    def make(articles: int, seed: int = 0, profile: str = "tiny", name: str = "corpus", **options) -> Path:
        key = (articles, seed, profile, tuple(sorted(options.items())))
        if key not in made:
            made[key] = tmp_path_factory.mktemp(name)
            synth.generate(made[key], synth.Options(articles=articles, seed=seed, profile=profile, **options))
        return made[key]

    return make


@pytest.fixture(scope="session")
def tiny_corpus(make_corpus) -> Path:
    return make_corpus(14, seed=3, faults=True)


@pytest.fixture(scope="session")
def pmc_sized_corpus(make_corpus) -> Path:
    """PMC-sized figures (500-3000 px): for the hash comparisons."""
    return make_corpus(40, seed=11, profile="pmc", name="pmc_corpus")


@pytest.fixture(scope="session")
def dataset_corpus(make_corpus) -> Path:
    """A corpus big enough to leave a dataset worth splitting (about 45 images)."""
    return make_corpus(90, seed=21, name="dataset_corpus")


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
def scale_corpus(make_corpus) -> Path:
    """The corpus every executor runs over (test_scale.py, test_ray.py): 15 shards of 3 packages."""
    return make_corpus(40, seed=5, faults=True, name="scale_corpus")


@pytest.fixture(scope="session")
def scale_reference(scale_corpus, tmp_path_factory) -> Path:
    """One in-process worker: the result every other way of running must equal."""
    from helpers import filter_cli, run_cli

    out = tmp_path_factory.mktemp("reference") / "run"
    done = run_cli(filter_cli(scale_corpus, out, "--no-progress"))
    assert done.returncode == 0, done.stderr
    return out


# -- snapshots: tests/snapshots/<name>; UPDATE_SNAPSHOTS=1 pytest ... rewrites them -------------

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
def snapshot():
    """`snapshot(name, text)`: `text` must equal tests/snapshots/<name>; with UPDATE_SNAPSHOTS=1 it
    is written there instead (review the diff, then commit it)."""
    import os

    def check(name: str, text: str) -> None:
        path = SNAPSHOTS / name
        if os.environ.get("UPDATE_SNAPSHOTS") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1 to write it"
        assert text == path.read_text(encoding="utf-8"), f"{name} changed: if intended, rerun with UPDATE_SNAPSHOTS=1 and commit the diff"

    return check

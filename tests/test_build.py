"""`rocov2-fast build`: every stage in turn, skipped when nothing it reads changed, rerun (with every
later stage) when something did, however the earlier run ended (a failure, or SIGKILL)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from rocov2_fast.build import STAGES, BuildOptions, build
from rocov2_fast.cli import app
from rocov2_fast.dataset import read_dataset
from test_dataset import ROCOV2_FILES, read_csv_rows


def stage_of(line: str) -> str:
    return line.split("]")[0][1:]


def test_build_runs_every_stage_and_leaves_a_dataset(built_run):
    run, lines = built_run
    assert [line.split("]")[0][1:] for line in lines] == list(STAGES)
    df = read_dataset(run)
    assert df.height >= 30, "the synthetic corpus should leave a dataset worth splitting"
    kept = pl.read_parquet(run / "manifest.parquet").filter(pl.col("fate") == "kept")
    captions_kept = pl.read_parquet(run / "captions.parquet").filter(pl.col("keep"))
    assert set(df["image_id"]) == set(kept["image_id"]) & set(captions_kept["image_id"])
    assert sorted(p.name for p in (run / "export" / "rocov2").iterdir()) == ROCOV2_FILES
    assert (run / "report.html").exists() and (run / "export" / "hf" / "README.md").exists()


def test_build_skips_finished_stages_and_reruns_from_a_changed_one(built_run, dataset_corpus):
    run, _ = built_run
    corpus = dataset_corpus
    lines: list[str] = []
    opts = BuildOptions(inputs=[str(corpus)], out=run, file_list=str(corpus / "oa_file_list.csv"), min_images=1, show_progress=False)
    build(opts, log=lines.append)
    assert all("skipped" in line for line in lines) and len(lines) == len(STAGES)
    lines.clear()
    opts.redo = ("split",)
    build(opts, log=lines.append)
    rerun = [line.split("]")[0][1:] for line in lines if "skipped" not in line]
    assert rerun == ["split", "export", "report"]
    with pytest.raises(ValueError, match="unknown stage"):
        build(BuildOptions(inputs=[], out=run, redo=("nope",)), log=lines.append)


# -- stages notice change ---------------------------------------------------------------------

class StopAfterFilter(Exception):
    """Raised from the log right after `filter` finished: a build that failed after that stage."""


def move_packages(packages: list[Path], src: Path, dst: Path) -> None:
    for package in packages:
        target = dst / package.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(package, target)


def exported_pmcids(run: Path) -> set[str]:
    rows = read_csv_rows(run / "export" / "rocov2" / "license_information.csv")[1:]
    assert len(rows) == read_dataset(run).height
    return {row[1] for row in rows}


def test_inputs_added_then_a_failed_or_killed_build_reruns_every_later_stage(tmp_path):
    """The corpus grows twice. Once the build fails right after `filter`, once it is killed (SIGKILL)
    right after `filter`; each time the rerun reruns every later stage and exports the new images.
    A rerun with nothing changed skips every stage; one with a package touched redoes its shard only."""
    corpus, held = tmp_path / "corpus", tmp_path / "held"
    made = CliRunner().invoke(app, ["synth", str(corpus), "--articles", "48", "--seed", "21", "--profile", "tiny"])
    assert made.exit_code == 0, made.output
    packages = sorted(corpus.rglob("*.tar.gz"))
    added_first, added_second = packages[24:36], packages[36:]
    move_packages(packages[24:], corpus, held)
    run = tmp_path / "run"
    opts = BuildOptions(inputs=[str(corpus)], out=run, file_list=str(corpus / "oa_file_list.csv"), min_images=1,
                        show_progress=False, formats=("rocov2",), shard_size=8)
    lines: list[str] = []
    build(opts, log=lines.append)
    assert [stage_of(line) for line in lines] == list(STAGES)
    before = exported_pmcids(run)

    # inputs added; the build fails right after filter
    move_packages([held / p.relative_to(corpus) for p in added_first], held, corpus)

    def stop_after_filter(line: str) -> None:
        if line.startswith("[filter]"):
            raise StopAfterFilter

    with pytest.raises(StopAfterFilter):
        build(opts, log=stop_after_filter)
    lines.clear()
    build(opts, log=lines.append)
    assert [stage_of(line) for line in lines if "skipped" in line] == ["filter"]
    assert [stage_of(line) for line in lines if "skipped" not in line] == list(STAGES[1:])
    grown = exported_pmcids(run)
    new_pmcids = {p.name.removesuffix(".tar.gz") for p in added_first}
    assert before < grown and grown - before <= new_pmcids and grown - before

    # inputs added again; `rocov2-fast build` is killed once filter is done with them
    move_packages([held / p.relative_to(corpus) for p in added_second], held, corpus)
    state_path = run / "build.json"
    filter_before = json.loads(state_path.read_text())["filter"]["fingerprint"]
    args = [sys.executable, "-m", "rocov2_fast.cli", "build", str(corpus), "--out", str(run), "--file-list",
            str(corpus / "oa_file_list.csv"), "--min-images", "1", "--no-progress", "--formats", "rocov2", "--shard-size", "8"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            state = json.loads(state_path.read_text())
        except (FileNotFoundError, ValueError):
            state = {}
        if state.get("filter", {}).get("done") and state["filter"]["fingerprint"] != filter_before:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "build ended before it could be killed after filter"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = CliRunner().invoke(app, args[3:])
    assert again.exit_code == 0, again.output
    ran = [stage_of(line) for line in again.output.splitlines() if line.startswith("[") and "skipped" not in line]
    assert ran == list(STAGES[1:])
    final = exported_pmcids(run)
    assert grown < final and final - grown <= {p.name.removesuffix(".tar.gz") for p in added_second}

    # nothing changed: every stage skipped
    lines.clear()
    build(opts, log=lines.append)
    assert all("skipped" in line for line in lines) and len(lines) == len(STAGES)

    # one package touched: filter redoes its shard only (resume), and every later stage reruns
    touched = added_second[0]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    lines.clear()
    build(opts, log=lines.append)
    assert [stage_of(line) for line in lines if "skipped" not in line] == list(STAGES)
    result = json.loads(state_path.read_text())["filter"]["result"]
    assert (result["shards_processed"], result["shards"]) == (1, 6)
    assert exported_pmcids(run) == final


def test_a_table_rewritten_between_builds_reruns_its_stage_and_the_ones_after(built_run, dataset_corpus, tmp_path):
    """A stage whose output was rewritten since (here by the `captions` command, run by hand with other
    options) reruns, and so does every stage after it, which read that output."""
    run = tmp_path / "run"
    shutil.copytree(built_run[0], run)
    corpus = dataset_corpus
    opts = BuildOptions(inputs=[str(corpus)], out=run, file_list=str(corpus / "oa_file_list.csv"), min_images=1, show_progress=False)
    done = CliRunner().invoke(app, ["captions", str(run), "--lang-rule", "paper", "--min-letters", "40"])
    assert done.exit_code == 0, done.output
    lines: list[str] = []
    build(opts, log=lines.append)
    assert [stage_of(line) for line in lines if "skipped" not in line] == list(STAGES[1:])


def test_an_option_added_since_a_build_at_its_default_is_not_a_change(tmp_path):
    from dataclasses import asdict, replace

    from rocov2_fast.build import PIPELINE, fingerprint, options_added_since
    from rocov2_fast.filter import FilterOptions

    stage, options = PIPELINE[0], FilterOptions(inputs=[], out=tmp_path)
    now = fingerprint(stage, options, tmp_path)
    # a build made before `shard_source_bytes` existed recorded its options without it
    older = {"options": {k: v for k, v in now["options"].items() if k != "shard_source_bytes"}}
    assert options_added_since(stage, older, options) == {"shard_source_bytes"}
    same = fingerprint(stage, options, tmp_path, options_added_since(stage, older, options))
    assert same["options"] == older["options"] and same["setup"] != now["setup"]
    assert options_added_since(stage, older, replace(options, shard_source_bytes=1 << 20)) == frozenset()  # set: a change
    assert options_added_since(stage, now, options) == frozenset() and "shard_source_bytes" in asdict(options)

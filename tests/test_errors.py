"""Issue 15 item 3: the expected failures of the stage commands print one `error:` line and exit 2,
never a traceback: a table without a column it needs, an output that cannot be written (a read-only
file system, a full disk), an `--out` that names a file. (Truncated and missing tables:
test_scale.py::test_stage_commands_on_a_damaged_run_print_one_line.)"""

from __future__ import annotations

import resource
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
from helpers import run_cli

CLI = [sys.executable, "-m", "rocov2_fast.cli"]


def assert_one_error_line(done, *words: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.fixture
def run(built_run, tmp_path) -> Path:
    """A copy of a finished build (every stage's table present) the test may damage."""
    copy = tmp_path / "run"
    shutil.copytree(built_run[0], copy)
    return copy


def drop_column(table: Path, column: str) -> None:
    pl.read_parquet(table).drop(column).write_parquet(table)


@pytest.mark.parametrize(("command", "table", "column"), [
    (["captions"], "manifest.parquet", "caption"),
    (["concepts"], "captions.parquet", "keep"),
    (["split"], "concepts.parquet", "cuis"),
    (["export", "--out", "OUT", "--format", "rocov2"], "dataset.parquet", "split"),
    (["report"], "dataset.parquet", "caption"),
])
def test_a_table_without_a_column_it_needs_is_one_line(run, tmp_path, command, table, column):
    drop_column(run / table, column)
    args = [a.replace("OUT", str(tmp_path / "export")) for a in command]
    assert_one_error_line(run_cli([*CLI, args[0], str(run), *args[1:]]))


@pytest.mark.parametrize("fmt", ["rocov2", "hf"])
def test_out_naming_a_file_is_one_line(run, tmp_path, fmt):
    a_file = tmp_path / "export.txt"
    a_file.write_text("not a folder")
    assert_one_error_line(run_cli([*CLI, "export", str(run), "--out", str(a_file), "--format", fmt]))
    assert a_file.read_text() == "not a folder"


def test_filter_out_naming_a_file_is_one_line(tiny_corpus, tmp_path):
    a_file = tmp_path / "run.txt"
    a_file.write_text("not a folder")
    assert_one_error_line(run_cli([*CLI, "filter", str(tiny_corpus), "--out", str(a_file), "--no-progress"]))
    assert a_file.read_text() == "not a folder"


def test_a_read_only_output_is_one_line(run):
    # /sys refuses new files even to root (CI runs as root, so a chmod'ed folder would not do)
    assert_one_error_line(run_cli([*CLI, "export", str(run), "--out", "/sys/rocov2-fast-export", "--format", "rocov2"]))
    assert_one_error_line(run_cli([*CLI, "inspect", str(run), "--out", "/sys/rocov2-fast-gallery.html"]))


def limit_file_size():
    # a disk that fills up after 8 KiB: writes past it fail with EFBIG (Python ignores SIGXFSZ)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 1024, 8 * 1024))


@pytest.mark.parametrize("command", [["export", "--out", "OUT", "--format", "rocov2"], ["export", "--out", "OUT", "--format", "hf"],
                                     ["report"], ["inspect", "--out", "OUT.html"]])
def test_a_full_disk_is_one_line(run, tmp_path, command):
    args = [a.replace("OUT", str(tmp_path / "out")) for a in command]
    assert_one_error_line(run_cli([*CLI, args[0], str(run), *args[1:]], preexec_fn=limit_file_size))


def test_export_never_replaces_a_folder_that_is_not_an_export(run, tmp_path):
    """An export replaces its --out whole: a folder with the user's own files is refused, untouched."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("mine")
    assert_one_error_line(run_cli([*CLI, "export", str(run), "--out", str(home), "--format", "rocov2"]), "thesis.tex")
    assert (home / "thesis.tex").read_text() == "mine" and sorted(p.name for p in home.iterdir()) == ["thesis.tex"]
    again = tmp_path / "again"  # an earlier export of each format is replaced
    for fmt in ("rocov2", "hf", "wds", "rocov2"):
        done = run_cli([*CLI, "export", str(run), "--out", str(again), "--format", fmt])
        assert done.returncode == 0, done.stderr

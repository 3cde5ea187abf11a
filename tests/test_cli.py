"""The command line: every command's `--help` (snapshots), the funnel text and `summary.json`'s keys
(snapshots), and the stage commands on a built run.

Snapshots live in tests/snapshots/; after an intended change, `UPDATE_SNAPSHOTS=1 pytest tests/test_cli.py`
rewrites them (review the diff, commit it)."""

from __future__ import annotations

import json

import pytest
import typer.main
from typer.testing import CliRunner

from rocov2_fast.cli import app
from test_dataset import read_csv_rows


def command_paths(group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command of the CLI (a group has `commands`), as the words that name it."""
    paths = [prefix]
    for name, command in sorted(group.commands.items()):
        paths += command_paths(command, prefix + (name,)) if hasattr(command, "commands") else [prefix + (name,)]
    return paths


COMMANDS = command_paths(typer.main.get_command(app))


def test_every_command_is_listed():
    assert len(COMMANDS) > 25 and ("build",) in COMMANDS and ("evaluate", "concepts") in COMMANDS


def test_top_help_and_readme_name_every_command_and_module():
    from pathlib import Path

    import rocov2_fast.cli as cli

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for words in COMMANDS[1:]:
        assert f"`{words[0]}" in cli.__doc__, words
        assert f"`rocov2-fast {words[0]}" in readme, words
    for module in ("dataset/", "fetch/", "evaluate/", "baselines/", "build.py"):
        assert module in cli.__doc__ and module in readme, module


@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: " ".join(words) or "top")
def test_help_snapshot(words, snapshot):
    result = CliRunner().invoke(app, [*words, "--help"], prog_name="rocov2-fast", terminal_width=80)
    assert result.exit_code == 0, result.output
    snapshot(f"help/{'_'.join(words) or 'top'}.txt", result.output)


def test_build_offers_every_stage_option():
    """`build` takes every option of the stages it runs (less the one-off actions of `filter` and
    the single `--format` of `export`, for which it has `--formats`)."""
    commands = typer.main.get_command(app).commands
    names = {name: {p.name for p in commands[name].params} for name in commands}
    one_off = {"run_dir", "fresh", "rethreshold", "num_nodes", "node_rank", "finish_only", "dry_run", "format", "out"}
    for stage in ("filter", "captions", "concepts", "suggest-manual", "split", "export"):
        assert names[stage] - one_off <= names["build"], (stage, names[stage] - one_off - names["build"])


def test_funnel_text_snapshot(snapshot):
    from rocov2_fast.filter.finish import Funnel

    funnel = Funnel(images=172, removed={"license": 48, "ingest": 3, "compound": 29, "radiology": 34, "duplicate": 1},
                    kept=57, failed_sources=3)
    snapshot("funnel.txt", "\n".join(funnel.lines()) + "\n")


#: maps whose keys are data (statuses, licence spellings), not the schema
DATA_KEYED = {"statuses", "file_list_unrecognised_licenses"}


def key_paths(value, prefix: str = "") -> list[str]:
    if not isinstance(value, dict):
        return []
    out = []
    for key, item in value.items():
        path = f"{prefix}{key}"
        out += [path] + ([] if key in DATA_KEYED else key_paths(item, path + "."))
    return out


def test_summary_json_keys_snapshot(built_run, snapshot):
    run, _ = built_run
    snapshot("summary_keys.txt", "\n".join(sorted(key_paths(json.loads((run / "summary.json").read_text())))) + "\n")


def test_cli_split_export_report_and_bad_ratios(built_run, tmp_path):
    import shutil

    run = tmp_path / "run"  # a copy: `export` records its IDs in the run directory, which other tests read
    shutil.copytree(built_run[0], run)
    runner = CliRunner()
    bad = runner.invoke(app, ["split", str(run), "--ratios", "0.5,0.5,0.5"])
    assert bad.exit_code == 2 and "summing to 1" in bad.output
    ok = runner.invoke(app, ["split", str(run), "--seed", "0"])
    assert ok.exit_code == 0 and "LD" in ok.output
    exported = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "x"), "--format", "rocov2", "--prefix", "MINE"])
    assert exported.exit_code == 0
    assert read_csv_rows(tmp_path / "x" / "train_captions.csv")[1][0] == "MINE_train_000001"
    missing = runner.invoke(app, ["import-rocov2", str(tmp_path / "nothing"), "--out", str(tmp_path / "y")])
    assert missing.exit_code == 2 and "train_captions.csv" in missing.output
    report = runner.invoke(app, ["report", str(run)])
    assert report.exit_code == 0 and "report.html" in report.output

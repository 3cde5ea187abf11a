"""`--config FILE.toml` and ROCOV2_FAST_<OPTION> on `build` and `filter`: a build writes
RUN_DIR/config.toml, and `build --config` with it repeats the run (every stage skipped); flags
and environment variables override the file."""

from __future__ import annotations

import tomllib

import pytest
from rocov2_fast.cli import app
from rocov2_fast.config import config_text
from typer.testing import CliRunner


def stages_run(output: str) -> list[str]:
    return [line.split("]")[0][1:] for line in output.splitlines() if line.startswith("[") and "skipped" not in line]


def test_build_config_round_trip_flags_and_env_override(dataset_corpus, tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    first = runner.invoke(app, ["build", str(dataset_corpus), "--out", str(run), "--file-list", str(dataset_corpus / "oa_file_list.csv"),
                                "--min-images", "1", "--no-progress", "--formats", "rocov2,wds"])
    assert first.exit_code == 0, first.output
    assert stages_run(first.output) == ["filter", "captions", "concepts", "suggest-manual", "split", "export", "report"]
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["inputs"] == [str(dataset_corpus)] and config["out"] == str(run)
    assert (config["min-images"], config["formats"], config["seed"], config["progress"]) == (1, "rocov2,wds", 0, False)
    assert "redo" not in config and "config" not in config
    # the written file repeats the run: nothing to do
    again = runner.invoke(app, ["build", "--config", str(run / "config.toml")])
    assert again.exit_code == 0, again.output
    assert stages_run(again.output) == [] and again.output.count("skipped") == 7
    # a flag overrides the file; the new value is recorded
    reseeded = runner.invoke(app, ["build", "--config", str(run / "config.toml"), "--seed", "3"])
    assert reseeded.exit_code == 0, reseeded.output
    assert stages_run(reseeded.output) == ["split", "export", "report"]
    assert tomllib.loads((run / "config.toml").read_text())["seed"] == 3
    # so does ROCOV2_FAST_<OPTION>
    env = runner.invoke(app, ["build", "--config", str(run / "config.toml")], env={"ROCOV2_FAST_SEED": "0"})
    assert env.exit_code == 0, env.output
    assert stages_run(env.output) == ["split", "export", "report"]
    assert tomllib.loads((run / "config.toml").read_text())["seed"] == 0


def test_config_names_with_dashes_or_underscores_lists_and_unknown_names(dataset_corpus, tmp_path):
    runner = CliRunner()
    config = tmp_path / "filter.toml"
    config.write_text(f'inputs = ["{dataset_corpus}"]\nout = "{tmp_path / "f"}"\nfile_list = "{dataset_corpus / "oa_file_list.csv"}"\n'
                      'licenses = ["CC BY"]\nshard-size = 7\ndry-run = true\n')
    planned = runner.invoke(app, ["filter", "--config", str(config)])
    assert planned.exit_code == 0, planned.output
    assert "shards of 7" in planned.output and "licences kept: CC BY;" in planned.output
    flagged = runner.invoke(app, ["filter", "--config", str(config), "--shard-size", "5"])
    assert flagged.exit_code == 0 and "shards of 5" in flagged.output
    enved = runner.invoke(app, ["filter", "--config", str(config)], env={"ROCOV2_FAST_SHARD_SIZE": "4"})
    assert enved.exit_code == 0 and "shards of 4" in enved.output
    config.write_text('out = "x"\nno-such-option = 1\n')
    bad = runner.invoke(app, ["build", "--config", str(config)])
    assert bad.exit_code == 2 and "unknown option 'no-such-option'" in bad.output
    missing = runner.invoke(app, ["build", "--config", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_config_text_is_valid_toml():
    from pathlib import Path

    text = config_text({"inputs": [Path("a b"), Path('q"uote')], "ratios": "0.75,0.125,0.125", "gpus": 0, "x": 0.5,
                        "suggested_manual": True, "progress": None, "redo": ["split"], "manual": []})
    assert tomllib.loads(text) == {"inputs": ["a b", 'q"uote'], "ratios": "0.75,0.125,0.125", "gpus": 0, "x": 0.5,
                                   "suggested-manual": True, "manual": []}
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads("= broken")


def sample_value(name: str, annotation, low):
    """A value of the parameter's type (from its annotation) other than its default."""
    import typing
    from pathlib import Path

    kind = typing.get_args(annotation)[0]
    if typing.get_origin(kind) is typing.Union:  # Optional[X] → X
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is list:
        return ["split", "export"] if name == "redo" else ["/data/a", "/data/b"]
    if kind is bool:
        return True if name in ("progress", "force_unlock", "cpu_sessions", "fresh", "rethreshold", "finish_only", "dry_run") else False
    if kind is int:
        return (low or 0) + 1
    return {float: 0.25, Path: "/data/x"}.get(kind, "sample")


@pytest.mark.parametrize("command", ["filter", "build"])
def test_every_option_of_filter_and_build_comes_from_the_config_file_or_the_environment(command, tmp_path):
    """Parsed, not run: each option's value from a TOML file, then from ROCOV2_FAST_<OPTION>."""
    import os

    import typer.main

    from rocov2_fast.cli import app

    import inspect

    import rocov2_fast.cli as cli

    cmd = typer.main.get_command(app).commands[command]
    params = [p for p in cmd.params if p.name != "config"]
    signature = inspect.signature(getattr(cli, f"{command}_command")).parameters
    values = {p.name: sample_value(p.name, signature[p.name].annotation, getattr(p, "min", None)) for p in params}
    config = tmp_path / "all.toml"
    config.write_text(config_text(values, command))

    def parsed(args: list[str], env: dict[str, str]) -> dict:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            return cmd.make_context(command, args, resilient_parsing=False).params
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)

    def as_given(value):
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value) if hasattr(value, "parts") else value

    from_file = parsed(["--config", str(config)], {})
    from rocov2_fast.config import NOT_CONFIG

    for p in params:
        if p.name not in NOT_CONFIG:  # one-off actions are left out of a written config
            assert as_given(from_file[p.name]) == values[p.name], p.name
    options = [p for p in params if p.param_type_name == "option"]
    # a repeatable option's values: split on whitespace, paths on os.pathsep (click's rule)
    env = {f"ROCOV2_FAST_{p.name.upper()}": ((" " if p.name == "redo" else os.pathsep).join(values[p.name])
                                              if isinstance(values[p.name], list)
                                              else str(values[p.name]).lower() if isinstance(values[p.name], bool)
                                              else str(values[p.name])) for p in options}
    args = [str(v) for v in values["inputs"]] if command == "build" else []
    from_env = parsed(args, env)
    for p in options:
        assert as_given(from_env[p.name]) == values[p.name], p.name

"""`--config FILE.toml` and `ROCOV2_FAST_<OPTION>` for `build` and `filter`.

A config file names the command's options as the command line does (`file-list` or `file_list`)
and the INPUT arguments as `inputs`:

    inputs = ["/data/pmc/oa_package"]
    out = "runs/2024"
    file-list = "/data/pmc/oa_file_list.csv"
    licenses = "CC BY,CC BY-NC"      # or ["CC BY", "CC BY-NC"]
    seed = 0

It is read with `tomllib` into the command's defaults (click's `default_map`), so the order of
precedence is: the command line, then `ROCOV2_FAST_<OPTION>` environment variables (e.g.
`ROCOV2_FAST_SEED=3`, via `auto_envvar_prefix`), then the file, then the built-in defaults.
`build` writes the values it ran with to `RUN_DIR/config.toml` (`write_config`), so
`rocov2-fast build --config RUN_DIR/config.toml` repeats the run.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import typer

ENV_PREFIX = "ROCOV2_FAST"
#: the `context_settings` of a command that takes --config
CONFIG_SETTINGS = {"auto_envvar_prefix": ENV_PREFIX}
CONFIG_FILE = "config.toml"
#: what a written config leaves out: the config itself, and one-off actions
NOT_CONFIG = frozenset({"config", "redo", "fresh", "dry_run", "force_unlock", "rethreshold", "finish_only"})


def read_config(path: Path, command) -> dict:
    """The file's values under the command's parameter names; an unknown name is an error."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise typer.BadParameter(f"no such file: {path}", param_hint="--config") from e
    except tomllib.TOMLDecodeError as e:
        raise typer.BadParameter(f"{path} is not valid TOML: {e}", param_hint="--config") from e
    params = {p.name: p for p in command.params if p.name and p.name != "config"}
    values = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in params:
            raise typer.BadParameter(f"{path}: unknown option {key!r} for `{command.name}` (options: "
                                     f"{', '.join(sorted(n.replace('_', '-') for n in params))})", param_hint="--config")
        param = params[name]
        many = param.multiple or param.nargs != 1
        if isinstance(value, list) and not many:
            value = ",".join(str(v) for v in value)  # licenses = ["CC BY", "CC BY-NC"] → "CC BY,CC BY-NC"
        elif many and not isinstance(value, list):
            value = [value]
        values[name] = value
    return values


def config_callback(ctx: typer.Context, param: typer.CallbackParam, value):
    """The eager `--config` option: its file becomes the defaults of every other parameter."""
    if value is not None:
        ctx.default_map = {**(ctx.default_map or {}), **read_config(Path(value), ctx.command)}
    return value


def toml_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        # as given: `build` compares its inputs as strings, so a rewritten path would redo `filter`
        return json.dumps(str(value))
    if isinstance(value, (list, tuple)):
        items = [toml_value(v) for v in value]
        return "[" + ", ".join(i for i in items if i is not None) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def config_text(params: dict, command: str = "build") -> str:
    """The values a command ran with as TOML (None values, which mean the built-in default, left out)."""
    lines = [f"# rocov2-fast {command}: the options this run was made with.",
             f"# Repeat it with: rocov2-fast {command} --config THIS_FILE (flags given there override these).", ""]
    for name, value in params.items():
        text = None if name in NOT_CONFIG else toml_value(value)
        if text is not None:
            lines.append(f"{name.replace('_', '-')} = {text}")
    return "\n".join(lines) + "\n"


def write_config(path: Path, params: dict, command: str = "build") -> Path:
    from .rundir import write_atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = config_text(params, command)
    tomllib.loads(text)  # never write a file that cannot be read back
    write_atomic(path, text.encode())
    return path

"""Benchmark: how long `rocov2-fast` takes to start (issue 18, item 4).

Each command runs as a fresh process, as a user would run it, `--repeat` times; the best wall
time is kept (the machine is shared, so the best is the least disturbed). Beside the help
commands, the import of what each main command loads before its first unit of work is timed
with `python -X importtime` (the cumulative microseconds of the top-level import), so a slow
start is pinned to a module.

Target (issue 18): `rocov2-fast --help` and `rocov2-fast scan --help` under 0.25 s wall.

    .venv/bin/python benches/bench_startup.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
CLI = Path(sys.executable).with_name("rocov2-fast")

HELP_COMMANDS = ((), ("scan",), ("filter",), ("build",))
#: what `scan`, `filter` and `build` import before they read their first source
COMMAND_MODULES = {"scan": "rocov2_fast.ingest", "filter": "rocov2_fast.filter.run", "build": "rocov2_fast.build"}


def best_wall(args: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - started)
    return best


def import_profile(module: str, top: int = 5) -> dict:
    """Milliseconds to `import module` in a fresh interpreter (the sum of its top-level imports)
    and the `top` costliest packages it pulls in (a package's cumulative time, where first imported)."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], check=True,
                         capture_output=True, text=True).stderr
    total, packages = 0.0, {}
    for line in err.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if not cumulative.strip().isdigit():
            continue  # the header line
        ms = int(cumulative) / 1000
        if not name.startswith("  "):
            total += ms  # a top-level import: its time includes everything below it
        root = name.strip()
        if "." not in root and root != "rocov2_fast":
            packages[root] = max(packages.get(root, 0.0), ms)
    heaviest = sorted(packages.items(), key=lambda kv: -kv[1])[:top]
    return {"ms": round(total, 1), "heaviest packages ms": {k: round(v, 1) for k, v in heaviest}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    a = parser.parse_args()
    python = best_wall([sys.executable, "-c", "pass"], a.repeat)
    result = {"load_average": os.getloadavg()[0], "python -c pass s": round(python, 3), "help s": {}, "imports": {}}
    for words in HELP_COMMANDS:
        name = " ".join(("rocov2-fast", *words, "--help"))
        result["help s"][name] = round(best_wall([str(CLI), *words, "--help"], a.repeat), 3)
    result["imports"]["rocov2_fast.cli"] = import_profile("rocov2_fast.cli")
    for command, module in COMMAND_MODULES.items():
        result["imports"][f"{command}: {module}"] = import_profile(module)
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_startup.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

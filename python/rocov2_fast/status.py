"""`rocov2-fast status RUN_DIR`: how far a running or stopped filter run got, from the run
directory alone (markers carry each shard's counts: no part is read)."""

from __future__ import annotations

from pathlib import Path

from .errors import Rocov2Error
from .rundir import RunDir, read_json
from .runlog import add_counts, funnel_line


def run_status(run_dir: Path) -> dict:
    run = RunDir(run_dir)
    if not run.root.is_dir():
        raise Rocov2Error(f"{run.root}: no such run directory")
    settings = read_json(run.run_json)
    plan = read_json(run.plan_json)
    if settings is None or plan is None:
        raise Rocov2Error(f"{run.root} holds no filter run yet (no {run.run_json.name} / {run.plan_json.name})")
    markers = run.markers()
    counts: dict = {}
    for marker in markers.values():
        add_counts(counts, marker.get("counts", {}))
    holder = run.lock_holder()
    node_locks = [read_json(p) for p in sorted(run.root.glob("lock-node-*"))]
    summary = read_json(run.summary)
    return {
        "run_dir": str(run.root),
        "running": holder is not None or any(node_locks),
        "lock": holder,
        "node_locks": [n for n in node_locks if n],
        "shards": plan["shards"], "shards_done": len(markers),
        "sources": len(plan["sources"]),
        "funnel_so_far": counts,
        "finished": summary is not None and run.manifest.exists() and summary.get("shards") == plan["shards"]
                    and len(markers) == plan["shards"],
        "funnel": summary.get("funnel") if summary else None,
        "last_log_line": last_log_line(run),
        "settings": {k: settings[k] for k in ("licenses", "thresholds", "shard_size", "shard_source_bytes", "source_count") if k in settings},
    }


def last_log_line(run: RunDir) -> str | None:
    logs = sorted(run.logs.glob("*.log"), key=lambda p: p.stat().st_mtime) if run.logs.is_dir() else []
    for log in reversed(logs):
        lines = log.read_text(errors="replace").strip().splitlines()
        if lines:
            return f"{log.name}: {lines[-1]}"
    return None


def status_lines(state: dict) -> list[str]:
    lock = state["lock"]
    running = (f"running: {lock.get('command')} (pid {lock.get('pid')} on {lock.get('host')}, since {lock.get('started')})"
               if lock else "running: node workers" if state["running"] else "not running")
    done = state["shards_done"]
    lines = [f"{state['run_dir']}: {running}",
             f"shards: {done}/{state['shards']} done ({100 * done / max(state['shards'], 1):.1f} %), {state['sources']} sources",
             f"funnel so far: {funnel_line(state['funnel_so_far'])}"]
    if state["finished"]:
        lines.append(f"finished: {state['funnel']['kept']} kept of {state['funnel']['images']} images (manifest.parquet)")
    elif done == state["shards"] and not state["running"]:
        lines.append("every shard is done but the run is not finished: rerun filter (or --finish-only) to finish")
    if state["last_log_line"]:
        lines.append(f"last log line: {state['last_log_line']}")
    lines.append(f"settings: {state['settings']}")
    return lines

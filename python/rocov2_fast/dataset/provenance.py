"""How a dataset was made, for its card and report: the package version, the filter models
(digest, training data), the thresholds and decision rule in force (RUN_DIR/run.json), and the
images removed per stage (the ROCOv2 paper's Table 1, from RUN_DIR/summary.json's funnel).

Every fact is optional: an imported release has none of the filter's files."""

from __future__ import annotations

import json
from pathlib import Path

from ..rundir import RUN_JSON, SUMMARY, read_json


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rocov2-fast")
    except PackageNotFoundError:
        return "unknown"


def model_training_data(path: str | None, kind: str) -> str | None:
    """The ONNX model's `training_data` metadata (None when the model or a runtime is missing)."""
    try:
        from ..filter.models import FilterModel, default_model_path

        model = FilterModel.describe(Path(path) if path else default_model_path(kind))
    except Exception:  # noqa: BLE001 - a fact we cannot read is left out, never an error
        return None
    value = model.meta.get("training_data")
    return value if isinstance(value, str) else json.dumps(value) if value is not None else None


def run_facts(run_dir: Path) -> dict:
    """{"version", "models": {kind: {"sha256_16", "path", "training_data"}}, "thresholds",
    "decision", "licenses", "table1": {"images", "removed": {stage: n}, "kept"}} (keys present
    only where the run holds them)."""
    run_dir = Path(run_dir)
    facts: dict = {"version": package_version()}
    config = read_json(run_dir / RUN_JSON) or {}
    summary = read_json(run_dir / SUMMARY) or {}
    options = summary.get("options") or {}
    models = {}
    for kind in ("compound", "radiology"):
        if kind + "_model" in config:
            path = options.get(kind + "_model")
            models[kind] = {"sha256_16": config[kind + "_model"], "path": path or f"shipped {kind} model",
                            "training_data": model_training_data(path, kind)}
    if models:
        facts["models"] = models
    for key in ("thresholds", "decision", "licenses"):
        if key in config:
            facts[key] = config[key]
    if "funnel" in summary:
        facts["table1"] = summary["funnel"]
    return facts


def facts_markdown(facts: dict) -> str:
    """The facts as a Markdown section body (for the dataset card)."""
    lines = [f"- rocov2-fast version: {facts.get('version', 'unknown')}"]
    for kind, model in facts.get("models", {}).items():
        lines.append(f"- {kind} model: sha256 `{model['sha256_16']}…` ({model['path']}); training data: "
                     f"{model.get('training_data') or 'not recorded'}")
    if "thresholds" in facts:
        lines.append("- thresholds: " + ", ".join(f"{k} {v}" for k, v in facts["thresholds"].items())
                     + f"; decision: {facts.get('decision', 'image')}")
    if "licenses" in facts:
        lines.append("- licences kept: " + ", ".join(facts["licenses"]))
    table1 = facts.get("table1")
    if table1:
        lines += ["", "Images removed per stage (the ROCOv2 paper's Table 1):", "",
                  "| stage | removed | remaining |", "|---|---:|---:|", f"| figure images | | {table1['images']} |"]
        remaining = table1["images"]
        for stage, n in table1["removed"].items():
            remaining -= n
            lines.append(f"| {stage} filter | {n} | {remaining} |")
        lines.append(f"| kept | | {table1['kept']} |")
    else:
        lines.append("- filtering funnel: not recorded (an imported release)")
    return "\n".join(lines)

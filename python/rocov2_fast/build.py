"""`rocov2-fast build INPUT... --out DIR`: the whole pipeline with one set of options.

archive → records → batches → decisions → manifest (`filter`) → cleaned captions (`captions`) →
concepts (`concepts`, `suggest-manual`) → dataset (`split`) → files (`export`) → `report`.

Resumable stage by stage: DIR/build.json records each finished stage with the options it ran
with. A rerun skips a stage whose options are unchanged, reruns one whose options changed (and
every stage after it), and `redo` forces a stage and the ones after it. `filter` resumes inside
itself, shard by shard.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .rundir import write_atomic

EXPORT_FORMATS = ("rocov2", "hf", "wds")
STAGES = ("filter", "captions", "concepts", "suggest-manual", "split", "export", "report")


@dataclass
class BuildOptions:
    inputs: list[str]
    out: Path
    gpus: int = 0
    workers: int = 0
    file_list: str | None = None
    licenses: tuple[str, ...] = ("CC BY", "CC BY-NC")
    compound_model: str | None = None
    radiology_model: str | None = None
    batch_size: int = 256
    dedup_distance: int = 6
    lang_rule: str = "default"
    medcat_model: str | None = None
    min_images: int = 10
    manual: list[str] = field(default_factory=list)
    suggested_manual: bool = True
    ratios: tuple[float, ...] = (0.75, 0.125, 0.125)
    seed: int = 0
    group_by: str = "article"
    prefix: str = "ROCOv2_2023"
    formats: tuple[str, ...] = ("rocov2", "hf")
    redo: tuple[str, ...] = ()
    show_progress: bool | None = None


def stage_options(o: BuildOptions) -> dict[str, dict]:
    """What each stage's result depends on (a change reruns the stage)."""
    return {
        "filter": {"inputs": o.inputs, "file_list": o.file_list, "licenses": list(o.licenses),
                   "compound_model": o.compound_model, "radiology_model": o.radiology_model,
                   "dedup_distance": o.dedup_distance},
        "captions": {"lang_rule": o.lang_rule},
        "concepts": {"medcat_model": o.medcat_model, "min_images": o.min_images, "manual": o.manual},
        "suggest-manual": {},
        "split": {"ratios": list(o.ratios), "seed": o.seed, "group_by": o.group_by, "suggested_manual": o.suggested_manual},
        "export": {"prefix": o.prefix, "formats": list(o.formats)},
        "report": {},
    }


def stage_runners(o: BuildOptions) -> dict[str, Callable[[bool], dict]]:
    """Each stage as a call taking `fresh` (True when its earlier results are stale)."""
    run_dir = Path(o.out)

    def filter_stage(fresh: bool) -> dict:
        from .filter.run import FilterOptions, run_filter

        summary = run_filter(FilterOptions(
            inputs=o.inputs, out=run_dir, gpus=o.gpus, workers=o.workers, file_list=o.file_list, licenses=o.licenses,
            compound_model=o.compound_model, radiology_model=o.radiology_model, batch_size=o.batch_size,
            dedup_distance=o.dedup_distance, fresh=fresh, show_progress=o.show_progress))
        return {"funnel": summary["funnel"], "funnel_text": summary["funnel_text"]}

    def captions_stage(_: bool) -> dict:
        from .captions import clean_run

        result = clean_run(run_dir, lang_rule=o.lang_rule)
        return {"kept": int(result["keep"].sum()), "dropped": int((~result["keep"]).sum())}

    def concepts_stage(_: bool) -> dict:
        from .concepts.run import concepts_run

        return concepts_run(run_dir, model=o.medcat_model, min_images=o.min_images, manual=o.manual)

    def suggest_stage(_: bool) -> dict:
        from .concepts.run import suggest_run

        out = suggest_run(run_dir)
        return {"with_modality": int(out["modality"].is_not_null().sum()), "captions": out.height}

    def split_stage(_: bool) -> dict:
        from .dataset.split import split_run

        summary = split_run(run_dir, ratios=o.ratios, seed=o.seed, group_by=o.group_by, use_suggestions=o.suggested_manual)
        return {k: summary[k] for k in ("sizes", "unseen_concepts_removed", "manual_source")}

    def export_stage(_: bool) -> dict:
        from .dataset.export import export

        return {fmt: export(run_dir, run_dir / "export" / fmt, fmt, prefix=o.prefix) for fmt in o.formats}

    def report_stage(_: bool) -> dict:
        from .dataset.report import report_run

        stats = report_run(run_dir)
        return {"report": str(run_dir / "report.html"), "images": stats["images"]}

    return {"filter": filter_stage, "captions": captions_stage, "concepts": concepts_stage,
            "suggest-manual": suggest_stage, "split": split_stage, "export": export_stage, "report": report_stage}


def build(o: BuildOptions, log: Callable[[str], None] = print) -> dict:
    unknown = set(o.redo) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}; stages are {', '.join(STAGES)}")
    bad_formats = set(o.formats) - set(EXPORT_FORMATS)
    if bad_formats:
        raise ValueError(f"unknown export format(s) {sorted(bad_formats)}; formats are {', '.join(EXPORT_FORMATS)}")
    run_dir = Path(o.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "build.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    wanted, runners = stage_options(o), stage_runners(o)
    stale = False
    for stage in STAGES:
        previous = state.get(stage)
        changed = previous is not None and previous["options"] != wanted[stage]
        if not stale and previous is not None and not changed and stage not in o.redo:
            log(f"[{stage}] done earlier, skipped")
            continue
        started = time.perf_counter()
        # filter resumes a half-finished run of the same options; changed options start it over
        result = runners[stage](changed or stage in o.redo)
        state[stage] = {"options": wanted[stage], "seconds": round(time.perf_counter() - started, 2), "result": result}
        write_atomic(state_path, json.dumps(state, indent=2, default=str).encode())
        log(f"[{stage}] {state[stage]['seconds']} s: " + json.dumps({k: v for k, v in result.items() if k != "funnel_text"}, default=str))
        stale = True  # every later stage reads what this one wrote
    return state

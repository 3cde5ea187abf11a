"""`rocov2-fast build INPUT... --out DIR`: the whole pipeline with one set of options.

sources → records → batches → decisions → manifest (`filter`) → cleaned captions (`captions`) →
concepts (`concepts`, `suggest-manual`) → dataset (`split`) → files (`export`) → `report`.

`PIPELINE` is the one table of stages: each stage's name, its options (the dataclass beside the
stage; `BuildOptions` holds one of each), the run-directory files it reads, and the call that runs it.

Resumable stage by stage, and every stage notices change: DIR/build.json records, for each stage, a
fingerprint of what it read (the content digests of its input tables and of the files its options
name, the size and modification time of every source for `filter`) and of its options, and the
digests of what it wrote. A rerun skips a stage whose fingerprint is unchanged and whose outputs are
as it left them, and reruns it otherwise, however the earlier run ended (killed, failed, or another
command rewrote a table in between); a stage that reruns reruns every stage after it, and `redo`
forces a stage and the ones after it. `filter` resumes inside itself, shard by shard (redoing the
shards whose sources changed), and starts over only when its options, its models or its list of
sources changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from . import rundir
from .captions import CleanOptions
from .concepts.run import ConceptsOptions, SuggestOptions
from .dataset.export import ExportOptions
from .dataset.split import SplitOptions
from .filter.run import FilterOptions
from .rundir import read_json, write_json_atomic


@dataclass(frozen=True)
class Stage:
    name: str
    #: the `BuildOptions` attribute holding its options (None: it takes none)
    options: str | None
    #: run-directory files it reads: their content digests are part of its fingerprint
    reads: tuple[str, ...]
    #: (run directory, its options, fresh) → its result; `fresh`: its earlier results are stale
    run: Callable[[Path, Any, bool], dict]
    #: options that change how it runs, not what it makes (left out of its fingerprint)
    how: frozenset[str] = frozenset()
    #: options naming files it reads (their content digests are part of its fingerprint)
    files: tuple[str, ...] = ()
    #: run-directory files (or folders) it writes: a stage whose outputs changed since it wrote them reruns
    writes: tuple[str, ...] = ()


def run_filter_stage(run_dir: Path, o: FilterOptions, fresh: bool) -> dict:
    from .filter.run import run

    summary = run(run_dir, replace(o, fresh=fresh))
    return {"funnel": summary["funnel"], "funnel_text": summary["funnel_text"],
            "shards_processed": summary["shards_processed_this_run"], "shards": summary["shards"]}


def run_captions_stage(run_dir: Path, o: CleanOptions, _: bool) -> dict:
    from . import captions

    result = captions.run(run_dir, o)
    return {"kept": int(result["keep"].sum()), "dropped": int((~result["keep"]).sum())}


def run_concepts_stage(run_dir: Path, o: ConceptsOptions, _: bool) -> dict:
    from .concepts import run as concepts

    return concepts.run(run_dir, o)


def run_suggest_stage(run_dir: Path, o: SuggestOptions, _: bool) -> dict:
    from .concepts import run as concepts

    out = concepts.suggest(run_dir, o)
    return {"with_modality": int(out["modality"].is_not_null().sum()), "captions": out.height}


def run_split_stage(run_dir: Path, o: SplitOptions, _: bool) -> dict:
    from .dataset import split

    summary = split.run(run_dir, o)
    return {k: summary[k] for k in ("sizes", "unseen_concepts_removed", "manual_source")}


def run_export_stage(run_dir: Path, o: ExportOptions, _: bool) -> dict:
    from .dataset.export import export

    return {fmt: export(run_dir, run_dir / rundir.EXPORT / fmt, fmt, **o.writer_options(fmt)) for fmt in o.formats}


def run_report_stage(run_dir: Path, _: None, __: bool) -> dict:
    from .dataset import report

    stats = report.run(run_dir)
    return {"report": str(run_dir / rundir.REPORT_HTML), "images": stats["images"]}


#: how the filter runs, not what it decides
FILTER_HOW = frozenset({"out", "gpus", "workers", "batch_size", "fresh", "show_progress", "session_threads", "shard_workers",
                        "cpu_sessions", "executor", "ray_address", "num_nodes", "node_rank", "finish_only", "force_unlock",
                        "progress_interval"})

PIPELINE = (
    Stage("filter", "filter", (), run_filter_stage, FILTER_HOW, ("file_list", "compound_model", "radiology_model"),
          (rundir.MANIFEST,)),
    Stage("captions", "captions", (rundir.MANIFEST,), run_captions_stage, writes=(rundir.CAPTIONS,)),
    Stage("concepts", "concepts", (rundir.CAPTIONS,), run_concepts_stage, frozenset({"processes"}),
          ("blacklist", "remap", "manual"), (rundir.CONCEPTS, rundir.CUI_MAPPING, rundir.CONCEPTS_SUMMARY)),
    Stage("suggest-manual", "suggest", (rundir.CAPTIONS,), run_suggest_stage, writes=(rundir.SUGGESTIONS,)),
    Stage("split", "split", (rundir.MANIFEST, rundir.CAPTIONS, rundir.CONCEPTS, rundir.SUGGESTIONS), run_split_stage,
          writes=(rundir.DATASET, rundir.SPLIT_SUMMARY)),
    Stage("export", "export", (rundir.DATASET, rundir.CUI_MAPPING, rundir.MANIFEST, rundir.RUN_JSON, rundir.SUMMARY),
          run_export_stage, writes=(rundir.EXPORT,)),
    Stage("report", None, (rundir.DATASET, rundir.CAPTIONS, rundir.CUI_MAPPING, rundir.SUMMARY, rundir.CONCEPTS_SUMMARY,
                           rundir.SPLIT_SUMMARY), run_report_stage, writes=(rundir.REPORT_HTML,)),
)
STAGES = tuple(stage.name for stage in PIPELINE)
#: the stage options `BuildOptions` holds, by attribute
STAGE_OPTIONS = {"filter": FilterOptions, "captions": CleanOptions, "concepts": ConceptsOptions, "suggest": SuggestOptions,
                 "split": SplitOptions, "export": ExportOptions}


@dataclass(init=False)
class BuildOptions:
    """One of each stage's options. The constructor takes a stage's options whole (`FilterOptions` first,
    `captions=CleanOptions(...)`, ...) or option by option under their own names, as the command line
    gives them (`BuildOptions(inputs=[...], out=run, min_images=1, seed=3)`)."""

    filter: FilterOptions
    captions: CleanOptions = field(default_factory=CleanOptions)
    concepts: ConceptsOptions = field(default_factory=ConceptsOptions)
    suggest: SuggestOptions = field(default_factory=SuggestOptions)
    split: SplitOptions = field(default_factory=SplitOptions)
    export: ExportOptions = field(default_factory=ExportOptions)
    #: rerun these stages (and every stage after them) even if done
    redo: tuple[str, ...] = ()

    def __init__(self, filter: FilterOptions | None = None, *, redo: tuple[str, ...] = (), **options):
        stages = {name: options.pop(name) for name in STAGE_OPTIONS if name != "filter" and name in options}
        for name, cls in STAGE_OPTIONS.items():
            own = {f.name for f in fields(cls)}
            mine = {k: options.pop(k) for k in list(options) if k in own}
            if name == "filter":
                filter = replace(filter, **mine) if filter else FilterOptions(**{"inputs": [], "out": Path("."), **mine})
            else:
                stages[name] = replace(stages[name], **mine) if name in stages else cls(**mine)
        if options:
            raise TypeError(f"BuildOptions: unknown option(s) {', '.join(sorted(options))}")
        self.filter = filter
        for name, value in stages.items():
            setattr(self, name, value)
        self.redo = tuple(redo)

    @property
    def out(self) -> Path:
        return Path(self.filter.out)

    def of_stage(self, stage: Stage):
        return getattr(self, stage.options) if stage.options else None


def file_digest(path: Path) -> str | None:
    """A file's content digest (a JSON file's canonical content: key order is not a change); None if absent.
    A folder's: the names, sizes and modification times of the files in it (exports are large)."""
    path = Path(path)
    if path.is_dir():
        return digest(sorted((str(p.relative_to(path)), *stamp(p)) for p in path.rglob("*") if p.is_file()))
    try:
        key = (str(path), *stamp(path))
    except FileNotFoundError:
        return None
    if key not in _digests:  # a large table is read by several stages: digested once while unchanged
        with path.open("rb") as f:
            data = f.read() if path.suffix == ".json" else None
            if data is not None:
                try:
                    data = json.dumps(json.loads(data), sort_keys=True).encode()
                except ValueError:
                    pass
                _digests[key] = hashlib.sha256(data).hexdigest()
            else:
                _digests[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _digests[key]


_digests: dict[tuple, str] = {}


def stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def source_stamps(inputs: list[str]) -> list:
    """Every source `filter` would read, with the state its resume compares (`rundir.source_state`:
    size and modification time, over every file of an article folder)."""
    from ._core import discover_sources

    return [[source, rundir.source_state(source)] for source in discover_sources([os.fspath(p) for p in inputs])]


def options_added_since(stage: Stage, previous: dict, options) -> frozenset[str]:
    """Options of `stage` this version has and the one that built `previous` lacked, left at their
    defaults: not a change (else every new option would start an earlier build's filter over)."""
    if options is None or "options" not in previous:
        return frozenset()
    defaults = {f.name: f.default for f in fields(options)}
    return frozenset(k for k, v in asdict(options).items()
                     if k not in stage.how and k not in previous["options"] and k in defaults and defaults[k] == v)


def fingerprint(stage: Stage, options, run_dir: Path, unchanged: frozenset[str] = frozenset()) -> dict:
    """What `stage` reads: its options (without the how-to-run ones), the content digests of its input
    tables and of the files its options name (and for `filter`, every source's size and time).
    `setup` leaves out what `filter` notices itself on resume (a source's or its file-list row's
    content: it redoes that source's shard), so only a change of `setup` starts it over."""
    chosen = {k: v for k, v in asdict(options).items() if k not in stage.how and k not in unchanged} if options is not None else {}
    named = {}
    for name in stage.files:
        value = getattr(options, name)
        if name in ("compound_model", "radiology_model") and value is None:
            from .filter.models import default_model_path

            value = str(default_model_path(name.removesuffix("_model")))
        paths = value if isinstance(value, (list, tuple)) else [value] if value else []
        named[name] = [file_digest(Path(p)) for p in paths]
    print_ = {"options": chosen, "files": named, "tables": {name: file_digest(run_dir / name) for name in stage.reads}}
    setup = print_
    if stage.name == "filter":
        stamps = source_stamps(options.inputs)
        setup = {**print_, "files": {k: v for k, v in named.items() if k != "file_list"},
                 "source_list": [source for source, _ in stamps]}
        print_ = {**print_, "sources": digest(stamps)}
    return {"digest": digest(print_), "setup": digest(setup), "options": chosen}


def outputs(stage: Stage, run_dir: Path) -> dict[str, str | None]:
    return {name: file_digest(run_dir / name) for name in stage.writes}


def stage_runners(o: BuildOptions) -> dict[str, Callable[[bool], dict]]:
    """Each stage as a call taking `fresh` (True when its earlier results are stale)."""
    return {stage.name: (lambda fresh, stage=stage: stage.run(o.out, o.of_stage(stage), fresh)) for stage in PIPELINE}


def check(o: BuildOptions) -> None:
    from .dataset.export import WRITERS

    unknown = set(o.redo) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}; stages are {', '.join(STAGES)}")
    bad_formats = set(o.export.formats) - set(WRITERS)
    if bad_formats:
        raise ValueError(f"unknown export format(s) {sorted(bad_formats)}; formats are {', '.join(WRITERS)}")


def build(o: BuildOptions, log: Callable[[str], None] = print) -> dict:
    """Every stage in turn: skipped where its fingerprint matches a finished run of it and its outputs
    are as it wrote them, else run. A stage's fingerprint is recorded before it runs (`done: false`)
    and again when it ends, so a stage killed part-way resumes (filter, shard by shard) only when
    nothing it reads changed since."""
    check(o)
    _digests.clear()  # digests are remembered within one build only
    run_dir = o.out
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / rundir.BUILD_JSON
    state = read_json(state_path) or {}
    stale = False
    for stage in PIPELINE:
        options = o.of_stage(stage)
        previous = state.get(stage.name) or {}
        now = fingerprint(stage, options, run_dir, options_added_since(stage, previous, options))
        same = previous.get("fingerprint") == now["digest"]
        untouched = previous.get("wrote") == outputs(stage, run_dir)
        if not stale and same and untouched and previous.get("done") and stage.name not in o.redo:
            log(f"[{stage.name}] done earlier, skipped")
            continue
        started = time.perf_counter()
        # filter resumes a half-finished run of what it reads now; anything else starts it over
        fresh = stage.name in o.redo or (previous.get("setup") is not None and previous["setup"] != now["setup"])
        state[stage.name] = {"fingerprint": now["digest"], "setup": now["setup"], "options": now["options"], "done": False}
        write_json_atomic(state_path, state)
        result = stage.run(run_dir, options, fresh)
        state[stage.name] = {**state[stage.name], "done": True, "seconds": round(time.perf_counter() - started, 2),
                             "wrote": outputs(stage, run_dir), "result": result}
        write_json_atomic(state_path, state)
        log(f"[{stage.name}] {state[stage.name]['seconds']} s: "
            + json.dumps({k: v for k, v in result.items() if k != "funnel_text"}, default=str))
        stale = True  # every later stage reads what this one wrote
    return state

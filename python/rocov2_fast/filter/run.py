"""`rocov2-fast filter`: plan → process shards → finish.

Order chosen for cost: licence first (a package whose file-list licence is excluded is never
gunzipped; an article whose XML licence is excluded is never decoded), the compound CNN on every
remaining figure, the radiology CNN on the non-compound ones, then global near-duplicate removal
over everything kept. Work is done in shards of packages; a finished shard is never redone.

- plan: the sources, their shards (RUN_DIR/plan.json) and the settings that decide the result
  (RUN_DIR/run.json, which a resume must match);
- process: shard workers (worker.py) run by an executor (executors.py): in this process, one
  process per GPU, Ray actors, or this node's share of a multi-node run (`--node-rank`);
- finish: near-duplicates, manifest.parquet and summary.json (finish.py), by one process only.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import polars as pl

from .. import runlog
from .._core import discover_sources, read_members
from ..errors import Rocov2Error
from ..rundir import (HOST, RunDir, read_json, shard_slice, shard_starts, source_state, state_bytes, write_json_atomic,
                      write_table_atomic)
from . import dedup
from .caption_evidence import DECISIONS, DEFAULT_DECISION
from .decide import (accession, align, decision_scores, excluded_by_file_list, fate_of, file_list, forget_file_list,
                     forgetting_file_list, layout_compound, layout_reason)
from .layout_rule import DEFAULT_LAYOUT_THRESHOLD
from .finish import Funnel, finish, summarise, write_summary  # noqa: F401  (re-exported)
from .manifest import IMAGE_ID_RULE, MANIFEST_SCHEMA, image_file_name, source_keys
from ..process import usable_cores
from .models import FilterModel, default_model_path, require_cuda, visible_gpus
from .worker import WorkerSpec

from ..options import (BATCH_SIZE, EXECUTOR, EXECUTORS, LICENSES as DEFAULT_LICENSES, PROGRESS_INTERVAL, SHARD_SIZE,
                       SHARD_SOURCE_BYTES)


@dataclass
class FilterOptions:
    inputs: list[str]
    out: Path
    #: GPUs to use, one shard worker each (-1: every visible CUDA device; 0: the CPU)
    gpus: int = 0
    #: decode threads in total (0: one per core), split over the local workers
    workers: int = 0
    file_list: str | None = None
    licenses: tuple[str, ...] = DEFAULT_LICENSES
    compound_model: str | None = None
    radiology_model: str | None = None
    batch_size: int = BATCH_SIZE
    dedup_distance: int = dedup.DEFAULT_DISTANCE
    shard_size: int = SHARD_SIZE
    #: a shard also ends before its sources' stored bytes pass this (0: by count only)
    shard_source_bytes: int = SHARD_SOURCE_BYTES
    fresh: bool = False
    show_progress: bool | None = None
    #: CPU threads per onnxruntime session (0: onnxruntime's default, split over CPU workers)
    session_threads: int = 0
    #: decision thresholds (None: the value stored in each model's metadata)
    compound_threshold: float | None = None
    radiology_threshold: float | None = None
    #: shard workers on this node (0: one per GPU, or one on the CPU)
    shard_workers: int = 0
    #: run the sessions on the CPU even where workers hold GPUs (testing; GPUs kept for other work)
    cpu_sessions: bool = False
    executor: str = EXECUTOR
    ray_address: str | None = None
    #: multi-node without Ray: this process does shards k with k % num_nodes == node_rank, no finish
    num_nodes: int = 1
    node_rank: int = 0
    finish_only: bool = False
    force_unlock: bool = False
    #: seconds between plain progress lines off a terminal
    progress_interval: float = PROGRESS_INTERVAL
    #: what the thresholds apply to: the image models' scores, or those moved by caption evidence
    decision: str = DEFAULT_DECISION
    #: the layout detector calls a figure compound at this score with >= 2 panels (> 1: never)
    layout_threshold: float = DEFAULT_LAYOUT_THRESHOLD


def file_sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def model_paths(opts: FilterOptions) -> tuple[Path, Path]:
    compound = Path(opts.compound_model) if opts.compound_model else default_model_path("compound")
    radiology = Path(opts.radiology_model) if opts.radiology_model else default_model_path("radiology")
    for path in (compound, radiology):
        if not path.is_file():
            raise Rocov2Error(f"model {path} not found")
    return compound.resolve(), radiology.resolve()


def settings_of(opts: FilterOptions, run: RunDir, sources: list[str], compound_path: Path, radiology_path: Path) -> dict:
    """What decides the result: a resume must match every key."""
    compound, radiology = FilterModel.describe(compound_path), FilterModel.describe(radiology_path)
    if compound.input_size != radiology.input_size:
        raise Rocov2Error(f"the models want different input sizes ({compound.input_size} vs {radiology.input_size})")
    thresholds = {"compound": opts.compound_threshold if opts.compound_threshold is not None else compound.threshold,
                  "radiology": opts.radiology_threshold if opts.radiology_threshold is not None else radiology.threshold,
                  "layout": opts.layout_threshold}
    return {
        "sources": hashlib.sha256("\n".join(sources).encode()).hexdigest()[:16], "source_count": len(sources),
        # the file list is not a setting: each source's row of it is part of the source's fingerprint
        "licenses": list(opts.licenses),
        "compound_model": file_sha(compound_path), "radiology_model": file_sha(radiology_path),
        "shard_size": opts.shard_size,
        **({} if (bound := shard_bound(run, opts)) is None else {"shard_source_bytes": bound}),
        # parts written by another version of the manifest's columns cannot be merged with new ones
        "manifest_columns": hashlib.sha256(",".join(MANIFEST_SCHEMA.names).encode()).hexdigest()[:16],
        "thresholds": thresholds_of(run, thresholds),
        # how image ids are made (manifest.py): parts made by another rule cannot be merged
        "image_id_rule": IMAGE_ID_RULE,
        "decision": opts.decision,
    }


def shard_bound(run: RunDir, opts: FilterOptions) -> int | None:
    """The byte bound of this run's shards; None for a run directory planned before shards had one
    (its run.json has no `shard_source_bytes`): it resumes with shards of `shard_size` sources."""
    previous = read_json(run.run_json) if run.run_json.exists() and not opts.fresh else None
    if previous is not None and "shard_source_bytes" not in previous:
        return None
    return opts.shard_source_bytes


def thresholds_of(run: RunDir, thresholds: dict) -> dict:
    """The thresholds in force: a rethreshold of this run dir overrides the models' values."""
    previous = (run.settings() if run.run_json.exists() else {}).get("thresholds")
    return previous or thresholds


def discover(opts: FilterOptions) -> tuple[list[str], dict[str, str]]:
    """The sources to read (each real path once: the core resolves links and overlaps), and the
    package files left out as byte-identical copies of an earlier one ({copy: original})."""
    if opts.file_list and not Path(opts.file_list).is_file():
        raise Rocov2Error(f"--file-list {opts.file_list}: no such file")
    sources = discover_sources([os.fspath(p) for p in opts.inputs])
    copies = copies_of_earlier_sources(sources)
    if copies:
        runlog.get().warning(f"{len(copies)} package(s) are byte-identical copies of an earlier one and are read once "
                             f"(e.g. {next(iter(copies))} = {next(iter(copies.values()))}; plan.json 'copies')")
    return [s for s in sources if s not in copies], copies


COPY_PROBE = 1 << 16


def copies_of_earlier_sources(sources: list[str]) -> dict[str, str]:
    """Package files whose bytes equal an earlier source's (a copy in another folder or under
    another name) → that source. Only files of one size are compared: first their first and last
    64 KiB, then whole, so distinct packages cost at most two small reads each."""
    by_size: dict[int, list[str]] = {}
    for source in sources:
        st = os.stat(source)
        if stat.S_ISREG(st.st_mode) and st.st_size > 0:
            by_size.setdefault(st.st_size, []).append(source)
    copies: dict[str, str] = {}
    for group in (g for g in by_size.values() if len(g) > 1):
        first_with: dict[tuple[str, str], str] = {}
        for source in group:
            key = (content_digest(source, probe=True), content_digest(source))
            if key in first_with:
                copies[source] = first_with[key]
            else:
                first_with[key] = source
    order = {source: k for k, source in enumerate(sources)} if copies else {}
    return dict(sorted(copies.items(), key=lambda kv: order[kv[0]]))


def content_digest(path: str, probe: bool = False) -> str:
    """SHA-256 of the file (of its first and last 64 KiB when `probe`)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if probe:
            h.update(f.read(COPY_PROBE))
            f.seek(max(0, os.fstat(f.fileno()).st_size - COPY_PROBE))
            h.update(f.read(COPY_PROBE))
        else:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def plan_run(opts: FilterOptions, run: RunDir) -> dict:
    """Settings checked or recorded, and the shard plan written (reused when it matches)."""
    compound_path, radiology_path = model_paths(opts)
    sources, copies = discover(opts)
    settings = settings_of(opts, run, sources, compound_path, radiology_path)
    run.make_layout()
    run.check_settings(settings)
    prints = fingerprints(sources, opts.file_list)

    def planned(previous: dict | None) -> dict:
        starts = plan_starts(run, opts, sources, prints, previous)
        return {"sources": sources, "shard_size": opts.shard_size, "shard_source_bytes": settings.get("shard_source_bytes"),
                # shard k is sources[shard_starts[k]:shard_starts[k + 1]] (rundir.shard_slice)
                "shards": len(starts), "shard_starts": starts,
                "file_list_path": str(Path(opts.file_list).resolve()) if opts.file_list else None,
                "compound_model_path": str(compound_path), "radiology_model_path": str(radiology_path),
                "dedup_distance": opts.dedup_distance,
                # sources sharing a readable image-id key, with their disambiguated keys (manifest.py)
                "source_keys": source_keys(sources),
                # per source: size and modification time (and its file-list row): a resume redoes a
                # done shard whose sources' fingerprints differ from those its marker recorded
                "fingerprints": prints,
                # package files left out as byte-identical copies of an earlier source: {copy: original}
                "copies": copies}

    previous = run.plan() if run.plan_json.exists() else None
    if opts.shard_source_bytes and settings.get("shard_source_bytes") is None:
        runlog.get().info(f"{run.root} was planned before shards had a byte bound: it keeps its shards of "
                             f"{opts.shard_size} sources (--shard-source-bytes does not apply to it)")
    plan = planned(previous)
    # the first plan is created, never replaced: nodes planning at once (a source's size seen
    # differently) all take the first one's shards
    if previous is None and not run.create_plan(plan):
        previous = run.plan()
        plan = planned(previous)
    if previous is not None and previous != plan:
        run.write_plan(plan)
    redo_changed_shards(run, plan, opts)
    return plan


def plan_starts(run: RunDir, opts: FilterOptions, sources: list[str], prints: list[str], previous: dict | None,
                listed: dict | None = None) -> list[int]:
    """Where each shard starts: the `previous` plan's shards when it planned these sources with
    these bounds (a resume does the same shards, whatever the sources' sizes are now), else by
    count and by the stored bytes of the sources that will be read (a package the file list
    excludes is never opened: it counts 0 bytes)."""
    bound = shard_bound(run, opts)
    if (previous is not None and previous.get("sources") == sources and previous.get("shard_size") == opts.shard_size
            and previous.get("shard_source_bytes") == bound):
        return [shard_slice(previous, k).start for k in range(previous["shards"])]
    if listed is None:
        listed = file_list(opts.file_list) if bound and opts.file_list else {}
    sizes = [0 if listed and excluded_by_file_list(s, listed, opts.licenses) else state_bytes(p) for s, p in zip(sources, prints)]
    return shard_starts(sizes, opts.shard_size, bound)


def fingerprints(sources: list[str], file_list: str | None) -> list[str]:
    """`rundir.source_state` of each source, plus `:` and a digest of its file-list row when listed
    (so a changed "Last Updated", licence or PMID counts as a change)."""
    if not file_list:
        return [source_state(s) for s in sources]
    rows = file_list_rows(file_list, {accession(s) for s in sources})
    return [source_state(s) + (f":{rows[a]}" if (a := accession(s)) in rows else "") for s in sources]


def file_list_rows(path: str, wanted: set[str | None]) -> dict[str, str]:
    """{accession: digest of its whole row} for the accessions in `wanted`."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if "Accession ID" not in header:
            return {}  # the core refuses such a list with its own message
        column = header.index("Accession ID")
        return {row[column].strip(): hashlib.sha256("\x1f".join(c.strip() for c in row).encode()).hexdigest()[:12]
                for row in reader if len(row) > column and row[column].strip() in wanted}


def redo_changed_shards(run: RunDir, plan: dict, opts: FilterOptions) -> None:
    """This node's shards whose sources changed since they were done (size, modification time,
    file-list row), and parts left without a marker, are undone so they are done again."""
    log = runlog.get()
    for k in range(plan["shards"]):
        if k % opts.num_nodes != opts.node_rank or not run.part_path(k).exists():
            continue
        now = plan["fingerprints"][shard_slice(plan, k)]
        marker = shard_marker(run, k)
        if marker is not None and marker.get("fingerprints") == now:
            continue
        if marker is not None:
            was = marker.get("fingerprints") or [None] * len(now)
            changed = [s for s, a, b in zip(plan["sources"][shard_slice(plan, k)], was, now) if a != b]
            log.info(f"shard {k}: {len(changed)} source(s) changed since it was done (first: {changed[0] if changed else '?'}): redoing it")
        removed = run.forget_shard(k)
        if removed:
            log.info(f"shard {k}: removed {removed} kept image(s) of its previous result")


def worker_count(opts: FilterOptions) -> int:
    gpus = visible_gpus() if opts.gpus < 0 else opts.gpus
    if opts.gpus < 0 and gpus == 0:
        raise Rocov2Error("--gpus all: no CUDA device is visible here (CUDA_VISIBLE_DEVICES / nvidia-smi)")
    return opts.shard_workers or max(gpus, 1)


def worker_specs(opts: FilterOptions, n: int) -> list[WorkerSpec]:
    """One spec per local worker: a GPU each (unless --cpu-sessions), decode threads and CPU
    session threads split over the workers. A CPU session gets half of its worker's cores: while
    it scores a shard, the worker's decode threads read the next one on the other half (on 2 cores,
    one onnxruntime thread instead of its default two: less CPU for the same scores, which do not
    depend on the thread count; benches/RESULTS.md)."""
    gpus = visible_gpus() if opts.gpus < 0 else opts.gpus
    cores = usable_cores()
    decode = max(1, (opts.workers or cores) // n) if (opts.workers or n > 1) else 0
    session_threads = opts.session_threads or (max(1, cores // n // 2) if not gpus or opts.cpu_sessions else 0)
    return [WorkerSpec(run_dir=str(opts.out), device=(i % gpus if gpus and not opts.cpu_sessions else None),
                       decode_threads=decode, session_threads=session_threads, batch_size=opts.batch_size,
                       name=f"worker-{i}" if opts.num_nodes == 1 else f"node{opts.node_rank}-worker-{i}")
            for i in range(n)]


def lock_name(opts: FilterOptions) -> str:
    return "filter" if opts.num_nodes == 1 else f"filter --node-rank {opts.node_rank}"


def run(run_dir: str | os.PathLike, options: FilterOptions) -> dict:
    """The filter stage's entry point, named as every stage's (`<stage>.run(run_dir, options)`):
    `options` with its `out` replaced by `run_dir`."""
    return run_filter(replace(options, out=Path(run_dir)))


def run_filter(opts: FilterOptions) -> dict:
    """The whole filter on `opts.out` (also `run(run_dir, options)`)."""
    started = time.perf_counter()
    check_options(opts)
    run = RunDir(opts.out)
    run.root.mkdir(parents=True, exist_ok=True)
    log = runlog.setup(run.log_path("filter"))
    lock_path = run.lock_path if opts.num_nodes == 1 else run.root / f"lock-node-{opts.node_rank}"
    from ..rundir import Lock

    with Lock.acquire(lock_path, lock_name(opts), force=opts.force_unlock, log=log.warning), forgetting_file_list():
        log.info(f"rocov2-fast filter on {HOST} (pid {os.getpid()}): {opts.inputs} → {run.root}")
        if opts.fresh and opts.num_nodes == 1:
            run.clear_filter_outputs()
        if removed := run.remove_stale_temporaries():
            log.info(f"removed {removed} temporary files left by dead writers")
        if opts.finish_only:
            return finish_run(run, opts, started, done_now=0)
        plan = plan_run(opts, run)
        todo = [k for k in range(plan["shards"]) if k % opts.num_nodes == opts.node_rank and not run.shard_done(k)]
        mine = sum(1 for k in range(plan["shards"]) if k % opts.num_nodes == opts.node_rank)
        log.info(f"{len(plan['sources'])} sources in {plan['shards']} shards; {len(todo)} to do here"
                 + (f" (node {opts.node_rank} of {opts.num_nodes})" if opts.num_nodes > 1 else ""))
        processing = time.perf_counter()
        executor = process_shards(opts, run, todo, mine)
        processing = round(time.perf_counter() - processing, 3)
        log.info(f"processed {len(todo)} shards in {processing} s")
        if opts.num_nodes > 1:
            log.info(f"node {opts.node_rank}: its shards are done; finish with `rocov2-fast filter ... --finish-only` "
                     "once every node is done")
            return {"shards": plan["shards"], "shards_processed_this_run": len(todo), "finished": False,
                    "seconds": round(time.perf_counter() - started, 2)}
        return finish_run(run, opts, started, done_now=len(todo),
                          extra={"seconds_processing_shards": processing, "executor": executor})


def unrecognised_licenses(path: str) -> dict[str, int]:
    """File-list licence values that normalise to no known licence (rows per value): such packages
    are excluded unless --licenses names the value as written, so the run says so."""
    unknown = file_list(path).unrecognised_licenses
    if unknown:
        runlog.get().warning(f"the file list has licences that match no known licence: {dict(sorted(unknown.items()))}; "
                             "their packages are excluded unless --licenses names them as written")
    return dict(sorted(unknown.items()))


def identity_notes(manifest: pl.DataFrame, plan: dict) -> dict:
    """What the image ids had to disambiguate (manifest.py): PMCIDs that several sources claim
    (a copied package, two packages whose XML gives one PMCID), sources sharing a readable key
    (their ids carry a digest of their path), graphics whose name was not usable as written
    (unsafe characters, or a name an earlier graphic of the article has). Warned about when any."""
    claimed = (manifest.filter(pl.col("pmcid").is_not_null()).group_by("pmcid").agg(pl.col("archive").n_unique())
               .filter(pl.col("archive") > 1).sort("pmcid"))
    renamed = manifest.filter(pl.col("graphic").is_not_null()
                              & pl.col("image_id").str.splitn("_", 2).struct.field("field_1").str.contains("~", literal=True))
    notes = {"sources_read_once_as_copies": len(plan.get("copies") or {}),
             "pmcids_claimed_by_several_sources": dict(claimed.rows()),
             "sources_sharing_a_key": len(plan.get("source_keys") or {}), "graphics_renamed": renamed.height}
    if notes["pmcids_claimed_by_several_sources"] or notes["sources_sharing_a_key"] or notes["graphics_renamed"]:
        runlog.get().warning(f"image ids: {len(claimed)} PMCIDs claimed by several sources, {notes['sources_sharing_a_key']} "
                             f"sources sharing a name, {renamed.height} graphics renamed (their ids carry a digest; "
                             "summary.json 'identity')")
    return notes


def check_options(opts: FilterOptions) -> None:
    if opts.decision not in DECISIONS:
        raise Rocov2Error(f"--decision {opts.decision!r}: choose one of {', '.join(DECISIONS)}")
    if opts.executor not in EXECUTORS:
        raise Rocov2Error(f"--executor {opts.executor!r}: choose one of {', '.join(EXECUTORS)}")
    if not 0 <= opts.node_rank < opts.num_nodes:
        raise Rocov2Error(f"--node-rank {opts.node_rank} must be in 0..{opts.num_nodes - 1} (--num-nodes {opts.num_nodes})")
    if opts.executor == "ray" and opts.num_nodes > 1:
        raise Rocov2Error("--executor ray spreads the work over the Ray cluster itself: leave out --num-nodes/--node-rank")
    if opts.gpus != 0 and not opts.cpu_sessions and opts.executor == "local":
        require_cuda(opts.gpus)


def process_shards(opts: FilterOptions, run: RunDir, todo: list[int], mine: int) -> dict:
    """Runs the shards `todo`; returns what the executor reports (kind, workers, timings)."""
    from . import executors

    log = runlog.get()
    with runlog.ShardProgress(total=mine, done_before=mine - len(todo), enabled=opts.show_progress,
                              interval=opts.progress_interval) as progress:
        if not todo:
            return {"kind": opts.executor, "workers": 0}
        if opts.executor == "ray":
            gpus = opts.gpus if opts.gpus >= 0 else -1  # -1: every GPU of the cluster
            spec = WorkerSpec(run_dir=str(Path(opts.out).resolve()), device=None if opts.cpu_sessions or gpus == 0 else 0,
                              session_threads=opts.session_threads, batch_size=opts.batch_size)
            stats = executors.run_ray(spec, actors=opts.shard_workers or max(gpus, 0), gpus_per_actor=1 if gpus else 0,
                                      decode_threads=opts.workers, address=opts.ray_address, todo=todo,
                                      on_done=progress.shard_done, log=log.info)
            log.info(f"ray: {stats['retries']} shard retries, {stats['actors_started']} actors started")
            return {"kind": "ray", **stats}
        n = worker_count(opts)
        specs = worker_specs(opts, n)
        log.info(f"{n} shard worker(s): " + ", ".join(f"{s.name} on {'cuda:' + str(s.device) if s.device is not None else 'cpu'}"
                                                   for s in specs))
        if n == 1:
            return {"kind": "local", "workers": 1, **executors.run_in_process(specs[0], todo, progress.shard_done, log.info)}
        forget_file_list()  # the workers read their own; the finish reads it again
        return {"kind": "processes", "workers": n, **executors.run_processes(specs, todo, progress.shard_done, log.warning)}


def finish_run(run: RunDir, opts: FilterOptions, started: float, done_now: int, extra: dict | None = None) -> dict:
    """Near-duplicates, manifest, summary (with `extra`, e.g. the executor's timings), written once."""
    plan = run.plan()
    missing = [k for k in range(plan["shards"]) if not run.shard_done(k)]
    if missing:
        raise Rocov2Error(f"{len(missing)} of {plan['shards']} shards are not done yet (first: {missing[0]}): "
                          "run the remaining nodes (or rerun filter without --finish-only) before finishing")
    manifest = finish(run, opts.dedup_distance)
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()}
    options["shard_source_bytes"] = plan.get("shard_source_bytes")  # the bound in force (none for an older plan)
    summary = summarise(manifest, options, time.perf_counter() - started, len(plan["sources"]), done_now, plan["shards"])
    summary.update(extra or {})
    if plan.get("file_list_path"):
        summary["file_list_unrecognised_licenses"] = unrecognised_licenses(plan["file_list_path"])
    summary["identity"] = identity_notes(manifest, plan)
    write_summary(run, summary)
    runlog.get().info(f"finished: {runlog.funnel_line(summary['funnel'])}; manifest.parquet and summary.json written")
    return summary


def shard_marker(run: RunDir, k: int) -> dict | None:
    """Shard k's marker when the shard is done (marker and part present)."""
    return read_json(run.marker_path(k)) if run.shard_done(k) else None


def dry_run(opts: FilterOptions) -> dict:
    """What a run would do, without decoding or writing anything: sources, what the file list
    excludes per licence (packages and bytes), shards to do and done."""
    run = RunDir(opts.out)
    sources, copies = discover(opts)
    listed = file_list(opts.file_list) if opts.file_list else {}
    excluded: dict[str, dict] = {}
    now = fingerprints(sources, opts.file_list)
    total_bytes = 0
    for source, state in zip(sources, now):
        size = state_bytes(state)
        total_bytes += size
        if lic := excluded_by_file_list(source, listed, opts.licenses):
            entry = excluded.setdefault(lic, {"packages": 0, "bytes": 0})
            entry["packages"] += 1
            entry["bytes"] += size
    previous = run.plan() if run.plan_json.exists() and not opts.fresh else None
    if previous is not None:  # a run the real one would refuse to resume: say so, as it would
        run.check_settings(settings_of(opts, run, sources, *model_paths(opts)), record=False)
    plan = {"sources": sources, "shard_starts": plan_starts(run, opts, sources, now, previous, listed)}
    shards = len(plan["shard_starts"])
    done = changed = 0
    if previous is not None:  # done, and its sources as they were (else a resume redoes it)
        for k in range(shards):
            if (marker := shard_marker(run, k)) is not None:
                current = marker.get("fingerprints") == now[shard_slice(plan, k)]
                done, changed = done + current, changed + (not current)
    unlisted = sum(1 for s in sources if listed and (accession(s) or "") not in listed)
    return {"sources": len(sources), "copies_read_once": len(copies), "bytes": total_bytes, "excluded_by_file_list": dict(sorted(excluded.items())),
            "not_in_file_list": unlisted, "shards": shards, "shards_done": done, "shards_to_do": shards - done,
            "shards_done_but_sources_changed": changed,
            "shard_size": opts.shard_size, "shard_source_bytes": shard_bound(run, opts), "licenses": list(opts.licenses)}


def rethreshold(out: Path, compound: float | None = None, radiology: float | None = None, dedup_distance: int | None = None,
                layout: float | None = None) -> dict:
    """Re-decides a finished run from its stored scores, without decoding: updates fates, adds
    the original bytes of newly kept images (read from their packages, not decoded) and removes
    those no longer kept. Images never scored by the radiology model (compound at the old
    threshold) cannot be re-decided and are reported."""
    started = time.perf_counter()
    run = RunDir(out)
    config = run.settings()
    if dedup_distance is None:  # the run's own (plan.json), not a default
        dedup_distance = (read_json(run.plan_json) or {}).get("dedup_distance", dedup.DEFAULT_DISTANCE)
    old = config["thresholds"]
    new = {"compound": old["compound"] if compound is None else compound, "radiology": old["radiology"] if radiology is None else radiology,
           "layout": old.get("layout", DEFAULT_LAYOUT_THRESHOLD) if layout is None else layout}
    unscored = 0
    decision = config.get("decision", "image")
    for k in sorted(run.markers()):
        part = run.part_path(k)
        df = pl.read_parquet(part)
        compound_decision, radiology_decision = decision_scores(
            *(df[c].cast(pl.Float32).fill_null(float("nan")).to_numpy()
              for c in ("compound_score", "radiology_score", "caption_compound", "caption_radiology")), decision, new)
        layout_score, panel_count = (df[c].cast(pl.Float32).fill_null(float("nan")).to_numpy()
                                     for c in ("compound_layout_score", "panel_count"))
        by_layout = layout_compound(layout_score, panel_count, new)
        records = df.to_dicts()
        for i, (r, c, rad) in enumerate(zip(records, compound_decision.tolist(), radiology_decision.tolist())):
            if r["status"] != "ok":
                continue
            if c == c and c < new["compound"] and not by_layout[i] and r["radiology_score"] is None:
                unscored += 1
                r["fate"], r["stage"] = "dropped", "radiology"
                r["reason"] = "no radiology score (compound at the old threshold): rerun filter --fresh to score it"
            else:
                r["fate"], r["stage"], r["reason"] = fate_of(r, c, rad, new["compound"], new["radiology"],
                                                             layout_reason(layout_score[i], panel_count[i], new) if by_layout[i] else None)
            r["duplicate_of"] = None
        updated = pl.DataFrame(records, schema=df.schema)
        sync_images(run, df, updated)
        write_table_atomic(part, align(updated))
    config["thresholds"] = new
    write_json_atomic(run.run_json, config)
    manifest = finish(run, dedup_distance)
    # the options the run was made with (its models' paths: the report names them), not defaults
    options = (read_json(run.summary) or {}).get("options") or {
        k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(FilterOptions(inputs=[], out=out)).items()}
    summary = summarise(manifest, {**options, "dedup_distance": dedup_distance},
                        time.perf_counter() - started, config["source_count"], 0, len(run.markers()))
    summary["rethreshold"] = {"old": old, "new": new, "unscored_images": unscored}
    write_summary(run, summary)
    return summary


def sync_images(run: RunDir, before: pl.DataFrame, after: pl.DataFrame) -> None:
    """Writes the bytes of newly kept images and removes the files of images no longer kept."""
    was_kept = set(before.filter(pl.col("image_path").is_not_null())["image_id"])
    rows = after.to_dicts()
    wanted = {}
    for r in rows:
        if r["fate"] == "kept":
            r["image_path"] = f"images/{image_file_name(r['image_id'], r['member'])}"
            if r["image_id"] not in was_kept or not (run.root / r["image_path"]).exists():
                wanted.setdefault(r["archive"], {})[r["member"]] = r["image_path"]
        elif r["image_path"]:
            (run.root / r["image_path"]).unlink(missing_ok=True)
            r["image_path"] = None
    for source, members in wanted.items():
        found = read_members(source, set(members))
        if gone := sorted(set(members) - set(found)):
            raise Rocov2Error(f"{source} no longer holds {', '.join(gone[:3])}{' ...' if len(gone) > 3 else ''}: "
                              "the source changed after the run; run `rocov2-fast filter` on it again")
        for member, data in found.items():
            run.write_image(Path(members[member]).name, data)
    after.replace_column(after.get_column_index("image_path"), pl.Series("image_path", [r["image_path"] for r in rows], pl.String))

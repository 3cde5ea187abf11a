"""The run directory: every file a run writes, named once, and the rules for writing them.

Layout of `RUN_DIR` (the filter's part; later stages add theirs beside it):

    run.json              settings the run was made with (a resume must match them)
    plan.json             the shard plan: which sources make shard k (written once, by the driver)
    lock                  held by the process driving the run (host, pid, start time)
    logs/                 <command>-<host>-<pid>.log, one per process
    manifest/part-NNNNNN.parquet, .done
                          one part per finished shard; the marker (written last) records its counts
    images/               the kept images, PMC's original bytes
    duplicates.parquet    near-duplicate decisions (finish)
    manifest.parquet      every image with its fate (finish)
    summary.json          the funnel (finish)
    funnel.png, funnel.txt  the funnel as a picture and as text (finish, rethreshold)

Many writers can share a run directory (one process per GPU, Ray actors, Slurm array jobs on a
shared filesystem): every file is written under a temporary name unique to its writer (host,
pid, a counter) and renamed into place, so a reader sees the old file or the new one, never half
of one, and two writers never interleave. A shard is done when its marker exists, and the marker
is written after its part and images.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import Rocov2Error

HOST = socket.gethostname()
RUN_JSON = "run.json"
PLAN_JSON = "plan.json"
LOCK = "lock"
LOGS = "logs"
PARTS = "manifest"
IMAGES = "images"
DUPLICATES = "duplicates.parquet"
MANIFEST = "manifest.parquet"
SUMMARY = "summary.json"
FUNNEL_PNG = "funnel.png"
FUNNEL_TXT = "funnel.txt"
# the later stages' files (captions, concepts, suggest-manual, split, export, report) and `build`'s record
CAPTIONS = "captions.parquet"
CONCEPTS = "concepts.parquet"
CONCEPTS_SUMMARY = "concepts_summary.json"
CUI_MAPPING = "cui_mapping.csv"
SUGGESTIONS = "manual_suggestions.parquet"
DATASET = "dataset.parquet"
SPLIT_SUMMARY = "split_summary.json"
EXPORT = "export"
REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
EXPORT_IDS = "export_ids.parquet"  # ID ↔ image_id of the last ROCOv2 export (baselines read it)
BUILD_JSON = "build.json"  # each build stage: its fingerprint (what it read, its options), seconds, result
#: what `--fresh` removes
FILTER_OUTPUTS = (RUN_JSON, PLAN_JSON, PARTS, IMAGES, DUPLICATES, MANIFEST, SUMMARY, FUNNEL_PNG, FUNNEL_TXT)

_counter = itertools.count()
_counter_lock = threading.Lock()


def source_state(path: str) -> str:
    """What a resume compares to notice a changed source (plan.json `fingerprints`, each marker):
    `<bytes>:<mtime ns>` of a package; of an article folder, `<bytes>:<newest mtime ns>:<files>`
    over its files; `missing` when it cannot be read. A source rewritten with the same size and
    modification time is not noticed (nothing here reads the contents)."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            files = [f.stat() for f in Path(path).rglob("*") if f.is_file()]
            return f"{sum(s.st_size for s in files)}:{max((s.st_mtime_ns for s in files), default=0)}:{len(files)}"
        return f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return "missing"


def state_bytes(state: str) -> int:
    """The bytes a `source_state` (or a fingerprint made from one) records; 0 for `missing`."""
    head = state.split(":", 1)[0]
    return int(head) if head.isdigit() else 0


# -- shards: which sources make shard k (plan.json), in one place --------------------------------

def shard_starts(sizes: list[int], count: int, max_bytes: int | None) -> list[int]:
    """Where each shard starts in the plan's list of sources: consecutive sources, in plan order,
    up to `count` of them and, when `max_bytes`, up to `max_bytes` of their stored bytes (a source
    that would take a shard past it starts the next shard; a source bigger than that is a shard
    alone). Decided once, when the run is planned (plan.json `shard_starts`)."""
    starts: list[int] = []
    n = total = 0
    for i, size in enumerate(sizes):
        if not starts or n >= count or (max_bytes and total + size > max_bytes):
            starts.append(i)
            n = total = 0
        n += 1
        total += size
    return starts


def shard_slice(plan: dict, k: int) -> slice:
    """Shard k's sources are `plan["sources"][shard_slice(plan, k)]` (and their fingerprints the
    same slice of `plan["fingerprints"]`)."""
    starts = plan.get("shard_starts")
    if starts is None:  # planned before byte-bounded shards
        size = plan["shard_size"]
        return slice(k * size, (k + 1) * size)
    return slice(starts[k], starts[k + 1] if k + 1 < len(starts) else len(plan["sources"]))


class RunLockedError(Rocov2Error):
    """Another live process drives this run directory."""


def temporary_name(path: Path) -> Path:
    """`.<name>.<host>.<pid>.<n>.tmp` beside `path`: unique per writer and per write."""
    with _counter_lock:
        n = next(_counter)
    return path.with_name(f".{path.name}.{HOST}.{os.getpid()}.{n}.tmp")


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """Write-then-rename: the block writes the yielded temporary file (by any writer: polars,
    csv, bytes) and it replaces `path` when the block ends without an error, so a killed run
    leaves the old file or the new one, never half of one. (No fsync: that guards against power
    loss, and costs ~2 ms per kept image.)"""
    tmp = temporary_name(Path(path))
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    with replaced_atomically(path) as tmp:
        tmp.write_bytes(data)


def write_table_atomic(path: Path, table: pa.Table) -> None:
    with replaced_atomically(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_json_atomic(path: Path, value) -> None:
    write_atomic(path, json.dumps(value, indent=2, default=str).encode())


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temporary(path: Path, max_age_s: float = 86_400) -> bool:
    """A temporary whose writer is gone: a dead pid on this host, or (other hosts, whose pids we
    cannot see) untouched for a day."""
    parts = path.name.split(".")
    # .<name...>.<host>.<pid>.<n>.tmp: the host may hold dots, the name too; pid and n are digits
    if len(parts) < 5 or not parts[-3].isdigit():
        return False
    pid = int(parts[-3])
    if f".{HOST}.{pid}." in path.name:
        return not pid_alive(pid)
    try:
        return time.time() - path.stat().st_mtime > max_age_s
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class Lock:
    """`RUN_DIR/lock`: who drives the run. Created exclusively; removed when the driver ends."""

    path: Path
    holder: dict

    @classmethod
    def acquire(cls, path: Path, command: str, force: bool = False, log=None) -> Lock:
        me = {"host": HOST, "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command}
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = read_json(path) or {}
                if force:
                    log and log(f"--force-unlock: removing {path} held by {describe(holder)}")
                elif holder.get("host") == HOST and isinstance(holder.get("pid"), int) and not pid_alive(holder["pid"]):
                    log and log(f"taking over {path}: its holder ({describe(holder)}) is no longer running")
                elif not holder:
                    continue  # being written right now, or empty: look again
                else:
                    raise RunLockedError(f"{path.parent} is in use by {describe(holder)}; wait for it, or if that "
                                         "process is gone (another host, or a reused pid), rerun with --force-unlock")
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            return cls(path, me)
        raise RunLockedError(f"could not take {path}: another process keeps creating it")

    def release(self) -> None:
        holder = read_json(self.path) or {}
        if holder.get("pid") == self.holder["pid"] and holder.get("host") == HOST:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def describe(holder: dict) -> str:
    return (f"`rocov2-fast {holder.get('command', '?')}` (pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, "
            f"since {holder.get('started', '?')})")


class RunDir:
    """One run directory. Every stage reads and writes its files through here."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.parts = self.root / PARTS
        self.images = self.root / IMAGES
        self.logs = self.root / LOGS
        self.run_json = self.root / RUN_JSON
        self.plan_json = self.root / PLAN_JSON
        self.lock_path = self.root / LOCK
        self.duplicates = self.root / DUPLICATES
        self.manifest = self.root / MANIFEST
        self.summary = self.root / SUMMARY
        self.funnel_png = self.root / FUNNEL_PNG  # the funnel plot (funnel.py, after finish)
        self.funnel_txt = self.root / FUNNEL_TXT  # the funnel as `filter` prints it

    # -- the whole directory -------------------------------------------------------------------

    def clear_filter_outputs(self) -> None:
        import shutil

        for name in FILTER_OUTPUTS:
            path = self.root / name
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)

    def make_layout(self) -> None:
        for folder in (self.parts, self.images, self.logs):
            folder.mkdir(parents=True, exist_ok=True)

    def remove_stale_temporaries(self) -> int:
        removed = 0
        for folder in (self.root, self.parts, self.images):
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp"):
                    if stale_temporary(tmp):
                        tmp.unlink(missing_ok=True)
                        removed += 1
        return removed

    def lock(self, command: str, force: bool = False, log=None) -> Lock:
        return Lock.acquire(self.lock_path, command, force=force, log=log)

    def lock_holder(self) -> dict | None:
        """Who holds the lock now, if that process is alive (or on another host: unknown)."""
        holder = read_json(self.lock_path)
        if not holder:
            return None
        if holder.get("host") == HOST and isinstance(holder.get("pid"), int) and not pid_alive(holder["pid"]):
            return None
        return holder

    # -- settings and plan ---------------------------------------------------------------------

    def check_settings(self, config: dict, record: bool = True) -> None:
        """Records the run's settings (unless not `record`: a dry run), or checks that an existing
        run was made with the same."""
        previous = read_json(self.run_json)
        if previous is None:
            if record:
                write_json_atomic(self.run_json, config)
            return
        changed = sorted(k for k in config if previous.get(k) != config[k])
        if changed:
            raise Rocov2Error(f"{self.root} holds a run made with other {', '.join(changed)}: "
                              "rerun with --fresh to start over, or use another --out")

    def settings(self) -> dict:
        config = read_json(self.run_json)
        if config is None:
            raise Rocov2Error(f"{self.root} holds no filter run ({RUN_JSON} is missing): run `rocov2-fast filter` first")
        return config

    def write_plan(self, plan: dict) -> None:
        write_json_atomic(self.plan_json, plan)

    def create_plan(self, plan: dict) -> bool:
        """Writes the first plan of this run directory, unless another process wrote one first
        (nodes of a Slurm job plan at the same moment: the first plan's shards are everyone's).
        True when this call wrote it."""
        tmp = temporary_name(self.plan_json)
        tmp.write_text(json.dumps(plan, indent=2, default=str))
        try:
            os.link(tmp, self.plan_json)  # fails if the file exists: an atomic create-if-absent
            return True
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links: written as before, last writer wins
            os.replace(tmp, self.plan_json)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def plan(self) -> dict:
        plan = read_json(self.plan_json)
        if plan is None:
            raise Rocov2Error(f"{self.root} holds no shard plan ({PLAN_JSON}): run `rocov2-fast filter` on it first")
        return plan

    # -- shards --------------------------------------------------------------------------------

    def part_path(self, shard: int) -> Path:
        return self.parts / f"part-{shard:06d}.parquet"

    def marker_path(self, shard: int) -> Path:
        return self.parts / f"part-{shard:06d}.done"

    def shard_done(self, shard: int) -> bool:
        return self.marker_path(shard).exists() and self.part_path(shard).exists()

    def markers(self) -> dict[int, dict]:
        """Every finished shard's marker: its row and stage counts."""
        out = {}
        for path in self.parts.glob("part-*.done") if self.parts.is_dir() else ():
            marker = read_json(path)
            if marker is not None and self.part_path(int(path.stem[5:])).exists():
                out[int(path.stem[5:])] = marker
        return out

    def forget_shard(self, shard: int) -> int:
        """Undoes a shard (its sources changed): the marker first (so a kill leaves the shard to
        do), then the kept images its part lists, then the part. Returns the images removed."""
        self.marker_path(shard).unlink(missing_ok=True)
        part = self.part_path(shard)
        removed = 0
        if part.exists():
            try:
                paths = pq.read_table(part, columns=["image_path"])["image_path"].to_pylist()
            except (OSError, KeyError, pa.ArrowException):
                paths = []  # unreadable part: its images are orphans a --fresh run removes
            for path in filter(None, paths):
                target = self.root / path
                if target.parent == self.images and target.exists():
                    target.unlink()
                    removed += 1
            part.unlink(missing_ok=True)
        return removed

    def write_image(self, name: str, data: bytes) -> str:
        write_atomic(self.images / name, data)
        return f"{IMAGES}/{name}"

    def finish_shard(self, shard: int, table: pa.Table, marker: dict) -> None:
        """Part first, then the marker: the marker's presence means the shard is complete."""
        write_table_atomic(self.part_path(shard), table)
        write_json_atomic(self.marker_path(shard), {"shard": shard, "rows": table.num_rows, **marker,
                                                    "host": HOST, "pid": os.getpid()})

    def log_path(self, command: str) -> Path:
        return self.logs / f"{command}-{HOST}-{os.getpid()}.log"

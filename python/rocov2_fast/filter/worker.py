"""The shard worker: owns its decode threads (the Rust core) and its onnxruntime sessions on one
device, and runs whole shards: collect → decide → part + images + marker.

Every executor (in-process, one process per GPU, Ray actors, one Slurm task per node) runs the
same worker; what a shard becomes depends only on the run directory's settings and plan.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from .. import ingest
from ..errors import Rocov2Error
from ..process import release_freed_memory
from ..rundir import RunDir, shard_slice
from .decide import decide, excluded_by_file_list, file_list, license_rows, shard_counts
from .manifest import MANIFEST_SCHEMA
from .models import FilterModel, providers_for_device


@dataclass
class WorkerSpec:
    """What one worker needs besides the run directory (all picklable: sent to processes and actors)."""

    run_dir: str
    #: CUDA device index for this worker's sessions, or None for the CPU
    device: int | None = None
    #: decode threads of this worker (0: one per core)
    decode_threads: int = 0
    #: onnxruntime intra-op threads (0: onnxruntime's default)
    session_threads: int = 0
    batch_size: int = 256
    name: str = "worker-0"


@dataclass
class Collected:
    """What the core returned for one shard's sources, until the shard is complete: the core's
    Arrow record batches as they came (no Python object per value), their pixels and counts."""

    batches: list[pa.RecordBatch] = field(default_factory=list)
    #: for each batch, the pixel rows before it: its `pixel_index` shifted into the shard's batch
    pixel_offsets: list[int] = field(default_factory=list)
    #: rows for packages the file list excluded (never read)
    skipped: pa.Table | None = None
    pixels: list[np.ndarray] = field(default_factory=list)
    pixel_rows: int = 0
    sources: int = 0
    stored_bytes: int = 0

    def add(self, batch: pa.RecordBatch, pixels: np.ndarray | None, stored: int) -> None:
        self.batches.append(batch)
        self.pixel_offsets.append(self.pixel_rows)
        if pixels is not None:
            self.pixels.append(pixels)
            self.pixel_rows += len(pixels)
        self.sources += 1
        self.stored_bytes += stored

    def frame(self, order: list[str]) -> tuple[pl.DataFrame | None, RowBytes]:
        """The shard's rows and the original image bytes of those rows (read from the core's
        Arrow column row by row when asked: only the kept images' bytes ever become Python bytes,
        once, when written), sources in `order` (the plan's: the core returns them in completion
        order), each source's rows in the core's (document) order."""
        skipped = self.skipped.num_rows if self.skipped is not None else 0
        records = pa.Table.from_batches(self.batches) if self.batches else None
        image_bytes = None
        if records is not None:
            image_bytes = records.column("image_bytes")
            records = records.drop_columns(["image_bytes"])
        tables = [t for t in (self.skipped, records) if t is not None and t.num_rows]
        if not tables:
            return None, RowBytes(image_bytes, np.zeros(0, np.int64))
        df = pl.from_arrow(pa.concat_tables(tables, promote_options="permissive").combine_chunks())
        if self.batches:  # pixel rows renumbered into the shard's batch, by Arrow, not per value
            shift = np.repeat(np.array([0, *self.pixel_offsets], np.int32), [skipped, *(b.num_rows for b in self.batches)])
            df = df.with_columns(pl.col("pixel_index") + pl.Series(shift))
        position = {source: i for i, source in enumerate(order)}
        ranked = df.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias(ROW),
                                 pl.col("archive").replace_strict(position, default=len(position),
                                                                  return_dtype=pl.Int64).alias(POSITION))
        ranked = ranked.sort([POSITION, "archive", ROW])
        # frame row -> row of the core's column (the skipped rows, first before sorting, have none)
        return ranked.drop(ROW, POSITION), RowBytes(image_bytes, ranked[ROW].to_numpy().astype(np.int64) - skipped)


class RowBytes(Sequence):
    """Row i's original image bytes, or None: `column[rows[i]]` when `rows[i] >= 0`, taken out of
    the core's Arrow column only when asked for."""

    def __init__(self, column: pa.ChunkedArray | None, rows: np.ndarray):
        self.column, self.rows = column, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> bytes | None:  # type: ignore[override]
        row = int(self.rows[i])
        return None if row < 0 or self.column is None else self.column[row].as_py()


#: Shards a worker holds at once: the one it scores and writes, and the next one, decoded meanwhile.
SHARDS_IN_FLIGHT = 2

#: Column names `Collected.frame` sorts by, dropped before the frame leaves it.
ROW, POSITION = "_collected_row", "_collected_position"


class ShardWorker:
    def __init__(self, spec: WorkerSpec):
        self.spec = spec
        self.run = RunDir(spec.run_dir)
        self.settings = self.run.settings()
        self.plan = self.run.plan()
        check_shared_paths(self.run, self.plan)
        providers = providers_for_device(spec.device)
        self.compound = FilterModel.load(self.plan["compound_model_path"], providers, spec.session_threads)
        self.radiology = FilterModel.load(self.plan["radiology_model_path"], providers, spec.session_threads)
        path = self.plan.get("file_list_path")
        # read once for all of this worker's shards (each shard's scanner would read it again), and
        # looked up in the core (a dict of PMC's list cost ~0.4 GB and 3 s per million rows)
        self.file_list = file_list(path) if path else None
        self.listed = self.file_list if self.file_list is not None else {}
        self.licenses = tuple(self.settings["licenses"])

    def shard_sources(self, k: int) -> list[str]:
        return self.plan["sources"][shard_slice(self.plan, k)]

    def collect(self, k: int) -> Collected:
        collected = Collected()
        skipped, to_read = {}, []
        for source in self.shard_sources(k):
            if lic := excluded_by_file_list(source, self.listed, self.licenses):
                skipped[source] = lic
            else:
                to_read.append(source)
        if skipped:
            collected.skipped = license_rows(skipped, self.listed)
        if to_read:
            for _source, batch, pixels, stored in ingest.iter_batches(
                    to_read, workers=self.spec.decode_threads, file_list=self.file_list,
                    with_pixels=True, with_bytes=True, licenses=list(self.licenses), size=self.compound.input_size,
                    queue=max(4 * max(self.spec.decode_threads, 1), len(to_read))):
                collected.add(batch, pixels, stored)
        return collected

    def decide_and_write(self, k: int, collected: Collected, started: float) -> dict:
        df, image_bytes = collected.frame(self.shard_sources(k))
        if df is None:
            table = MANIFEST_SCHEMA.empty_table()
        else:
            size = self.compound.input_size
            batch = np.concatenate(collected.pixels) if collected.pixels else np.zeros((0, size, size, 3), np.uint8)
            table = decide(k, df, image_bytes, batch, self.compound, self.radiology, self.settings["thresholds"],
                           self.spec.batch_size, self.run.write_image, self.settings.get("decision", "image"),
                           source_keys=self.plan.get("source_keys") or {})
        counts = shard_counts(table)
        marker = {"counts": counts, "sources": len(self.shard_sources(k)), "stored_bytes": collected.stored_bytes,
                  # what the plan saw of these sources: a resume redoes the shard when they change
                  "fingerprints": (self.plan.get("fingerprints") or [])[shard_slice(self.plan, k)],
                  "seconds": round(time.perf_counter() - started, 3), "worker": self.spec.name}
        self.run.finish_shard(k, table, marker)
        return {"shard": k, **marker}

    def process(self, k: int) -> dict:
        """One whole shard (a Ray actor's task). A shard already done is not redone."""
        if self.run.shard_done(k):
            return {"shard": k, "skipped": True, "worker": self.spec.name}
        started = time.perf_counter()
        return self.decide_and_write(k, self.collect(k), started)

    def run_stream(self, claim: Callable[[], int | None], on_done: Callable[[dict], None]) -> None:
        """Shards from `claim()` until it returns None. The next shard is decoded (the core
        releases the GIL) while this one is scored and written; at most two shards are held at
        once (the collector takes a slot before it claims a shard, the main thread gives it back
        once the shard is written), so a worker's memory is two shards', whatever the corpus."""
        ready: queue.Queue = queue.Queue()
        slots = threading.Semaphore(SHARDS_IN_FLIGHT)
        stop = threading.Event()  # the main thread failed: claim nothing more
        failure: list[BaseException] = []

        def collector() -> None:
            try:
                while slots.acquire() and not stop.is_set() and (k := claim()) is not None:
                    started = time.perf_counter()
                    ready.put((k, self.collect(k), started))
            except BaseException as e:  # handed to the main thread
                failure.append(e)
            finally:
                ready.put(None)

        thread = threading.Thread(target=collector, name=f"{self.spec.name}-collect", daemon=True)
        thread.start()
        try:
            while (item := ready.get()) is not None:
                on_done(self.decide_and_write(*item))
                del item  # the shard's pixels and image bytes, before the memory goes back
                release_freed_memory()
                slots.release()
        except BaseException:
            stop.set()  # the collector ends after the shard it is decoding, which is dropped with it
            slots.release()
            raise
        thread.join()
        if failure:
            raise failure[0]
        self.compound.check_loaded()
        self.radiology.check_loaded()


def check_shared_paths(run: RunDir, plan: dict) -> None:
    """A worker on another node must see the same paths as the driver."""
    first = plan["sources"][0] if plan["sources"] else None
    if first is not None and not os.path.exists(first):
        raise Rocov2Error(f"this worker (host {os.uname().nodename}) cannot see {first}, the plan's first source: "
                          "RUN_DIR and the inputs must be on a shared filesystem, mounted at the same path on every node")


def iterate(items: list[int]) -> Callable[[], int | None]:
    """A claim function over a fixed list (thread-safe)."""
    it: Iterator[int] = iter(items)
    lock = threading.Lock()

    def claim() -> int | None:
        with lock:
            return next(it, None)
    return claim

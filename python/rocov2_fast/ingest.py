"""Archives → records: the Python face of the Rust ingest core.

`scan()` streams every source through the core's worker pool and writes one parquet row per
figure graphic (or per source-level failure); `iter_sources()` hands out the same records with
the decoded model-size pixels, for the filter stage.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from . import _core

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

#: Every value of the `status` column (rust/error.rs `Status`), `not_read` included.
STATUSES: tuple[str, ...] = tuple(_core.STATUSES)

ROWS_PER_GROUP = 50_000

#: Sources whose rows may wait for `scan`'s writer: rows only (no pixels, no bytes), so a long
#: queue costs little, and the workers decode on while pyarrow is imported.
SCAN_QUEUE = 256


@cache
def _schemas() -> dict[str, pa.Schema]:
    import pyarrow as pa

    scan_schema = pa.schema(_core.batch_schema())
    full = pa.schema(_core.batch_schema(with_pixels=True, with_bytes=True))
    return {"SCAN_SCHEMA": scan_schema,
            "FILTER_EXTRA": pa.schema([f for f in full if f.name not in scan_schema.names])}


def __getattr__(name: str):
    """`SCAN_SCHEMA`: the scan's columns and their types, the Arrow schema the core builds from
    rust/schema.rs's column table (the one list), imported through the Arrow C data interface;
    `FILTER_EXTRA`: the columns the filter asks for on top (`pixel_index` with pixels,
    `image_bytes` and `thumb32` with bytes). Built on first use, so that `scan` can start the
    core's workers before it imports pyarrow."""
    if name in ("SCAN_SCHEMA", "FILTER_EXTRA"):
        return _schemas()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class SourceRecords:
    """Everything the core produced for one source (package or article folder)."""

    #: the source's path, as its rows' `archive` column has it
    source: str
    table: pa.Table
    #: `n × size × size × 3` uint8 for the `ok` rows (row i ↔ `pixel_index` i), or None.
    pixels: np.ndarray | None
    stored_bytes: int

    @property
    def archive(self) -> str:
        """The earlier name of `source` (kept for callers written before it was renamed)."""
        return self.source


@dataclass
class ScanSummary:
    sources: int = 0
    rows: int = 0
    stored_bytes: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)

    def add(self, batch: pa.RecordBatch, stored_bytes: int) -> int:
        """Counts one source's rows; returns its `ok` rows. The statuses are counted by Arrow
        (one Python value per distinct status, none per row)."""
        counts = {c["values"]: c["counts"] for c in batch.column("status").value_counts().to_pylist()}
        self.statuses.update(counts)
        self.sources += 1
        self.rows += batch.num_rows
        self.stored_bytes += stored_bytes
        return counts.get("ok", 0)

    @property
    def images_ok(self) -> int:
        return self.statuses.get("ok", 0)

    def line(self) -> str:
        rate = self.images_ok / self.seconds if self.seconds else 0.0
        mb_s = self.stored_bytes / 1e6 / self.seconds if self.seconds else 0.0
        others = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()) if k != "ok")
        return (f"{self.sources} sources, {self.rows} rows, {self.images_ok} images ok"
                f"{' (' + others + ')' if others else ''} in {self.seconds:.1f} s "
                f"({rate:.0f} images/s, {mb_s:.0f} MB/s)")


def _scanner(inputs: Sequence[str | os.PathLike], *, workers: int, file_list: str | os.PathLike | _core.FileList | None,
             with_pixels: bool, **options) -> _core.Scanner:
    if not isinstance(file_list, _core.FileList):  # a path (a FileList is one read already)
        file_list = os.fspath(file_list) if file_list else None
    return _core.Scanner([os.fspath(p) for p in inputs], workers=workers, file_list=file_list,
                         with_pixels=with_pixels, **options)


def iter_batches(inputs: Sequence[str | os.PathLike], *, workers: int = 0, file_list: str | os.PathLike | None = None,
                 with_pixels: bool = True, **options) -> Iterator[tuple[str, pa.RecordBatch, np.ndarray | None, int]]:
    """The core's results in completion order, `(source, record batch, pixels or None, stored
    bytes)` per source. The batch is the core's Arrow memory, imported through the Arrow C data
    interface (no copy, no Python object per value); its columns are SCAN_SCHEMA's, then
    `pixel_index` with `with_pixels`, `image_bytes` (large_binary) and `thumb32` with
    `with_bytes`. Options as for `iter_sources`."""
    import pyarrow as pa

    for source, batch, pixels, stored in _scanner(inputs, workers=workers, file_list=file_list,
                                                  with_pixels=with_pixels, **options):
        yield source, pa.record_batch(batch), pixels, stored


def iter_sources(inputs: Sequence[str | os.PathLike], *, workers: int = 0, file_list: str | os.PathLike | None = None,
                 with_pixels: bool = True, **options) -> Iterator[SourceRecords]:
    """Yields one `SourceRecords` per source, in completion order. Options: size, fit,
    exact_hash, max_pixels, max_image_bytes, max_xml_bytes, with_bytes (adds the `image_bytes`
    and `thumb32` columns), licenses (articles under other licences are not decoded); see
    `_core.Scanner`. With `with_pixels`, the table has `pixel_index` (the row of `pixels`)."""
    import pyarrow as pa

    for source, batch, pixels, stored in iter_batches(inputs, workers=workers, file_list=file_list,
                                                      with_pixels=with_pixels, **options):
        yield SourceRecords(source, pa.Table.from_batches([batch]), pixels, stored)


def scan(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, workers: int = 0,
         file_list: str | os.PathLike | None = None, show_progress: bool | None = None, **options) -> ScanSummary:
    """Scans every source into `out` (parquet). The file appears only when the scan completes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    started = time.perf_counter()
    options.setdefault("queue", SCAN_QUEUE)
    # The workers start decoding here; pyarrow (and numpy, which it imports) load meanwhile.
    scanner = _scanner(inputs, workers=workers, file_list=file_list, with_pixels=False, **options)
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .progress import ScanProgress

    schema = _schemas()["SCAN_SCHEMA"]
    summary = ScanSummary()
    pending: list[pa.RecordBatch] = []
    rows_written = 0
    with pq.ParquetWriter(partial, schema, compression="zstd") as writer, \
            ScanProgress(total=len(scanner), enabled=show_progress) as progress:
        for _source, core_batch, _pixels, stored in scanner:
            batch = pa.record_batch(core_batch)
            pending.append(batch)
            progress.advance(images=summary.add(batch, stored), stored_bytes=stored)
            if summary.rows - rows_written >= ROWS_PER_GROUP:
                write_row_group(writer, pending)
                rows_written = summary.rows
        if pending:
            write_row_group(writer, pending)
    partial.replace(out)
    summary.seconds = time.perf_counter() - started
    return summary


def write_row_group(writer: pq.ParquetWriter, batches: list[pa.RecordBatch]) -> None:
    """Writes the batches as one row group (one contiguous chunk per column, so the file's bytes
    do not depend on how the rows were split into sources) and empties the list."""
    import pyarrow as pa

    writer.write_table(pa.Table.from_batches(batches, _schemas()["SCAN_SCHEMA"]).combine_chunks())
    batches.clear()

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
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import _core, arrow
from .progress import ScanProgress


def _schema(columns: Sequence[tuple[str, str]]) -> pa.Schema:
    return pa.schema([(name, pa.type_for_alias(arrow_type)) for name, arrow_type in columns])


#: The scan's columns and their types, as rust/schema.rs declares them (the one list).
SCAN_SCHEMA = _schema(_core.SCAN_COLUMNS)

#: Columns the filter asks for on top of SCAN_SCHEMA (`pixel_index` always, the others with `with_bytes`).
FILTER_EXTRA = _schema(_core.FILTER_COLUMNS)

#: Every value of the `status` column (rust/error.rs `Status`), `not_read` included.
STATUSES: tuple[str, ...] = tuple(_core.STATUSES)

ROWS_PER_GROUP = 50_000


class ColumnBuffer:
    """The core's column lists of several sources, turned into Arrow in one go. Converting each
    source on its own costs more than decoding it: a 300-article filter run made 4,400 small
    conversions, 1.1 s of its 5.5 s on the main thread (cProfile)."""

    def __init__(self, extra: Sequence[str] = ()) -> None:
        """`extra`: the FILTER_EXTRA columns to keep after SCAN_SCHEMA's."""
        self.schema = pa.schema([*SCAN_SCHEMA, *(FILTER_EXTRA.field(name) for name in extra)])
        self.columns: dict[str, list] = {name: [] for name in self.schema.names}
        self.rows = 0

    def extend(self, columns: dict, pixel_offset: int = 0) -> None:
        n = len(columns["status"])
        for name, kept in self.columns.items():
            values = columns.get(name)
            if values is None:  # image_bytes/thumb32 are absent when no row of the source decoded
                values = [None] * n
            elif name == "pixel_index" and pixel_offset:
                values = [None if i is None else i + pixel_offset for i in values]
            kept.extend(values)
        self.rows += n

    def to_table(self) -> pa.Table:
        """Everything gathered so far, as one table; empties the buffer."""
        table = arrow.table(self.columns, self.schema)
        self.columns, self.rows = {name: [] for name in self.schema.names}, 0
        return table


@dataclass
class SourceRecords:
    """Everything the core produced for one source (package or article folder)."""

    archive: str
    table: pa.Table
    #: `n × size × size × 3` uint8 for the `ok` rows (row i ↔ `pixel_index` i), or None.
    pixels: np.ndarray | None
    stored_bytes: int


@dataclass
class ScanSummary:
    sources: int = 0
    rows: int = 0
    stored_bytes: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)

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


def _scanner(inputs: Sequence[str | os.PathLike], *, workers: int, file_list: str | os.PathLike | None,
             with_pixels: bool, **options) -> _core.Scanner:
    return _core.Scanner([os.fspath(p) for p in inputs], workers=workers,
                         file_list=os.fspath(file_list) if file_list else None, with_pixels=with_pixels, **options)


def iter_sources(inputs: Sequence[str | os.PathLike], *, workers: int = 0, file_list: str | os.PathLike | None = None,
                 with_pixels: bool = True, **options) -> Iterator[SourceRecords]:
    """Yields one `SourceRecords` per source, in completion order. Options: size, fit,
    exact_hash, max_pixels, max_image_bytes, max_xml_bytes, with_bytes (adds the `image_bytes`
    and `thumb32` columns), licenses (articles under other licences are not decoded); see
    `_core.Scanner`."""
    extra = tuple(FILTER_EXTRA.names) if options.get("with_bytes") else ("pixel_index",)
    buffer = ColumnBuffer(extra)
    for archive, columns, pixels, stored in iter_columns(inputs, workers=workers, file_list=file_list,
                                                         with_pixels=with_pixels, **options):
        buffer.extend(columns)
        yield SourceRecords(archive, buffer.to_table(), pixels, stored)


def iter_columns(inputs: Sequence[str | os.PathLike], *, workers: int = 0, file_list: str | os.PathLike | None = None,
                 with_pixels: bool = True, **options) -> Iterator[tuple[str, dict, np.ndarray | None, int]]:
    """The core's raw results, `(archive, column lists, pixels, stored bytes)` per source: for
    callers that gather many sources into one `ColumnBuffer` before converting."""
    yield from _scanner(inputs, workers=workers, file_list=file_list, with_pixels=with_pixels, **options)


def scan(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, workers: int = 0,
         file_list: str | os.PathLike | None = None, show_progress: bool | None = None, **options) -> ScanSummary:
    """Scans every source into `out` (parquet). The file appears only when the scan completes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    started = time.perf_counter()
    scanner = _scanner(inputs, workers=workers, file_list=file_list, with_pixels=False, **options)
    summary = ScanSummary()
    pending = ColumnBuffer()
    with pq.ParquetWriter(partial, SCAN_SCHEMA, compression="zstd") as writer, \
            ScanProgress(total=len(scanner), enabled=show_progress) as progress:
        for _archive, columns, _pixels, stored in scanner:
            pending.extend(columns)
            summary.sources += 1
            summary.rows += len(columns["status"])
            summary.stored_bytes += stored
            summary.statuses.update(columns["status"])
            progress.advance(images=columns["status"].count("ok"), stored_bytes=stored)
            if pending.rows >= ROWS_PER_GROUP:
                writer.write_table(pending.to_table())
        if pending.rows:
            writer.write_table(pending.to_table())
    partial.replace(out)
    summary.seconds = time.perf_counter() - started
    return summary

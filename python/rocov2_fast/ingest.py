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

SCAN_SCHEMA = pa.schema(
    [
        ("archive", pa.string()),
        ("pmcid", pa.string()),
        ("pmid", pa.string()),
        ("doi", pa.string()),
        ("year", pa.int32()),
        ("license", pa.string()),
        ("license_source", pa.string()),
        ("xml_license", pa.string()),
        ("license_raw", pa.string()),
        ("title", pa.string()),
        ("journal", pa.string()),
        ("authors", pa.string()),
        ("figure_index", pa.int32()),
        ("figure_id", pa.string()),
        ("label", pa.string()),
        ("caption", pa.string()),
        ("graphic", pa.string()),
        ("member", pa.string()),
        ("format", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("channels", pa.int8()),
        ("bytes", pa.int64()),
        ("phash", pa.string()),
        ("dhash", pa.string()),
        ("hash_exact", pa.bool_()),
        ("status", pa.string()),
        ("error", pa.string()),
    ]
)

ROWS_PER_GROUP = 50_000


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


def _to_table(columns: dict) -> pa.Table:
    return arrow.table(columns, SCAN_SCHEMA)


def iter_sources(inputs: Sequence[str | os.PathLike], *, workers: int = 0, file_list: str | os.PathLike | None = None,
                 with_pixels: bool = True, **options) -> Iterator[SourceRecords]:
    """Yields one `SourceRecords` per source, in completion order. Options: size, fit,
    exact_hash, max_pixels, max_image_bytes, max_xml_bytes, with_bytes (adds the `image_bytes`
    and `thumb32` columns), licenses (articles under other licences are not decoded); see
    `_core.Scanner`."""
    scanner = _scanner(inputs, workers=workers, file_list=file_list, with_pixels=with_pixels, **options)
    for archive, columns, pixels, stored in scanner:
        table = _to_table(columns).append_column("pixel_index", arrow.column(columns["pixel_index"], pa.int32()))
        if options.get("with_bytes"):
            for extra in ("image_bytes", "thumb32"):  # absent when no row of the source decoded
                values = columns.get(extra, [None] * table.num_rows)
                table = table.append_column(extra, arrow.column(values, pa.binary()))
        yield SourceRecords(archive, table, pixels, stored)


def scan(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, workers: int = 0,
         file_list: str | os.PathLike | None = None, show_progress: bool | None = None, **options) -> ScanSummary:
    """Scans every source into `out` (parquet). The file appears only when the scan completes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    started = time.perf_counter()
    scanner = _scanner(inputs, workers=workers, file_list=file_list, with_pixels=False, **options)
    summary = ScanSummary()
    pending: list[pa.Table] = []
    with pq.ParquetWriter(partial, SCAN_SCHEMA, compression="zstd") as writer, \
            ScanProgress(total=len(scanner), enabled=show_progress) as progress:
        for archive, columns, _pixels, stored in scanner:
            table = _to_table(columns)
            pending.append(table)
            summary.sources += 1
            summary.rows += table.num_rows
            summary.stored_bytes += stored
            summary.statuses.update(columns["status"])
            progress.advance(images=columns["status"].count("ok"), stored_bytes=stored)
            if sum(t.num_rows for t in pending) >= ROWS_PER_GROUP:
                writer.write_table(pa.concat_tables(pending))
                pending.clear()
        if pending:
            writer.write_table(pa.concat_tables(pending))
    partial.replace(out)
    summary.seconds = time.perf_counter() - started
    return summary

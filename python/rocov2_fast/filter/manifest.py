"""The run directory: per-shard manifest parts with completion markers (resume), kept images,
near-duplicate decisions, the merged manifest and summary.json.

Every file is written to a temporary name and renamed into place, and a shard's marker is
written only after its part and images: a run killed at any moment leaves either a finished
shard or one that the next run redoes from scratch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..ingest import SCAN_SCHEMA

MANIFEST_SCHEMA = pa.schema(
    [field for field in SCAN_SCHEMA]
    + [
        ("shard", pa.int32()),
        ("image_id", pa.string()),
        ("fate", pa.string()),  # kept | dropped
        ("stage", pa.string()),  # license | ingest | compound | radiology | duplicate (null when kept)
        ("reason", pa.string()),
        ("compound_score", pa.float32()),
        ("radiology_score", pa.float32()),
        ("duplicate_of", pa.string()),
        ("image_path", pa.string()),
        ("thumb32", pa.binary()),
    ]
)


def write_atomic(path: Path, data: bytes) -> None:
    """Write-then-rename: a killed run leaves the old file or the new one, never half of one.
    (No fsync: that guards against power loss, and costs ~2 ms per kept image.)"""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_table_atomic(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def image_id(pmcid: str | None, archive: str, graphic: str | None, figure_index: int | None) -> str:
    base = pmcid or Path(archive).name.split(".")[0]
    name = graphic if graphic is not None else f"fig{figure_index}" if figure_index is not None else "archive"
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{base}_{name}")


class RunDir:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.parts = self.root / "manifest"
        self.images = self.root / "images"

    def clear(self) -> None:
        for name in ("manifest", "images"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        for name in ("run.json", "duplicates.parquet", "manifest.parquet", "summary.json"):
            (self.root / name).unlink(missing_ok=True)

    def prepare(self, config: dict) -> None:
        """Creates the layout, or checks that an existing run was made with the same settings."""
        self.parts.mkdir(parents=True, exist_ok=True)
        self.images.mkdir(exist_ok=True)
        path = self.root / "run.json"
        if path.exists():
            previous = json.loads(path.read_text())
            changed = sorted(k for k in config if previous.get(k) != config[k])
            if changed:
                raise ValueError(f"{self.root} holds a run made with other {', '.join(changed)}: "
                                 "rerun with --fresh to start over, or use another --out")
        else:
            write_atomic(path, json.dumps(config, indent=2).encode())

    def part_path(self, shard: int) -> Path:
        return self.parts / f"part-{shard:06d}.parquet"

    def marker_path(self, shard: int) -> Path:
        return self.parts / f"part-{shard:06d}.done"

    def shard_done(self, shard: int) -> bool:
        return self.marker_path(shard).exists() and self.part_path(shard).exists()

    def write_image(self, name: str, data: bytes) -> str:
        write_atomic(self.images / name, data)
        return f"images/{name}"

    def finish_shard(self, shard: int, table: pa.Table, sources: list[str]) -> None:
        write_table_atomic(self.part_path(shard), table)
        marker = {"shard": shard, "rows": table.num_rows, "sources": sources_digest(sources)}
        write_atomic(self.marker_path(shard), json.dumps(marker).encode())

    def read_parts(self) -> pa.Table:
        parts = sorted(self.parts.glob("part-*.parquet"))
        # ParquetFile, not read_table: read_table loads pyarrow.dataset, which imports pandas (~0.5 s)
        tables = [pq.ParquetFile(p).read().cast(MANIFEST_SCHEMA) for p in parts if self.marker_path(int(p.stem[5:])).exists()]
        return pa.concat_tables(tables) if tables else MANIFEST_SCHEMA.empty_table()


def sources_digest(sources: list[str]) -> str:
    return hashlib.sha256("\n".join(sources).encode()).hexdigest()[:16]

"""Finish: global near-duplicate removal over every shard's kept images, the merged manifest and
the funnel. Done once, by the process that finishes the run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from ..rundir import RunDir, write_json_atomic, write_table_atomic
from . import dedup
from .decide import NOT_READ, SOURCE_FAILURES, align
from .manifest import MANIFEST_SCHEMA

#: the funnel's filters, in order: the manifest `stage` that dropped an image (not `build.STAGES`, the pipeline's)
FUNNEL_STAGES = ("license", "ingest", "compound", "radiology", "duplicate")


@dataclass
class Funnel:
    images: int = 0
    removed: dict = field(default_factory=lambda: {s: 0 for s in FUNNEL_STAGES})
    kept: int = 0
    failed_sources: int = 0

    def lines(self) -> list[str]:
        remaining = self.images
        out = [f"{'figure images':28} {self.images:>10}"]
        for stage in FUNNEL_STAGES:
            remaining -= self.removed[stage]
            out.append(f"  - {stage + ' filter':24} {-self.removed[stage]:>10}  → {remaining}")
        out.append(f"{'kept':28} {self.kept:>10}")
        if self.failed_sources:
            out.append(f"({self.failed_sources} packages could not be read at all: see stage 'ingest' rows without a graphic)")
        return out


#: the parts' 32×32 thumbnail column: 1 KiB per decoded image, needed only for the kept ones (near-duplicates)
THUMB = "thumb32"


def read_parts(run: RunDir) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every part's rows without the thumbnails, and (image_id, thumb32) of the kept rows only:
    what finish holds grows by the manifest's row, not by the thumbnail of every decoded image."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, thumbs = [], []
    schema = pa.schema([f for f in MANIFEST_SCHEMA if f.name != THUMB])
    for k in sorted(run.markers()):
        part = pq.ParquetFile(run.part_path(k))
        rows.append(part.read(columns=schema.names).cast(schema))
        kept = part.read(columns=["image_id", "fate", THUMB])
        thumbs.append(pl.from_arrow(kept).filter(pl.col("fate") == "kept").select("image_id", THUMB))
    manifest = pl.from_arrow(pa.concat_tables(rows) if rows else schema.empty_table())
    return manifest, (pl.concat(thumbs) if thumbs else pl.DataFrame(schema={"image_id": pl.String, THUMB: pl.Binary}))


def finish(run: RunDir, dedup_distance: int) -> pl.DataFrame:
    """Global near-duplicate removal over all shards, then the merged manifest."""
    manifest, thumbs = read_parts(run)
    manifest = manifest.sort("archive", "figure_index", "graphic", "image_id", nulls_last=True)
    kept = manifest.filter(pl.col("fate") == "kept").join(thumbs, on="image_id", how="left", maintain_order="left")
    result = dedup.find_duplicates(kept, dedup_distance)
    duplicates = pl.DataFrame({"image_id": list(result.duplicate_of), "duplicate_of": list(result.duplicate_of.values())},
                              schema={"image_id": pl.String, "duplicate_of": pl.String}).sort("image_id")
    write_table_atomic(run.duplicates, duplicates.to_arrow())
    is_dup = pl.col("image_id").is_in(duplicates["image_id"].implode()) & (pl.col("fate") == "kept")
    for path in manifest.filter(is_dup)["image_path"]:
        (run.root / path).unlink(missing_ok=True)
    rep = pl.col("image_id").replace_strict(result.duplicate_of, default=None, return_dtype=pl.String)
    manifest = manifest.with_columns(
        pl.when(is_dup).then(rep).otherwise(pl.col("duplicate_of")).alias("duplicate_of"),
        pl.when(is_dup).then(pl.lit("duplicate")).otherwise(pl.col("stage")).alias("stage"),
        pl.when(is_dup).then(pl.concat_str(pl.lit("near-duplicate of "), rep)).otherwise(pl.col("reason")).alias("reason"),
        pl.when(is_dup).then(None).otherwise(pl.col("image_path")).alias("image_path"),
        pl.when(is_dup).then(pl.lit("dropped")).otherwise(pl.col("fate")).alias("fate"),
    )
    write_table_atomic(run.manifest, align(manifest))  # thumb32: null in the merged manifest (parts only)
    return manifest


def funnel_of(manifest: pl.DataFrame) -> Funnel:
    images = manifest.filter(pl.col("graphic").is_not_null() | (pl.col("status") == NOT_READ))
    funnel = Funnel(images=images.height, kept=int((manifest["fate"] == "kept").sum()),
                    failed_sources=manifest.filter(pl.col("graphic").is_null() & (pl.col("stage") == "ingest")
                                                   & pl.col("status").is_in(SOURCE_FAILURES)).height)
    for stage, count in Counter(images.filter(pl.col("fate") == "dropped")["stage"].to_list()).items():
        funnel.removed[stage] = count
    return funnel


def summarise(manifest: pl.DataFrame, options: dict, seconds: float, sources: int, done_now: int, shards: int) -> dict:
    funnel = funnel_of(manifest)
    return {
        "sources": sources, "shards": shards, "shards_processed_this_run": done_now, "seconds": round(seconds, 2),
        "funnel": {"images": funnel.images, "removed": funnel.removed, "kept": funnel.kept},
        "statuses": dict(sorted(Counter(manifest["status"].to_list()).items())), "failed_sources": funnel.failed_sources,
        "options": options,
        "funnel_text": funnel.lines(),
    }


def write_summary(run: RunDir, summary: dict) -> None:
    """summary.json, and the funnel as a picture and as text beside it (after every finish and rethreshold)."""
    from ..funnel import write_funnel

    write_json_atomic(run.summary, summary)
    write_funnel(run, summary)

"""A run directory's dataset table (from `split` or `import-rocov2`) as training data: image
paths, captions, concept sets and the IDs the exported gold files use."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .. import rundir
from ..dataset.tables import read_dataset


@dataclass
class Split:
    ids: list[str]  # the IDs of the exported files (ROCOv2_2023_test_000001), else the image_id
    paths: list[Path]
    captions: list[str]
    concepts: list[list[str]]


def load_splits(dataset: Path) -> dict[str, Split]:
    dataset = Path(dataset)
    df = read_dataset(dataset).filter(pl.col("image_path").is_not_null())
    export_ids = dataset / rundir.EXPORT_IDS
    if export_ids.exists():
        df = df.join(pl.read_parquet(export_ids).select("image_id", "ID"), on="image_id", how="left")
        df = df.with_columns(pl.col("ID").fill_null(pl.col("image_id")))
    else:
        df = df.with_columns(pl.col("image_id").alias("ID"))
    splits = {}
    for name in ("train", "valid", "test"):
        part = df.filter(pl.col("split") == name).sort("ID")
        splits[name] = Split(part["ID"].to_list(), [dataset / p for p in part["image_path"].to_list()],
                             part["caption"].to_list(), part["concepts"].to_list())
    return splits


def write_submission(path: Path, rows) -> None:
    """ImageCLEF submission: no header, `ID,<value>` per image."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)

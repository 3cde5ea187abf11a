"""ROCOv2's validation split as released (`valid_captions.csv`, `valid_concepts.csv`,
`valid_concepts_manual.csv`), split deterministically into a part to develop on and a part that
is only measured on (`part_of`: a hash of the image ID, independent of order and seed)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import polars as pl

#: Where CI and the workspace see the shared data, relative to the repository root.
DEFAULT_VALID = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "rocov2" / "valid"
MEASURE_SHARE = 0.3


def part_of(image_id: str) -> str:
    """'measure' for about 30 % of the images, 'develop' for the rest."""
    h = int(hashlib.sha256(image_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "measure" if h < MEASURE_SHARE else "develop"


def _read_cuis(path: Path) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r[0]: [c.strip() for c in r[1].split(";") if c.strip()] if len(r) > 1 else []
                for r in csv.reader(f) if r and r[0] != "ID"}


def read_valid(folder: Path = DEFAULT_VALID, part: str | None = None) -> pl.DataFrame:
    """`image_id`, `caption`, `cuis` (all gold concepts), `cuis_manual`, `part`; only `part` if given."""
    folder = Path(folder)
    with open(folder / "valid_captions.csv", newline="", encoding="utf-8") as f:
        captions = {r[0]: r[1] for r in csv.reader(f) if r and r[0] != "ID"}
    concepts = _read_cuis(folder / "valid_concepts.csv")
    manual = _read_cuis(folder / "valid_concepts_manual.csv")
    ids = list(captions)
    df = pl.DataFrame({"image_id": ids, "caption": [captions[i] for i in ids],
                       "cuis": [concepts.get(i, []) for i in ids], "cuis_manual": [manual.get(i, []) for i in ids],
                       "part": [part_of(i) for i in ids]},
                      schema={"image_id": pl.String, "caption": pl.String, "cuis": pl.List(pl.String),
                              "cuis_manual": pl.List(pl.String), "part": pl.String})
    return df.filter(pl.col("part") == part) if part else df

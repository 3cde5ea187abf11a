"""The manifest's row schema and image identity. The files that hold it live in the run
directory (`rocov2_fast.rundir`)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

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
        ("caption_compound", pa.float32()),  # panel references in the caption (filter/caption_evidence.py)
        ("caption_radiology", pa.float32()),  # P(radiology | caption)
        ("duplicate_of", pa.string()),
        ("image_path", pa.string()),
        ("thumb32", pa.binary()),
    ]
)


def image_id(pmcid: str | None, archive: str, graphic: str | None, figure_index: int | None) -> str:
    base = pmcid or Path(archive).name.split(".")[0]
    name = graphic if graphic is not None else f"fig{figure_index}" if figure_index is not None else "archive"
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{base}_{name}")

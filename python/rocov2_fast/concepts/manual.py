"""Manual concepts (modality; X-ray body region and projection): import annotators' CSVs, merge
with the extracted concepts with priority, and suggest them from captions for annotators."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl

MODALITIES = {
    "C0040405": "CT", "C0024485": "MRI", "C0041618": "ultrasound", "C0002978": "angiography",
    "C0032743": "PET", "C1306645": "X-ray",
}
XRAY = "C1306645"
REGIONS = {"C0817096": "chest", "C0000726": "abdomen", "C0030797": "pelvis", "C0037303": "cranium",
           "C0037949": "spine", "C1140618": "upper extremity", "C0023216": "lower extremity", "C0006141": "breast"}
PROJECTIONS = {"C1996865": "PA", "C1999039": "AP", "C0205129": "sagittal"}
MANUAL_CUIS = set(MODALITIES) | set(REGIONS) | set(PROJECTIONS)

# Caption words for each manual concept (word-boundary, case-insensitive).
PATTERNS = {
    "C0040405": r"ct|cect|hrct|mdct|computed tomograph\w*|computeri[sz]ed tomograph\w*",
    "C0024485": r"mri|mr|magnetic resonance|t1-?weighted|t2-?weighted|flair",
    "C0041618": r"ultrasound|ultrasonograph\w*|sonograph\w*|echograph\w*|doppler",
    "C0002978": r"angiograph\w*|angiogram|dsa|arteriograph\w*|venograph\w*",
    "C0032743": r"pet|positron emission",
    "C1306645": r"x-?ray|radiograph\w*|roentgenogra\w*|plain film|mammogra\w*",
    "C0817096": r"chest|thorax|thoracic",
    "C0000726": r"abdomen|abdominal",
    "C0030797": r"pelvis|pelvic|hip joint",
    "C0037303": r"skull|cranium|cranial",
    "C0037949": r"spine|spinal|vertebra\w*|lumbar|cervical spine",
    "C1140618": r"hand|wrist|elbow|shoulder|forearm|humer\w*|finger\w*|upper (?:limb|extremity)",
    "C0023216": r"knee|ankle|foot|feet|femur|femoral|tibia\w*|fibula\w*|leg|lower (?:limb|extremity)",
    "C0006141": r"breast|mammogra\w*",
    "C1996865": r"posteroanterior|postero-anterior",
    "C1999039": r"anteroposterior|antero-posterior",
    "C0205129": r"lateral view|lateral projection|sagittal|lateral radiograph",
}
COMPILED = {cui: re.compile(rf"\b(?:{p})\b", re.IGNORECASE) for cui, p in PATTERNS.items()}
# Case-sensitive short forms, so "us" and "pa" in running text do not count.
SHORT = {"C0041618": re.compile(r"\bUS\b"), "C1996865": re.compile(r"\bPA\b"), "C1999039": re.compile(r"\bAP\b")}


def read_manual(paths: list[str | Path]) -> pl.DataFrame:
    """Annotator CSVs `ID,CUIs` (CUIs joined by `;`) → `image_id`, `cuis_manual`."""
    rows: dict[str, set[str]] = {}
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.reader(f):
                if not row or row[0].strip() in ("ID", "image_id"):
                    continue
                cuis = {c.strip().upper() for c in (row[1] if len(row) > 1 else "").split(";") if c.strip()}
                rows.setdefault(row[0].strip(), set()).update(cuis)
    return pl.DataFrame({"image_id": list(rows), "cuis_manual": [sorted(v) for v in rows.values()]},
                        schema={"image_id": pl.String, "cuis_manual": pl.List(pl.String)})


def merge(auto: pl.DataFrame, manual: pl.DataFrame) -> pl.DataFrame:
    """Manual concepts win: an image with manual concepts loses its automatically extracted
    modality CUIs, except when several modalities were extracted (a combined modality such as
    PET/CT, which the manual scheme does not express). Manual and automatic concepts stay in
    separate columns (`cuis`, `cuis_manual`), with `provenance` per CUI."""
    joined = auto.join(manual, on="image_id", how="left")
    cuis_out, prov_out = [], []
    for cuis, manual_cuis in zip(joined["cuis"].to_list(), joined["cuis_manual"].to_list()):
        manual_cuis = manual_cuis or []
        modalities = [c for c in cuis if c in MODALITIES]
        combined = len(modalities) > 1
        kept = [c for c in cuis if not (manual_cuis and c in MODALITIES and not combined)]
        cuis_out.append(kept)
        prov_out.append([f"{c}:auto" for c in kept] + [f"{c}:manual" for c in manual_cuis])
    return joined.with_columns(pl.Series("cuis", cuis_out, pl.List(pl.String)),
                               pl.col("cuis_manual").fill_null(pl.lit([], pl.List(pl.String))),
                               pl.Series("provenance", prov_out, pl.List(pl.String)))


def _hits(caption: str, cuis) -> list[str]:
    return [c for c in cuis if COMPILED[c].search(caption) or (c in SHORT and SHORT[c].search(caption))]


def suggest_manual(df: pl.DataFrame) -> pl.DataFrame:
    """`image_id`, `caption` → `image_id`, `modality` (a modality CUI or null), `confidence`
    (1 / number of modalities the caption names; 0 when none), `region`, `projection` (X-ray only,
    when the caption states them)."""
    rows = []
    for image_id, caption in zip(df["image_id"].to_list(), df["caption"].to_list()):
        caption = caption or ""
        modalities = _hits(caption, MODALITIES)
        modality = modalities[0] if len(modalities) == 1 else None
        xray = XRAY in modalities
        regions = _hits(caption, REGIONS) if xray else []
        projections = _hits(caption, PROJECTIONS) if xray else []
        rows.append({"image_id": image_id, "modality": modality, "confidence": 1 / len(modalities) if modalities else 0.0,
                     "modalities_named": modalities, "region": regions[0] if len(regions) == 1 else None,
                     "projection": projections[0] if len(projections) == 1 else None})
    return pl.DataFrame(rows, schema={"image_id": df.schema["image_id"], "modality": pl.String, "confidence": pl.Float64,
                                      "modalities_named": pl.List(pl.String), "region": pl.String, "projection": pl.String})

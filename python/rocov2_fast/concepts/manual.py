"""Manual concepts (modality; X-ray body region and projection): import annotators' CSVs, merge
with the extracted concepts with priority, and suggest them from captions for annotators."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from .modality import (COMPILED, COMPILED_CASE, MODALITIES, PROJECTIONS, REGIONS, RULE_PROJECTIONS, RULE_REGIONS, XRAY,
                       load_models, rule_hits, vocabulary_hits)

SHORT = COMPILED_CASE  # the case-sensitive short forms ("US", "PA", "AP", ...), under their old name

MANUAL_CUIS = set(MODALITIES) | set(REGIONS) | set(PROJECTIONS)
__all__ = ["COMPILED", "MANUAL_CUIS", "MODALITIES", "PROJECTIONS", "REGIONS", "SHORT", "XRAY", "merge", "read_manual",
           "suggest_manual"]


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


def suggest_manual(df: pl.DataFrame, min_confidence: float | None = None, model: str | None = None) -> pl.DataFrame:
    """`image_id`, `caption` → one suggestion per caption for annotators:

    - `modality`: the suggested modality CUI, null when `modality_confidence` is below
      `min_confidence` (default: the shipped model's, set for 97.5 % precision on held-out captions,
      separately for captions that name no modality, one, several);
    - `modality_best`, `modality_confidence`: the most probable modality for every caption and its
      calibrated probability (the classifier of `concepts/modality.py`: the caption's words and the
      modality vocabulary it uses);
    - `modality_source`: `vocabulary` when the caption uses a word of the suggested modality's
      vocabulary, `model` when only the classifier's learned words back it;
    - `confidence`, `modalities_named`: the modalities whose vocabulary the caption uses and
      1 / their number (0 when none), as before;
    - `region`, `projection` (X-ray only): the classifier's when confident (`region_confidence`,
      `projection_confidence`: its probability), otherwise the one the caption names, if exactly one.

    Without a shipped model (models/concepts/modality.npz) a modality is suggested only when the
    caption names exactly one."""
    models = load_models(model)
    captions = [c or "" for c in df["caption"].to_list()]
    n = len(captions)
    named = [vocabulary_hits(c) for c in captions]
    if "modality" in models:
        m = models["modality"]
        p, thresholds = m.proba(captions, with_thresholds=True)
        best = [m.labels[k] for k in p.argmax(axis=1)]
        best_conf = p.max(axis=1).tolist()
        if min_confidence is not None:
            thresholds = [min_confidence] * n
        modality = [b if c >= t else None for b, c, t in zip(best, best_conf, thresholds)]
    else:
        best = [h[0] if len(h) == 1 else None for h in named]
        best_conf = [1.0 if len(h) == 1 else 0.0 for h in named]
        modality = list(best)
    xray = [i for i in range(n) if modality[i] == XRAY]
    extra = {}
    for name, rules in (("region", RULE_REGIONS), ("projection", RULE_PROJECTIONS)):
        values, conf = [None] * n, [None] * n
        if name in models and xray:
            m = models[name]
            p, thresholds = m.proba([captions[i] for i in xray], with_thresholds=True)
            for i, k, c, t in zip(xray, p.argmax(axis=1), p.max(axis=1), thresholds):
                conf[i] = float(c)
                if m.labels[k] and c >= t:
                    values[i] = m.labels[k]
        for i in xray:  # where the classifier is not confident: the caption names exactly one
            if values[i] is None:
                hits = rule_hits(captions[i], rules)
                values[i] = hits[0] if len(hits) == 1 else None
        extra[name], extra[f"{name}_confidence"] = values, conf
    return pl.DataFrame({
        "image_id": df["image_id"], "modality": modality,
        "confidence": [1 / len(h) if h else 0.0 for h in named], "modalities_named": named,
        "region": extra["region"], "projection": extra["projection"],
        "modality_best": best, "modality_confidence": best_conf,
        "modality_source": [None if mod is None else ("vocabulary" if mod in h else "model") for mod, h in zip(modality, named)],
        "region_confidence": extra["region_confidence"], "projection_confidence": extra["projection_confidence"],
    }, schema={"image_id": df.schema["image_id"], "modality": pl.String, "confidence": pl.Float64,
               "modalities_named": pl.List(pl.String), "region": pl.String, "projection": pl.String,
               "modality_best": pl.String, "modality_confidence": pl.Float64, "modality_source": pl.String,
               "region_confidence": pl.Float64, "projection_confidence": pl.Float64})

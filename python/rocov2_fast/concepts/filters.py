"""The ROCOv2 concept filters, applied in this order: remap (CUI → CUI), blacklist, semantic-type
allow-list, corpus frequency (a concept is kept when it occurs in more than `min_images` images)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..options import MIN_IMAGES

#: The paper's most frequent, visually observable types (Body Part, Diagnostic Procedure, Body
#: Location, Spatial Concept, Pathologic Function, Disease, Qualitative Concept, Tissue, Medical
#: Device, Neoplastic Process).
from ..semantic_types import DEFAULT_TUIS  # noqa: E402  (kept here as the filters' public default)


@dataclass
class FilterReport:
    remapped: int = 0
    blacklisted: Counter = field(default_factory=Counter)
    wrong_type: Counter = field(default_factory=Counter)
    infrequent: Counter = field(default_factory=Counter)


def read_remap(path: str | Path | None) -> dict[str, str]:
    """CSV `from,to` (CUI → CUI)."""
    if not path:
        return {}
    with open(path) as f:
        return {r["from"].strip(): r["to"].strip() for r in csv.DictReader(f)}


def read_blacklist(path: str | Path | None) -> set[str]:
    """One CUI per line (`#` comments)."""
    if not path:
        return set()
    return {l.split("#")[0].strip() for l in Path(path).read_text().splitlines() if l.split("#")[0].strip()}


def apply_filters(concepts: pl.DataFrame, types: dict[str, set[str]], *, min_images: int = MIN_IMAGES,
                  allowed_tuis: tuple[str, ...] | None = DEFAULT_TUIS, blacklist: set[str] = frozenset(),
                  remap: dict[str, str] | None = None) -> tuple[pl.DataFrame, FilterReport]:
    """`concepts`: `image_id`, `cuis` (list). Concepts whose types are unknown (the default pack
    types only some of the ROCOv2 concepts, which ROCOv2 already type-filtered) pass the type filter."""
    remap = remap or {}
    report = FilterReport()
    allowed = set(allowed_tuis) if allowed_tuis else None

    def keep_type(cui: str) -> bool:
        known = types.get(cui, set())
        return allowed is None or not known or bool(known & allowed)

    staged = []
    for cuis in concepts["cuis"].to_list():
        out = []
        for cui in cuis:
            if cui in remap:
                report.remapped += 1
                cui = remap[cui]
            if cui in blacklist:
                report.blacklisted[cui] += 1
            elif not keep_type(cui):
                report.wrong_type[cui] += 1
            else:
                out.append(cui)
        staged.append(sorted(set(out)))
    frequency = Counter(c for cuis in staged for c in cuis)
    final = []
    for cuis in staged:
        kept = [c for c in cuis if frequency[c] > min_images]
        report.infrequent.update(c for c in cuis if frequency[c] <= min_images)
        final.append(kept)
    return concepts.with_columns(pl.Series("cuis", final, pl.List(pl.String))), report

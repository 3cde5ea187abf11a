"""`rocov2-fast concepts RUN_DIR`: the kept, cleaned captions → concepts.parquet + cui_mapping.csv."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .. import rundir
from ..options import MIN_IMAGES, PROCESSES, TUIS
from .extract import canonical_names, cui_types, extract
from .filters import apply_filters, read_blacklist, read_remap
from .manual import merge, read_manual, suggest_manual


@dataclass(frozen=True)
class ConceptsOptions:
    """`rocov2-fast concepts` (and `build`'s concepts stage)."""

    #: MedCAT model pack (folder or .zip); None: the shipped ROCOv2 pack
    medcat_model: str | None = None
    min_images: int = MIN_IMAGES
    #: allowed semantic types (None: all)
    tuis: tuple[str, ...] | None = TUIS
    #: file of CUIs to drop, one per line
    blacklist: str | None = None
    #: CSV from,to: CUIs to replace
    remap: str | None = None
    #: annotator CSV(s) ID,CUIs of manual concepts
    manual: tuple[str, ...] = field(default_factory=tuple)
    #: MedCAT processes
    processes: int = PROCESSES


@dataclass(frozen=True)
class SuggestOptions:
    """`rocov2-fast suggest-manual` (and `build`'s suggest-manual stage)."""

    #: suggest a modality only at this confidence or above (None: the shipped model's)
    min_confidence: float | None = None


def run(run_dir: Path, options: ConceptsOptions | None = None) -> dict:
    """`rocov2-fast concepts RUN_DIR`: concepts of the kept captions → RUN_DIR/concepts.parquet,
    cui_mapping.csv and concepts_summary.json."""
    o = options or ConceptsOptions()
    run_dir = Path(run_dir)
    captions = pl.read_parquet(run_dir / rundir.CAPTIONS).filter(pl.col("keep"))
    extracted = extract(captions.select("image_id", "caption"), o.medcat_model, o.processes)
    filtered, report = apply_filters(extracted, cui_types(o.medcat_model), min_images=o.min_images, allowed_tuis=o.tuis,
                                     blacklist=read_blacklist(o.blacklist), remap=read_remap(o.remap))
    manual_table = read_manual(list(o.manual))
    merged = merge(filtered, manual_table)
    with rundir.replaced_atomically(run_dir / rundir.CONCEPTS) as tmp:
        merged.write_parquet(tmp)
    names = canonical_names(o.medcat_model)
    used = sorted({c for cuis in merged["cuis"].to_list() + merged["cuis_manual"].to_list() for c in cuis})
    with rundir.replaced_atomically(run_dir / rundir.CUI_MAPPING) as tmp, tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["CUI", "Canonical name"])
        w.writerows((c, names.get(c, "")) for c in used)
    summary = {
        "captions": captions.height, "images_with_concepts": int((merged["cuis"].list.len() > 0).sum()),
        "concepts_used": len(used), "extracted_mentions": int(extracted["cuis"].list.len().sum()),
        "kept_mentions": int(merged["cuis"].list.len().sum()), "remapped": report.remapped,
        "removed": {"blacklist": sum(report.blacklisted.values()), "semantic_type": sum(report.wrong_type.values()),
                    f"frequency<={o.min_images}": sum(report.infrequent.values())},
        "manual_images": manual_table.height,
    }
    rundir.write_atomic(run_dir / rundir.CONCEPTS_SUMMARY, json.dumps(summary, indent=2).encode())
    return summary


def suggest(run_dir: Path, options: SuggestOptions | None = None) -> pl.DataFrame:
    """`rocov2-fast suggest-manual RUN_DIR`: suggestions for the kept captions →
    RUN_DIR/manual_suggestions.parquet."""
    run_dir = Path(run_dir)
    captions = pl.read_parquet(run_dir / rundir.CAPTIONS).filter(pl.col("keep"))
    out = suggest_manual(captions.select("image_id", "caption"), min_confidence=(options or SuggestOptions()).min_confidence)
    with rundir.replaced_atomically(run_dir / rundir.SUGGESTIONS) as tmp:
        out.write_parquet(tmp)
    return out

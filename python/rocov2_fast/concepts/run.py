"""`rocov2-fast concepts RUN_DIR`: the kept, cleaned captions → concepts.parquet + cui_mapping.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl

from .extract import canonical_names, cui_types, extract
from .filters import DEFAULT_TUIS, apply_filters, read_blacklist, read_remap
from .manual import merge, read_manual, suggest_manual


def concepts_run(run_dir: Path, *, model: str | None = None, min_images: int = 10,
                 tuis: tuple[str, ...] | None = DEFAULT_TUIS, blacklist: str | None = None, remap: str | None = None,
                 manual: list[str] | None = None, n_process: int = 1) -> dict:
    run_dir = Path(run_dir)
    captions = pl.read_parquet(run_dir / "captions.parquet").filter(pl.col("keep"))
    extracted = extract(captions.select("image_id", "caption"), model, n_process)
    filtered, report = apply_filters(extracted, cui_types(model), min_images=min_images, allowed_tuis=tuis,
                                     blacklist=read_blacklist(blacklist), remap=read_remap(remap))
    manual_table = read_manual(manual or [])
    merged = merge(filtered, manual_table)
    tmp = run_dir / "concepts.parquet.tmp"
    merged.write_parquet(tmp)
    tmp.replace(run_dir / "concepts.parquet")
    names = canonical_names(model)
    used = sorted({c for cuis in merged["cuis"].to_list() + merged["cuis_manual"].to_list() for c in cuis})
    with (run_dir / "cui_mapping.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["CUI", "Canonical name"])
        w.writerows((c, names.get(c, "")) for c in used)
    summary = {
        "captions": captions.height, "images_with_concepts": int((merged["cuis"].list.len() > 0).sum()),
        "concepts_used": len(used), "extracted_mentions": int(extracted["cuis"].list.len().sum()),
        "kept_mentions": int(merged["cuis"].list.len().sum()), "remapped": report.remapped,
        "removed": {"blacklist": sum(report.blacklisted.values()), "semantic_type": sum(report.wrong_type.values()),
                    f"frequency<={min_images}": sum(report.infrequent.values())},
        "manual_images": manual_table.height,
    }
    (run_dir / "concepts_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def suggest_run(run_dir: Path, min_confidence: float | None = None) -> pl.DataFrame:
    """`rocov2-fast suggest-manual RUN_DIR`: suggestions for the kept captions →
    RUN_DIR/manual_suggestions.parquet."""
    run_dir = Path(run_dir)
    captions = pl.read_parquet(run_dir / "captions.parquet").filter(pl.col("keep"))
    out = suggest_manual(captions.select("image_id", "caption"), min_confidence=min_confidence)
    out.write_parquet(run_dir / "manual_suggestions.parquet")
    return out

"""`rocov2-fast import-rocov2 DIR --out RUN_DIR`: an official ROCOv2 release (or any export in
its layout) → RUN_DIR/dataset.parquet and RUN_DIR/images/, so it can be re-split, re-exported,
reported on, or used for the baselines."""

from __future__ import annotations

import csv
import os
import shutil
import zipfile
from pathlib import Path

import polars as pl

from .tables import SPLITS, write_dataset


def read_id_csv(path: Path) -> dict[str, str]:
    """`ID,<value>` rows (header skipped) → {ID: value}; a missing file reads as empty."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    if rows and rows[0][0].strip() == "ID":
        rows = rows[1:]
    return {r[0].strip(): (r[1] if len(r) > 1 else "") for r in rows}


def split_cuis(value: str) -> list[str]:
    return [c.strip().upper() for c in value.split(";") if c.strip()]


def extract_images(zip_path: Path, images: Path) -> dict[str, str]:
    """Writes every `.jpg` member (with or without a `<split>/` folder) to images/; → {ID: path}."""
    paths = {}
    with zipfile.ZipFile(zip_path) as zf:
        for member in zf.infolist():
            name = Path(member.filename).name
            if member.is_dir() or not name.lower().endswith((".jpg", ".jpeg")):
                continue
            target = images / name
            tmp = target.with_name(name + ".tmp")
            with zf.open(member) as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(tmp, target)
            paths[Path(name).stem] = f"images/{name}"
    return paths


def import_rocov2(release: Path, out: Path, *, with_images: bool = True) -> dict:
    release, out = Path(release), Path(out)
    if not (release / "train_captions.csv").exists():
        raise FileNotFoundError(f"{release}: no train_captions.csv; expected the ROCOv2 release files")
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    licence = {}
    path = release / "license_information.csv"
    if path.exists():
        with path.open(newline="", encoding="utf-8") as f:
            licence = {r["ID"]: r for r in csv.DictReader(f)}
    rows = []
    for split in SPLITS:
        captions = read_id_csv(release / f"{split}_captions.csv")
        concepts = read_id_csv(release / f"{split}_concepts.csv")
        manual = read_id_csv(release / f"{split}_concepts_manual.csv")
        source_path = release / f"{split}_concepts_manual_source.csv"  # written by our export, not the release
        manual_source = read_id_csv(source_path) if source_path.exists() else {}
        zip_path = release / f"{split}_images.zip"
        paths = extract_images(zip_path, images_dir) if with_images and zip_path.exists() else {}
        for image_id, caption in captions.items():
            info = licence.get(image_id, {})
            manual_cuis = split_cuis(manual.get(image_id, ""))
            rows.append({
                "image_id": image_id, "split": split, "pmcid": info.get("PMCID") or None, "caption": caption,
                "concepts": split_cuis(concepts.get(image_id, "")), "concepts_manual": manual_cuis,
                "manual_source": manual_source.get(image_id) or ("annotated" if manual_cuis else "none"), "image_path": paths.get(image_id),
                "format": "jpeg", "width": None, "height": None, "license": None, "license_raw": None,
                "attribution": info.get("Attribution"), "link": info.get("Link"),
            })
    from .tables import DATASET_SCHEMA

    df = pl.DataFrame(rows, schema=DATASET_SCHEMA)
    write_dataset(out, df)
    if (release / "cui_mapping.csv").exists():
        shutil.copyfile(release / "cui_mapping.csv", out / "cui_mapping.csv")
    missing = int(df["image_path"].is_null().sum()) if with_images else 0
    return {"images": df.height, "sizes": {s: int((df["split"] == s).sum()) for s in SPLITS},
            "without_image_file": missing, "out": str(out)}

"""From run to dataset: the split's properties, the ROCOv2 and Hugging Face exports and their
round trips and the report (`build` itself: test_build.py). One synthetic corpus is built once
through the whole pipeline (real filter models, fastText, MedCAT)."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from rocov2_fast.dataset import export_hf, export_rocov2, import_rocov2, iterative_stratification, read_dataset
from rocov2_fast.dataset import split as split_stage
from rocov2_fast.dataset.split import SplitOptions, stratification_quality
from rocov2_fast.dataset.tables import attribution

ROCOV2_FILES = sorted(
    [f"{s}_{k}" for s in ("train", "valid", "test") for k in ("images.zip", "captions.csv", "concepts.csv", "concepts_manual.csv",
                                                         "concepts_manual_source.csv")]
    + ["cui_mapping.csv", "license_information.csv"])


@pytest.fixture(scope="module")
def built(built_run) -> tuple[Path, list[str]]:
    return built_run


def read_csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_split_keeps_articles_together_hits_the_ratios_and_drops_unseen_concepts(built):
    run, _ = built
    df = read_dataset(run)
    assert df.group_by("pmcid").agg(pl.col("split").n_unique()).filter(pl.col("split") > 1).height == 0
    shares = {s: (df["split"] == s).mean() for s in ("train", "valid", "test")}
    assert abs(shares["train"] - 0.75) < 0.08 and abs(shares["valid"] - 0.125) < 0.06 and abs(shares["test"] - 0.125) < 0.06
    train_cuis = set(df.filter(pl.col("split") == "train")["concepts"].explode().drop_nulls())
    held_out = df.filter(pl.col("split") != "train")
    assert set(held_out["concepts"].explode().drop_nulls()) <= train_cuis
    assert set(held_out["concepts_manual"].explode().drop_nulls()) <= train_cuis
    # manual concepts come first in `concepts` and are part of it
    for allc, manual in zip(df["concepts"].to_list(), df["concepts_manual"].to_list()):
        assert allc[:len(manual)] == manual


def test_split_is_deterministic_for_a_seed_and_group_by_none_splits_articles(built, tmp_path):
    run, _ = built
    before = (run / "dataset.parquet").read_bytes()
    seed0 = read_dataset(run).select("image_id", "split")
    split_stage.run(run, SplitOptions(seed=0))
    assert (run / "dataset.parquet").read_bytes() == before
    split_stage.run(run, SplitOptions(seed=5))
    assert read_dataset(run).select("image_id", "split").rows() != seed0.rows(), "another seed, another split"
    by_image = split_stage.run(run, SplitOptions(seed=0, group_by="none"))
    assert by_image["group_by"] == "none" and sum(by_image["sizes"].values()) == read_dataset(run).height
    split_stage.run(run, SplitOptions(seed=0))  # leave the fixture as it was
    assert (run / "dataset.parquet").read_bytes() == before


def test_iterative_stratification_spreads_a_rare_label_and_never_splits_a_group():
    labels = [["rare"] if i < 8 else ["common"] if i < 108 else [] for i in range(200)]
    folds = iterative_stratification(labels, None, (0.75, 0.125, 0.125), seed=1)
    rare = np.bincount(folds[:8], minlength=3)
    common = np.bincount(folds[8:108], minlength=3)
    assert rare.tolist() == [6, 1, 1]
    assert common[0] == 75 and sorted(common[1:].tolist()) == [12, 13]
    assert np.bincount(folds, minlength=3).tolist() in ([150, 25, 25],)
    groups = [f"a{i // 2}" for i in range(200)]  # pairs of sibling figures
    grouped = iterative_stratification(labels, groups, (0.75, 0.125, 0.125), seed=1)
    assert all(grouped[i] == grouped[i + 1] for i in range(0, 200, 2))
    assert stratification_quality(labels, grouped, (0.75, 0.125, 0.125))["ED"] <= 2


def test_bad_ratios_are_a_clear_error():
    with pytest.raises(ValueError, match="summing to 1"):
        iterative_stratification([["a"]], None, (0.5, 0.2, 0.2))


def test_rocov2_export_layout_ids_and_original_bytes(built):
    run, _ = built
    out = run / "export" / "rocov2"
    df = read_dataset(run)
    ids = pl.read_parquet(run / "export_ids.parquet")
    for split in ("train", "valid", "test"):
        rows = read_csv_rows(out / f"{split}_captions.csv")
        assert rows[0] == ["ID", "Caption"]
        assert [r[0] for r in rows[1:]] == [f"ROCOv2_2023_{split}_{i:06d}" for i in range(1, len(rows))]
        assert read_csv_rows(out / f"{split}_concepts.csv")[0] == ["ID", "CUIs"]
        with zipfile.ZipFile(out / f"{split}_images.zip") as zf:
            assert sorted(zf.namelist()) == sorted(f"{split}/{r[0]}.jpg" for r in rows[1:])
            for export_id, image_id in ids.filter(pl.col("split") == split).select("ID", "image_id").iter_rows():
                row = df.filter(pl.col("image_id") == image_id).row(0, named=True)
                data = zf.read(f"{split}/{export_id}.jpg")
                assert data[:3] == b"\xff\xd8\xff"
                if row["format"] == "jpeg":
                    assert data == (run / row["image_path"]).read_bytes(), "JPEG bytes must be PMC's own"
    licence = read_csv_rows(out / "license_information.csv")
    assert licence[0] == ["ID", "PMCID", "Attribution", "Link"]
    assert all(re.fullmatch(r"PMC\d+", r[1]) and r[3] == f"https://pmc.ncbi.nlm.nih.gov/articles/{r[1]}/" for r in licence[1:])
    assert all("Synthetic Radiology Reports" in r[2] and "CC BY" in r[2] for r in licence[1:])
    mapping = dict(read_csv_rows(out / "cui_mapping.csv")[1:])
    used = {c for s in ("train", "valid", "test") for r in read_csv_rows(out / f"{s}_concepts.csv")[1:] for c in r[1].split(";") if c}
    assert set(mapping) == used and all(mapping.values())


def test_export_import_export_round_trip(built, tmp_path):
    run, _ = built
    first = run / "export" / "rocov2"
    summary = import_rocov2(first, tmp_path / "imported")
    assert summary["without_image_file"] == 0
    imported = read_dataset(tmp_path / "imported")
    for split in ("train", "valid", "test"):
        part = imported.filter(pl.col("split") == split).sort("image_id")
        captions = read_csv_rows(first / f"{split}_captions.csv")[1:]
        assert part.select("image_id", "caption").rows() == sorted((r[0], r[1]) for r in captions)
        concepts = dict(read_csv_rows(first / f"{split}_concepts.csv")[1:])
        manual = dict(read_csv_rows(first / f"{split}_concepts_manual.csv")[1:])
        source = dict(read_csv_rows(first / f"{split}_concepts_manual_source.csv")[1:])
        for image_id, cuis, manual_cuis, how in part.select("image_id", "concepts", "concepts_manual", "manual_source").iter_rows():
            assert ";".join(cuis) == concepts[image_id] and ";".join(manual_cuis) == manual[image_id]
            assert source[image_id] == how and how in ("annotated", "suggested", "none")
    second = export_rocov2(tmp_path / "imported", tmp_path / "again")
    assert second["reencoded_as_jpeg"] == 0
    for name in ROCOV2_FILES:
        assert (tmp_path / "again" / name).read_bytes() == (first / name).read_bytes(), name


def test_hf_export_loads_with_datasets_as_pil_images(built, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    run, _ = built
    out = run / "export" / "hf"
    names = sorted(p.name for p in (out / "data").iterdir())
    assert names == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    card = (out / "README.md").read_text()
    assert "dataset_info:" in card and "configs:" in card and "path: data/train-*" in card
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    rocov2 = run / "export" / "rocov2"
    for split, name in (("train", "train"), ("valid", "validation"), ("test", "test")):
        captions = dict(read_csv_rows(rocov2 / f"{split}_captions.csv")[1:])
        concepts = dict(read_csv_rows(rocov2 / f"{split}_concepts.csv")[1:])
        assert ds[name].num_rows == len(captions)
        for row in ds[name]:
            assert row["caption"] == captions[row["image_id"]]
            assert ";".join(row["cui"]) == concepts[row["image_id"]]
            assert row["image"].format == "JPEG" and row["image"].size[0] > 0
    # a smaller shard size gives several shards, still loadable
    export_hf(run, tmp_path / "sharded", shard_bytes=20_000)
    assert len(list((tmp_path / "sharded" / "data").glob("train-*-of-*.parquet"))) > 1
    again = datasets.load_dataset(str(tmp_path / "sharded"), cache_dir=str(tmp_path / "cache2"))
    assert again["train"].num_rows == ds["train"].num_rows


def test_report_numbers_match_the_dataset(built):
    run, _ = built
    stats = json.loads((run / "report.json").read_text())
    df = read_dataset(run)
    words = [len(c.split()) for c in df["caption"].to_list()]
    assert stats["caption_words"]["mean"] == round(sum(words) / len(words), 2)
    assert (stats["caption_words"]["min"], stats["caption_words"]["max"]) == (min(words), max(words))
    per_image = df["concepts"].list.len().to_list()
    assert sum(stats["concepts_per_image"]["histogram"].values()) == df.height
    assert stats["concepts_per_image"]["histogram"][str(max(per_image))] == per_image.count(max(per_image))
    top = stats["top_concepts"][0]
    assert top["images"] == max(df["concepts"].explode().drop_nulls().value_counts()["count"])
    assert sum(sum(m.values()) for m in stats["modality_mix"].values()) == df.height
    assert stats["funnel"]["filter"]["kept"] == pl.read_parquet(run / "manifest.parquet").filter(pl.col("fate") == "kept").height
    page = (run / "report.html").read_text()
    for src in re.findall(r'<img src="([^"]+)"', page):
        assert (run / src).stat().st_size > 1000
    assert len(re.findall(r"<img ", page)) == 4


def test_attribution_line():
    line = attribution("Dennehy JJ; Wang IN", "Factors influencing lysis time", "BMC Microbiology", 2011, "CC BY",
                       "http://creativecommons.org/licenses/by/2.0")
    assert line == ("Dennehy JJ, Wang IN. Factors influencing lysis time. BMC Microbiology (2011). "
                    "CC BY (http://creativecommons.org/licenses/by/2.0).")
    many = attribution("A X; B Y; C Z; D W", "T", None, None, "CC BY-NC", "by-nc")
    assert many == "A X, B Y, C Z, et al. T. CC BY-NC."

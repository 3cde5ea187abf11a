"""The exports researchers load: Hugging Face rows with attribution and provenance (loaded with
`datasets`), WebDataset shards (read with `webdataset` and with `tarfile`), and the dataset card's
facts. Uses the session's `built_run`."""

from __future__ import annotations

import csv
import json
import tarfile
import zipfile
from pathlib import Path

import polars as pl
import pytest
from rocov2_fast.concepts.modality import MODALITIES
from rocov2_fast.dataset import export_wds, read_dataset
from rocov2_fast.dataset.export import numbered

SEED_COLUMNS = ["image", "image_id", "caption", "cui"]
EXTRA_COLUMNS = ["pmcid", "pmid", "doi", "license", "attribution", "modality", "concepts_manual", "caption_original"]


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))[1:]


def export_id_map(run: Path) -> dict[str, str]:
    """export ID → the run's image_id (the default prefix; export_ids.parquet holds the last export's)."""
    return dict(numbered(read_dataset(run), "ROCOv2_2023").select("ID", "image_id").iter_rows())


@pytest.fixture
def run_copy(built_run, tmp_path_factory) -> Path:
    """A copy of the session's build: an export records its IDs in the run directory
    (export_ids.parquet), which would change the shared run under test_build's fingerprints."""
    import shutil

    copy = tmp_path_factory.mktemp("run_copy") / "run"  # not in tmp_path, which the tests read as an export
    shutil.copytree(built_run[0], copy)
    return copy


def test_hf_rows_carry_attribution_and_provenance(run_copy, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    run = run_copy
    out = run / "export" / "hf"
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert ds["train"].column_names == SEED_COLUMNS + EXTRA_COLUMNS
    ids = export_id_map(run)
    df = read_dataset(run)
    manifest = pl.read_parquet(run / "manifest.parquet")
    licence = {r[0]: r[2] for r in csv_rows(run / "export" / "rocov2" / "license_information.csv")}
    rows = [r for name in ("train", "validation", "test") for r in ds[name].remove_columns("image")]
    assert len(rows) == df.height
    for row in rows:
        image_id = ids[row["image_id"]]
        truth = df.filter(pl.col("image_id") == image_id).row(0, named=True)
        source = manifest.filter(pl.col("image_id") == image_id).row(0, named=True)
        assert row["attribution"] == licence[row["image_id"]] == truth["attribution"]
        assert (row["pmcid"], row["license"], row["concepts_manual"]) == (truth["pmcid"], truth["license"], truth["concepts_manual"])
        assert (row["pmid"], row["doi"], row["caption_original"]) == (source["pmid"], source["doi"], source["caption"])
        manual_modality = [c for c in truth["concepts_manual"] if c in MODALITIES]
        assert row["modality"] == (manual_modality[0] if manual_modality else None)
    # a known image, spelled out
    first = ds["train"][0]
    image_id = ids[first["image_id"]]
    source = manifest.filter(pl.col("image_id") == image_id).row(0, named=True)
    assert first["image_id"] == "ROCOv2_2023_train_000001" and first["pmcid"] == source["pmcid"]
    assert first["pmid"] is not None and first["doi"] is not None, "the synthetic articles have both"
    assert first["attribution"].endswith(".") and first["license"] in first["attribution"]
    assert first["caption_original"] == source["caption"] and first["image"].format == "JPEG"
    assert any(r["modality"] for r in rows), "suggested manual concepts give modalities"
    # the card: every column, the licence mix, how to keep CC BY only, how it was made
    card = (out / "README.md").read_text()
    for column in EXTRA_COLUMNS:
        assert f"- name: {column}\n" in card and f"| `{column}` |" in card
    for lic, n in df["license"].value_counts().rows():
        assert f"{lic}: {n} images" in card
    assert 'ds.filter(lambda license: license == "CC BY", input_columns="license")' in card
    run_json = json.loads((run / "run.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert run_json["compound_model"] in card and run_json["radiology_model"] in card
    assert f"compound {run_json['thresholds']['compound']}" in card and f"decision: {run_json['decision']}" in card
    assert "rocov2-fast version: 0." in card and "training data: " in card and "not recorded" not in card.split("training data: ")[1][:20]
    for stage, n in summary["funnel"]["removed"].items():
        assert f"| {stage} filter | {n} |" in card
    cc_by = ds["train"].filter(lambda license: license == "CC BY", input_columns="license")
    assert cc_by.num_rows == sum(1 for r in ds["train"].remove_columns("image") if r["license"] == "CC BY")


def rocov2_images(run: Path, split: str) -> dict[str, bytes]:
    with zipfile.ZipFile(run / "export" / "rocov2" / f"{split}_images.zip") as zf:
        return {Path(n).stem: zf.read(n) for n in zf.namelist()}


def test_wds_shards_read_back_with_tarfile_and_webdataset(run_copy, tmp_path):
    run = run_copy
    out = tmp_path / "wds"
    summary = export_wds(run, out, shard_bytes=30_000)
    df = read_dataset(run)
    ids = export_id_map(run)
    for split in ("train", "valid", "test"):
        index = json.loads((out / f"{split}-shards.json").read_text())
        names = sorted(p.name for p in out.glob(f"{split}-*.tar"))
        assert [s["name"] for s in index["shards"]] == names and all(n.startswith(f"{split}-") and len(n) == len(split) + 11 for n in names)
        assert index["samples"] == summary["sizes"][split] == (df["split"] == split).sum() == sum(s["samples"] for s in index["shards"])
        images = rocov2_images(run, split)
        captions = dict(csv_rows(run / "export" / "rocov2" / f"{split}_captions.csv"))
        seen = []
        for name in names:
            with tarfile.open(out / name) as tar:
                members = tar.getmembers()
                assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(1_704_067_200, 0, 0, "", "")}
                files = {m.name: tar.extractfile(m).read() for m in members}
            keys = list(dict.fromkeys(n.rsplit(".", 1)[0] for n in files))
            assert keys == sorted(keys) and [n for n in files] == [f"{k}.{e}" for k in keys for e in ("jpg", "txt", "json")]
            for key in keys:
                assert files[f"{key}.jpg"] == images[key], "the same bytes as the rocov2 export"
                assert files[f"{key}.txt"].decode() == captions[key]
                meta = json.loads(files[f"{key}.json"])
                truth = df.filter(pl.col("image_id") == ids[key]).row(0, named=True)
                assert meta["split"] == split and meta["image_id"] == ids[key]
                assert (meta["concepts"], meta["concepts_manual"], meta["pmcid"], meta["license"], meta["attribution"]) == (
                    truth["concepts"], truth["concepts_manual"], truth["pmcid"], truth["license"], truth["attribution"])
            seen += keys
        assert seen == sorted(images) and len(names) > (1 if split == "train" else 0)
    # byte-identical rerun
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    export_wds(run, out, shard_bytes=30_000)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # the webdataset library reads the shards (with the default ~1 GB cap: one shard per split)
    wds = pytest.importorskip("webdataset")
    single = tmp_path / "single"
    export_wds(run, single)
    assert sorted(p.name for p in single.glob("*.tar")) == ["test-000000.tar", "train-000000.tar", "valid-000000.tar"]
    images = rocov2_images(run, "train")
    samples = list(wds.WebDataset([str(p) for p in sorted(out.glob("train-*.tar"))], shardshuffle=False))
    assert [s["__key__"] for s in samples] == sorted(images)
    assert all(s["jpg"] == images[s["__key__"]] for s in samples)
    decoded = next(iter(wds.WebDataset(str(single / "train-000000.tar"), shardshuffle=False).decode("pil").to_tuple("jpg", "txt", "json")))
    assert decoded[0].size[0] > 0 and isinstance(decoded[1], str) and decoded[2]["split"] == "train"


def test_cli_export_wds_and_build_accepts_it(run_copy, tmp_path):
    from rocov2_fast.build import BuildOptions, build, stage_runners
    from rocov2_fast.cli import app
    from typer.testing import CliRunner

    run = run_copy
    done = CliRunner().invoke(app, ["export", str(run), "--out", str(tmp_path / "w"), "--format", "wds", "--shard-bytes", "40000"])
    assert done.exit_code == 0, done.output
    assert len(list((tmp_path / "w").glob("train-*.tar"))) > 1
    with pytest.raises(ValueError, match="formats are rocov2, hf, wds"):
        build(BuildOptions(inputs=[], out=tmp_path / "x", formats=("zip",)), log=lambda _: None)
    result = stage_runners(BuildOptions(inputs=[], out=run, formats=("wds",)))["export"](False)
    assert result["wds"]["sizes"] == {s: int((read_dataset(run)["split"] == s).sum()) for s in ("train", "valid", "test")}
    assert (run / "export" / "wds" / "train-shards.json").exists()


@pytest.mark.parametrize("fmt", ["rocov2", "hf", "wds"])
def test_an_export_failing_part_way_leaves_the_earlier_one_whole(built_run, tmp_path, fmt):
    """A kept image gone from the run directory makes the export fail part-way: the earlier export
    stays byte for byte, and no staging folder is left behind."""
    import shutil

    from rocov2_fast.dataset.export import export

    run_src, _ = built_run
    run = tmp_path / "run"
    shutil.copytree(run_src, run, ignore=shutil.ignore_patterns("export"))
    out = tmp_path / "export" / fmt
    export(run, out, fmt)
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert before
    last = read_dataset(run).sort("split", "image_id").row(-1, named=True)  # written last, after other files
    (run / last["image_path"]).unlink()
    with pytest.raises(OSError):
        export(run, out, fmt)
    after = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before
    assert sorted(p.name for p in out.parent.iterdir()) == [fmt]

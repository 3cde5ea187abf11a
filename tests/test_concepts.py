"""Concepts: real MedCAT 2 with the shipped pack (built from the ROCOv2 concept list) on real ROCO
captions, the ROCOv2 filters and the manual merge on hand-made tables, caption suggestions."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from rocov2_fast.concepts import apply_filters, extract, merge, read_manual, suggest_manual
from rocov2_fast.concepts.filters import read_blacklist, read_remap

ROCO = Path(__file__).parent / "fixtures" / "roco" / "radiology_captions.txt"

# Hand-verified: the concepts each caption states and the pack can name (with the names learned
# from ROCOv2's validation captions, models/concepts/learned_names.csv).
EXPECTED = {
    # pelvis, CT, infiltration, urinary bladder, wall of bladder, catheter
    "ROCO_00020": {"C0030797", "C0040405", "C0332448", "C0005682", "C0458421", "C0085590"},
    "ROCO_00027": {"C0030797", "C1306645", "C1999039"},  # pelvis, plain x-ray, anteroposterior
    # angiography, AVM (cerebral), "vessel" (ROCOv2 links it to Vessel Positions: 14 develop images, 88 %)
    "ROCO_00059": {"C0002978", "C0917804", "C0042591"},
    "ROCO_00076": {"C0024485", "C0001168", "C0226262"},  # MRI, complete occlusion, left subclavian artery
    "ROCO_00113": {"C0040405"},  # "Computerized tomography"
}


@pytest.fixture(scope="module")
def roco_captions() -> pl.DataFrame:
    rows = [line.partition("\t")[::2] for line in ROCO.read_text(encoding="utf-8").splitlines()]
    return pl.DataFrame([(i, c.strip()) for i, c in rows], schema=["image_id", "caption"], orient="row")


def test_medcat_finds_the_stated_concepts_in_real_captions(roco_captions):
    sample = roco_captions.filter(pl.col("image_id").is_in(list(EXPECTED)))
    found = dict(extract(sample).iter_rows())
    assert {k: set(v) for k, v in found.items()} == EXPECTED


def test_short_forms_and_combined_modalities():
    df = pl.DataFrame({"image_id": ["a", "b"], "caption": ["PET/CT of the chest.", "US of the liver; no MR."]})
    found = dict(extract(df).iter_rows())
    assert {"C0032743", "C0040405", "C0817096"} <= set(found["a"])
    assert {"C0041618", "C0024485"} <= set(found["b"])


def test_extract_runs_in_several_processes_and_keeps_ids(roco_captions):
    sample = roco_captions.head(60)
    one = extract(sample)
    two = extract(sample, n_process=2)
    assert one.equals(two) and one["image_id"].to_list() == sample["image_id"].to_list()


def table(rows: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame({"image_id": list(rows), "cuis": list(rows.values())}, schema={"image_id": pl.String, "cuis": pl.List(pl.String)})


def test_frequency_cutoff_keeps_concepts_in_more_than_n_images():
    concepts = table({f"i{k}": ["C1"] + (["C2"] if k < 3 else []) for k in range(5)})
    out, report = apply_filters(concepts, {}, min_images=3)
    assert out["cuis"].to_list() == [["C1"]] * 5
    assert report.infrequent["C2"] == 3


def test_type_filter_blacklist_and_remap(tmp_path):
    (tmp_path / "black.txt").write_text("# never\nC3\n")
    (tmp_path / "remap.csv").write_text("from,to\nC4,C1\n")
    types = {"C1": {"T023"}, "C2": {"T170"}, "C5": set()}
    concepts = table({"a": ["C1", "C2", "C3", "C4", "C5"]})
    out, report = apply_filters(concepts, types, min_images=0, allowed_tuis=("T023",),
                                blacklist=read_blacklist(tmp_path / "black.txt"), remap=read_remap(tmp_path / "remap.csv"))
    assert out["cuis"].to_list() == [["C1", "C5"]]  # C2 wrong type, C3 blacklisted, C4 → C1, C5 untyped passes
    assert (report.remapped, report.blacklisted["C3"], report.wrong_type["C2"]) == (1, 1, 1)


def test_manual_concepts_win_except_combined_modalities(tmp_path):
    (tmp_path / "manual.csv").write_text("ID,CUIs\na,C0024485;C0817096\nb,c0040405\n")
    manual = read_manual([tmp_path / "manual.csv"])
    auto = table({"a": ["C0040405", "C0006104"], "b": ["C0032743", "C0040405", "C0817096"], "c": ["C0040405"]})
    merged = {r["image_id"]: r for r in merge(auto, manual).to_dicts()}
    assert merged["a"]["cuis"] == ["C0006104"] and merged["a"]["cuis_manual"] == ["C0024485", "C0817096"]
    assert merged["b"]["cuis"] == ["C0032743", "C0040405", "C0817096"], "PET/CT stays: a combined modality"
    assert merged["c"]["cuis"] == ["C0040405"] and merged["c"]["cuis_manual"] == []
    assert "C0024485:manual" in merged["a"]["provenance"] and "C0006104:auto" in merged["a"]["provenance"]


def test_suggest_manual_modality_region_projection():
    df = pl.DataFrame({"image_id": ["a", "b", "c", "d"], "caption": [
        "Posteroanterior chest radiograph showing a nodule.", "Axial CT and MRI of the brain.",
        "Histology of the lesion.", "US of the knee"]})
    out = {r["image_id"]: r for r in suggest_manual(df).to_dicts()}
    assert (out["a"]["modality"], out["a"]["region"], out["a"]["projection"], out["a"]["confidence"]) == (
        "C1306645", "C0817096", "C1996865", 1.0)
    assert out["b"]["modality"] is None and out["b"]["confidence"] == 0.5
    assert out["c"]["modality"] is None and out["c"]["confidence"] == 0.0
    assert out["d"]["modality"] == "C0041618" and out["d"]["region"] is None  # regions are for X-ray only


def test_suggestions_agree_with_rocos_own_concepts(roco_captions):
    roco = {}
    for line in (ROCO.parent / "radiology_cuis_modality.txt").read_text().splitlines():
        image_id, _, cuis = line.partition("\t")
        roco[image_id] = set(cuis.split(";")) if cuis else set()
    suggested = suggest_manual(roco_captions).filter(pl.col("modality").is_not_null())
    compared = [(m in roco[i]) for i, m in zip(suggested["image_id"], suggested["modality"]) if roco.get(i)]
    agreement = sum(compared) / len(compared)
    print(f"\nmodality suggestion agrees with ROCO's QuickUMLS modality concepts on {agreement:.1%} of {len(compared)} captions")
    assert len(compared) > 1000 and agreement >= 0.95


def test_concepts_close_to_rocov2s_on_real_captions_the_names_were_not_learned_from():
    """The sample of ROCOv2's validation split in tests/fixtures/rocov2_valid (its measure part):
    extracted concepts plus the confident manual suggestions, scored as ImageCLEF does."""
    import csv

    from rocov2_fast.evaluate.concepts import f1

    sample = Path(__file__).parent / "fixtures" / "rocov2_valid"

    def read(name):
        with (sample / name).open(newline="", encoding="utf-8") as f:
            return {r[0]: r[1] for r in csv.reader(f) if r[0] != "ID"}

    captions, gold = read("valid_captions.csv"), read("valid_concepts.csv")
    df = pl.DataFrame({"image_id": list(captions), "caption": list(captions.values())})
    auto = extract(df)
    suggested = suggest_manual(df).select("image_id", pl.concat_list("modality", "region", "projection").list.drop_nulls()
                                          .alias("cuis_manual"))
    merged = merge(auto, suggested)
    exported = {i: m + [c for c in a if c not in m] for i, a, m in merged.select("image_id", "cuis", "cuis_manual").iter_rows()}
    scores = [f1(tuple(gold[i].split(";")), tuple(exported[i])) for i in captions]
    alone = [f1(tuple(gold[i].split(";")), tuple(c)) for i, c in auto.iter_rows()]
    mean, mean_alone = sum(scores) / len(scores), sum(alone) / len(alone)
    print(f"\nconcept F1 on {len(scores)} ROCOv2 captions: exported {mean:.3f}, extract alone {mean_alone:.3f}")
    assert mean >= 0.65 and mean_alone >= 0.58

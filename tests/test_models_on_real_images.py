"""The shipped filter models on the FIXED real-image test split (tests/fixtures/real_images_test/,
written by `python -m rocov2_fast.modeldev`; manifest.csv gives each file's source, kind, group,
labels, credit and licence). None of these source images was trained on. The numbers are computed
here, from the files, with the project's own `model_input` + `FilterModel` at the models' own
thresholds, and checked against the targets of the model card (models/README.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from rocov2_fast._core import model_input
from rocov2_fast.filter.models import FilterModel, default_model_path, providers_for
from rocov2_fast.modeldev.real_images import real_images, score
from rocov2_fast.modeldev.dataset import roc_auc, split_of

FIXTURES = Path(__file__).parent / "fixtures" / "real_images_test"
REAL_RADIOLOGY = {"chest-xray", "pydicom", "pydicom-data", "nibabel", "matplotlib"}


@pytest.fixture(scope="module")
def scored():
    rows = list(csv.DictReader((FIXTURES / "manifest.csv").open()))
    compound = FilterModel.load(default_model_path("compound"), providers_for(0))
    radiology = FilterModel.load(default_model_path("radiology"), providers_for(0))
    assert compound.input_size == radiology.input_size
    pixels = np.stack([model_input((FIXTURES / r["file"]).read_bytes(), size=compound.input_size) for r in rows])
    c, r = compound.predict(pixels), radiology.predict(pixels)
    for row, cs, rs in zip(rows, c, r):
        row["compound_score"], row["radiology_score"] = float(cs), float(rs)
    return rows, compound.threshold, radiology.threshold


def test_fixture_split_is_real_and_attributed():
    rows = list(csv.DictReader((FIXTURES / "manifest.csv").open()))
    sources = {r["source"] for r in rows}
    assert {"chest-xray", "scikit-image", "compound", "render"} <= sources
    assert sum(r["source"] == "chest-xray" for r in rows) >= 30
    for r in rows:
        assert (FIXTURES / r["file"]).is_file()
        if r["source"] not in ("render", "compound"):
            assert r["credit"] and r["licence"], r  # every real image carries its credit
    # the test split is fixed by source image: the hash split puts exactly these groups in test
    groups = {r["group"] for r in rows if r["source"] not in ("render", "compound")}
    by_source = {}
    for r in rows:
        if r["source"] not in ("render", "compound"):
            by_source.setdefault(r["source"], []).append(r["group"])
    first_round = ("chest-xray", "dicom", "nibabel", "skimage", "matplotlib")
    second_round = ("dipy", "nilearn", "nibabel-dicom", "pywavelets", "scikit-learn", "sunpy", "astropy")
    third_round = ("deid-data", "mahotas")
    fourth_round = ("ct", "stardist", "skan")  # CT volumes (TotalSegmentator, pyradiomics sdists); StarDist's, skan's micrographs
    assert all(g.split("/")[0] in first_round + second_round + third_round + fourth_round for g in groups)
    # the second and third rounds added real non-radiology sources to the thin side of the split
    assert sum(r["radiology"] == "0" and r["source"] not in ("render", "compound") for r in rows) >= 22
    # the third round's test images come after the earlier ones and the fourth round's last: the earlier files kept
    # their names
    assert [r["source"] for r in rows[-30:-25]] == ["deid-data"] * 3 + ["mahotas"] * 2
    assert [r["source"] for r in rows[-25:]] == ["pyradiomics"] * 20 + ["stardist"] + ["skan"] * 4
    # real CT on the test split: the six DICOM CT source images' five test slices and two CT volumes (20 slices)
    assert sum(r["kind"] == "ct" for r in rows) >= 25


def test_radiology_model_on_real_single_images(scored):
    rows, _, threshold = scored
    singles = [r for r in rows if r["compound"] == "0"]
    pos = np.array([r["radiology_score"] for r in singles if r["radiology"] == "1"])
    neg_real = np.array([r["radiology_score"] for r in singles if r["radiology"] == "0" and r["source"] != "render"])
    neg_render = np.array([r["radiology_score"] for r in singles if r["source"] == "render"])
    recall = float((pos >= threshold).mean())
    fpr_real = float((neg_real >= threshold).mean())
    fpr_render = float((neg_render >= threshold).mean())
    print(f"radiology: recall {recall:.3f} on {len(pos)} real radiology images; FPR {fpr_real:.3f} on {len(neg_real)} real "
          f"non-radiology images, {fpr_render:.3f} on {len(neg_render)} renders; AUC {roc_auc(pos, neg_real):.3f}")
    chest = np.array([r["radiology_score"] for r in singles if r["source"] == "chest-xray"])
    assert len(pos) >= 50 and len(neg_real) >= 8
    # measured levels (models/README.md: the targets recall >= 0.95 / real FPR <= 0.05 are not met yet):
    # fourth round's split (357 figures): recall 0.744 (67 of 90; CT 9 of 25), chest 0.950, real FPR 0.111
    # (3 of 27), renders 0.0125 (1 of 80); on the third round's 332 figures recall was 0.829 (58 of 70)
    assert float((chest >= threshold).mean()) >= 0.95
    assert recall >= 0.74
    assert fpr_render <= 0.02
    assert fpr_real <= 0.14
    # AUC 0.859 (real vs real) / 0.954 (vs all negatives)
    assert roc_auc(pos, neg_real) >= 0.85
    assert roc_auc(pos, np.concatenate([neg_real, neg_render])) >= 0.95


@pytest.mark.xfail(strict=True, reason="target not reached yet: recall 0.744 (target 0.95; CT 0.36), real non-radiology FPR "
                   "0.111 (target 0.05); models/README.md, 'Against the targets', explains the gap")
def test_radiology_model_meets_the_card_targets(scored):
    rows, _, threshold = scored
    singles = [r for r in rows if r["compound"] == "0"]
    pos = np.array([r["radiology_score"] for r in singles if r["radiology"] == "1"])
    neg_real = np.array([r["radiology_score"] for r in singles if r["radiology"] == "0" and r["source"] != "render"])
    assert (pos >= threshold).mean() >= 0.95 and (neg_real >= threshold).mean() <= 0.05


def _compound_numbers(scored):
    rows, threshold, _ = scored
    pos = np.array([r["compound_score"] for r in rows if r["compound"] == "1"])
    singles_real = np.array([r["compound_score"] for r in rows if r["compound"] == "0" and r["source"] != "render"])
    singles_all = np.array([r["compound_score"] for r in rows if r["compound"] == "0"])
    recall = float((pos >= threshold).mean())
    fpr_real, fpr_all = float((singles_real >= threshold).mean()), float((singles_all >= threshold).mean())
    print(f"compound: recall {recall:.3f} on {len(pos)} compound figures; FPR {fpr_real:.3f} on {len(singles_real)} real "
          f"single images, {fpr_all:.3f} on all {len(singles_all)} singles; AUC {roc_auc(pos, singles_all):.3f}")
    return pos, singles_real, singles_all, recall, fpr_real


def test_compound_model_on_real_compound_figures(scored):
    """What the shipped compound model does today (models/README.md: it misses the targets; these are the
    measured levels, so a regression fails here)."""
    pos, singles_real, singles_all, recall, fpr_real = _compound_numbers(scored)
    assert len(pos) >= 100 and len(singles_real) >= 50
    # measured (fourth round's split: 160 compound figures, 117 real singles): recall 0.600, FPR 0.026 on
    # real single images (3 of 117; the FPR target is met), AUC 0.913
    assert recall >= 0.59
    assert fpr_real <= 0.05
    assert roc_auc(pos, singles_all) >= 0.9


@pytest.mark.xfail(strict=True, reason="target not reached yet: recall 0.600 (target 0.85) at real-single FPR 0.026; "
                   "models/README.md, 'Where the compound model falls short', explains the gap")
def test_compound_model_meets_the_card_targets(scored):
    pos, singles_real, singles_all, recall, fpr_real = _compound_numbers(scored)
    assert recall >= 0.85 and fpr_real <= 0.05


def test_split_is_by_source_image_and_fixed():
    groups = {"chest-xray": [f"chest-xray/{i}.jpg" for i in range(40)], "dicom": [f"dicom/{i}" for i in range(10)]}
    a, b = split_of(groups), split_of({k: list(reversed(v)) for k, v in groups.items()})
    assert a == b  # order- and seed-independent
    for source, names in groups.items():
        assert {a[g] for g in names} == {"train", "val", "test"}  # every source on every side


def test_matplotlib_sample_images_still_right():
    """The older anecdote table (matplotlib's sample data) still holds for the images it got right."""
    rows = {r["name"]: r for r in score()}
    assert {i.name for i in real_images()} >= set(rows)
    for name in ("mri_slice.png", "photo_grace_hopper.jpg", "cartoon_minduka.png", "line_chart.png"):
        assert rows[name]["radiology_right"], rows[name]
    # known miss, reported in models/README.md: the 2x2 MR figure scores 0.87, just under the compound threshold
    assert rows["mri_four_panels.png"]["compound_score"] > 0.8


def test_card_numbers_are_what_the_onnx_files_measure_on_the_fixture():
    """models/real_test_report.json (and so the card's test tables) is written by `modeldev.measure`
    from the shipped files and this fixture: recomputing it gives the same numbers."""
    import json

    from rocov2_fast.modeldev import measure

    models = default_model_path("compound").parent
    card = json.loads((models / "real_test_report.json").read_text())
    for kind, report in measure.measure(models, FIXTURES).items():
        stored = card[kind]["test"]
        assert stored["threshold"] == report["threshold"]
        assert stored["by_source"].keys() == report["by_source"].keys() and stored["by_kind"].keys() == report["by_kind"].keys()
        for key in ("overall", "by_source", "by_kind"):
            for group in ([None] if key == "overall" else report[key]):
                a = stored[key] if group is None else stored[key][group]
                b = report[key] if group is None else report[key][group]
                assert {k: a[k] for k in a if not k.startswith("auc")} == {k: b[k] for k in b if not k.startswith("auc")}, (kind, group)
                assert all(abs((a[k] or 0) - (b[k] or 0)) < 1e-3 for k in a if k.startswith("auc")), (kind, group)

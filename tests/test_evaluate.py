"""The ImageCLEFmedical Caption 2023 evaluation rules, each on a hand-computed case."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rocov2_fast.evaluate import SubmissionError, evaluate_captions, evaluate_concepts, preprocess
from rocov2_fast.evaluate.captions import bleu1, cider_d, rouge1_f


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def gold(tmp_path) -> Path:
    return write(tmp_path / "gold.csv", "ID,CUIs\nimg1,C1;C2\nimg2,\nimg3,C3\nimg4,c4 ; C5\n")


def test_concept_f1_per_image_mean_with_the_empty_gold_row_rule(gold, tmp_path):
    pred = write(tmp_path / "pred.csv", "img1,C1\nimg2,\nimg3\nimg4,C4;C6\n")
    # img1 2·1/(2+1); img2 {""} vs {""} = 1; img3 {C3} vs {} = 0; img4 {C4,C5} vs {C4,C6} = 2·1/4
    expected = (2 / 3 + 1 + 0 + 0.5) / 4
    result = evaluate_concepts(gold, pred)
    assert result["f1"] == pytest.approx(expected, abs=1e-12) and result["images_scored"] == 4
    # `img2` without a comma is the empty set: 0 against the gold {""}
    no_comma = write(tmp_path / "pred2.csv", "img1,C1\nimg2\nimg3\nimg4,C4;C6\n")
    assert evaluate_concepts(gold, no_comma)["f1"] == pytest.approx((2 / 3 + 0 + 0 + 0.5) / 4)
    # any CUI against the gold {""} is 0 as well
    some = write(tmp_path / "pred3.csv", "img1,C1\nimg2,C9\nimg3\nimg4,C4;C6\n")
    assert evaluate_concepts(gold, some)["f1"] == pytest.approx((2 / 3 + 0 + 0 + 0.5) / 4)


def test_strict_empty_leaves_empty_gold_images_out(gold, tmp_path):
    pred = write(tmp_path / "pred.csv", "img1,C1\nimg2,\nimg3\nimg4,C4;C6\n")
    result = evaluate_concepts(gold, pred, strict_empty=True)
    assert result["f1"] == pytest.approx((2 / 3 + 0 + 0.5) / 3) and result["images_scored"] == 3


def test_header_rule_is_id_anywhere_in_the_first_field(tmp_path):
    g = write(tmp_path / "g.csv", "image_ID,concepts\na,C1\n")
    p = write(tmp_path / "p.csv", "a,c1\n")  # lower case is upper-cased before scoring
    assert evaluate_concepts(g, p)["f1"] == 1.0


@pytest.mark.parametrize("text, message", [
    ("img1,C1\nimg2,\nimg3\nimg5,C4\n", "does not exist"),
    ("img1,C1\nimg1,C2\nimg3\nimg4,C4\n", "more than once"),
    ("img1,C1;C1\nimg2,\nimg3\nimg4,C4\n", "same concept"),
    ("img1,C1\nimg2,\nimg3\n", "the submission has 3 image IDs"),
    ("img1,C1,C2\nimg2,\nimg3\nimg4,C4\n", "optionally followed"),
    ("img1," + ";".join(f"C{i}" for i in range(101)) + "\nimg2,\nimg3\nimg4,C4\n", "too many concepts"),
])
def test_submission_checks(gold, tmp_path, text, message):
    with pytest.raises(SubmissionError, match=message):
        evaluate_concepts(gold, write(tmp_path / "bad.csv", text))


def test_secondary_f1_restricted_to_the_manual_cuis_of_the_year(gold, tmp_path):
    manual = write(tmp_path / "manual.csv", "ID,CUIs\nimg1,C0040405;C0817096\nimg2,\nimg3,C9999999\nimg4,C0024485\n")
    pred = write(tmp_path / "pred.csv", "img1,C0040405;C1\nimg2,C0041618\nimg3,C0040405\nimg4,C0024485;C0920367\n")
    # img1 {CT, chest} vs {CT} = 2/3; img2 and img3 have no manual gold CUI of the list: out of the mean;
    # img4: 2023 {MRI} vs {MRI} = 1; 2025 adds C0920367 to the list: {MRI} vs {MRI, C0920367} = 2/3
    r2023 = evaluate_concepts(gold, pred, manual)
    assert r2023["secondary_f1"] == pytest.approx((2 / 3 + 1) / 2) and r2023["secondary_images_scored"] == 2
    r2025 = evaluate_concepts(gold, pred, manual, year=2025)
    assert r2025["secondary_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_caption_preprocessing():
    assert preprocess("CT scan 2 of 12 patients, T1-weighted.") == "ct scan number of number patients tnumberweighted"


def test_rouge1_and_bleu1_by_hand():
    assert rouge1_f("the cat sat on the mat", "the cat on mat") == pytest.approx(0.8)  # P 1, R 4/6
    assert bleu1("the cat sat on the mat", "the cat on mat") == pytest.approx(math.exp(1 - 6 / 4))  # 4/4 × BP
    assert bleu1("a b", "a a a b") == pytest.approx(2 / 4)  # clipped counts, no brevity penalty
    # rouge-score's tokenizer: é is not [a-z0-9], so "café" is the word "caf"
    assert rouge1_f("café au lait", "caf") == pytest.approx(2 * 1 * (1 / 3) / (1 + 1 / 3))
    assert rouge1_f("café", "cafe") == 0.0


def test_cider_is_ten_for_exact_captions_and_lower_otherwise():
    refs = ["axial ct of the chest with contrast", "sagittal mri of the lumbar spine"]
    assert cider_d(refs, refs) == pytest.approx([10.0, 10.0])
    worse = cider_d(refs, ["axial ct of the chest", "an unrelated photograph of a dog"])
    assert 0 < worse[0] < 10 and worse[1] == 0.0


def test_caption_file_scores_and_empty_pairs(tmp_path):
    g = write(tmp_path / "g.csv", 'ID,Caption\na,"The cat sat on the mat."\nb,...\nc,...\n')
    p = write(tmp_path / "p.csv", 'ID,Caption\na,The cat on mat\nb,!!\nc,CT\n')
    result = evaluate_captions(g, p)
    # b: both empty after preprocessing = 1; c: one empty = 0
    assert result["rouge1"] == pytest.approx((0.8 + 1 + 0) / 3)
    assert result["bleu1"] == pytest.approx((math.exp(-0.5) + 1 + 0) / 3)
    assert set(result["not_computed"]) >= {"bertscore", "bleurt", "clipscore"}
    assert "no model given" in result["not_computed"]["bertscore"]


def test_cli_evaluate_concepts(gold, tmp_path):
    from typer.testing import CliRunner

    from rocov2_fast.cli import app

    pred = write(tmp_path / "pred.csv", "img1,C1\nimg2,\nimg3\nimg4,C4;C6\n")
    ok = CliRunner().invoke(app, ["evaluate", "concepts", str(gold), str(pred)])
    assert ok.exit_code == 0 and '"f1": 0.5416666' in ok.output
    bad = CliRunner().invoke(app, ["evaluate", "concepts", str(gold), str(write(tmp_path / "b.csv", "zzz,C1\n"))])
    assert bad.exit_code == 2 and "does not exist" in bad.output

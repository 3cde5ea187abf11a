"""Caption evidence (filter/caption_evidence.py) on real captions: the ROCO (2018) validation
captions (tests/fixtures/roco/, provenance there) and the figure captions of the real PMC articles
in tests/fixtures/jats/. Bounds are the measured held-out numbers (docs/caption-evidence.md) less
a margin, not wishes."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from rocov2_fast.filter import caption_evidence as ce
from rocov2_fast.jats import parse_jats

FIXTURES = Path(__file__).parent / "fixtures"


def read_roco(name: str) -> dict[str, str]:
    out = {}
    for line in (FIXTURES / "roco" / name).read_text(encoding="utf-8").splitlines():
        rid, _, cap = line.partition("\t")
        if rid.strip():
            out[rid.strip()] = cap.strip()
    return out


@pytest.fixture(scope="module")
def roco():
    rad, non = read_roco("radiology_captions.txt"), read_roco("non_radiology_captions.txt")
    ids = list(rad) + list(non)
    caps = list(rad.values()) + list(non.values())
    y = np.array([1] * len(rad) + [0] * len(non))
    # the bench's split: blake2b(id) even → development (the weights were fitted there), odd → held out
    dev = np.array([int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "big") % 2 == 0 for i in ids])
    r, c = ce.score_captions(caps)
    return {"ids": ids, "caps": caps, "y": y, "dev": dev, "radiology": r, "compound": c, "rad": rad, "non": non}


def auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def jats_figures() -> dict[str, str]:
    out = {}
    for f in sorted((FIXTURES / "jats").glob("*.nxml")):
        for fig in parse_jats(f.read_bytes())["figures"]:
            out[f"{f.stem}:{fig['id']}"] = fig["caption"]
    return out


def test_held_out_roco_radiology_vs_out_of_class(roco):
    held = ~roco["dev"]
    y, s = roco["y"][held], roco["radiology"][held]
    assert (y == 1).sum() > 4000 and (y == 0).sum() > 300
    # measured: AUC 0.886, precision 0.986, recall 0.799, FPR 0.146 at 0.5 (ROCO's label noise included)
    assert auc(y, s) >= 0.86
    pred = s >= 0.5
    precision = (pred & (y == 1)).sum() / pred.sum()
    recall = (pred & (y == 1)).sum() / (y == 1).sum()
    fpr = (pred & (y == 0)).sum() / (y == 0).sum()
    assert precision >= 0.97 and recall >= 0.75 and fpr <= 0.2
    # better than suggest-manual's modality words alone (AUC 0.77 as a 0/1 score)
    assert auc(y, s) > 0.80


def test_real_captions_score_the_right_way(roco):
    r = dict(zip(roco["ids"], roco["radiology"]))
    assert r["ROCO_00020"] > 0.9          # "Axial computed tomography scan of the pelvis ... (arrow)."
    assert r["ROCO_00027"] > 0.5          # "Postoperative anteroposterior radiograph of the pelvis."
    assert r["ROCO_81840"] < 0.3          # "A typical plastic McPhail trap (Left) with the optoelectronic sensor ..."
    assert r["ROCO_86867"] < 0.3          # "... (X1.25 magnification, hematoxylin & eosin)"
    # the real PMC article figures in tests/fixtures/jats are charts, schematics, a map: none radiology
    figs = jats_figures()
    rj, _ = ce.score_captions(list(figs.values()))
    assert len(figs) == 10 and (rj < 0.2).all(), dict(zip(figs, rj))


def test_compound_panel_references_in_real_captions(roco):
    figs = jats_figures()
    _, cj = ce.score_captions(list(figs.values()))
    c = dict(zip(figs, cj))
    # by reading the captions: these six describe panels (A), (B), (C); the other four are one image
    multi = ["1471-2180-11-174:F2", "1471-2180-11-174:F3", "1471-2180-11-174:F4",
             "ehp-116-1694:f1-ehp-116-1694", "ehp-116-1694:f2-ehp-116-1694", "ehp-116-1694:f3-ehp-116-1694"]
    single = ["1471-2180-11-174:F1", "mds526:MDS526F1", "mds526:MDS526F2", "pntd.0002065:pntd-0002065-g001"]
    assert all(c[k] >= ce.COMPOUND_CAPTION_THRESHOLD for k in multi), c
    assert all(c[k] < 0.1 for k in single), c
    comp = dict(zip(roco["ids"], roco["compound"]))
    # "(A) CT coronal reconstruction, ..., (B) CT coronal reconstruction, new focus ..."
    assert comp["ROCO_28595"] >= ce.COMPOUND_CAPTION_THRESHOLD
    # "Mediolateral (A) and craniocaudal (B) views of the breast show ..."
    assert comp["ROCO_26517"] >= ce.COMPOUND_CAPTION_THRESHOLD
    assert comp["ROCO_00020"] < 0.1 and comp["ROCO_00027"] < 0.1
    # ROCO's figures were meant to be single images: few captions reference two panels (measured 1.4 %)
    assert (roco["compound"][roco["y"] == 1] >= ce.COMPOUND_CAPTION_THRESHOLD).mean() < 0.03


@pytest.mark.parametrize("text, letters, words, figref", [
    ("(A) Axial T2-weighted MRI. (B) Coronal FLAIR.", 2, 0, 0),
    ("Hand radiographs (a–c) of the patient.", 2, 0, 0),
    ("A. Coronal CT. B. Axial MRI.", 2, 0, 0),
    ("A. fumigatus culture on agar.", 0, 0, 0),
    ("Panels A and B show the lesion.", 2, 1, 0),
    ("Upper row: CT; lower row: MRI.", 0, 2, 0),
    ("Left panel: before treatment; right panel: after.", 0, 2, 0),
    ("Same lesion as in Figure 2B, six months later.", 0, 0, 1),
    ("Chest radiograph without abnormality.", 0, 0, 0),
])
def test_compound_features(text, letters, words, figref):
    assert ce.compound_features([text])[0, :3].tolist() == [letters, words, figref]


def test_missing_and_odd_inputs():
    r, c = ce.score_captions([None, "", "   \n", "CT", "Axial CT of the chest."])
    assert r.dtype == np.float32 and c.dtype == np.float32
    assert np.isnan(r[:3]).all() and np.isnan(c[:3]).all()
    assert not np.isnan(r[3:]).any() and ((r[3:] >= 0) & (r[3:] <= 1)).all()
    e_r, e_c = ce.score_captions([])
    assert e_r.shape == (0,) and e_c.shape == (0,)
    s_r, s_c = ce.score_captions(pl.Series(["Axial CT of the chest.", None]))
    assert s_r[0] == r[4] and np.isnan(s_r[1])
    # non-ASCII text, very long text
    r2, _ = ce.score_captions(["TDM thoracique montrant une lyse sternale – coupe axiale ×2 µm", "CT " * 20000])
    assert not np.isnan(r2).any()


def test_combine_radiology():
    img = np.array([0.9, 0.9, 0.3, 0.5, np.nan, 0.7], np.float32)
    cap = np.array([0.95, 0.01, 0.99, 0.5, 0.9, np.nan], np.float32)
    out = ce.combine_radiology(img, cap)
    assert out.dtype == np.float32
    assert out[0] > 0.9                      # both agree
    assert out[1] == 0.0                     # caption below the veto (0.02)
    assert out[2] > 0.3                      # a strong caption lifts a doubtful image
    assert abs(out[3] - 0.5) < 1e-6          # both at their decision points
    assert np.isnan(out[4])                  # image not scored
    assert out[5] == img[5]                  # no caption: the image decides
    # the image threshold is respected: image at t, neutral caption → t
    assert abs(ce.combine_radiology(0.3, 0.5, image_threshold=0.3) - 0.3) < 1e-5
    # monotone in each argument
    cs = np.linspace(0.05, 0.99, 20, dtype=np.float32)
    assert (np.diff(ce.combine_radiology(np.full(20, 0.6, np.float32), cs)) > 0).all()


def test_combine_compound():
    out = ce.combine_compound(np.array([0.6, 0.4, np.nan, 0.7], np.float32),
                              np.array([0.047, 0.97, 0.8, np.nan], np.float32))
    assert out[0] < 0.5                      # no panel words pull a weak image call back
    assert out[1] > 0.5                      # three panel letters push a doubtful image over
    assert np.isnan(out[2]) and abs(out[3] - 0.7) < 1e-6
    assert ce.DEFAULT_DECISION in ce.DECISIONS == ("image", "image+caption")


def test_throughput(roco):
    caps = (roco["caps"] * 3)[:20000]
    t0 = time.perf_counter()
    ce.score_captions(caps)
    rate = len(caps) / (time.perf_counter() - t0)
    # measured ~70k captions/s on a shared 2-core machine; a loose floor for busy CI
    assert rate > 5000, rate


def test_compound_on_hand_read_flagged_sample():
    """40 real captions the first rule flagged, read by hand (fixtures/compound_captions/PROVENANCE.md):
    14 describe panels, 22 label structures in one image, 4 unclear. The current rule keeps the 14
    and drops 7 of the 22 (this sample was its development set)."""
    import csv
    with open(FIXTURES / "compound_captions" / "flagged_sample_hand_labels.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    _, c = ce.score_captions([r["caption"] for r in rows])
    flagged = {lab: sum(r["reading"] == lab and x >= ce.COMPOUND_CAPTION_THRESHOLD for r, x in zip(rows, c))
               for lab in ("panels", "one_image")}
    assert flagged["panels"] == 14
    assert flagged["one_image"] <= 16

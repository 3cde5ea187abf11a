"""Measure (and, with --fit, refit) the caption evidence of rocov2_fast.filter.caption_evidence.

Data: the real ROCO (2018) validation captions, radiology (8,179) vs out-of-class (611):
../shared/data/roco-v1/validation/{radiology,non-radiology}/captions.txt (`ROCO_ID<TAB> caption`),
or the unchanged copies in tests/fixtures/roco/. Split by id: blake2b(id) even → development
(used by --fit), odd → held out (every number printed is on the held-out half unless it says so).
Also: recall on ROCOv2's validation captions (9,904, all radiology), the compound rule's flag
rates on ROCO/ROCOv2 (figures meant to be single) and on the real JATS fixture captions, and
throughput.

    python benches/bench_caption_evidence.py [--fit] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from rocov2_fast.filter import caption_evidence as ce

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "roco"
ROCOV2 = ROOT.parent / "shared" / "data" / "rocov2" / "valid" / "valid_captions.csv"
JATS = ROOT / "tests" / "fixtures" / "jats"
#: the decision threshold reported (caption_radiology >= it: radiology). The model is fitted at
#: equal priors, so 0.5 is its natural point.
THRESHOLD = 0.5


def read_roco(path: Path) -> tuple[list[str], list[str]]:
    ids, caps = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rid, _, cap = line.partition("\t")
        ids.append(rid.strip())
        caps.append(cap.strip())
    return ids, caps


def is_dev(rid: str) -> bool:
    return int.from_bytes(hashlib.blake2b(rid.encode(), digest_size=8).digest(), "big") % 2 == 0


def load_roco() -> tuple[np.ndarray, list[str], np.ndarray]:
    """→ (ids, captions, labels 1 = radiology)."""
    rad_ids, rad = read_roco(FIXTURES / "radiology_captions.txt")
    non_ids, non = read_roco(FIXTURES / "non_radiology_captions.txt")
    return np.array(rad_ids + non_ids), rad + non, np.array([1] * len(rad) + [0] * len(non), np.int8)


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann–Whitney AUC with ties counted half."""
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), np.float64)
    s_sorted = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s_sorted[j + 1] == s_sorted[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = y == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def metrics(y: np.ndarray, s: np.ndarray, t: float) -> dict:
    pred = s >= t
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    fn, tn = int((~pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
    prec = tp / max(tp + fp, 1)
    rec = tp / max(tp + fn, 1)
    fpr = fp / max(fp + tn, 1)
    # precision if the two classes were equally common (ROCO is 93 % radiology; PMC is not)
    prec_bal = rec / max(rec + fpr, 1e-12)
    return {"threshold": t, "n_pos": int((y == 1).sum()), "n_neg": int((y == 0).sum()), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": round(prec, 4), "recall": round(rec, 4), "fpr": round(fpr, 4),
            "precision_at_equal_priors": round(prec_bal, 4), "roc_auc": round(roc_auc(y, s), 4)}


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50) -> tuple[np.ndarray, float]:
    """IRLS logistic regression, balanced class weights, L2 on the weights (not the intercept)."""
    n, d = x.shape
    xb = np.hstack([x.astype(np.float64), np.ones((n, 1))])
    cw = np.where(y == 1, n / (2 * (y == 1).sum()), n / (2 * (y == 0).sum()))
    beta = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(xb @ beta)))
        w = cw * p * (1 - p)
        grad = xb.T @ (cw * (p - y)) + reg * beta
        hess = (xb * w[:, None]).T @ xb + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def jats_captions() -> list[tuple[str, str, str]]:
    from rocov2_fast.jats import parse_jats
    out = []
    for f in sorted(JATS.glob("*.nxml")):
        for fig in parse_jats(f.read_bytes())["figures"]:
            out.append((f.name, fig["id"], fig["caption"] or ""))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", action="store_true", help="refit the radiology weights on the development half and print them")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    ids, caps, y = load_roco()
    dev = np.array([is_dev(i) for i in ids])
    x = ce.radiology_features(caps)
    report: dict = {"split": {"dev": {"pos": int((y[dev] == 1).sum()), "neg": int((y[dev] == 0).sum())},
                              "held_out": {"pos": int((y[~dev] == 1).sum()), "neg": int((y[~dev] == 0).sum())}}}

    if args.fit:
        w, b = fit_logistic(x[dev], y[dev])
        weights = {f: round(float(v), 3) for f, v in zip(ce.RADIOLOGY_FEATURES, w)}
        b = round(b, 3)
        print("RADIOLOGY_INTERCEPT =", b)
        print("RADIOLOGY_WEIGHTS =", json.dumps(weights, indent=4))
        s_dev = ce.radiology_from_features(x[dev], weights, b)
        s_held = ce.radiology_from_features(x[~dev], weights, b)
    else:
        s_dev = ce.radiology_from_features(x[dev])
        s_held = ce.radiology_from_features(x[~dev])
    report["radiology_dev"] = metrics(y[dev], s_dev, THRESHOLD)
    report["radiology_held_out"] = metrics(y[~dev], s_held, THRESHOLD)
    # baseline: suggest-manual's vocabulary alone (caption names a modality)
    from rocov2_fast.concepts.manual import COMPILED, MODALITIES, SHORT
    names = np.array([any(COMPILED[c].search(t) or (c in SHORT and SHORT[c].search(t)) for c in MODALITIES) for t in caps])
    report["baseline_manual_vocabulary_held_out"] = metrics(y[~dev], names[~dev].astype(np.float32), 0.5)
    # other operating points on the held-out half
    report["radiology_held_out_thresholds"] = {str(t): {k: v for k, v in metrics(y[~dev], s_held, t).items() if k in ("precision", "recall", "fpr")}
                                               for t in (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)}
    # veto: how many held-out radiology captions would a caption veto wrongly kill
    for veto in (0.01, 0.02, 0.05):
        report.setdefault("veto_held_out", {})[str(veto)] = {
            "radiology_vetoed": round(float((s_held[y[~dev] == 1] < veto).mean()), 4),
            "non_radiology_vetoed": round(float((s_held[y[~dev] == 0] < veto).mean()), 4)}

    if ROCOV2.exists():
        with open(ROCOV2, newline="", encoding="utf-8") as f:
            v2 = [row["Caption"] for row in csv.DictReader(f)]
        r2, c2 = ce.score_captions(v2)
        report["rocov2_valid"] = {"n": len(v2), "recall_at_threshold": round(float((r2 >= THRESHOLD).mean()), 4),
                                  "compound_flagged": round(float((c2 >= ce.COMPOUND_CAPTION_THRESHOLD).mean()), 4)}

    _, c_roco = ce.score_captions(caps)
    report["compound_flagged_roco"] = {"radiology": round(float((c_roco[y == 1] >= ce.COMPOUND_CAPTION_THRESHOLD).mean()), 4),
                                       "non_radiology": round(float((c_roco[y == 0] >= ce.COMPOUND_CAPTION_THRESHOLD).mean()), 4)}
    hand = ROOT / "tests" / "fixtures" / "compound_captions" / "flagged_sample_hand_labels.tsv"
    with open(hand, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    _, c_hand = ce.score_captions([r["caption"] for r in rows])
    report["compound_hand_read_sample"] = {lab: {"n": sum(r["reading"] == lab for r in rows),
                                                 "flagged": int(sum(r["reading"] == lab and x >= ce.COMPOUND_CAPTION_THRESHOLD for r, x in zip(rows, c_hand)))}
                                           for lab in ("panels", "one_image", "unclear")}
    js = jats_captions()
    r_j, c_j = ce.score_captions([c for _, _, c in js])
    report["jats_fixture_captions"] = [{"file": f, "figure": fid, "caption_radiology": round(float(r), 3),
                                        "caption_compound": round(float(c), 3)} for (f, fid, _), r, c in zip(js, r_j, c_j)]

    # throughput: the ROCO captions repeated to 100k, best of 3
    big = (caps * (100_000 // len(caps) + 1))[:100_000]
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        ce.score_captions(big)
        best = min(best, time.perf_counter() - t0)
    report["throughput"] = {"captions": len(big), "seconds": round(best, 3), "captions_per_s": int(len(big) / best),
                            "mean_chars": int(np.mean([len(c) for c in caps]))}

    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

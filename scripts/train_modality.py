"""Rebuild models/concepts/modality.npz: the caption classifiers of `suggest_manual` (modality;
X-ray body region; X-ray projection), learned from the develop part of ROCOv2's validation split
only (rocov2_fast.concepts.validation.part_of), numpy only, deterministic.

    .venv/bin/python scripts/train_modality.py [--valid ../shared/data/rocov2/valid]

Each is a multinomial logistic regression (L2, full-batch Adam) over `modality.features`. Its
temperature is fitted on 5-fold out-of-fold predictions of the develop part, and its default
confidence the lowest at which the out-of-fold precision reaches the target (modality: 0.975), both
per group of captions (naming no modality, one, several).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from rocov2_fast.concepts.modality import (MODALITIES, MODEL_PATH, PROJECTIONS, REGIONS, XRAY, LinearModel,  # noqa: E402
                                           features, save_models)
from rocov2_fast.concepts.validation import DEFAULT_VALID, read_valid  # noqa: E402


def encode(feature_lists, vocabulary):
    rows, cols = [], []
    for i, feats in enumerate(feature_lists):
        for f in feats:
            j = vocabulary.get(f)
            if j is not None:
                rows.append(i)
                cols.append(j)
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)


class Sparse:
    """Binary design matrix as (row, column) pairs, with the sort orders that make X @ W and
    X.T @ G two `np.add.reduceat` calls."""

    def __init__(self, rows, cols, n):
        self.n = n
        by_row = np.lexsort((cols, rows))
        self.r_rows, self.r_cols = rows[by_row], cols[by_row]
        self.row_ids, self.row_starts = np.unique(self.r_rows, return_index=True)
        by_col = np.argsort(cols, kind="stable")
        self.c_rows, self.c_cols = rows[by_col], cols[by_col]
        self.col_ids, self.col_starts = np.unique(self.c_cols, return_index=True)

    def dot(self, W):
        z = np.zeros((self.n, W.shape[1]))
        if len(self.r_cols):
            z[self.row_ids] = np.add.reduceat(W[self.r_cols], self.row_starts, axis=0)
        return z

    def tdot(self, G, n_features):
        out = np.zeros((n_features, G.shape[1]))
        if len(self.c_rows):
            out[self.col_ids] = np.add.reduceat(G[self.c_rows], self.col_starts, axis=0)
        return out


def fit(rows, cols, y, n, n_features, n_classes, l2=1e-3, epochs=300, lr=0.05, penalty=None):
    """Softmax regression on binary features (rows, cols): full-batch Adam with L2 (times
    `penalty` per feature, if given)."""
    l2 = l2 * (penalty[:, None] if penalty is not None else 1.0)
    X = Sparse(rows, cols, n)
    W = np.zeros((n_features, n_classes))
    m = np.zeros_like(W)
    v = np.zeros_like(W)
    Y = np.eye(n_classes)[y]
    for t in range(1, epochs + 1):
        p = softmax(X.dot(W))
        grad = X.tdot((p - Y) / n, n_features) + l2 * W
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        W -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return W


def logits_of(W, rows, cols, n):
    return Sparse(rows, cols, n).dot(W)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


VOCABULARY_PENALTY = 0.05


def group_of(feats) -> int:
    return next((min(int(f[2:]), 2) for f in feats if f.startswith("m#")), 0)


def train(feature_lists, labels, class_labels, *, precision_target, none_label="", l2=1e-3, min_count=2, folds=5):
    y = np.array([class_labels.index(label) for label in labels])
    n = len(y)
    counts = Counter(f for feats in feature_lists for f in feats)
    vocabulary = {f: i for i, f in enumerate(sorted(f for f, c in counts.items()
                                                   if c >= min_count or f.startswith(("m", "r:", "p:"))))}
    # the vocabulary hits (and the bias) are penalised less than single words: a rare modality's
    # vocabulary ("FDG" → PET) should count although few develop captions use it
    penalty = np.array([VOCABULARY_PENALTY if f.startswith(("m", "<bias>")) else 1.0 for f in vocabulary])
    fold = np.arange(n) % folds
    oof = np.zeros((n, len(class_labels)))
    for k in range(folds):
        train_idx, test_idx = np.where(fold != k)[0], np.where(fold == k)[0]
        r, c = encode([feature_lists[i] for i in train_idx], vocabulary)
        W = fit(r, c, y[train_idx], len(train_idx), len(vocabulary), len(class_labels), l2=l2, penalty=penalty)
        r, c = encode([feature_lists[i] for i in test_idx], vocabulary)
        oof[test_idx] = logits_of(W, r, c, len(test_idx))
    # temperatures: minimise the out-of-fold negative log-likelihood, separately for captions that
    # use the vocabulary of no modality, of one, of several (the classifier is surer than it should
    # be where a caption names several)
    temps = np.exp(np.linspace(np.log(0.2), np.log(8), 101))
    group = np.array([group_of(f) for f in feature_lists])
    temperature = []
    for g in range(3):
        sel = group == g
        if not sel.any():
            temperature.append(1.0)
            continue
        nll = [-np.log(softmax(oof[sel] / t)[np.arange(sel.sum()), y[sel]] + 1e-12).mean() for t in temps]
        temperature.append(float(temps[int(np.argmin(nll))]))
    p = softmax(oof / np.array(temperature)[group][:, None])
    pred, conf = p.argmax(axis=1), p.max(axis=1)
    suggest = np.array([class_labels[k] != none_label for k in pred])
    # default confidence: the lowest at which the out-of-fold precision reaches the target; captions
    # that name several modalities must also reach it on their own (else they would be suggested
    # less precisely than the rest)
    grid = np.linspace(0.3, 0.995, 140)

    def lowest(ok) -> float:
        return next((float(t) for t in grid if ok(t)), 1.0)

    def precise(covered) -> bool:
        return bool(covered.sum()) and (pred[covered] == y[covered]).mean() >= precision_target

    several = lowest(lambda t: precise(suggest & (conf >= t) & (group == 2)))
    single = lowest(lambda t: precise(suggest & (conf >= np.array([t, t, max(t, several)])[group])))
    thresholds = [single, single, max(single, several)]
    covered = suggest & (conf >= np.array(thresholds)[group])
    with_label = np.array([lab != none_label for lab in labels])
    stats = {"n": n, "features": len(vocabulary), "temperature": [round(t, 3) for t in temperature], "threshold": [round(t, 3) for t in thresholds],
             "oof_argmax_accuracy": round(float((pred == y).mean()), 4),
             "oof_precision": round(float((pred[covered] == y[covered]).mean()), 4) if covered.any() else None,
             "oof_agreement": round(float(((pred == y) & covered)[with_label].mean()), 4)}
    r, c = encode(feature_lists, vocabulary)
    W = fit(r, c, y, n, len(vocabulary), len(class_labels), l2=l2, penalty=penalty)
    return LinearModel(vocabulary, W, class_labels, temperature, thresholds), stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--valid", type=Path, default=DEFAULT_VALID)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--l2", type=float, default=1e-3)
    args = ap.parse_args()
    df = read_valid(args.valid, part="develop")
    captions, manual = df["caption"].to_list(), df["cuis_manual"].to_list()
    feats = [features(c) for c in captions]
    models = {}
    # modality: the images with exactly one manual modality
    idx = [i for i, m in enumerate(manual) if len([c for c in m if c in MODALITIES]) == 1]
    labels = [next(c for c in manual[i] if c in MODALITIES) for i in idx]
    models["modality"], stats = train([feats[i] for i in idx], labels, list(MODALITIES), precision_target=0.975, l2=args.l2)
    print("modality", stats)
    # X-ray region and projection: the X-ray images; "" = ROCOv2 gives none
    xray = [i for i in idx if XRAY in manual[i]]
    for name, table in (("region", REGIONS), ("projection", PROJECTIONS)):
        labels = [next((c for c in manual[i] if c in table), "") for i in xray]
        models[name], stats = train([feats[i] for i in xray], labels, list(table) + [""], precision_target=0.95, l2=args.l2)
        print(name, stats)
    save_models(args.out, models)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()

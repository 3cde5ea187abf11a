"""Grouped cross-validation of the radiology head by source image, on the features a `head` run cached
(`python -m rocov2_fast.modeldev.head ... --cache DIR`), so head variants are compared without the test
split:

    python -m rocov2_fast.modeldev.cv --cache DIR --tag r3-s0-x2.0 --synthetic truth.csv --l2 0.003
    python -m rocov2_fast.modeldev.cv --cache DIR --tag r3-s0-x2.0 --synthetic truth.csv --l2 0.001 --train-without third-round

The train split's real source images (a chest radiograph, a DICOM image, a volume, a photo, with all their
augmented variants) are hashed into 4 folds; each fold's real images are scored by a head fitted on
everything else (other folds, renders, composed figures, the synthetic corpus), as `head` fits it. Printed:
the held-out ROC AUC of real radiology vs real non-radiology images, the FPR at the score that keeps 95 %
of held-out radiology, that FPR per negative source, and the val split's ROC AUC of a head fitted on all of
train. `--train-without third-round` leaves the third round's families and CT windows out of the fitting
(the shipped head's mix) while scoring the same held-out images, so two mixes are compared on equal terms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from . import dataset, head, real


def train_groups(families, scale: float, windows: bool) -> list[str]:
    """The source image (group) of every real train sample, in the order `dataset.build` makes them."""
    images = real.all_real_images(families)
    by: dict[str, list[str]] = {}
    for im in images:
        by.setdefault(im.family, []).append(im.group)
    splits = dataset.split_of(by)
    out = []
    for im in images:
        if splits[im.group] == "train":
            n = 1 + round(dataset.VARIANTS.get(im.family, 2) * scale)
            out += [im.group] * n + [f"{im.group}#window"] * (len(im.alternates) * round(2 * scale) if windows else 0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--tag", default="r3-s0-x2.0", help="the cached mix: r3-… (all families), r3w-… (all, --ct-windows), "
                    "r2-… (--families second-round)")
    ap.add_argument("--synthetic", type=Path, required=True, help="truth.csv of the stage-1 synthetic corpus")
    ap.add_argument("--l2", type=float, default=0.001)
    ap.add_argument("--train-without", choices=("nothing", "third-round"), default="nothing")
    ap.add_argument("--folds", type=int, default=4)
    args = ap.parse_args(argv)
    kind = "radiology"
    info = json.loads((args.cache / f"rows-{args.tag}.json").read_text())
    feats = np.load(args.cache / f"features-{kind}-{args.tag}.npz")
    syn = np.load(args.cache / f"features-{kind}-synthetic.npz")
    scale = float(args.tag.split("-x")[1])
    third_mix = args.tag.startswith("r3")
    families = None if third_mix else tuple(f for f in real.FAMILIES if f not in real.THIRD_ROUND)
    groups = train_groups(families, scale, windows=args.tag.split("-")[0].endswith("w"))
    tr = info["train"]
    n_real = sum(r["source"] not in ("render", "compound") for r in tr)
    if n_real != len(groups):
        raise SystemExit(f"error: the cache holds {n_real} real train samples, the mix here makes {len(groups)}")
    groups += [f"generated/{i}" for i in range(len(tr) - len(groups))]
    keep = np.array([not r["compound"] for r in tr])
    rows = [head.row_of(r, kind) for r, k in zip(tr, keep) if k]
    g = np.array([x for x, k in zip(groups, keep) if k])
    x, y = feats["train"], np.array([r["label"] for r in rows])
    src = np.array([r["source"] for r in rows])
    real_row = ~np.isin(src, ["render", "compound"])
    added = np.isin(src, real.THIRD_ROUND) | np.char.endswith(g.astype(str), "#window")
    w = np.array([1.0 if s in ("render", "compound") else 1.5 for s in src])  # head's weights (real 1.5, generated 1.0)
    fold = np.array([int(hashlib.sha1(s.split("#")[0].encode()).hexdigest(), 16) % args.folds for s in g])
    excluded = added if args.train_without == "third-round" else np.zeros(len(y), bool)
    scored = real_row & ~added  # the same held-out images whatever the mix
    prob = np.zeros(len(y))
    for k in range(args.folds):
        out = (fold == k) & real_row
        fit = ~out & ~excluded
        h = head.fit_head(np.concatenate([x[fit], syn["f"]]), np.concatenate([y[fit], syn["y"]]),
                          np.concatenate([w[fit], np.full(len(syn["y"]), 0.7)]), l2=args.l2)
        prob[out & scored] = head.apply_head(x[out & scored], *h)
    pos, neg = prob[scored & (y == 1)], prob[scored & (y == 0)]
    t = np.sort(pos)[int(len(pos) * 0.05)]
    h = head.fit_head(np.concatenate([x[~excluded], syn["f"]]), np.concatenate([y[~excluded], syn["y"]]),
                      np.concatenate([w[~excluded], np.full(len(syn["y"]), 0.7)]), l2=args.l2)
    val_rows = [head.row_of(r, kind) for r in info["val"] if not r["compound"]]
    yv = np.array([r["label"] for r in val_rows])
    vp = head.apply_head(feats["val"], *h)
    per_source = {s: round(float((prob[scored & (y == 0) & (src == s)] >= t).mean()), 2)
                  for s in sorted(set(src[scored & (y == 0)]))}
    print(json.dumps({"tag": args.tag, "l2": args.l2, "train_without": args.train_without,
                      "cv_real_auc": round(dataset.roc_auc(pos, neg), 4), "cv_fpr_at_recall_0.95": round(float((neg >= t).mean()), 3),
                      "cv_fpr_by_source": per_source, "val_auc": round(dataset.roc_auc(vp[yv == 1], vp[yv == 0]), 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

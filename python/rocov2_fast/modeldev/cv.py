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
(the shipped head's mix) while scoring the same held-out images, so two mixes are compared on equal terms;
`fourth-round` / `third-and-fourth-round` do the same for the fourth round's families (`--tag r4-…`: the
shipped mix is `--train-without third-and-fourth-round`). `--score all` also scores the third and fourth
rounds' held-out images (and prints the held-out recall per kind, e.g. CT); `--family-weight` scales
families' loss weights; `--mlp N` fits `head.fit_mlp` heads instead of logistic ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from . import dataset, head, real


def train_groups(families, scale: float, windows: bool) -> tuple[list[str], list[str]]:
    """The source image (group) and split family of every real train sample, in the order `dataset.build`
    makes them."""
    images = real.all_real_images(families)
    by: dict[str, list[str]] = {}
    for im in images:
        by.setdefault(im.family, []).append(im.group)
    splits = dataset.split_of(by)
    out, fams = [], []
    for im in images:
        if splits[im.group] == "train":
            n = 1 + round(dataset.VARIANTS.get(im.family, 2) * scale)
            m = len(im.alternates) * round(2 * scale) if windows else 0
            out += [im.group] * n + [f"{im.group}#window"] * m
            fams += [im.family] * (n + m)
    return out, fams


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--tag", default="r4-s0-x2.0", help="the cached mix: r4-… (all families), r4w-… (all, --ct-windows), "
                    "r2-… (--families second-round)")
    ap.add_argument("--synthetic", type=Path, required=True, help="truth.csv of the stage-1 synthetic corpus")
    ap.add_argument("--l2", type=float, default=0.001)
    ap.add_argument("--train-without", choices=("nothing", "third-round", "fourth-round", "third-and-fourth-round"),
                    default="nothing", help="families (and CT windows, with the third round) left out of every fit")
    ap.add_argument("--score", choices=("earlier", "all"), default="earlier", help="held-out images scored: the first and "
                    "second rounds' (earlier) or every real train image (all: also the third and fourth rounds')")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=0, help="fit head.fit_mlp heads of this width instead of logistic ones")
    ap.add_argument("--family-weight", default="", help="loss weight factors of split families' train rows, e.g. "
                    "ct-volumes=0.5 (tried in the fourth round: models/README.md)")
    args = ap.parse_args(argv)
    kind = "radiology"
    info = json.loads((args.cache / f"rows-{args.tag}.json").read_text())
    feats = np.load(args.cache / f"features-{kind}-{args.tag}.npz")
    syn = np.load(args.cache / f"features-{kind}-synthetic.npz")
    scale = float(args.tag.split("-x")[1])
    version = args.tag.split("-")[0].rstrip("w")
    families = (None if version == "r4" else tuple(f for f in real.FAMILIES if f not in real.FOURTH_ROUND) if version == "r3"
                else tuple(f for f in real.FAMILIES if f not in real.THIRD_ROUND + real.FOURTH_ROUND))
    groups, fams = train_groups(families, scale, windows=args.tag.split("-")[0].endswith("w"))
    tr = info["train"]
    n_real = sum(r["source"] not in ("render", "compound") for r in tr)
    if n_real != len(groups):
        raise SystemExit(f"error: the cache holds {n_real} real train samples, the mix here makes {len(groups)}")
    groups += [f"generated/{i}" for i in range(len(tr) - len(groups))]
    fams += ["generated"] * (len(tr) - len(fams))
    keep = np.array([not r["compound"] for r in tr])
    rows = [head.row_of(r, kind) for r, k in zip(tr, keep) if k]
    g = np.array([x for x, k in zip(groups, keep) if k])
    fam = np.array([x for x, k in zip(fams, keep) if k])
    x, y = feats["train"], np.array([r["label"] for r in rows])
    src = np.array([r["source"] for r in rows])
    real_row = ~np.isin(src, ["render", "compound"])
    third = np.isin(fam, real.THIRD_ROUND) | np.char.endswith(g.astype(str), "#window")
    fourth = np.isin(fam, real.FOURTH_ROUND)
    w = np.array([1.0 if s in ("render", "compound") else 1.5 for s in src])  # head's weights (real 1.5, generated 1.0)
    def fit_one(x_, y_, w_, l2):
        return head.fit_mlp(x_, y_, w_, hidden=args.mlp) if args.mlp else head.fit_head(x_, y_, w_, l2=l2)

    for item in filter(None, args.family_weight.split(",")):
        name, factor = item.split("=")
        w[fam == name] *= float(factor)
    fold = np.array([int(hashlib.sha1(s.split("#")[0].encode()).hexdigest(), 16) % args.folds for s in g])
    excluded = {"nothing": np.zeros(len(y), bool), "third-round": third, "fourth-round": fourth,
                "third-and-fourth-round": third | fourth}[args.train_without]
    scored = real_row & (~(third | fourth) if args.score == "earlier" else ~np.char.endswith(g.astype(str), "#window"))
    # (the same held-out images whatever the mix)
    prob = np.zeros(len(y))
    for k in range(args.folds):
        out = (fold == k) & real_row
        fit = ~out & ~excluded
        h = fit_one(np.concatenate([x[fit], syn["f"]]), np.concatenate([y[fit], syn["y"]]),
                    np.concatenate([w[fit], np.full(len(syn["y"]), 0.7)]), l2=args.l2)
        prob[out & scored] = head.apply_head(x[out & scored], *h)
    pos, neg = prob[scored & (y == 1)], prob[scored & (y == 0)]
    t = np.sort(pos)[int(len(pos) * 0.05)]
    h = fit_one(np.concatenate([x[~excluded], syn["f"]]), np.concatenate([y[~excluded], syn["y"]]),
                np.concatenate([w[~excluded], np.full(len(syn["y"]), 0.7)]), l2=args.l2)
    val_rows = [head.row_of(r, kind) for r in info["val"] if not r["compound"]]
    yv = np.array([r["label"] for r in val_rows])
    vp = head.apply_head(feats["val"], *h)
    per_source = {s: round(float((prob[scored & (y == 0) & (src == s)] >= t).mean()), 2)
                  for s in sorted(set(src[scored & (y == 0)]))}
    per_kind = {}
    kinds = np.array([r["kind"] for r in rows])
    for k in sorted(set(kinds[scored & (y == 1)])):
        per_kind[k] = round(float((prob[scored & (y == 1) & (kinds == k)] >= t).mean()), 2)
    print(json.dumps({"tag": args.tag, "l2": args.l2, "train_without": args.train_without, "score": args.score,
                      "family_weight": args.family_weight, "mlp": args.mlp,
                      "cv_recall_by_kind": per_kind,
                      "cv_real_auc": round(dataset.roc_auc(pos, neg), 4), "cv_fpr_at_recall_0.95": round(float((neg >= t).mean()), 3),
                      "cv_fpr_by_source": per_source, "val_auc": round(dataset.roc_auc(vp[yv == 1], vp[yv == 0]), 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

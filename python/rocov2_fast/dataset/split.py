"""`rocov2-fast split RUN_DIR`: a train/valid/test split stratified on the manual concepts.

Multi-label iterative stratification (Sechidis, Tsoumakas & Vlahavas, ECML PKDD 2011), applied to
groups of images: by default all figures of one article form a group and land in one split, so no
sibling figure leaks between train and test. `--group-by none` makes every image its own group.
Concepts of valid/test images that never occur in train are removed from valid/test, as ROCOv2 did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from .. import rundir
from ..options import GROUP_BY, GROUPINGS, SEED
from ..options import RATIOS as DEFAULT_RATIOS
from ..rundir import write_atomic
from .tables import SPLITS, assemble, write_dataset


@dataclass(frozen=True)
class SplitOptions:
    """`rocov2-fast split` (and `build`'s split stage)."""

    #: train, valid, test shares
    ratios: tuple[float, ...] = DEFAULT_RATIOS
    seed: int = SEED
    #: 'article' (all figures of an article in one split) or 'none'
    group_by: str = GROUP_BY
    #: images without annotated manual concepts take the caption-based suggestions
    suggested_manual: bool = True


def iterative_stratification(labels: list[list[str]], groups: list[str] | None, ratios=DEFAULT_RATIOS,
                             seed: int = 0) -> np.ndarray:
    """Fold index (0..len(ratios)-1) per image. `labels[i]` are image i's labels, `groups[i]` its
    group (None: every image alone). Rarest label first, each of its groups goes to the fold that
    still wants that label most (then the fold that wants most images, then chance)."""
    ratios = np.asarray(ratios, dtype=float)
    if ratios.ndim != 1 or len(ratios) < 2 or (ratios < 0).any() or not np.isclose(ratios.sum(), 1.0):
        raise ValueError(f"ratios must be at least two non-negative numbers summing to 1, not {ratios.tolist()}")
    rng = np.random.default_rng(seed)
    n = len(labels)
    group_keys = groups if groups is not None else range(n)
    group_index: dict = {}
    image_group = np.array([group_index.setdefault(g, len(group_index)) for g in group_keys], dtype=np.int64)
    vocabulary = sorted({label for row in labels for label in row})
    label_index = {label: j for j, label in enumerate(vocabulary)}
    counts = np.zeros((len(group_index), len(vocabulary)), dtype=np.int64)
    for i, row in enumerate(labels):
        for label in set(row):
            counts[image_group[i], label_index[label]] += 1
    sizes = np.bincount(image_group, minlength=len(group_index))
    want_images = ratios * n
    want_labels = np.outer(ratios, counts.sum(axis=0)).astype(float)
    fold_of_group = np.full(len(group_index), -1, dtype=np.int64)

    def place(group: int, label: int | None) -> None:
        keys = [want_images + rng.random(len(ratios)) * 1e-9]  # last key: chance
        if label is not None:
            keys.insert(0, want_labels[:, label])
        best = np.lexsort(keys[::-1])[-1]
        fold_of_group[group] = best
        want_images[best] -= sizes[group]
        want_labels[best] -= counts[group]

    while True:
        open_groups = fold_of_group < 0
        remaining = counts[open_groups].sum(axis=0)
        if not remaining.any():
            break
        label = int(np.where(remaining > 0, remaining, np.iinfo(np.int64).max).argmin())
        candidates = np.flatnonzero(open_groups & (counts[:, label] > 0))
        for group in rng.permutation(candidates):
            place(int(group), label)
    for group in rng.permutation(np.flatnonzero(fold_of_group < 0)):
        place(int(group), None)
    return fold_of_group[image_group]


def stratification_quality(labels: list[list[str]], folds: np.ndarray, ratios) -> dict:
    """Sechidis et al.'s label distribution (LD) and examples distribution (ED), and per label the
    largest gap between a split's share of images with that label and the whole set's share."""
    ratios = np.asarray(ratios, dtype=float)
    n, k = len(labels), len(ratios)
    sizes = np.bincount(folds, minlength=k)
    vocabulary = sorted({label for row in labels for label in row})
    ld_terms, per_label = [], {}
    for label in vocabulary:
        has = np.array([label in row for row in labels])
        total = has.sum()
        overall = total / max(n - total, 1)
        in_fold = np.bincount(folds[has], minlength=k)
        ld_terms.append(np.mean([abs(in_fold[j] / max(sizes[j] - in_fold[j], 1) - overall) for j in range(k)]))
        shares = in_fold / np.maximum(sizes, 1)
        per_label[label] = {"images": int(total), "share": float(total / n),
                            "max_gap_points": float(np.max(np.abs(shares - total / n)) * 100)}
    return {
        "LD": float(np.mean(ld_terms)) if ld_terms else 0.0,
        "ED": float(np.mean(np.abs(sizes - ratios * n))),
        "max_label_gap_points": max((v["max_gap_points"] for v in per_label.values()), default=0.0),
        "labels": per_label,
    }


def remove_unseen_concepts(df: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Drops from valid/test rows every CUI that no train image has (order kept)."""
    seen = set(df.filter(pl.col("split") == "train")["concepts"].explode().drop_nulls().to_list())
    splits = df["split"].to_list()
    removed = {s: 0 for s in SPLITS[1:]}
    for split, cuis in zip(splits, df["concepts"].to_list()):
        if split != "train":
            removed[split] += sum(c not in seen for c in cuis)
    columns = []
    for name in ("concepts", "concepts_manual"):
        values = [cuis if split == "train" else [c for c in cuis if c in seen] for split, cuis in zip(splits, df[name].to_list())]
        columns.append(pl.Series(name, values, pl.List(pl.String)))
    return df.with_columns(columns), removed


def run(run_dir: Path, options: SplitOptions | None = None) -> dict:
    """`rocov2-fast split RUN_DIR`: → RUN_DIR/dataset.parquet and split_summary.json."""
    o = options or SplitOptions()
    ratios, seed, group_by = o.ratios, o.seed, o.group_by
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be 'article' or 'none', not {group_by!r}")
    run_dir = Path(run_dir)
    df = assemble(run_dir, use_suggestions=o.suggested_manual)
    labels = df["concepts_manual"].to_list()
    groups = [p or i for p, i in zip(df["pmcid"].to_list(), df["image_id"].to_list())] if group_by == "article" else None
    folds = iterative_stratification(labels, groups, ratios, seed)
    df = df.with_columns(pl.Series("split", [SPLITS[f] for f in folds], pl.String))
    df, removed = remove_unseen_concepts(df)
    write_dataset(run_dir, df)
    summary = {
        "images": df.height, "articles": df["pmcid"].n_unique(), "seed": seed, "group_by": group_by,
        "ratios": list(ratios), "sizes": {s: int((df["split"] == s).sum()) for s in SPLITS},
        "manual_source": dict(sorted(df.group_by("manual_source").len().rows(), key=lambda kv: str(kv[0]))),
        "unseen_concepts_removed": removed,
        "quality": stratification_quality(labels, folds, ratios),
    }
    write_atomic(run_dir / rundir.SPLIT_SUMMARY, json.dumps(summary, indent=2).encode())
    return summary

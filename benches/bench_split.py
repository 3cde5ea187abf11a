"""Split quality and speed: rocov2-fast's grouped iterative stratification (`--group-by article`
and `--group-by none`) against the `iterative-stratification` package (the usual Python way;
per image only, it has no groups) and a plain random split, on real labels: the ROCO validation
captions (tests/fixtures/roco) with their suggested manual concepts and their real PMC articles.

    .venv/bin/pip install iterative-stratification   # the peer (extra `bench`)
    .venv/bin/python benches/bench_split.py --repeat 5

LD / ED: Sechidis et al.'s label and examples distribution (lower is better); gap: the largest
difference, in percentage points, between a split's share of a label and the whole set's share;
leaked articles: articles with figures in more than one split.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl

from rocov2_fast.concepts.manual import suggest_manual
from rocov2_fast.dataset.split import DEFAULT_RATIOS, iterative_stratification, stratification_quality
from rocov2_fast.dataset.tables import suggested_manual

ROCO = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "roco"


def roco_labels() -> tuple[list[list[str]], list[str]]:
    rows = [line.partition("\t")[::2] for line in (ROCO / "radiology_captions.txt").read_text(encoding="utf-8").splitlines()]
    df = pl.DataFrame([(i, c.strip()) for i, c in rows], schema=["image_id", "caption"], orient="row").unique("image_id", keep="first")
    articles = pl.read_csv(ROCO / "radiology_licences.txt").select(
        pl.col("ROCO_ID").alias("image_id"), pl.col("PMC_ID").str.split("_").list.first().alias("pmcid"))
    df = df.join(articles, on="image_id").sort("image_id")
    return suggested_manual(suggest_manual(df))["cuis_manual"].to_list(), df["pmcid"].to_list()


def peer(labels: list[list[str]], seed: int) -> np.ndarray:
    from iterstrat.ml_stratifiers import IterativeStratification

    vocabulary = sorted({x for row in labels for x in row})
    matrix = np.array([[x in row for x in vocabulary] for row in labels], dtype=int)
    # the package's r holds each fold's share; its folds come back as indices into r
    return IterativeStratification(matrix, r=np.asarray(DEFAULT_RATIOS), random_state=np.random.RandomState(seed))


def leaked(folds: np.ndarray, groups: list[str]) -> int:
    seen: dict[str, set[int]] = {}
    for f, g in zip(folds, groups):
        seen.setdefault(g, set()).add(int(f))
    return sum(len(v) > 1 for v in seen.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    labels, groups = roco_labels()
    print(f"{len(labels)} images, {len(set(groups))} articles, {len({x for r in labels for x in r})} labels")
    methods = {
        "rocov2-fast --group-by article": lambda s: iterative_stratification(labels, groups, DEFAULT_RATIOS, s),
        "rocov2-fast --group-by none": lambda s: iterative_stratification(labels, None, DEFAULT_RATIOS, s),
        "iterative-stratification (per image)": lambda s: peer(labels, s),
        "random per image": lambda s: np.random.default_rng(s).choice(3, size=len(labels), p=DEFAULT_RATIOS),
    }
    print("| method | seconds | LD | ED | largest gap (points) | leaked articles |")
    print("|---|---|---|---|---|---|")
    for name, split in methods.items():
        times, rows = [], []
        for seed in range(args.repeat):
            start = time.perf_counter()
            folds = split(seed)
            times.append(time.perf_counter() - start)
            q = stratification_quality(labels, np.asarray(folds), DEFAULT_RATIOS)
            rows.append((q["LD"], q["ED"], q["max_label_gap_points"], leaked(np.asarray(folds), groups)))
        ld, ed, gap, leak = np.mean(rows, axis=0)
        print(f"| {name} | {np.median(times):.2f} | {ld:.5f} | {ed:.1f} | {gap:.2f} | {leak:.0f} |")


if __name__ == "__main__":
    main()

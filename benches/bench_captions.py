"""Throughput of caption cleaning (fastText language ID + rules) and concept extraction (MedCAT,
shipped pack) over the 8,790 ROCO validation captions, with 1 and 2 MedCAT processes.

    .venv/bin/python benches/bench_captions.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl

from rocov2_fast import captions
from rocov2_fast.concepts import extract, suggest_manual

ROCO = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "roco"


def main() -> None:
    rows = []
    for name in ("radiology_captions.txt", "non_radiology_captions.txt"):
        rows += [line.partition("\t")[::2] for line in (ROCO / name).read_text(encoding="utf-8").splitlines()]
    df = pl.DataFrame([(i, c.strip()) for i, c in rows], schema=["image_id", "caption"], orient="row")
    captions.clean(df.head(5))
    extract(df.head(5))
    results = {}
    for name, step in (("clean (default rule)", lambda: captions.clean(df)),
                       ("clean (paper rule)", lambda: captions.clean(df, lang_rule="paper")),
                       ("suggest-manual", lambda: suggest_manual(df)),
                       ("extract, 1 process", lambda: extract(df)),
                       ("extract, 2 processes", lambda: extract(df, n_process=2))):
        started = time.perf_counter()
        step()
        seconds = time.perf_counter() - started
        results[name] = {"seconds": round(seconds, 2), "captions_per_s": round(df.height / seconds)}
        print(f"{name:24} {df.height} captions in {seconds:6.2f} s = {df.height / seconds:8.0f} captions/s")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "captions.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: the main thread's CPU for taking one filter shard from the core, as the filter's
worker does (filter/worker.py): iterating the scanner (whatever the core converts for Python in
`__next__`, and the Arrow import), `Collected.add` per source, `Collected.frame`. The decode
threads' CPU is not counted (`time.thread_time`); the first of `--repeat` + 1 rounds (one-time
imports) is dropped and the least of the rest kept.

    .venv/bin/python benches/bench_handoff.py benches/out/corpus-smooth-100-s0
    PYTHONPATH=OLD .venv/bin/python benches/bench_handoff.py ...   # another rocov2_fast, to compare

Works with the Arrow hand-over (`ingest.iter_batches`) and with the earlier column lists
(`ingest.iter_columns`), so a copy of the package from before issue 15 item 4 can be measured
side by side."""

from __future__ import annotations

import argparse
import time

from rocov2_fast import ingest
from rocov2_fast.filter.worker import Collected


def shard_cpu(sources: list[str], workers: int) -> tuple[float, int]:
    iterate = getattr(ingest, "iter_batches", None) or ingest.iter_columns
    collected, cpu = Collected(), 0.0
    results = iterate(sources, workers=workers, with_pixels=True, with_bytes=True, size=224, queue=len(sources))
    while True:
        started = time.thread_time()
        item = next(results, None)
        if item is None:
            break
        collected.add(*item[1:])
        cpu += time.thread_time() - started
    started = time.thread_time()
    df, _image_bytes = collected.frame(sources)
    return cpu + time.thread_time() - started, df.height


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sources = ingest._core.discover_sources([args.corpus])
    runs = [shard_cpu(sources, args.workers) for _ in range(args.repeat + 1)][1:]
    way = "arrow batches" if hasattr(ingest, "iter_batches") else "column lists"
    print(f"{way}: {len(sources)} sources, {runs[0][1]} rows: main-thread CPU {min(c for c, _ in runs) * 1000:.1f} ms "
          f"(least of {args.repeat})")


if __name__ == "__main__":
    main()

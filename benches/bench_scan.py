"""Benchmark: `rocov2-fast scan` vs the careful and the naive Python way, on the same synthetic
corpus with the same number of workers. Each method runs in its own process; peak RSS is the
sampled sum over that process tree. Writes benches/out/scan-<articles>.json and prints a table.

    .venv/bin/python benches/bench_scan.py --articles 100 --workers 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

METHODS = {
    "rocov2-fast": "import rocov2_fast as rf; s = rf.scan([{corpus!r}], {tmp!r}, workers={workers}, show_progress=False); "
                   "print(s.images_ok)",
    "python-careful": "import sys; sys.path.insert(0, {here!r}); import python_peers as p, rocov2_fast as rf; "
                      "rows = p.scan(rf.discover_sources([{corpus!r}]), {workers}, draft=True); "
                      "print(sum(r[2] == 'ok' for r in rows))",
    "python-naive": "import sys; sys.path.insert(0, {here!r}); import python_peers as p, rocov2_fast as rf; "
                    "rows = p.scan(rf.discover_sources([{corpus!r}]), {workers}, draft=False); "
                    "print(sum(r[2] == 'ok' for r in rows))",
}


def ensure_corpus(articles: int, seed: int) -> Path:
    corpus = OUT / f"corpus-{articles}-s{seed}"
    if not (corpus / "truth.csv").exists():
        subprocess.run([sys.executable, "-m", "rocov2_fast.cli", "synth", str(corpus), "--articles", str(articles),
                        "--seed", str(seed), "--profile", "pmc"], check=True)
    return corpus


def run(method: str, corpus: Path, workers: int) -> dict:
    code = METHODS[method].format(corpus=str(corpus), workers=workers, here=str(HERE), tmp=str(OUT / "bench-scan.parquet"))
    started = time.perf_counter()
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = psutil.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    stdout, _ = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{method} failed")
    images = int(stdout.strip().splitlines()[-1])
    mb = sum(p.stat().st_size for p in corpus.rglob("*.tar.gz")) / 1e6
    # CPU of the process and every descendant it waited for (pool workers included).
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    return {"method": method, "wall_s": wall, "images": images, "images_per_s": images / wall, "archive_mb_per_s": mb / wall,
            "cpu_ms_per_image": 1000 * cpu_s / images, "peak_rss_mb": peak / 1e6, "corpus_mb": mb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="runs per method; the fastest is kept")
    ap.add_argument("--methods", default=",".join(METHODS))
    args = ap.parse_args()
    corpus = ensure_corpus(args.articles, args.seed)
    results = []
    for method in args.methods.split(","):
        runs = [run(method, corpus, args.workers) for _ in range(args.repeat)]
        results.append(min(runs, key=lambda r: r["wall_s"]))
    base = next((r for r in results if r["method"] == "rocov2-fast"), None)
    print(f"\ncorpus: {args.articles} articles, {results[0]['corpus_mb']:.0f} MB, workers={args.workers}")
    print(f"{'method':16} {'images/s':>9} {'MB/s':>7} {'CPU ms/img':>11} {'peak RSS MB':>12} {'speed-up of rocov2-fast':>24}")
    for r in results:
        ratio = (base["images_per_s"] / r["images_per_s"]) if base else float("nan")
        r["rocov2_fast_speedup"] = ratio
        print(f"{r['method']:16} {r['images_per_s']:9.1f} {r['archive_mb_per_s']:7.1f} {r['cpu_ms_per_image']:11.1f} "
              f"{r['peak_rss_mb']:12.0f} {ratio:23.2f}x")
    OUT.mkdir(exist_ok=True)
    (OUT / f"scan-{args.articles}.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: `rocov2-fast scan` against the careful (and optionally the naive) Python way and
the C floor (floor.py), on smooth and textured synth corpora side by side. Start-up is the CPU
of the same method on a one-package corpus; "less start-up" is CPU-s without it, over the floor.

Every method runs as a fresh process, as a user would run it (start-up and imports included):
`rocov2-fast scan` through its command line, the Python ways through `python -c`. The methods
take turns, `--repeat` rounds, and the best wall and the least CPU of each are kept, so every
ratio comes from one run of this script. CPU-s is user + sys of the process and every process
it waited for; peak RSS is the sampled sum over the process tree, measured at `--articles` and
on the corpus `--rss-times` over (a corpus that many times larger must not need more memory).

Targets (issue 18), on both profiles: scan CPU-s <= 1.1x the floor; scan wall >= 1.5x faster
than the careful Python way; peak RSS flat in corpus size.

    .venv/bin/python benches/bench_scan.py --articles 100 --rss-times 3 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

import floor
import python_peers

PEER = ("import sys; sys.path.insert(0, {here!r}); import python_peers as p, rocov2_fast as rf; "
        "rows = p.scan(rf.discover_sources([{corpus!r}]), {workers}, draft={draft}); "
        "print(sum(r[2] == 'ok' for r in rows), 'images ok')")


def ensure_corpus(figures: str, articles: int, seed: int, profile: str = "pmc") -> Path:
    corpus = OUT / f"corpus-{figures}-{articles}-s{seed}" if profile == "pmc" else OUT / f"corpus-{profile}-{figures}-{articles}-s{seed}"
    if not (corpus / "truth.csv").exists():
        subprocess.run([sys.executable, "-m", "rocov2_fast.cli", "synth", str(corpus), "--articles", str(articles),
                        "--seed", str(seed), "--profile", profile, "--figures", figures], check=True)
    return corpus


def ensure_replicated(corpus: Path, times: int) -> Path:
    """`corpus` `times` over, each copy under fresh PMC ids (packages repacked, the article XML's
    ids rewritten, the file list extended): a larger corpus for peak RSS, made in a minute where
    generating it would take most of an hour. The content repeats; what a scan holds per
    package or per corpus does not depend on that (the filter's near-duplicate step finds the
    copies, which is work it would do on any corpus that size)."""
    import csv
    import tarfile

    from rocov2_fast.synth import tar_gz

    big = corpus.with_name(f"{corpus.name}-x{times}")
    if (big / "oa_file_list.csv").exists():
        return big
    rows = list(csv.reader((corpus / "oa_file_list.csv").open()))
    listed = []
    for k in range(times):
        for row in rows[1:]:
            old = row[2]
            new = f"PMC{int(old[3:]) + 5_000_000 * k}"
            rel = row[0].replace(old, new)
            files = {}
            with tarfile.open(corpus / row[0]) as tar:
                for m in tar:
                    if m.isfile():
                        data = tar.extractfile(m).read()
                        name = m.name.replace(old, new, 1)
                        files[name] = data.replace(old[3:].encode(), new[3:].encode()) if name.endswith(".nxml") else data
            (big / rel).parent.mkdir(parents=True, exist_ok=True)
            (big / rel).write_bytes(tar_gz(files))
            listed.append([rel, row[1], new, *row[3:]])
    with (big / "oa_file_list.csv").open("w", newline="") as f:
        csv.writer(f).writerows([rows[0], *listed])
    return big


def command(method: str, corpus: Path, workers: int, out: Path) -> list[str]:
    if method in ("rocov2-fast", "baseline"):
        cli = Path(sys.executable).with_name("rocov2-fast")
        head = [str(cli)] if cli.exists() else [sys.executable, "-m", "rocov2_fast.cli"]
        return head + ["scan", str(corpus), "--out", str(out), "--workers", str(workers), "--no-progress"]
    draft = {"python-careful": True, "python-naive": False}[method]
    return [sys.executable, "-c", PEER.format(here=str(HERE), corpus=str(corpus), workers=workers, draft=draft)]


def images_ok(stdout: str) -> int:
    return int(re.search(r"(\d+) images ok", stdout).group(1))


def run(method: str, corpus: Path, workers: int, baseline: str | None = None) -> dict:
    """`baseline`: for the method of that name, the folder holding the rocov2_fast package to run
    (put first on PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": baseline} if method == "baseline" and baseline else None
    with tempfile.TemporaryDirectory() as tmp:
        r = python_peers.run_measured(command(method, corpus, workers, Path(tmp) / "scan.parquet"), env=env)
    r["images"] = images_ok(r.pop("stdout"))
    return r


def bench_profile(figures: str, args: argparse.Namespace) -> dict:
    corpus = ensure_corpus(figures, args.articles, args.seed)
    one = ensure_corpus(figures, 1, args.seed, profile="tiny")  # start-up: one small package
    methods = args.methods.split(",")
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for method in methods:
            r = run(method, corpus, args.workers, args.baseline)
            r["startup_cpu_s"] = run(method, one, args.workers, args.baseline)["cpu_s"]
            b = best.setdefault(method, r)
            for key in ("wall_s", "cpu_s", "peak_rss_mb", "startup_cpu_s"):
                b[key] = min(b[key], r[key])
    fl = floor.measure(corpus, args.repeat)
    if args.rss_times:
        big = ensure_replicated(corpus, args.rss_times)
        for method in methods:
            best[method]["peak_rss_mb_big"] = run(method, big, args.workers, args.baseline)["peak_rss_mb"]
    careful = best.get("python-careful")
    for r in best.values():
        r["cpu_vs_floor"] = r["cpu_s"] / fl["floor_cpu_s"]
        r["cpu_less_startup_vs_floor"] = (r["cpu_s"] - r["startup_cpu_s"]) / fl["floor_cpu_s"]
        r["cpu_vs_floor_libdeflate"] = r["cpu_s"] / fl["floor_libdeflate_cpu_s"] if "floor_libdeflate_cpu_s" in fl else None
        r["wall_speedup_vs_careful"] = careful["wall_s"] / r["wall_s"] if careful else None
    return {"figures": figures, "corpus": str(corpus), "articles": args.articles, "corpus_mb": fl["package_mb"],
            "floor": fl, "methods": best}


def print_table(results: list[dict], args: argparse.Namespace) -> None:
    big = f"RSS MB @{args.rss_times * args.articles}" if args.rss_times else ""
    print(f"\nworkers={args.workers}, best of {args.repeat}; floor = zcat + djpeg (libdeflate: libdeflate-gunzip + djpeg)")
    print(f"{'figures':9} {'method':15} {'images':>6} {'wall s':>7} {'CPU-s':>7} {'CPU/floor':>9} {'(libdeflate)':>12} "
          f"{'start-up CPU-s':>14} {'less start-up':>13} {'speed-up vs careful':>19} {f'RSS MB @{args.articles}':>13} {big:>13}")
    for res in results:
        fl = res["floor"]
        print(f"{res['figures']:9} {'C floor':15} {fl['jpegs']:6d} {'':>7} {fl['floor_cpu_s']:7.2f} {1:8.2f}x "
              f"{fl.get('floor_libdeflate_cpu_s', float('nan')):11.2f}s")
        for method, r in res["methods"].items():
            ld = r["cpu_vs_floor_libdeflate"]
            sp = r["wall_speedup_vs_careful"]
            print(f"{'':9} {method:15} {r['images']:6d} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} {r['cpu_vs_floor']:8.2f}x "
                  f"{(f'{ld:.2f}x' if ld else ''):>12} {r['startup_cpu_s']:14.2f} {r['cpu_less_startup_vs_floor']:12.2f}x "
                  f"{(f'{sp:.2f}x' if sp else ''):>19} {r['peak_rss_mb']:13.0f} "
                  f"{r.get('peak_rss_mb_big', float('nan')):13.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--rss-times", type=int, default=0,
                    help="peak RSS also on the corpus this many times over (ensure_replicated; 0: not)")
    ap.add_argument("--figures", default="smooth,textured", help="synth --figures profiles to compare")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best wall and least CPU of each method are kept")
    ap.add_argument("--methods", default="rocov2-fast,python-careful", help="also: python-naive, baseline")
    ap.add_argument("--baseline", help="for the method 'baseline': a folder holding another rocov2_fast package (with "
                                       "its _core), e.g. a copy from before a change, run as `rocov2-fast scan` with "
                                       "that folder first on PYTHONPATH")
    args = ap.parse_args()
    before = python_peers.environment()
    results = [bench_profile(figures, args) for figures in args.figures.split(",")]
    print_table(results, args)
    env = {"start": before, "end": python_peers.environment()}
    print(f"commit {before['commit']} (core built {before['core_built']}); load average {before['load_average'][0]:.1f} "
          f"at the start, {env['end']['load_average'][0]:.1f} at the end")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"scan-{args.articles}.json").write_text(json.dumps({"args": vars(args), "environment": env, "results": results}, indent=2))


if __name__ == "__main__":
    main()

"""Near-duplicate removal: (1) precision/recall on the synth corpus's planted near-duplicates
(re-encoded, resized, slightly cropped copies across articles) for several pHash radii, with and
without the AntiDupl confirmation; (2) search speed of the core's search (equal hashes grouped,
then block tables, rust/dedup.rs) against the best Python way (numpy XOR + popcount, blockwise) and,
side by side, an older build of the core (`--baseline-core path/to/_core.abi3.so`), on random +
clustered hashes and on a skewed set (many copies of a few "blank" hashes and their neighbours).
Exactness: the pairs equal numpy's for sizes up to --numpy-max; above, every pair of
--check-sample random hashes is checked against a numpy scan of all hashes.

    .venv/bin/python benches/bench_dedup.py --corpus benches/out/corpus-300-s0 --sizes 100000,1000000
    .venv/bin/python benches/bench_dedup.py --skip-quality --sizes 100000,1000000,4000000,16000000 --search-radius 6
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import itertools
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

import rocov2_fast as rf
from rocov2_fast._core import antidupl_confirms, near_duplicate_pairs


def planted_quality(corpus: Path, radii: list[int]) -> list[dict]:
    truth = {(r["pmcid"], r["graphic"]): r["duplicate_of"] for r in csv.DictReader((corpus / "truth.csv").open())}
    ids, hashes, thumbs, aspects = [], [], [], []
    for src in rf.iter_sources([corpus], with_pixels=False, with_bytes=True):
        t = src.table.to_pydict()
        for pmcid, graphic, status, phash, thumb, w, h in zip(t["pmcid"], t["graphic"], t["status"], t["phash"], t["thumb32"], t["width"], t["height"]):
            if status == "ok":
                ids.append(f"{pmcid}/{graphic}")
                hashes.append(int(phash, 16))
                thumbs.append(thumb)
                aspects.append(w / h)
    index = {k: i for i, k in enumerate(ids)}
    clusters: dict[str, set[int]] = {}
    for (pmcid, graphic), source in truth.items():
        if source and f"{pmcid}/{graphic}" in index and source in index:
            clusters.setdefault(source, {index[source]}).add(index[f"{pmcid}/{graphic}"])
    true_pairs = {tuple(sorted(p)) for c in clusters.values() for p in itertools.combinations(c, 2)}
    results = []
    for r in radii:
        candidates = {(i, j) for i, j, _ in near_duplicate_pairs(hashes, r)}
        confirmed = {(i, j) for i, j in candidates if antidupl_confirms(thumbs[i], thumbs[j], aspects[i], aspects[j])}
        for name, found in (("pHash only", candidates), ("pHash + AntiDupl", confirmed)):
            tp = len(found & true_pairs)
            results.append({"radius": r, "rule": name, "found": len(found), "true_pairs": len(true_pairs), "tp": tp,
                            "precision": tp / len(found) if found else 1.0, "recall": tp / len(true_pairs) if true_pairs else 1.0})
    return results, len(ids)


def synthetic_hashes(n: int, seed: int = 0) -> np.ndarray:
    """Random 64-bit hashes, a tenth of them in clusters of near copies (1-6 bits flipped)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, n, dtype=np.uint64) | (rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(63))
    copies = rng.integers(0, n, n // 10)
    flips = np.zeros(n // 10, np.uint64)
    for _ in range(3):
        flips ^= np.uint64(1) << rng.integers(0, 64, n // 10).astype(np.uint64)
    base[rng.integers(0, n, n // 10)] = base[copies] ^ flips
    return base


def skewed_hashes(n: int, seed: int = 0) -> np.ndarray:
    """Like real figure hashes: the random + clustered set, with 2 % replaced by copies of n / 5000
    "blank" hashes (groups of about 100 equal values, whatever n) and 2 % by those hashes with
    0-4 bits flipped."""
    rng = np.random.default_rng(seed + 1)
    hashes = synthetic_hashes(n, seed)
    b = max(n // 5000, 20)
    blanks = rng.integers(0, 2**63, b, dtype=np.uint64)
    k = n // 50
    hashes[rng.integers(0, n, k)] = blanks[rng.integers(0, b, k)]
    near = blanks[rng.integers(0, b, k)]
    for _ in range(4):
        near ^= (np.uint64(1) << rng.integers(0, 64, k).astype(np.uint64)) * rng.integers(0, 2, k).astype(np.uint64)
    hashes[rng.integers(0, n, k)] = near
    return hashes


def numpy_pairs(hashes: np.ndarray, radius: int, block: int = 2048) -> set[tuple[int, int, int]]:
    found = set()
    for start in range(0, len(hashes), block):
        d = np.bitwise_count(hashes[start:start + block, None] ^ hashes[None, start:])
        i, j = np.nonzero(np.triu(d <= radius, k=1))
        found.update(zip((i + start).tolist(), (j + start).tolist(), d[i, j].tolist()))
    return found


def check_sample(hashes: np.ndarray, pairs: list[tuple[int, int, int]], radius: int, sample: int) -> int:
    """Every pair of `sample` random hashes against a numpy scan of all hashes; returns pairs checked."""
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 3)
    rng = np.random.default_rng(1)
    checked = 0
    for i in rng.choice(len(hashes), size=min(sample, len(hashes)), replace=False).tolist():
        d = np.bitwise_count(hashes ^ hashes[i])
        (expected,) = np.nonzero(d <= radius)
        expected = {(min(i, j), max(i, j), int(d[j])) for j in expected.tolist() if j != i}
        mine = arr[(arr[:, 0] == i) | (arr[:, 1] == i)]
        assert set(map(tuple, mine.tolist())) == expected, f"hash {i}: pairs differ from brute force"
        checked += len(expected)
    return checked


def load_baseline(path: Path):
    """An older build of the core, loaded beside the current one (its module is named _core)."""
    spec = importlib.util.spec_from_file_location("_core", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["_baseline_core"] = module
    return module


def timed(fn, *args):
    cpu = time.process_time()
    started = time.perf_counter()
    out = fn(*args)
    return out, round(time.perf_counter() - started, 4), round(time.process_time() - cpu, 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=Path("benches/out/corpus-300-s0"))
    ap.add_argument("--skip-quality", action="store_true", help="only the speed part (no corpus needed)")
    ap.add_argument("--radii", default="4,6,8,10,12,14")
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--kinds", default="random,skewed", help="hash sets: random (random + clustered), skewed")
    ap.add_argument("--search-radius", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="core threads (0: every core)")
    ap.add_argument("--numpy-max", type=int, default=100000, help="largest size the numpy brute force is run on")
    ap.add_argument("--check-sample", type=int, default=100, help="hashes checked against numpy above --numpy-max")
    ap.add_argument("--baseline-core", type=Path, help="an older _core.abi3.so to time side by side")
    ap.add_argument("--baseline-max", type=int, default=1000000, help="largest size the baseline is run on")
    args = ap.parse_args()
    report = {}
    if not args.skip_quality:
        quality, n_images = planted_quality(args.corpus, [int(r) for r in args.radii.split(",")])
        print(f"planted near-duplicates in {args.corpus} ({n_images} decoded images)")
        print(f"{'radius':>6} {'rule':18} {'pairs found':>11} {'true':>5} {'precision':>9} {'recall':>7}")
        for q in quality:
            print(f"{q['radius']:>6} {q['rule']:18} {q['found']:>11} {q['true_pairs']:>5} {q['precision']:>9.3f} {q['recall']:>7.3f}")
        report["quality"] = quality
    baseline = load_baseline(args.baseline_core) if args.baseline_core else None
    speed = []
    r = args.search_radius
    for kind in args.kinds.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            hashes = (synthetic_hashes if kind == "random" else skewed_hashes)(n)
            as_list = hashes.tolist()
            pairs, wall, cpu = timed(lambda: near_duplicate_pairs(as_list, r, threads=args.threads))
            row = {"kind": kind, "n": n, "radius": r, "pairs": len(pairs), "core_s": wall, "core_cpu_s": cpu,
                   "max_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}
            if baseline is not None and n <= args.baseline_max:
                old, row["baseline_s"], row["baseline_cpu_s"] = timed(lambda: baseline.near_duplicate_pairs(as_list, r, threads=args.threads))
                assert old == pairs, "the baseline core found other pairs"
                row["speedup_vs_baseline"] = round(row["baseline_s"] / max(wall, 1e-4), 1)
            if n <= args.numpy_max:
                expected, row["numpy_s"], _ = timed(numpy_pairs, hashes, r)
                row["speedup_vs_numpy"] = round(row["numpy_s"] / max(wall, 1e-4), 1)
                assert expected == set(pairs), "pairs differ from numpy's brute force"
                row["checked"] = "all pairs = numpy"
            else:
                row["checked"] = f"{check_sample(hashes, pairs, r, args.check_sample)} pairs of {args.check_sample} sampled hashes = numpy"
            speed.append(row)
            print(json.dumps(row), flush=True)
            del as_list, pairs
    report["speed"] = speed
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "dedup.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

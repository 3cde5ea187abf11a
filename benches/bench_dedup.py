"""Near-duplicate removal: (1) precision/recall on the synth corpus's planted near-duplicates
(re-encoded, resized, slightly cropped copies across articles) for several pHash radii, with and
without the AntiDupl confirmation; (2) search speed of the core's multi-index hashing against
the best Python way (numpy XOR + popcount, blockwise) on random + clustered hashes.

    .venv/bin/python benches/bench_dedup.py --corpus benches/out/corpus-300-s0 --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
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


def numpy_pairs(hashes: np.ndarray, radius: int, block: int = 2048) -> int:
    count = 0
    for start in range(0, len(hashes), block):
        x = hashes[start:start + block, None] ^ hashes[None, start:]
        d = np.bitwise_count(x)
        count += int(np.triu(d <= radius, k=1).sum())
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=Path("benches/out/corpus-300-s0"))
    ap.add_argument("--radii", default="4,6,8,10,12,14")
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--search-radius", type=int, default=8)
    ap.add_argument("--numpy-max", type=int, default=100000, help="largest size the numpy brute force is run on")
    args = ap.parse_args()
    report = {}
    quality, n_images = planted_quality(args.corpus, [int(r) for r in args.radii.split(",")])
    print(f"planted near-duplicates in {args.corpus} ({n_images} decoded images)")
    print(f"{'radius':>6} {'rule':18} {'pairs found':>11} {'true':>5} {'precision':>9} {'recall':>7}")
    for q in quality:
        print(f"{q['radius']:>6} {q['rule']:18} {q['found']:>11} {q['true_pairs']:>5} {q['precision']:>9.3f} {q['recall']:>7.3f}")
    report["quality"] = quality
    speed = []
    for n in (int(s) for s in args.sizes.split(",")):
        hashes = synthetic_hashes(n)
        started = time.perf_counter()
        pairs = near_duplicate_pairs(hashes.tolist(), args.search_radius)
        ours = time.perf_counter() - started
        row = {"n": n, "radius": args.search_radius, "pairs": len(pairs), "core_s": round(ours, 3)}
        if n <= args.numpy_max:
            started = time.perf_counter()
            expected = numpy_pairs(hashes, args.search_radius)
            row["numpy_s"] = round(time.perf_counter() - started, 3)
            row["speedup"] = round(row["numpy_s"] / ours, 1)
            assert expected == len(pairs), (expected, len(pairs))
        speed.append(row)
        print(json.dumps(row))
    report["speed"] = speed
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "dedup.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

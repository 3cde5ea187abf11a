"""Exact vs fast perceptual hashes: what bit-exact `imagehash` pHash/dHash (hashing the full-size
decode, `scan --exact-hash`) costs over the fast path (hashing a reduced decode), and how far the
fast path's hashes are from `imagehash` on smooth and textured figures.

Two levels, each run side by side in one process (fast and exact alternate, best of --repeats):
1. the scan itself (`rocov2_fast.iter_sources`, no pixels, as `rocov2-fast scan` runs it) over a
   synth corpus per profile: process CPU-s (all threads) and wall-s;
2. decode + hash of single images (`decode_image`, the scan's fast-path rule: reduced decode, full
   re-decode when more than MAX_FRAGILE_BITS dHash bits are fragile) on real images: the CC BY chest
   radiographs of ../shared/data, matplotlib's sample photographs, and generated noise textures.
Hamming distances to `imagehash` on Pillow's full decode are printed as distributions {d: count}.
3. the Pillow-exact Lanczos itself: both hashes of uncompressed TIFFs (decoding them is a copy),
   against Pillow's resize and, side by side, an older build of the core (`--baseline-core`).

    .venv/bin/python benches/bench_hashes.py --corpus smooth=benches/out/corpus-smooth-100-s0 \\
        --corpus textured=benches/out/corpus-textured-100-s0
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import tarfile
import time
from collections import Counter
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

import rocov2_fast as rf
from rocov2_fast import _core

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif")
FAST_MIN_SIDE = 224  # records.rs HASH_MIN_SIDE: the scan's reduced decode keeps both sides >= this
MAX_FRAGILE_BITS = 20  # hash.rs: above this many fragile dHash bits the scan re-hashes the full image


def reference_hashes(data: bytes) -> tuple[imagehash.ImageHash, imagehash.ImageHash] | None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except OSError:
        return None  # planted corrupt images
    return imagehash.phash(image), imagehash.dhash(image)


def corpus_images(corpus: Path) -> dict[str, bytes]:
    images = {}
    for package in sorted(corpus.rglob("*.tar.gz")):
        with tarfile.open(package) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.lower().endswith(IMAGE_SUFFIXES):
                    images[f"{package}::{member.name}"] = tar.extractfile(member).read()
    return images


def distribution(ours: dict[str, tuple[str, str]], reference: dict) -> dict:
    p, d = Counter(), Counter()
    for name, (phash, dhash) in ours.items():
        if name in reference:
            p[int(reference[name][0] - imagehash.hex_to_hash(phash))] += 1
            d[int(reference[name][1] - imagehash.hex_to_hash(dhash))] += 1
    n = sum(p.values())
    within = lambda c: round(sum(v for k, v in c.items() if k <= 4) / n, 4) if n else None  # noqa: E731
    return {"n": n, "phash": dict(sorted(p.items())), "dhash": dict(sorted(d.items())),
            "phash_within_4": within(p), "dhash_within_4": within(d)}


def scan_once(corpus: Path, exact: bool, workers: int) -> tuple[dict, float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    hashes, full = {}, 0
    for src in rf.iter_sources([corpus], workers=workers, with_pixels=False, exact_hash=exact):
        t = src.table.to_pydict()
        for archive, member, status, phash, dhash, is_exact in zip(
                t["archive"], t["member"], t["status"], t["phash"], t["dhash"], t["hash_exact"]):
            if status == "ok":
                hashes[f"{archive}::{member}"] = (phash, dhash)
                full += bool(is_exact)
    return hashes, time.process_time() - cpu, time.perf_counter() - wall, full


def bench_corpus(name: str, corpus: Path, repeats: int, workers: int) -> dict:
    reference = {k: r for k, v in corpus_images(corpus).items() if (r := reference_hashes(v)) is not None}
    runs = {"fast": [], "exact": []}
    hashes = {}
    for _ in range(repeats):
        for mode in ("fast", "exact"):
            hashes[mode], cpu, wall, full = scan_once(corpus, mode == "exact", workers)
            runs[mode].append((cpu, wall, full))
    row = {"profile": name, "corpus": str(corpus), "images": len(hashes["fast"])}
    for mode in ("fast", "exact"):
        cpu, wall, full = min(runs[mode])
        row[mode] = {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "hashed_from_full_image": full,
                     **distribution(hashes[mode], reference)}
    row["exact_cpu_over_fast"] = round(row["exact"]["cpu_s"] / row["fast"]["cpu_s"], 3)
    return row


def noise_textures(count: int, seed: int = 0) -> dict[str, bytes]:
    """Fractal (1/f) noise plus pixel noise, 800-2000 px, a sixth of them progressive JPEGs."""
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(count):
        h, w = (int(v) for v in rng.integers(800, 2000, 2))
        spectrum = np.fft.rfft2(rng.standard_normal((h, w)))
        fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
        field = np.fft.irfft2(spectrum / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w)) ** 1.2, s=(h, w))
        field = (field - field.mean()) / field.std() * 40 + 128 + rng.normal(0, 12, (h, w))
        gray = np.clip(field, 0, 255).astype(np.uint8)
        image = Image.fromarray(np.stack([gray, np.roll(gray, 7, 1), np.roll(gray, 13, 0)], -1) if k % 2 else gray)
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=int(rng.integers(85, 96)), progressive=k % 6 == 0)
        out[f"noise-{k}.jpg"] = buf.getvalue()
    return out


def real_images(noise: int) -> dict[str, bytes]:
    images = {}
    xrays = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-figures" / "chest-xray-cc-by"
    for path in sorted(xrays.glob("*.jpg")):
        images[f"xray/{path.name}"] = path.read_bytes()
    import matplotlib.cbook as cbook
    for sample in ("grace_hopper.jpg",):
        images[f"matplotlib/{sample}"] = cbook.get_sample_data(sample).read()
    images.update(noise_textures(noise))
    return images


def fast_hashes(data: bytes) -> tuple[str, str, bool]:
    d = _core.decode_image(data, reduce_to=FAST_MIN_SIDE)
    reduced = (d["pixels"].shape[1], d["pixels"].shape[0]) != (d["width"], d["height"])
    if reduced and d["fragile_dhash_bits"] > MAX_FRAGILE_BITS:
        d = _core.decode_image(data)
        reduced = False
    return d["phash"], d["dhash"], not reduced


def bench_images(images: dict[str, bytes], repeats: int) -> dict:
    reference = {k: r for k, v in images.items() if (r := reference_hashes(v)) is not None}
    out = {"images": len(images)}
    cpus = {"fast": [], "exact": []}
    hashes = {}
    for _ in range(repeats):
        for mode in ("fast", "exact"):
            cpu = time.process_time()
            if mode == "fast":
                hashes[mode] = {k: fast_hashes(v)[:2] for k, v in images.items()}
            else:
                hashes[mode] = {k: (d["phash"], d["dhash"]) for k, v in images.items() for d in [_core.decode_image(v)]}
            cpus[mode].append(time.process_time() - cpu)
    for mode in ("fast", "exact"):
        out[mode] = {"cpu_s": round(min(cpus[mode]), 3), **distribution(hashes[mode], reference)}
    out["exact_cpu_over_fast"] = round(out["exact"]["cpu_s"] / out["fast"]["cpu_s"], 3)
    return out


def bench_lanczos(baseline: Path | None, repeats: int) -> dict:
    """CPU-ms per image for both exact hashes of a large uncompressed TIFF (gray and RGB)."""
    rng = np.random.default_rng(3)
    modules = {"core": _core}
    if baseline is not None:
        spec = importlib.util.spec_from_file_location("_core", baseline)
        modules["baseline_core"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules["baseline_core"])
    out = {}
    for mode, shape in (("L", (1500, 2000)), ("RGB", (1500, 2000, 3))):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, "TIFF")
        data = buf.getvalue()
        row = {}
        for name, module in modules.items():
            module.decode_image(data)
            cpu = time.process_time()
            for _ in range(repeats):
                module.decode_image(data)
            row[f"{name}_ms"] = round((time.process_time() - cpu) / repeats * 1e3, 2)
        image = Image.open(io.BytesIO(data))
        image.load()
        cpu = time.process_time()
        for _ in range(repeats):
            gray = image.convert("L")
            gray.resize((32, 32), Image.Resampling.LANCZOS)
            gray.resize((9, 8), Image.Resampling.LANCZOS)
        row["pillow_convert_and_resize_ms"] = round((time.process_time() - cpu) / repeats * 1e3, 2)
        out[f"2000x1500 {mode}"] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", default=[], metavar="NAME=DIR",
                    help="a synth corpus and its profile name (repeatable)")
    ap.add_argument("--noise", type=int, default=24, help="generated noise textures in the single-image set")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline-core", type=Path, help="an older _core.abi3.so for the Lanczos part")
    ap.add_argument("--skip-images", action="store_true", help="skip the single-image part")
    args = ap.parse_args()
    report = {"scan": [], "images": None}
    for spec in args.corpus:
        name, _, corpus = spec.partition("=")
        row = bench_corpus(name, Path(corpus), args.repeats, args.workers)
        report["scan"].append(row)
        print(json.dumps(row), flush=True)
    if not args.skip_images:
        report["images"] = bench_images(real_images(args.noise), args.repeats)
        print(json.dumps(report["images"]), flush=True)
    report["lanczos"] = bench_lanczos(args.baseline_core, 10 * args.repeats)
    print(json.dumps(report["lanczos"]), flush=True)
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "hashes.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

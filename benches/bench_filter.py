"""Benchmark: `rocov2-fast filter` (CPU) vs the careful Python way of the same steps on the same
corpus and models: licence from the file list, `tarfile` streaming, lxml, Pillow `draft` + pad to
the model size, imagehash pHash + dHash, onnxruntime compound then radiology model, one process
per core (each with single-threaded onnxruntime sessions), numpy near-duplicate search.

Both methods run as fresh processes (start-up and imports included), taking turns, so the
ratios come from one run of this script; on smooth and textured synth corpora side by side
(`--figures`), or on the corpora given with `--corpus`. Peak RSS is the sampled sum over each
process tree, also on the corpus `--rss-times` over (bench_scan.ensure_replicated).

    .venv/bin/python benches/bench_filter.py --articles 100 --rss-times 3 --workers 2
    .venv/bin/python benches/bench_filter.py --corpus benches/out/corpus-textured-100-s0
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import python_peers as peers

_models = {}


def _init(compound: str, radiology: str) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    for name, path in (("compound", compound), ("radiology", radiology)):
        _models[name] = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def pad_to(img, size: int) -> np.ndarray:
    from PIL import Image

    scale = size / max(img.size)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    canvas = Image.new("RGB", (size, size))
    canvas.paste(img.resize((w, h), Image.BILINEAR), ((size - w) // 2, (size - h) // 2))
    return np.asarray(canvas)


def filter_package(args: tuple[str, int, int]) -> list[tuple]:
    """One package, each image decoded once: tar stream, XML figures, Pillow draft + pad, hashes,
    then both models on the package's images."""
    import tarfile

    import imagehash
    from PIL import Image

    path, size, draft = args
    members, xml = {}, None
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for m in tar:
                name = m.name.rsplit("/", 1)[-1]
                if not m.isfile():
                    continue
                if name.endswith(".nxml"):
                    xml = tar.extractfile(m).read()
                elif name.lower().endswith(peers.IMAGE_EXT):
                    members[name] = tar.extractfile(m).read()
    except (tarfile.TarError, OSError, EOFError):
        return []
    if xml is None:
        return []
    pixels, keys, hashes = [], [], []
    for _fig_id, _caption, href in peers.figures(xml):
        name = peers.member_for(href or "", members)
        if name is None:
            continue
        try:
            img = Image.open(io.BytesIO(members[name]))
            if img.format == "JPEG":
                img.draft("RGB", (draft, draft))
            img = img.convert("RGB")
            pixels.append(pad_to(img, size))
            hashes.append(int(str(imagehash.phash(img)), 16))
            imagehash.dhash(img)
            keys.append(href)
        except Exception:  # noqa: BLE001, S112 - a per-image failure, like the core's status
            continue
    if not pixels:
        return []
    batch = np.stack(pixels)
    (compound,) = _models["compound"].run(["prob"], {"pixels": batch})
    single = np.flatnonzero(compound < 0.5)
    radiology = np.zeros(len(batch), np.float32)
    if len(single):
        (radiology[single],) = _models["radiology"].run(["prob"], {"pixels": batch[single]})
    return [(path, k, float(c), float(r), h) for k, c, r, h in zip(keys, compound, radiology, hashes)]


def python_filter(corpus: Path, workers: int, compound: str, radiology: str, size: int, draft: int) -> int:
    import rocov2_fast as rf

    allowed = {r["Accession ID"] for r in csv.DictReader((corpus / "oa_file_list.csv").open()) if r["License"] in ("CC BY", "CC BY-NC")}
    sources = [s for s in rf.discover_sources([str(corpus)]) if Path(s).name.split(".")[0] in allowed]
    with Pool(workers, initializer=_init, initargs=(compound, radiology)) as pool:
        rows = [r for rs in pool.imap_unordered(filter_package, [(s, size, draft) for s in sources]) for r in rs]
    kept = np.array([r[4] for r in rows if r[2] < 0.5 and r[3] >= 0.5], dtype=np.uint64)
    if len(kept) > 1:
        (np.bitwise_count(kept[:, None] ^ kept[None, :]) <= 6).sum()
    return len(rows)


def rocov2_filter(corpus: Path, workers: int) -> dict:
    """`rocov2-fast filter` as a fresh process, through its command line, as a user runs it."""
    out = Path(tempfile.mkdtemp())
    try:
        cli = Path(sys.executable).with_name("rocov2-fast")
        head = [str(cli)] if cli.exists() else [sys.executable, "-m", "rocov2_fast.cli"]
        r = peers.run_measured(head + ["filter", str(corpus), "--out", str(out / "run"), "--workers", str(workers),
                                       "--file-list", str(corpus / "oa_file_list.csv"), "--no-progress"])
        funnel = json.loads((out / "run" / "summary.json").read_text())["funnel"]
        r["images"] = funnel["images"] - funnel["removed"]["license"] - funnel["removed"]["ingest"]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return r


def python_careful(corpus: Path, workers: int, draft: int) -> dict:
    """The careful Python way as a fresh process (this script with --python-peer-only)."""
    r = peers.run_measured([sys.executable, __file__, "--python-peer-only", "--corpus", str(corpus),
                            "--workers", str(workers), "--python-draft", str(draft)])
    r["images"] = int(r["stdout"].split()[-1])
    return r


def bench_corpus(corpus: Path, big: Path | None, args: argparse.Namespace) -> dict:
    """Both methods on `corpus`, taking turns `--repeat` rounds (best wall, least CPU and RSS kept);
    then once each on the larger corpus `big` for peak RSS."""
    runs = {"rocov2-fast": lambda c: rocov2_filter(c, args.workers),
            "python-careful": lambda c: python_careful(c, args.workers, args.python_draft)}
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for method, fn in runs.items():
            r = fn(corpus)
            r.pop("stdout", None)
            b = best.setdefault(method, r)
            for key in ("wall_s", "cpu_s", "peak_rss_mb"):
                b[key] = min(b[key], r[key])
    if big is not None:
        for method, fn in runs.items():
            best[method]["peak_rss_mb_big"] = fn(big)["peak_rss_mb"]
    for r in best.values():
        r["wall_speedup_vs_careful"] = best["python-careful"]["wall_s"] / r["wall_s"]
    return {"corpus": str(corpus), "big_corpus": str(big) if big else None, "methods": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, nargs="*", help="corpora to run on (default: synth corpora of --figures)")
    ap.add_argument("--figures", default="smooth,textured", help="synth --figures profiles to compare")
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--rss-times", type=int, default=0,
                    help="peak RSS also on the corpus this many times over (bench_scan.ensure_replicated; 0: not)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python-peer-only", action="store_true", help="run the Python way once and print its image count")
    ap.add_argument("--python-draft", type=int, default=128,
                    help="JPEG draft size of the Python way: 128 (the model's input size: cheapest, hashes from a "
                         "smaller image) or 224 (the size rocov2-fast hashes from)")
    args = ap.parse_args()
    if args.python_peer_only:
        from rocov2_fast.filter.models import default_model_path

        compound, radiology = str(default_model_path("compound")), str(default_model_path("radiology"))
        print(python_filter(args.corpus[0], args.workers, compound, radiology, 128, args.python_draft))
        return
    from bench_scan import ensure_corpus, ensure_replicated

    if args.corpus:
        pairs = [(c, None) for c in args.corpus]
    else:
        corpora = [ensure_corpus(f, args.articles, args.seed) for f in args.figures.split(",")]
        pairs = [(c, ensure_replicated(c, args.rss_times) if args.rss_times else None) for c in corpora]
    before = peers.environment()
    results = [bench_corpus(c, big, args) for c, big in pairs]
    env = {"start": before, "end": peers.environment()}
    print(f"\nworkers {args.workers}, python draft {args.python_draft}, best of {args.repeat}")
    print(f"{'corpus':28} {'method':15} {'images':>6} {'wall s':>7} {'CPU-s':>7} {'speed-up vs careful':>19} "
          f"{'peak RSS MB':>11} {'(larger corpus)':>15}")
    for res in results:
        for method, r in res["methods"].items():
            print(f"{Path(res['corpus']).name:28} {method:15} {r['images']:6d} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} "
                  f"{r['wall_speedup_vs_careful']:18.2f}x {r['peak_rss_mb']:11.0f} {r.get('peak_rss_mb_big', float('nan')):15.0f}")
    print(f"commit {before['commit']} (core built {before['core_built']}); load average {before['load_average'][0]:.1f} "
          f"at the start, {env['end']['load_average'][0]:.1f} at the end")
    out = HERE / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "filter.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "environment": env,
                                                 "results": results}, indent=2))


if __name__ == "__main__":
    main()

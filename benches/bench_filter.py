"""Benchmark: `rocov2-fast filter` (CPU) vs the careful Python way of the same steps on the same
corpus and models: licence from the file list, `tarfile` streaming, lxml, Pillow `draft` + pad to
the model size, imagehash pHash + dHash, onnxruntime compound then radiology model, one process
per core (each with single-threaded onnxruntime sessions), numpy near-duplicate search.

    .venv/bin/python benches/bench_filter.py --corpus benches/out/corpus-100-s0 --workers 2
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

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

    import python_peers as peers

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
        except Exception:  # noqa: BLE001 - a per-image failure, like the core's status
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


def timed(command: list[str]) -> tuple[float, str]:
    """Wall seconds and stdout of a command in a fresh process: both methods pay for starting
    Python and their imports, as a user running either would."""
    started = time.perf_counter()
    stdout = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - started, stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=HERE / "out" / "corpus-100-s0")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--python-peer-only", action="store_true", help="run the Python way once and print its image count")
    ap.add_argument("--python-draft", type=int, default=128,
                    help="JPEG draft size of the Python way: 128 (the model's input size: cheapest, hashes from a "
                         "smaller image) or 224 (the size rocov2-fast hashes from)")
    args = ap.parse_args()
    from rocov2_fast.filter.models import default_model_path

    compound, radiology = str(default_model_path("compound")), str(default_model_path("radiology"))
    if args.python_peer_only:
        print(python_filter(args.corpus, args.workers, compound, radiology, 128, args.python_draft))
        return
    results = {}
    for _ in range(args.repeat):
        out = Path(tempfile.mkdtemp())
        wall, _ = timed([sys.executable, "-m", "rocov2_fast.cli", "filter", str(args.corpus), "--out", str(out),
                      "--workers", str(args.workers), "--file-list", str(args.corpus / "oa_file_list.csv"), "--no-progress"])
        summary = json.loads((out / "summary.json").read_text())
        scored = summary["funnel"]["images"] - summary["funnel"]["removed"]["license"] - summary["funnel"]["removed"]["ingest"]
        shutil.rmtree(out)
        results["rocov2-fast"] = min(results.get("rocov2-fast", (1e9, 0)), (wall, scored))
        peer = [sys.executable, __file__, "--python-peer-only", "--corpus", str(args.corpus), "--workers", str(args.workers),
                "--python-draft", str(args.python_draft)]
        wall, stdout = timed(peer)
        results["python-careful"] = min(results.get("python-careful", (1e9, 0)), (wall, int(stdout.split()[-1])))
    base = results["rocov2-fast"][1] / results["rocov2-fast"][0]
    print(f"corpus {args.corpus.name}, workers {args.workers}, python draft {args.python_draft}")
    for method, (wall, images) in results.items():
        rate = images / wall
        print(f"{method:16} {images:5d} images scored in {wall:6.2f} s = {rate:6.1f} images/s   rocov2-fast speed-up {base / rate:4.2f}x")
    (HERE / "out" / "filter.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

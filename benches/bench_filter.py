"""Benchmark: `rocov2-fast filter` (CPU) vs the careful Python way of the same work on the same
corpus and models: licence from the file list (excluded packages never opened), `tarfile`
streaming, lxml, Pillow `draft` (to 224 px, as filter hashes) + pad to the model size, imagehash
pHash + dHash and a 32×32 gray thumbnail, onnxruntime compound then radiology model with the
models' thresholds, one process per core (each with single-threaded onnxruntime sessions), the
kept images' original bytes written, numpy near-duplicate search confirmed by AntiDupl's rule
(duplicates' files removed), and the manifest written as one parquet file. What filter does
beyond it: the layout detector, caption evidence, image ids, shards with markers (resume), the
summary and the funnel picture.

Both methods run as fresh processes (start-up and imports included), taking turns, so the
ratios come from one run of this script; on smooth and textured synth corpora side by side
(`--figures`), or on the corpora given with `--corpus`. Peak RSS is the sampled sum over each
process tree, also on the corpus `--rss-times` over (bench_scan.ensure_replicated; e.g. `3,6`).

    .venv/bin/python benches/bench_filter.py --articles 100 --rss-times 3,6 --workers 2
    .venv/bin/python benches/bench_filter.py --corpus benches/out/corpus-textured-100-s0

Other ways of running `filter` take their turns beside them: `--variant LABEL="ARGS"` (the same
code with other filter options, e.g. `--variant s16="--shard-size 16"`), and `--baseline DIR`
(`filter` from another copy of the code: DIR/python first on PYTHONPATH), so a change is measured
against the code before it in one run, on one machine, under one load. Such a copy of commit C:

    git archive C python models | tar -x -C DIR     # the package and the models its link points to
    git worktree add /tmp/c-src C && (cd /tmp/c-src && maturin build --release -o dist)  # C's core
    unzip -o -j /tmp/c-src/dist/*.whl 'rocov2_fast/_core.abi3.so' -d DIR/python/rocov2_fast/
    # (or copy python/rocov2_fast/_core.abi3.so of this checkout when C's rust/ is the same)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
import shutil
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import python_peers as peers

_models: dict = {}
_out: list[Path] = []


def _init(compound: str, radiology: str, out: str) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    for name, path in (("compound", compound), ("radiology", radiology)):
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        _models[name] = (session, float(session.get_modelmeta().custom_metadata_map["threshold"]))
    _out.append(Path(out))


def pad_to(img, size: int) -> np.ndarray:
    from PIL import Image

    scale = size / max(img.size)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    canvas = Image.new("RGB", (size, size))
    canvas.paste(img.resize((w, h), Image.BILINEAR), ((size - w) // 2, (size - h) // 2))
    return np.asarray(canvas)


def filter_package(args: tuple[str, int, int]) -> list[dict]:
    """One package, each image decoded once: tar stream, XML figures, Pillow draft + pad, pHash,
    dHash and the 32×32 gray thumbnail for the near-duplicate check, both models on the package's
    images with the models' thresholds; the original bytes of the images both models keep are
    written to OUT/images (the parent removes near-duplicates). → one manifest row per figure."""
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
    except (tarfile.TarError, OSError, EOFError) as e:
        return [{"archive": path, "status": "bad_archive", "error": str(e)}]
    if xml is None:
        return [{"archive": path, "status": "no_xml"}]
    rows, pixels = [], []
    for fig_id, caption, href in peers.figures(xml):
        row = {"archive": path, "figure": fig_id, "graphic": href, "caption": caption}
        rows.append(row)
        name = peers.member_for(href or "", members)
        if name is None:
            row["status"] = "missing_image"
            continue
        try:
            img = Image.open(io.BytesIO(members[name]))
            row["width"], row["height"] = img.size
            if img.format == "JPEG":
                img.draft("RGB", (draft, draft))
            img = img.convert("RGB")
            pixels.append(pad_to(img, size))
            row["phash"], row["dhash"] = str(imagehash.phash(img)), str(imagehash.dhash(img))
            row["thumb32"] = img.convert("L").resize((32, 32), Image.BILINEAR).tobytes()
            row["status"], row["member"], row["pixel"] = "ok", name, len(pixels) - 1
        except Exception as e:  # noqa: BLE001 - a per-image status, like the core's
            row["status"], row["error"] = "decode_error", str(e)
    if pixels:
        batch = np.stack(pixels)
        (compound_model, compound_threshold), (radiology_model, radiology_threshold) = _models["compound"], _models["radiology"]
        (compound,) = compound_model.run(["prob"], {"pixels": batch})
        single = np.flatnonzero(compound < compound_threshold)
        radiology = np.full(len(batch), np.nan, np.float32)
        if len(single):
            (radiology[single],) = radiology_model.run(["prob"], {"pixels": batch[single]})
        for row in rows:
            if "pixel" in row:
                k = row.pop("pixel")
                row["compound_score"], row["radiology_score"] = float(compound[k]), float(radiology[k])
                row["fate"] = "kept" if compound[k] < compound_threshold and radiology[k] >= radiology_threshold else "dropped"
                if row["fate"] == "kept":
                    row["image_path"] = f"images/{Path(path).name.split('.')[0]}_{row['member']}"
                    (_out[0] / row["image_path"]).write_bytes(members[row["member"]])
    return rows


def near_duplicates(kept: list[dict], radius: int = 6) -> dict[int, int]:
    """AntiDupl's rule over pHash candidates (numpy, all pairs): thumbnails' RMS difference ≤ 5 %
    of full scale and aspect ratios within 3 %; clusters kept by their largest image.
    → {row: the row it duplicates}."""
    if len(kept) < 2:
        return {}
    hashes = np.array([int(r["phash"], 16) for r in kept], dtype=np.uint64)
    i, j = np.nonzero(np.triu(np.bitwise_count(hashes[:, None] ^ hashes[None, :]) <= radius, k=1))
    thumbs = np.stack([np.frombuffer(r["thumb32"], np.uint8) for r in kept]).astype(np.float32)
    aspect = np.array([r["width"] / r["height"] for r in kept])
    parent = list(range(len(kept)))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(i.tolist(), j.tolist()):
        rms = np.sqrt(np.mean((thumbs[a] - thumbs[b]) ** 2)) / 255
        if rms <= 0.05 and abs(aspect[a] / aspect[b] - 1) <= 0.03:
            parent[root(a)] = root(b)
    clusters: dict[int, list[int]] = {}
    for a in range(len(kept)):
        clusters.setdefault(root(a), []).append(a)
    out = {}
    for members in (c for c in clusters.values() if len(c) > 1):
        best = max(members, key=lambda a: kept[a]["width"] * kept[a]["height"])
        out.update({a: best for a in members if a != best})
    return out


def python_filter(corpus: Path, workers: int, compound: str, radiology: str, size: int, draft: int, out: Path) -> int:
    """The careful Python way of what `filter` does: licence from the file list (excluded packages
    never opened, one row each), per package in a process pool (`filter_package`), near-duplicates
    over the kept images (files of duplicates removed), then the manifest as one parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import rocov2_fast as rf

    (out / "images").mkdir(parents=True, exist_ok=True)
    listed = {r["Accession ID"]: r["License"] for r in csv.DictReader((corpus / "oa_file_list.csv").open())}
    sources = rf.discover_sources([str(corpus)])
    allowed = [s for s in sources if listed.get(Path(s).name.split(".")[0]) in ("CC BY", "CC BY-NC")]
    rows = [{"archive": s, "status": "not_read", "license": listed.get(Path(s).name.split(".")[0]), "fate": "dropped"}
            for s in sources if s not in set(allowed)]
    with Pool(workers, initializer=_init, initargs=(compound, radiology, str(out))) as pool:
        for package_rows in pool.imap(filter_package, [(s, size, draft) for s in allowed]):
            rows.extend(package_rows)
    kept = [r for r in rows if r.get("fate") == "kept"]
    for a, b in near_duplicates(kept).items():
        kept[a].update(fate="dropped", duplicate_of=kept[b]["image_path"])
        (out / kept[a].pop("image_path")).unlink()
    for r in rows:
        r.setdefault("fate", "dropped")
    columns = sorted({k for r in rows for k in r})
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.binary() if c == "thumb32" else
                                                                    pa.float32() if c.endswith("_score") else
                                                                    pa.int32() if c in ("width", "height") else pa.string())
                                                                   for c in columns])),
                   out / "manifest.parquet", compression="zstd")
    return sum(1 for r in rows if "compound_score" in r)


def rocov2_filter(corpus: Path, workers: int, extra: list[str] = (), code: Path | None = None) -> dict:
    """`rocov2-fast filter` as a fresh process, through its command line, as a user runs it (with
    `extra` options; the code of `code`/python when given)."""
    out = Path(tempfile.mkdtemp())
    env = {**os.environ, "PYTHONPATH": str(code / "python")} if code else None
    try:
        cli = Path(sys.executable).with_name("rocov2-fast")
        head = [str(cli)] if cli.exists() else [sys.executable, "-m", "rocov2_fast.cli"]
        r = peers.run_measured(head + ["filter", str(corpus), "--out", str(out / "run"), "--workers", str(workers),
                                       "--file-list", str(corpus / "oa_file_list.csv"), "--no-progress", *extra], env=env)
        funnel = json.loads((out / "run" / "summary.json").read_text())["funnel"]
        r["images"] = funnel["images"] - funnel["removed"]["license"] - funnel["removed"]["ingest"]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return r


def python_careful(corpus: Path, workers: int, draft: int) -> dict:
    """The careful Python way as a fresh process (this script with --python-peer-only)."""
    out = Path(tempfile.mkdtemp())
    try:
        r = peers.run_measured([sys.executable, __file__, "--python-peer-only", "--corpus", str(corpus),
                                "--workers", str(workers), "--python-draft", str(draft), "--python-out", str(out / "run")])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    r["images"] = int(r["stdout"].split()[-1])
    return r


def bench_corpus(corpus: Path, big: dict[int, Path], args: argparse.Namespace) -> dict:
    """Both methods on `corpus`, taking turns `--repeat` rounds (best wall, least CPU and RSS kept);
    then once each on the larger corpora `big` ({times: corpus}) for peak RSS."""
    runs = {"rocov2-fast": lambda c: rocov2_filter(c, args.workers)}
    if args.baseline:
        runs["rocov2-fast@base"] = lambda c: rocov2_filter(c, args.workers, code=args.baseline)
    for label, options in (v.split("=", 1) for v in args.variant):
        runs[f"rocov2-fast {label}"] = lambda c, o=shlex.split(options): rocov2_filter(c, args.workers, o)
    runs["python-careful"] = lambda c: python_careful(c, args.workers, args.python_draft)
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for method, fn in runs.items():
            r = fn(corpus)
            r.pop("stdout", None)
            b = best.setdefault(method, r)
            for key in ("wall_s", "cpu_s", "peak_rss_mb"):
                b[key] = min(b[key], r[key])
    for times, corpus_times in big.items():
        for method, fn in runs.items():
            best[method][f"peak_rss_mb_x{times}"] = fn(corpus_times)["peak_rss_mb"]
    for r in best.values():
        r["wall_speedup_vs_careful"] = best["python-careful"]["wall_s"] / r["wall_s"]
    return {"corpus": str(corpus), "big_corpora": {t: str(c) for t, c in big.items()}, "methods": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, nargs="*", help="corpora to run on (default: synth corpora of --figures)")
    ap.add_argument("--figures", default="smooth,textured", help="synth --figures profiles to compare")
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--rss-times", default="",
                    help="peak RSS also on the corpus this many times over, comma-separated (bench_scan.ensure_replicated; '': not)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variant", action="append", default=[], metavar='LABEL="ARGS"',
                    help="also run filter with these options (repeatable), labelled 'rocov2-fast LABEL'")
    ap.add_argument("--baseline", type=Path, help="also run filter from this copy of the code (DIR/python), as 'rocov2-fast@base'")
    ap.add_argument("--python-peer-only", action="store_true", help="run the Python way once and print its image count")
    ap.add_argument("--python-draft", type=int, default=224,
                    help="JPEG draft size of the Python way: 224 (the size rocov2-fast hashes from, and the careful way "
                         "of bench_scan and issue 18) or 128 (the model's input size: cheaper, hashes from a smaller image)")
    ap.add_argument("--python-out", type=Path, help="(with --python-peer-only) where the Python way writes its manifest and images")
    args = ap.parse_args()
    if args.python_peer_only:
        from rocov2_fast.filter.models import default_model_path

        compound, radiology = str(default_model_path("compound")), str(default_model_path("radiology"))
        print(python_filter(args.corpus[0], args.workers, compound, radiology, 128, args.python_draft, args.python_out))
        return
    from bench_scan import ensure_corpus, ensure_replicated

    if args.corpus:
        pairs = [(c, {}) for c in args.corpus]
    else:
        corpora = [ensure_corpus(f, args.articles, args.seed) for f in args.figures.split(",")]
        times = [int(t) for t in args.rss_times.split(",") if t.strip()]
        pairs = [(c, {t: ensure_replicated(c, t) for t in times}) for c in corpora]
    before = peers.environment()
    results = [bench_corpus(c, big, args) for c, big in pairs]
    env = {"start": before, "end": peers.environment()}
    print(f"\nworkers {args.workers}, python draft {args.python_draft}, best of {args.repeat}")
    times = sorted({t for res in results for t in res["big_corpora"]})
    print(f"{'corpus':28} {'method':22} {'images':>6} {'wall s':>7} {'CPU-s':>7} {'speed-up vs careful':>19} "
          f"{'peak RSS MB':>11}" + "".join(f" {'x' + str(t):>6}" for t in times))
    for res in results:
        for method, r in res["methods"].items():
            print(f"{Path(res['corpus']).name:28} {method:22} {r['images']:6d} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} "
                  f"{r['wall_speedup_vs_careful']:18.2f}x {r['peak_rss_mb']:11.0f}"
                  + "".join(f" {r.get(f'peak_rss_mb_x{t}', float('nan')):6.0f}" for t in times))
    print(f"commit {before['commit']} (core built {before['core_built']}); load average {before['load_average'][0]:.1f} "
          f"at the start, {env['end']['load_average'][0]:.1f} at the end")
    out = HERE / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "filter.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "environment": env,
                                                 "results": results}, indent=2))


if __name__ == "__main__":
    main()

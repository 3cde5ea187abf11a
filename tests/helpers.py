"""Builders for test inputs: real JPEGs, JATS snippets, packages; and a scan-to-DataFrame helper."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

import rocov2_fast as rf
from rocov2_fast import synth

FIXTURES = Path(__file__).parent / "fixtures"
JATS = FIXTURES / "jats"


def jpeg_bytes(size=(640, 480), mode="RGB", seed=0, **save) -> bytes:
    """A real JPEG with structure that has no symmetry (symmetric images put DCT coefficients on
    the pHash median, where float noise decides the bit)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize(size, Image.BICUBIC)
    img.paste((255, 255, 255), (size[0] // 5, size[1] // 4, size[0] // 2, size[1] // 2))
    buf = io.BytesIO()
    img.convert(mode).save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def article_xml(figures: str, extra_meta: str = "", doctype: str = "") -> bytes:
    return (f'<?xml version="1.0"?>{doctype}<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta>'
            f'<article-id pub-id-type="pmc">4242</article-id>{extra_meta}</article-meta></front>'
            f"<body>{figures}</body></article>").encode()


def fig(graphic: str, caption: str = "<p>Axial CT.</p>", fig_id: str = "f1") -> str:
    return f'<fig id="{fig_id}"><label>Figure 1</label><caption>{caption}</caption><graphic xlink:href="{graphic}"/></fig>'


def write_package(path: Path, files: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(synth.tar_gz(files))
    return path


def scan_rows(tmp_path: Path, *inputs: Path, **options) -> pl.DataFrame:
    out = tmp_path / "out" / "scan.parquet"
    rf.scan(list(inputs), out, workers=2, **options)
    return pl.read_parquet(out)




# -- filter runs compared across executors (test_scale.py, test_ray.py) -----------------------

SCORES = ("compound_score", "radiology_score")


def filter_cli(corpus: Path, out: Path, *extra: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "rocov2_fast.cli", "filter", str(corpus), "--out", str(out), "--workers", "2",
            "--shard-size", "3", "--file-list", str(corpus / "oa_file_list.csv"), *extra]


def run_cli(args: list[str], **kw):
    import subprocess

    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


def run_snapshot(out: Path) -> tuple[pl.DataFrame, dict[str, bytes]]:
    manifest = pl.read_parquet(out / "manifest.parquet").sort("archive", "figure_index", "graphic", nulls_last=True)
    return manifest, {p.name: p.read_bytes() for p in sorted((out / "images").iterdir())}


def assert_same_result(out: Path, reference: Path) -> None:
    """Same rows, fates, reasons and kept bytes. Scores are compared to 1e-5: onnxruntime's thread
    count (which differs between one worker and several) may change float summation order."""
    manifest, images = run_snapshot(out)
    ref_manifest, ref_images = run_snapshot(reference)
    assert manifest.drop(*SCORES).equals(ref_manifest.drop(*SCORES))
    for column in SCORES:
        diff = (manifest[column] - ref_manifest[column]).abs().max()
        assert diff is None or diff < 1e-5, (column, diff)
    assert images == ref_images
    assert not list(out.rglob("*.tmp"))

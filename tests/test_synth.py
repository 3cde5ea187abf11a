"""`synth --figures`: textured corpora that `scan` reads, with PMC's share of progressive JPEGs and
figures that cost what photographs cost to encode; every profile the same bytes for the same seed."""

from __future__ import annotations

import csv
import hashlib
import io
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli, scan_rows
from PIL import Image
from rocov2_fast import synth
from rocov2_fast.errors import Rocov2Error


def digest(corpus: Path) -> dict[str, str]:
    return {str(p.relative_to(corpus)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(corpus.rglob("*")) if p.is_file()}


def figure_files(corpus: Path) -> dict[tuple[str, str], bytes]:
    """(pmcid, member) -> bytes of every graphic truth.csv lists."""
    truth = {(r["pmcid"], r["member"]) for r in csv.DictReader((corpus / "truth.csv").open())}
    out = {}
    for pkg in corpus.rglob("*.tar.gz"):
        with tarfile.open(pkg) as tar:
            for m in tar:
                pmcid, _, name = m.name.partition("/")
                if (pmcid, name) in truth:
                    out[pmcid, name] = tar.extractfile(m).read()
    return out


@pytest.fixture(scope="module")
def textured(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("textured")
    synth.generate(out, synth.Options(articles=60, seed=4, profile="tiny", figures="textured"))
    return out


def test_textured_packages_scan_ok_and_every_graphic_decodes(textured, tmp_path):
    df = scan_rows(tmp_path, textured, file_list=textured / "oa_file_list.csv")
    graphics = df.filter(df["graphic"].is_not_null())
    truth = list(csv.DictReader((textured / "truth.csv").open()))
    assert len(graphics) == len(truth) > 100
    assert set(graphics["status"]) == {"ok"}, "a textured corpus has no broken images: the floor decodes the same"
    assert set(graphics["format"]) == {"jpeg"}


def test_textured_jpegs_are_15_percent_progressive(textured):
    truth = {(r["pmcid"], r["member"]): r["variant"] for r in csv.DictReader((textured / "truth.csv").open())}
    files = figure_files(textured)
    assert files.keys() == truth.keys()
    progressive = {k for k, data in files.items() if Image.open(io.BytesIO(data)).info.get("progressive")}
    assert progressive == {k for k, v in truth.items() if v == "progressive"}, "truth.csv says which are progressive"
    assert 0.09 <= len(progressive) / len(files) <= 0.21


def test_textured_figures_carry_texture_and_noise(textured, tmp_path):
    """The textured JPEGs take far more bytes per pixel (texture and noise down to the pixel:
    more coefficients to decode) and have far more high-frequency energy than the smooth ones."""
    smooth = tmp_path / "smooth"
    synth.generate(smooth, synth.Options(articles=60, seed=4, profile="tiny"))

    def stats(corpus: Path) -> tuple[float, float]:
        bpp, hf = [], []
        for (_pmcid, member), data in figure_files(corpus).items():
            if not member.endswith(".jpg"):
                continue
            try:
                img = np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float32)
            except OSError:  # the smooth corpus's truncated images
                continue
            bpp.append(len(data) / img.size)
            hf.append(np.abs(np.diff(img, axis=1)).mean())
        return float(np.median(bpp)), float(np.median(hf))

    (smooth_bpp, smooth_hf), (textured_bpp, textured_hf) = stats(smooth), stats(textured)
    assert textured_bpp > 1.6 * smooth_bpp
    assert textured_hf > 1.6 * smooth_hf


def test_textured_pmc_profile_sizes(tmp_path):
    synth.generate(tmp_path, synth.Options(articles=3, seed=1, profile="pmc", figures="textured"))
    truth = {(r["pmcid"], r["member"]): r["duplicate_of"] for r in csv.DictReader((tmp_path / "truth.csv").open())}
    sides = [max(Image.open(io.BytesIO(data)).size) for k, data in figure_files(tmp_path).items() if not truth[k]]
    assert sides and all(500 <= s <= 2000 for s in sides), sides


@pytest.mark.parametrize("figures", ["smooth", "textured", "mixed"])
def test_same_seed_same_bytes(tmp_path, figures):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 7), (b, 7), (c, 8)):
        synth.generate(out, synth.Options(articles=5, seed=seed, profile="tiny", figures=figures, faults=True))
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)


def test_smooth_is_the_default_and_unknown_figures_are_one_error_line(tmp_path):
    default, smooth = tmp_path / "default", tmp_path / "smooth"
    synth.generate(default, synth.Options(articles=4, seed=2, profile="tiny"))
    r = run_cli([sys.executable, "-m", "rocov2_fast.cli", "synth", str(smooth), "--articles", "4", "--seed", "2", "--profile", "tiny",
                 "--figures", "smooth"])
    assert r.returncode == 0, r.stderr
    assert digest(default) == digest(smooth)
    with pytest.raises(Rocov2Error, match="unknown synth figures"):
        synth.generate(tmp_path / "x", synth.Options(articles=1, figures="wavy"))
    r = run_cli([sys.executable, "-m", "rocov2_fast.cli", "synth", str(tmp_path / "y"), "--figures", "wavy"])
    assert r.returncode == 2 and r.stderr.strip().splitlines() == ["error: unknown synth figures 'wavy': expected one of smooth, textured, mixed"]

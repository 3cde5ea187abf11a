"""`rocov2-fast inspect`: the gallery of a filter run has one card per selected image, sorted by
the deciding score, thumbnails for kept and dropped images (re-read from the packages), escaped
captions, placeholders for packages that are gone, clear errors, and renders in headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from PIL import Image, ImageStat
from typer.testing import CliRunner

from rocov2_fast import synth
from rocov2_fast.cli import app
from rocov2_fast.filter import FilterOptions, run_filter

CARD = re.compile(r'<figure class="card ([^"]*)" id="img-([^"]*)" data-score="([^"]*)" data-decision="([^"]*)" data-fate="([^"]*)">')


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    corpus = tmp_path_factory.mktemp("gallery_corpus")
    synth.generate(corpus, synth.Options(articles=24, seed=21, profile="tiny", faults=True))
    out = tmp_path_factory.mktemp("gallery_run")
    run_filter(FilterOptions(inputs=[str(corpus)], out=out, workers=2, file_list=str(corpus / "oa_file_list.csv"), show_progress=False))
    return out


def inspect(run_dir: Path, out: Path, *extra: str) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["inspect", str(run_dir), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out.read_text(), result.output


def cards(page: str) -> list[dict]:
    return [{"classes": c.split(), "id": i, "score": float(s) if s else None, "decision": d, "fate": f}
            for c, i, s, d, f in CARD.findall(page)]


def manifest(run_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(run_dir / "manifest.parquet")


def decoded(run_dir: Path) -> pl.DataFrame:
    return manifest(run_dir).filter((pl.col("status") == "ok") & pl.col("compound_score").is_not_null())


def variant(run_dir: Path, tmp_path: Path, change) -> Path:
    """A copy of the run dir whose manifest is `change(manifest)` (the images are shared)."""
    out = tmp_path / "variant"
    out.mkdir()
    shutil.copy(run_dir / "run.json", out / "run.json")
    os.symlink(run_dir / "images", out / "images")
    change(manifest(run_dir)).write_parquet(out / "manifest.parquet")
    return out


def test_one_card_per_decoded_image_sorted_by_the_deciding_score(run, tmp_path):
    page, said = inspect(run, tmp_path / "gallery.html")
    expected = decoded(run)
    found = cards(page)
    assert len(found) == expected.height > 20 and f"{expected.height} images" in said
    assert sorted(c["id"] for c in found) == sorted(expected["image_id"])
    # compound decisions first, then radiology ones; each by score, highest first
    decisions = [c["decision"] for c in found]
    assert decisions == sorted(decisions) and {"compound", "radiology"} <= set(decisions)
    for decision in ("compound", "radiology"):
        scores = [c["score"] for c in found if c["decision"] == decision]
        assert scores == sorted(scores, reverse=True)
    by_id = {r["image_id"]: r for r in expected.to_dicts()}
    for c in found:
        row = by_id[c["id"]]
        assert c["fate"] == row["fate"]
        assert c["score"] == pytest.approx(row[f"{c['decision']}_score"], abs=1e-5)
        assert c["decision"] == ("compound" if row["stage"] == "compound" else "radiology")
    # the radiology threshold (the run's, from run.json) is drawn between the kept and the dropped ones
    threshold = json.loads((run / "run.json").read_text())["thresholds"]["radiology"]
    assert f"radiology threshold {threshold:g}" in page
    # every card has a thumbnail: kept ones from RUN_DIR/images, dropped ones re-read from their packages
    thumbs = re.findall(r'<figure class="card [^"]*" id="img-([^"]*)"[^>]*><a class="thumb" href="([^"]*)"[^>]*><img src="data:image/jpeg;base64,([^"]+)"', page)
    assert len(thumbs) == len(found)
    dropped = {r["image_id"] for r in expected.filter(pl.col("fate") == "dropped").to_dicts()}
    assert dropped and any(i in dropped for i, _, _ in thumbs)
    for ident, link, data in thumbs:
        img = Image.open(io.BytesIO(base64.b64decode(data)))
        assert img.format == "JPEG" and max(img.size) <= 160
        assert link == f"https://pmc.ncbi.nlm.nih.gov/articles/{by_id[ident]['pmcid']}/"
    # the header: the funnel and the thresholds of run.json
    thresholds = json.loads((run / "run.json").read_text())["thresholds"]
    assert f"compound {thresholds['compound']:g} · radiology {thresholds['radiology']:g}" in page
    assert "figure images" in page and "no image" not in page


def test_stage_near_threshold_and_sample_select_cards(run, tmp_path):
    m = decoded(run)
    for stage, rows in (("compound", m.filter(pl.col("stage") == "compound")), ("radiology", m.filter(pl.col("stage") == "radiology")),
                        ("kept", m.filter(pl.col("fate") == "kept")), ("duplicate", m.filter(pl.col("stage") == "duplicate"))):
        page, _ = inspect(run, tmp_path / f"{stage}.html", "--stage", stage)
        assert sorted(c["id"] for c in cards(page)) == sorted(rows["image_id"]), stage

    th = json.loads((run / "run.json").read_text())["thresholds"]
    for margin in (0.3, 0.499):
        def near(r):
            names = ("compound", "radiology") if r["stage"] is None or r["stage"] == "duplicate" else (r["stage"],)
            return any(r[f"{n}_score"] is not None and abs(r[f"{n}_score"] - th[n]) <= margin for n in names)
        page, _ = inspect(run, tmp_path / "near.html", "--near-threshold", "--margin", str(margin))
        assert sorted(c["id"] for c in cards(page)) == sorted(r["image_id"] for r in m.to_dicts() if near(r))
        assert f"within ±{margin:g} of a threshold" in page

    first, said = inspect(run, tmp_path / "s1.html", "--sample", "7", "--seed", "3")
    again, _ = inspect(run, tmp_path / "s2.html", "--sample", "7", "--seed", "3")
    other, _ = inspect(run, tmp_path / "s3.html", "--sample", "7", "--seed", "4")
    ids = [c["id"] for c in cards(first)]
    assert len(ids) == 7 and ids == [c["id"] for c in cards(again)] and ids != [c["id"] for c in cards(other)]
    assert f"a sample of {m.height}" in said


def test_captions_are_escaped_and_extra_columns_shown(run, tmp_path):
    m = decoded(run)
    target = m.filter(pl.col("fate") == "kept")["image_id"][0]
    evil = '<script>alert("x")</script> Axial CT & "quotes" ' + "long " * 100

    def change(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(
            pl.when(pl.col("image_id") == target).then(pl.lit(evil)).otherwise(pl.col("caption")).alias("caption"),
            pl.when(pl.col("image_id") == target).then(pl.lit(3)).otherwise(None).alias("panel_count"),
            pl.lit(True).alias("caption_radiology"))

    page, _ = inspect(variant(run, tmp_path, change), tmp_path / "gallery.html")
    assert "<script>" not in page
    card = page[page.index(f'id="img-{target}"'):]
    card = card[:card.index("</figure>")]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Axial CT &amp; &quot;quotes&quot;" in card
    assert "…</p>" in card and 'title="&lt;script&gt;' in card  # truncated, full text in the title
    assert "panels: <b>3</b>" in card and "caption says radiology: <b>yes</b>" in card


def test_images_whose_package_is_gone_get_a_placeholder(run, tmp_path):
    m = decoded(run)
    gone = m.filter(pl.col("fate") == "dropped")["archive"][0]
    lost = m.filter((pl.col("archive") == gone) & (pl.col("fate") == "dropped"))["image_id"].to_list()

    def change(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(pl.when(pl.col("archive") == gone).then(pl.lit(str(tmp_path / "gone.tar.gz")))
                               .otherwise(pl.col("archive")).alias("archive"))

    page, said = inspect(variant(run, tmp_path, change), tmp_path / "gallery.html")
    assert len(cards(page)) == m.height
    assert page.count('<span class="placeholder">no image') == len(lost) > 0
    assert f"{len(lost)} without a thumbnail" in said and "package gone" in page


@pytest.mark.parametrize("args, message", [
    (["inspect", "{missing}", "--out", "{out}"], "holds no manifest.parquet"),
    (["inspect", "{run}", "--stage", "license", "--out", "{out}"], "--stage must be one of"),
])
def test_bad_input_is_one_line_and_exit_2(run, tmp_path, args, message):
    args = [a.format(missing=tmp_path / "nothing", run=run, out=tmp_path / "g.html") for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "error: " in result.output and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "g.html").exists()


def chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable") if shutil.which(n)), None)


@pytest.mark.skipif(chromium() is None, reason="no chromium binary (scripts/test.sh installs it with apt)")
def test_the_page_renders_in_headless_chromium(run, tmp_path):
    inspect(run, tmp_path / "gallery.html")
    shot = tmp_path / "gallery.png"
    command = [chromium(), "--headless", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=3000",
               f"--screenshot={shot}", "--window-size=1280,1600", (tmp_path / "gallery.html").as_uri()]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    img = Image.open(shot)
    assert img.size == (1280, 1600)
    stats = ImageStat.Stat(img.convert("RGB"))
    assert min(stats.var) > 100  # not blank: text, coloured badges and thumbnails
    # the thumbnails were drawn: the screenshot has many colours, not just the page's few
    assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 1000

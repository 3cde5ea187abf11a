"""`scan` end to end on the synthetic corpus: every planted image accounted for, both input
layouts, list files, file-list licences, pixels handed out for the filter."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import polars as pl
import pytest

import rocov2_fast as rf
from rocov2_fast import synth
from helpers import scan_rows

REQUIRED_COLUMNS = ["pmcid", "pmid", "doi", "year", "archive", "license", "license_source", "figure_id", "label",
                    "caption", "graphic", "member", "format", "width", "height", "bytes", "phash", "dhash", "status", "error"]


def truth(corpus: Path) -> list[dict]:
    with (corpus / "truth.csv").open() as f:
        return list(csv.DictReader(f))


def test_every_planted_image_has_one_row_with_the_right_member(tiny_corpus, tmp_path):
    df = scan_rows(tmp_path, tiny_corpus, file_list=tiny_corpus / "oa_file_list.csv")
    assert all(c in df.columns for c in REQUIRED_COLUMNS)
    rows = {(p, g): (m, s) for p, g, m, s in df.select("pmcid", "graphic", "member", "status").iter_rows() if g}
    for t in truth(tiny_corpus):
        member, status = rows[t["pmcid"], t["graphic"]]
        assert member.endswith("/" + t["member"]), "the .jpg, never its .gif thumbnail"
        assert status == ("decode_error" if t["variant"] == "truncated" else "ok"), t


def test_file_list_licence_and_pmid_are_attached(tiny_corpus, tmp_path):
    listed = {r["Accession ID"]: r for r in csv.DictReader((tiny_corpus / "oa_file_list.csv").open())}
    df = scan_rows(tmp_path, tiny_corpus, file_list=tiny_corpus / "oa_file_list.csv").filter(pl.col("status") == "ok")
    for pmcid, license, source, pmid in df.select("pmcid", "license", "license_source", "pmid").unique().iter_rows():
        assert (license, source, pmid) == (listed[pmcid]["License"], "file_list", listed[pmcid]["PMID"])


def test_without_file_list_the_xml_licence_is_used(tiny_corpus, tmp_path):
    listed = {r["Accession ID"]: r["License"] for r in csv.DictReader((tiny_corpus / "oa_file_list.csv").open())}
    df = scan_rows(tmp_path, tiny_corpus).filter(pl.col("status") == "ok")
    for pmcid, license, source in df.select("pmcid", "license", "license_source").unique().iter_rows():
        expected = None if listed[pmcid] == "NO-CC CODE" else listed[pmcid]
        assert license == expected and source != "file_list"


def test_cloud_layout_per_article_folders(tmp_path):
    corpus = tmp_path / "cloud"
    synth.generate(corpus, synth.Options(articles=4, seed=5, profile="tiny", layout="cloud"))
    folders = [f"PMC{1_000_000 + 37 * i}.1" for i in range(4)]
    assert sorted(p.name for p in corpus.iterdir() if p.is_dir()) == folders + ["metadata"]
    assert sorted(p.name for p in (corpus / "metadata").iterdir()) == [f"{f}.json" for f in folders]
    df = scan_rows(tmp_path, corpus)
    ok = df.filter(pl.col("status") == "ok")
    assert ok.height == sum(1 for t in truth(corpus) if t["variant"] != "truncated")
    assert set(ok["pmcid"]) <= {f"PMC{1_000_000 + 37 * i}" for i in range(4)}


def test_list_file_of_paths_and_single_package(tiny_corpus, tmp_path):
    packages = sorted(p for p in tiny_corpus.rglob("PMC1*.tar.gz"))[:3]
    listing = tmp_path / "inputs.txt"
    listing.write_text("# three packages\n" + "\n".join(str(p) for p in packages) + "\n\n")
    assert rf.discover_sources([str(listing)]) == [str(p) for p in packages]
    df = scan_rows(tmp_path, listing)
    assert sorted(set(df["archive"])) == [str(p) for p in packages]


def test_pixels_for_the_filter_are_model_sized_and_zero_copy(tiny_corpus):
    seen = 0
    for src in rf.iter_sources([tiny_corpus], workers=2, size=96, fit="pad"):
        ok = src.table.filter(pc.equal(src.table["status"], "ok"))
        if src.pixels is None:
            assert ok.num_rows == 0
            continue
        assert src.pixels.shape == (ok.num_rows, 96, 96, 3) and src.pixels.dtype == np.uint8
        assert src.pixels.base is not None, "a view on the buffer Rust handed over"
        assert sorted(ok["pixel_index"].to_pylist()) == list(range(ok.num_rows))
        seen += ok.num_rows
    assert seen > 10


def test_stretch_fills_the_square_and_pad_keeps_the_aspect(tmp_path):
    from helpers import article_xml, fig, jpeg_bytes, write_package
    pkg = write_package(tmp_path / "PMC1.tar.gz", {"P/a.nxml": article_xml(fig("f1")), "P/f1.jpg": jpeg_bytes((800, 200))})
    (padded,) = [s.pixels for s in rf.iter_sources([pkg], size=64, fit="pad")]
    (stretched,) = [s.pixels for s in rf.iter_sources([pkg], size=64, fit="stretch")]
    assert padded[0, :20].max() == 0 and padded[0, 30].max() > 0  # black bars above and below
    assert stretched[0, :20].max() > 0


def test_scan_is_deterministic_across_worker_counts(tiny_corpus, tmp_path):
    def table(workers):
        out = tmp_path / f"w{workers}.parquet"
        rf.scan([tiny_corpus], out, workers=workers)
        return pl.read_parquet(out).sort("archive", "figure_index", "graphic")
    assert table(1).equals(table(2))


def test_synth_is_deterministic_for_a_seed(tmp_path):
    def digest(folder: Path) -> dict[str, str]:
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}
    for name in ("a", "b"):
        synth.generate(tmp_path / name, synth.Options(articles=3, seed=9, profile="tiny", faults=True))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    kinds = {t["kind"] for t in truth(tmp_path / "a")}
    assert kinds, "truth.csv lists the planted images"


def test_synth_plants_every_kind_and_near_duplicates(tiny_corpus):
    rows = truth(tiny_corpus)
    kinds = {r["kind"] for r in rows}
    assert {"compound"} <= kinds and kinds & {"ct", "mri", "xray", "ultrasound", "angiography"} and kinds & {"chart", "photo", "microscopy"}
    assert {r["format"] for r in rows} >= {"jpg"}
    header = (tiny_corpus / "oa_file_list.csv").read_text().splitlines()[0]
    assert header == "File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rocov2_fast.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("command", [[], ["synth"], ["scan"]])
def test_help_on_every_command(command):
    result = cli(*command, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout


def test_cli_synth_then_scan_prints_a_summary(tmp_path):
    assert cli("synth", str(tmp_path / "c"), "--articles", "3", "--profile", "tiny").returncode == 0
    result = cli("scan", str(tmp_path / "c"), "--out", str(tmp_path / "s.parquet"), "--workers", "2",
                 "--file-list", str(tmp_path / "c" / "oa_file_list.csv"))
    assert result.returncode == 0, result.stderr
    assert "3 sources" in result.stdout and "images ok" in result.stdout
    assert pl.read_parquet(tmp_path / "s.parquet").height > 0


def test_cli_reports_a_missing_input_clearly(tmp_path):
    result = cli("scan", str(tmp_path / "missing"), "--out", str(tmp_path / "s.parquet"))
    assert result.returncode == 2 and "input not found" in result.stderr

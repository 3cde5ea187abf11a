"""Issue 16, the reads: inputs an adversarial (or merely unusual) user hands the scan, each built
for real (tar.gz packages, JPEG/PNG bytes), each read as a careful tool would or given a status."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zlib

import polars as pl
import pyarrow as pa

import rocov2_fast as rf
from rocov2_fast import _core
from rocov2_fast.filter.decide import excluded_by_file_list
from helpers import article_xml, fig, jpeg_bytes, scan_rows, write_package


def tar_bytes(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


# -- 1. deep nesting ------------------------------------------------------------------------------

def test_caption_nested_100000_deep_is_read(tmp_path):
    depth = 100_000
    caption = "<p>Axial " + "<italic>" * depth + "CT" + "</italic>" * depth + " scan.</p>"
    write_package(tmp_path / "c" / "PMC1.tar.gz", {"PMC1/a.nxml": article_xml(fig("f1", caption)),
                                                   "PMC1/f1.jpg": jpeg_bytes()})
    df = scan_rows(tmp_path, tmp_path / "c")
    assert df["status"].to_list() == ["ok"]
    assert df["caption"][0] == "Axial CT scan."
    parsed = rf.parse_jats(article_xml(fig("f1", caption)))
    assert parsed["figures"][0]["caption"] == "Axial CT scan."


# -- 2. multi-member gzip -------------------------------------------------------------------------

def test_multi_member_gzip_is_read_as_tar_does(tmp_path):
    xml = article_xml(fig("f1") + fig("f2", fig_id="f2"))
    tar = tar_bytes({"PMC2/a.nxml": xml, "PMC2/f1.jpg": jpeg_bytes(seed=1), "PMC2/f2.jpg": jpeg_bytes(seed=2)})
    third = len(tar) // 3
    # As bgzip / pigz --independent write it: one tar cut across members (the cut falls inside members).
    members = b"".join(gzip.compress(tar[i:i + third], mtime=0) for i in range(0, len(tar), third))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "PMC2.tar.gz").write_bytes(members)
    # `cat a.gz b.gz` of two whole archives: tar reads the first (it stops at its end-of-archive).
    (tmp_path / "c" / "PMC3.tar.gz").write_bytes(gzip.compress(tar, mtime=0) + gzip.compress(tar_bytes({"x": b"y"}), mtime=0))
    with tarfile.open(tmp_path / "c" / "PMC2.tar.gz") as t:  # what `tar tzf` reads
        assert sorted(t.getnames()) == ["PMC2/a.nxml", "PMC2/f1.jpg", "PMC2/f2.jpg"]
    df = scan_rows(tmp_path, tmp_path / "c").sort("archive", "figure_index")
    assert df["status"].to_list() == ["ok"] * 4, df.select("archive", "status", "error")
    # Streaming path too: a package over the one-shot size is streamed (MultiGzDecoder); the
    # Rust unit test `multi_member_gzip_is_read_whole_on_both_paths` drives both readers directly.


# -- 3. the XML declaration's encoding -----------------------------------------------------------

def latin1_article(caption: str, declared: str) -> bytes:
    text = article_xml(fig("f1", f"<p>{caption}</p>")).decode()
    return text.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{declared}"?>').encode("latin-1")


def test_declared_latin1_is_honoured_and_lying_bytes_get_a_status(tmp_path):
    caption = "Röntgen of the knee, 5 µm slices, T2 café"
    c = tmp_path / "c"
    write_package(c / "PMC4.tar.gz", {"PMC4/a.nxml": latin1_article(caption, "ISO-8859-1"), "PMC4/f1.jpg": jpeg_bytes()})
    write_package(c / "PMC5.tar.gz", {"PMC5/a.nxml": latin1_article(caption, "windows-1252"), "PMC5/f1.jpg": jpeg_bytes()})
    # Declared Latin-1, written in UTF-8: the bytes lie.
    lying = latin1_article("plain", "ISO-8859-1").replace(b"plain", caption.encode("utf-8"))
    write_package(c / "PMC6.tar.gz", {"PMC6/a.nxml": lying, "PMC6/f1.jpg": jpeg_bytes()})
    # Declared UTF-8, written in Latin-1.
    write_package(c / "PMC7.tar.gz", {"PMC7/a.nxml": latin1_article(caption, "UTF-8"), "PMC7/f1.jpg": jpeg_bytes()})
    df = scan_rows(tmp_path, c).sort("archive")
    assert df["status"].to_list() == ["ok", "ok", "bad_encoding", "bad_encoding"], df.select("archive", "status", "error")
    assert df["caption"][:2].to_list() == [caption, caption]
    assert "UTF-8" in df["error"][2]
    assert "0xF6" in df["error"][3]


# -- 4. the decode limit counts bytes -------------------------------------------------------------

def png_of_zeros(width: int, height: int, bit_depth: int, color_type: int, channels: int) -> bytes:
    """A real, complete PNG (every row present), compressed row by row."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + width * channels * bit_depth // 8)
    z = zlib.compressobj(1)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_16_bit_rgba_png_of_13000_squared_is_too_large(tmp_path):
    bomb = png_of_zeros(13_000, 13_000, 16, 6, 4)  # 1.35 GB to decode, under the pixel limit
    small16 = png_of_zeros(300, 200, 16, 6, 4)     # a real 16-bit RGBA image: decodes
    write_package(tmp_path / "c" / "PMC8.tar.gz", {
        "PMC8/a.nxml": article_xml(fig("bomb") + fig("small", fig_id="f2")),
        "PMC8/bomb.png": bomb, "PMC8/small.png": small16})
    df = scan_rows(tmp_path, tmp_path / "c").sort("figure_index")
    assert df["status"].to_list() == ["too_large", "ok"], df.select("status", "error")
    assert "13000x13000 x 4 channel(s) x 2 byte(s)" in df["error"][0]
    assert "max_decoded_bytes" in df["error"][0]
    # The limit is an option: 300 × 200 × 4 × 2 = 480,000 bytes.
    df = scan_rows(tmp_path, tmp_path / "c", max_decoded_bytes=479_999).sort("figure_index")
    assert df["status"].to_list() == ["too_large", "too_large"]


# -- 5. file-list licence spellings ---------------------------------------------------------------

def test_file_list_licence_spellings_are_normalised_and_unknown_ones_counted(tmp_path):
    c = tmp_path / "c"
    spellings = {1: "CC-BY", 2: "cc by 4.0", 3: "CC BY 4.0 International", 4: "CC-BY-NC", 5: "Some publisher licence"}
    rows = ["File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License"]
    for n, lic in spellings.items():
        write_package(c / f"PMC9{n}.tar.gz", {f"PMC9{n}/a.nxml": article_xml(fig("f1")), f"PMC9{n}/f1.jpg": jpeg_bytes(seed=n)})
        rows.append(f"PMC9{n}.tar.gz,x,PMC9{n},2024-01-01 00:00:00,{n},{lic}")
    (c / "oa_file_list.csv").write_text("\n".join(rows) + "\n")
    listed, unrecognised = _core.read_file_list_checked(str(c / "oa_file_list.csv"))
    assert {a: v[0] for a, v in listed.items()} == {"PMC91": "CC BY", "PMC92": "CC BY", "PMC93": "CC BY",
                                                    "PMC94": "CC BY-NC", "PMC95": "Some publisher licence"}
    assert unrecognised == {"Some publisher licence": 1}
    assert _core.read_file_list(str(c / "oa_file_list.csv")) == listed
    df = scan_rows(tmp_path, c, file_list=c / "oa_file_list.csv", licenses=["CC BY", "cc-by-nc"]).sort("archive")
    assert df["status"].to_list() == ["ok", "ok", "ok", "ok", "license_excluded"], df.select("archive", "license", "status")
    assert df["license"].to_list()[:4] == ["CC BY"] * 3 + ["CC BY-NC"]
    # The filter's file-list gate compares the same way (and normalises --licenses).
    allowed = ("CC-BY", "CC BY-NC")
    assert [excluded_by_file_list(str(c / f"PMC9{n}.tar.gz"), listed, allowed) for n in spellings] == \
        [None, None, None, None, "Some publisher licence"]


# -- 6. identity ----------------------------------------------------------------------------------

def test_one_graphic_in_two_figures_is_one_image_with_both_references(tmp_path):
    figures = fig("f1", fig_id="fa") + fig("f1.jpg", fig_id="fb", caption="<p>The same image again.</p>") + fig("f2", fig_id="fc")
    write_package(tmp_path / "c" / "PMC10.tar.gz", {"PMC10/a.nxml": article_xml(figures),
                                                    "PMC10/f1.jpg": jpeg_bytes(seed=1), "PMC10/f2.jpg": jpeg_bytes(seed=2)})
    df = scan_rows(tmp_path, tmp_path / "c").sort("figure_index")
    assert df["status"].to_list() == ["ok", "duplicate_reference", "ok"]
    assert df["member"].to_list() == ["PMC10/f1.jpg", "PMC10/f1.jpg", "PMC10/f2.jpg"]
    assert "figure_index 0" in df["error"][1] and "fa" in df["error"][1]
    assert df.filter(pl.col("status") == "ok")["member"].is_unique().all()


def test_overlapping_inputs_and_symlink_loops_read_each_source_once(tmp_path):
    corpus = tmp_path / "corpus"
    pkg = corpus / "oa_package" / "ab"
    for n in (1, 2):
        write_package(pkg / f"PMC2{n}.tar.gz", {f"PMC2{n}/a.nxml": article_xml(fig("f1")), f"PMC2{n}/f1.jpg": jpeg_bytes(seed=n)})
    (pkg / "loop").symlink_to(corpus)                     # a loop back to an ancestor
    (corpus / "a").symlink_to(corpus / "b")               # two symlinks naming each other
    (corpus / "b").symlink_to(corpus / "a")
    (corpus / "x").mkdir()
    (corpus / "y").mkdir()
    (corpus / "x" / "to-y").symlink_to(corpus / "y")      # two folders linking to each other
    (corpus / "y" / "to-x").symlink_to(corpus / "x")
    inputs = [corpus, corpus / "oa_package", pkg / "PMC21.tar.gz"]
    sources = rf.discover_sources([str(p) for p in inputs])
    assert sources == [str(pkg / "PMC21.tar.gz"), str(pkg / "PMC22.tar.gz")]
    df = scan_rows(tmp_path, *inputs)
    assert sorted(df["archive"].to_list()) == sources
    assert df["status"].to_list() == ["ok", "ok"]



def test_scanner_reports_unrecognised_file_list_licences(tmp_path):
    c = tmp_path / "c"
    write_package(c / "PMC31.tar.gz", {"PMC31/a.nxml": article_xml(fig("f1")), "PMC31/f1.jpg": jpeg_bytes()})
    (c / "oa_file_list.csv").write_text(
        "File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License\n"
        "PMC31.tar.gz,x,PMC31,2024-01-01 00:00:00,1,cc by 4.0\n"
        "PMC32.tar.gz,x,PMC32,2024-01-01 00:00:00,2,Publisher licence\n"
        "PMC33.tar.gz,x,PMC33,2024-01-01 00:00:00,3,Publisher licence\n")
    scanner = _core.Scanner([str(c)], workers=1, file_list=str(c / "oa_file_list.csv"))
    assert scanner.unrecognised_licenses == {"Publisher licence": 2}
    assert [pa.record_batch(b)["license"].to_pylist() for _a, b, _p, _s in scanner] == [["CC BY"]]


def test_fetch_file_list_gate_normalises_licences():
    from rocov2_fast.fetch.legacy import allowed_rows

    rows = [{"License": lic} for lic in ("CC-BY", "cc by 4.0", "CC BY 4.0 International", "CC-BY-NC", "NO-CC CODE", "odd")]
    assert [r["License"] for r in allowed_rows(rows, ("CC BY", "cc by-nc", "ODD"))] == \
        ["CC-BY", "cc by 4.0", "CC BY 4.0 International", "CC-BY-NC", "odd"]


def test_filter_over_overlapping_inputs_and_respelled_licences_keeps_what_a_plain_run_keeps(tiny_corpus, tmp_path):
    """End to end: `filter corpus corpus/oa_package` with a file list whose licences are spelled
    `CC-BY` / `cc by-nc 4.0` keeps exactly what `filter corpus` with PMC's spelling keeps."""
    import csv

    from rocov2_fast.filter import FilterOptions, run_filter

    allowed = ("CC BY", "CC BY-NC")
    respelled = {"CC BY": "CC-BY", "CC BY-NC": "cc by-nc 4.0", "CC BY-NC-ND": "CC BY-NC-ND 4.0 International"}
    with (tiny_corpus / "oa_file_list.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    odd_list = tmp_path / "odd_file_list.csv"
    with odd_list.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "License": respelled.get(r["License"], r["License"])} for r in rows)

    def kept(inputs, file_list, out):
        run_filter(FilterOptions(inputs=[str(p) for p in inputs], out=out, workers=2, file_list=str(file_list),
                                 shard_size=5, licenses=allowed))
        manifest = pl.read_parquet(out / "manifest.parquet")
        assert manifest["image_id"].drop_nulls().is_unique().all()
        return sorted(manifest.filter(pl.col("fate") == "kept")["image_id"].to_list())

    plain = kept([tiny_corpus], tiny_corpus / "oa_file_list.csv", tmp_path / "plain")
    assert plain
    assert kept([tiny_corpus, tiny_corpus / "oa_package"], odd_list, tmp_path / "odd") == plain


# -- 7. resume notices changed sources ----------------------------------------------------------------

def test_resume_redoes_the_shard_of_a_replaced_package_and_a_changed_file_list_row(tmp_path):
    import json
    import os

    from rocov2_fast.filter import FilterOptions, run_filter
    from rocov2_fast.filter.run import dry_run

    c = tmp_path / "c"
    header = "File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License\n"

    def file_list(updated: str) -> None:
        (c / "oa_file_list.csv").write_text(header + "PMC61.tar.gz,x,PMC61,2024-01-01 00:00:00,61,CC BY\n"
                                            f"PMC62.tar.gz,x,PMC62,{updated},62,CC BY\n")

    write_package(c / "PMC61.tar.gz", {"PMC61/a.nxml": article_xml(fig("f1") + fig("f2", fig_id="f2")),
                                       "PMC61/f1.jpg": jpeg_bytes(seed=61), "PMC61/f2.jpg": jpeg_bytes(seed=62)})
    write_package(c / "PMC62.tar.gz", {"PMC62/a.nxml": article_xml(fig("f1")), "PMC62/f1.jpg": jpeg_bytes(seed=63)})
    file_list("2024-01-01 00:00:00")
    out = tmp_path / "run"

    def options() -> FilterOptions:
        return FilterOptions(inputs=[str(c)], out=out, workers=2, shard_size=1, file_list=str(c / "oa_file_list.csv"),
                             compound_threshold=1.5, radiology_threshold=0.0, layout_threshold=1.5, show_progress=False)

    def run() -> tuple[dict, pl.DataFrame]:
        summary = run_filter(options())
        return summary, pl.read_parquet(out / "manifest.parquet")

    summary, manifest = run()
    assert summary["shards_processed_this_run"] == 2
    assert sorted(manifest.filter(pl.col("fate") == "kept")["image_id"]) == ["PMC61_f1", "PMC61_f2", "PMC62_f1"]
    marker = json.loads((out / "manifest" / "part-000000.done").read_text())
    assert len(marker["fingerprints"]) == 1 and marker["fingerprints"][0].count(":") == 2  # size:mtime:file-list row

    # Another package under the same file name: its shard is redone, the old images are gone.
    write_package(c / "PMC61.tar.gz", {"PMC61/a.nxml": article_xml(fig("g1", fig_id="g1")), "PMC61/g1.jpg": jpeg_bytes(seed=64)})
    plan = dry_run(options())
    assert (plan["shards_done"], plan["shards_done_but_sources_changed"], plan["shards_to_do"]) == (1, 1, 1)
    summary, manifest = run()
    assert summary["shards_processed_this_run"] == 1
    assert sorted(manifest["image_id"]) == ["PMC61_g1", "PMC62_f1"]
    assert sorted(p.name for p in (out / "images").iterdir()) == ["PMC61_g1.jpg", "PMC62_f1.jpg"]

    # The file list's "Last Updated" of one package changes: that shard is redone.
    file_list("2025-06-01 12:00:00")
    summary, manifest = run()
    assert summary["shards_processed_this_run"] == 1
    # Only the modification time changes (same bytes): redone too.
    os.utime(c / "PMC61.tar.gz", ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    summary, again = run()
    assert summary["shards_processed_this_run"] == 1
    assert again.drop("compound_score", "radiology_score").equals(manifest.drop("compound_score", "radiology_score"))
    # Nothing changed: nothing redone.
    summary, _ = run()
    assert summary["shards_processed_this_run"] == 0


# -- 8. nothing written outside the output --------------------------------------------------------

def test_filter_writes_nothing_in_home(tmp_path):
    """onnxruntime writes a device id and a telemetry database under ~/.cache when it loads unless
    told not to (filter/models.py); matplotlib its config and font cache (the funnel). A filter run
    (two spawned shard workers and the finishing driver) with an empty HOME leaves it empty."""
    import os
    import subprocess
    import sys

    home, c = tmp_path / "home", tmp_path / "c"
    home.mkdir()
    for n in (1, 2):
        write_package(c / f"PMC7{n}.tar.gz", {f"PMC7{n}/a.nxml": article_xml(fig("f1")), f"PMC7{n}/f1.jpg": jpeg_bytes(seed=n)})
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR",
                                                             "ORT_DISABLE_TELEMETRY")}
    done = subprocess.run([sys.executable, "-m", "rocov2_fast.cli", "filter", str(c), "--out", str(tmp_path / "run"),
                           "--workers", "2", "--shard-size", "1", "--shard-workers", "2", "--no-progress"],
                          env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "funnel.png").exists()
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []


# -- 9. two identical runs, identical outputs -----------------------------------------------------

def test_two_identical_builds_write_the_same_tables_and_json(tmp_path):
    """Row order of every part, manifest and dataset table and key order of report.json and
    split_summary.json do not depend on which decode thread finished first or on Python's salted
    string hashing (each build runs with its own PYTHONHASHSEED). Each build also runs with an
    empty HOME and leaves it empty."""
    import os
    import subprocess
    import sys

    from rocov2_fast import synth

    corpus = tmp_path / "corpus"
    synth.generate(corpus, synth.Options(articles=30, seed=21, profile="tiny"))
    runs = []
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR",
                                                             "ORT_DISABLE_TELEMETRY")}
    for seed in ("1", "2"):
        out, home = tmp_path / f"build{seed}", tmp_path / f"home{seed}"
        home.mkdir()
        done = subprocess.run([sys.executable, "-m", "rocov2_fast.cli", "build", str(corpus), "--out", str(out),
                               "--file-list", str(corpus / "oa_file_list.csv"), "--workers", "2", "--shard-size", "8",
                               "--min-images", "1", "--no-progress"],
                              env={**env, "PYTHONHASHSEED": seed, "HOME": str(home)}, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert list(home.rglob("*")) == []  # every stage (models, fastText, MedCAT, plots) wrote nothing in HOME
        runs.append(out)
    one, two = runs
    parts = sorted(p.name for p in (one / "manifest").glob("part-*.parquet"))
    assert len(parts) == 4 and parts == sorted(p.name for p in (two / "manifest").glob("part-*.parquet"))
    for name in [f"manifest/{p}" for p in parts] + ["manifest.parquet", "duplicates.parquet", "dataset.parquet",
                                                    "report.json", "split_summary.json"]:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name

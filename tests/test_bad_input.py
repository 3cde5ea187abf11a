"""Bad input never crashes a run: each case yields rows with a status, the scan completes, and
nothing is written outside the output path."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import rocov2_fast as rf
from helpers import article_xml, fig, jpeg_bytes, scan_rows, write_package

GOOD_XML = article_xml(fig("f1"))


def statuses(df: pl.DataFrame) -> list[str]:
    return df["status"].to_list()


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_truncated_gzip(tmp_path):
    data = write_package(tmp_path / "x.tar.gz", {"P/a.nxml": GOOD_XML, "P/f1.jpg": jpeg_bytes()}).read_bytes()
    (tmp_path / "x.tar.gz").write_bytes(data[: len(data) // 2])
    df = scan_rows(tmp_path, tmp_path / "x.tar.gz")
    assert "bad_archive" in statuses(df)
    assert df.filter(pl.col("status") == "bad_archive")["error"][0]


def test_not_gzip(tmp_path):
    (tmp_path / "PMC1.tar.gz").write_bytes(b"PK\x03\x04 a zip file")
    df = scan_rows(tmp_path, tmp_path / "PMC1.tar.gz")
    assert statuses(df) == ["bad_archive"]
    assert "gzip" in df["error"][0] or "header" in df["error"][0]


def test_gzip_of_non_tar(tmp_path):
    (tmp_path / "PMC2.tar.gz").write_bytes(gzip.compress(b"just some text, definitely not a tar archive" * 20))
    assert statuses(scan_rows(tmp_path, tmp_path / "PMC2.tar.gz")) == ["bad_archive"]


def test_empty_archive_and_empty_file(tmp_path):
    write_package(tmp_path / "in" / "PMC3.tar.gz", {})
    (tmp_path / "in" / "PMC4.tar.gz").write_bytes(b"")
    df = scan_rows(tmp_path, tmp_path / "in").sort("archive")
    assert statuses(df) == ["no_xml", "bad_archive"]
    assert df["pmcid"].to_list() == ["PMC3", "PMC4"]


def _raw_tar(members: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def test_members_with_dotdot_and_absolute_paths_are_only_names(tmp_path):
    """Member names are matched as strings; nothing is ever extracted."""
    escape = tmp_path / "escaped.jpg"
    victim = f"/{tmp_path.relative_to('/')}/absolute.jpg"
    xml = article_xml(fig("escaped") + fig("absolute", fig_id="f2"))
    pkg = tmp_path / "in" / "PMC5.tar.gz"
    pkg.parent.mkdir()
    pkg.write_bytes(gzip.compress(_raw_tar([("P/a.nxml", xml), ("../../escaped.jpg", jpeg_bytes()), (victim, jpeg_bytes())])))
    before = files_under(tmp_path)
    df = scan_rows(tmp_path, pkg)
    assert statuses(df) == ["ok", "ok"]
    assert df["member"].to_list() == ["../../escaped.jpg", victim]
    assert not escape.exists() and not Path(victim).exists()
    assert files_under(tmp_path) - before == {"out", "out/scan.parquet"}


def test_member_that_claims_a_huge_size(tmp_path):
    """A header claiming 64 GiB: not read into memory; the stream then ends, which is recorded."""
    xml_header = tarfile.TarInfo("P/a.nxml")
    xml_header.size = len(GOOD_XML)
    huge = tarfile.TarInfo("P/f1.jpg")
    huge.size = 64 << 30
    padding = b"\0" * (-len(GOOD_XML) % 512)
    body = xml_header.tobuf(tarfile.GNU_FORMAT) + GOOD_XML + padding + huge.tobuf(tarfile.GNU_FORMAT) + jpeg_bytes()
    (tmp_path / "PMC6.tar.gz").write_bytes(gzip.compress(body))
    df = scan_rows(tmp_path, tmp_path / "PMC6.tar.gz")
    assert sorted(statuses(df)) == ["bad_archive", "too_large"]
    assert df.filter(pl.col("status") == "too_large")["bytes"][0] == 64 << 30


def _with_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9:]


def _png_with_size(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("image, member", [
    (_with_jpeg_size(jpeg_bytes((64, 64)), 65535, 65535), "f1.jpg"),
    (_png_with_size(65535, 65535), "f1.png"),
])
def test_image_header_of_65535_squared_is_refused_before_decoding(tmp_path, image, member):
    pkg = write_package(tmp_path / "PMC7.tar.gz", {"P/a.nxml": GOOD_XML, f"P/{member}": image})
    df = scan_rows(tmp_path, pkg)
    assert statuses(df) == ["too_large"]
    assert "65535x65535" in df["error"][0]


def test_corrupt_and_truncated_jpegs(tmp_path):
    good = jpeg_bytes((800, 600))
    corrupt = good[:600] + bytes(range(256)) * 20 + good[600 + 5120:]
    xml = article_xml(fig("trunc") + fig("corrupt", fig_id="f2") + fig("garbage", fig_id="f3") + fig("ok", fig_id="f4"))
    pkg = write_package(tmp_path / "PMC8.tar.gz", {
        "P/a.nxml": xml, "P/trunc.jpg": good[: len(good) // 3], "P/corrupt.jpg": corrupt,
        "P/garbage.jpg": b"\xff\xd8\xff\xe0" + np.random.default_rng(0).bytes(3000), "P/ok.jpg": good})
    df = scan_rows(tmp_path, pkg)
    assert statuses(df)[:3] == ["decode_error"] * 3 and statuses(df)[3] == "ok"
    assert all(df["error"][:3])


def test_billion_laughs_is_not_expanded(tmp_path):
    lol = "".join(f'<!ENTITY lol{i} "{"&lol%d;" % (i - 1) * 10}">' for i in range(1, 10))
    doctype = f'<!DOCTYPE article [<!ENTITY lol0 "lol">{lol}]>'
    xml = article_xml(fig("f1", caption="<p>&lol9;</p>"), doctype=doctype)
    pkg = write_package(tmp_path / "PMC9.tar.gz", {"P/a.nxml": xml, "P/f1.jpg": jpeg_bytes()})
    df = scan_rows(tmp_path, pkg)
    assert statuses(df) == ["ok"]
    assert df["caption"][0] == "&lol9;"


def test_external_entity_is_not_loaded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doctype = f'<!DOCTYPE article [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    xml = article_xml(fig("f1", caption="<p>A &xxe; B</p>"), doctype=doctype)
    pkg = write_package(tmp_path / "PMC10.tar.gz", {"P/a.nxml": xml, "P/f1.jpg": jpeg_bytes()})
    df = scan_rows(tmp_path, pkg)
    assert df["caption"][0] == "A &xxe; B"
    assert "TOP-SECRET" not in df["caption"][0]


def test_caption_of_one_megabyte_is_kept_whole(tmp_path):
    words = "radiograph " * 100_000
    pkg = write_package(tmp_path / "PMC11.tar.gz", {
        "P/a.nxml": article_xml(fig("f1", caption=f"<p>{words}</p>")), "P/f1.jpg": jpeg_bytes()})
    df = scan_rows(tmp_path, pkg)
    assert statuses(df) == ["ok"]
    assert len(df["caption"][0]) == len(words.strip())


def test_malformed_xml_missing_image_and_unsupported_member(tmp_path):
    write_package(tmp_path / "in" / "PMC12.tar.gz", {"P/a.nxml": b"<article><body><fig>", "P/f1.jpg": jpeg_bytes()})
    write_package(tmp_path / "in" / "PMC13.tar.gz", {
        "P/a.nxml": article_xml(fig("nowhere") + fig("eqn", fig_id="f2")), "P/eqn.eps": b"%!PS-Adobe"})
    df = scan_rows(tmp_path, tmp_path / "in").sort("archive", "figure_index")
    assert statuses(df) == ["bad_xml", "missing_image", "unsupported_format"]


def test_a_whole_faulty_corpus_completes_with_every_package_accounted_for(tiny_corpus, tmp_path):
    sources = rf.discover_sources([str(tiny_corpus)])
    df = scan_rows(tmp_path, tiny_corpus)
    assert set(df["archive"]) == set(sources)
    faults = df.filter(pl.col("pmcid").is_in(["PMC9000001", "PMC9000002", "PMC9000003"]))
    assert faults["status"].to_list() == ["bad_archive"] * 3


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(rf.InputError, match="input not found"):
        rf.scan([tmp_path / "nope"], tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()

"""Issue 15 item 4: the row schema, the statuses and the accession rule are defined once, in
rust/schema.rs, and Python reads them from `_core`."""

from __future__ import annotations

import ast
import gzip
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import article_xml, fig, jpeg_bytes, write_package
from hypothesis import given, settings
from hypothesis import strategies as st
from rocov2_fast import _core, ingest
from rocov2_fast.errors import InputError, Rocov2Error
from rocov2_fast.fetch.legacy import check_package
from rocov2_fast.filter.manifest import accession, plain_source_key


def test_scan_schema_is_the_cores_column_table():
    assert ingest.SCAN_SCHEMA.names == [name for name, _ in _core.SCAN_COLUMNS]
    assert [str(t) for t in ingest.SCAN_SCHEMA.types][:5] == ["string", "string", "string", "string", "int32"]
    assert ingest.FILTER_EXTRA.names == ["pixel_index", "image_bytes", "thumb32"]
    assert ingest.SCAN_SCHEMA.types == [pa.type_for_alias(t) for _, t in _core.SCAN_COLUMNS]
    assert not set(ingest.SCAN_SCHEMA.names) & set(ingest.FILTER_EXTRA.names)


def package_with_every_kind_of_row(tmp_path):
    figures = fig("ok") + fig("gone", fig_id="f2") + '<fig id="f3"><caption><p>No graphic.</p></caption></fig>'
    return write_package(tmp_path / "PMC4242.tar.gz", {"PMC4242/a.nxml": article_xml(figures),
                                                       "PMC4242/ok.jpg": jpeg_bytes()})


def test_scanner_returns_exactly_the_schema_columns(tmp_path):
    package = package_with_every_kind_of_row(tmp_path)
    scan_names = [name for name, _ in _core.SCAN_COLUMNS]
    extra = [name for name, _ in _core.FILTER_COLUMNS]
    [(_, batch, pixels, _)] = list(_core.Scanner([str(package)], workers=1))
    assert pa.record_batch(batch).schema == ingest.SCAN_SCHEMA and pixels is None
    scanner = _core.Scanner([str(package)], workers=1, with_bytes=True, with_pixels=True, size=64)
    [(_, batch, pixels, _)] = list(scanner)
    batch = pa.record_batch(batch)
    assert batch.schema.names == scan_names + extra
    assert batch.schema == pa.schema(scanner.schema) == pa.schema(_core.batch_schema(with_pixels=True, with_bytes=True))
    assert batch.schema.types == [pa.type_for_alias(t) for _, t in _core.SCAN_COLUMNS + _core.FILTER_COLUMNS]
    columns = batch.to_pydict()
    assert columns["status"] == ["ok", "missing_image", "no_graphic"]
    assert columns["pmcid"] == ["PMC4242"] * 3
    assert columns["image_bytes"] == [jpeg_bytes(), None, None]
    assert columns["pixel_index"] == [0, None, None] and pixels.shape == (1, 64, 64, 3)
    assert [len(t) if t else None for t in columns["thumb32"]] == [32 * 32, None, None]


def test_a_batch_is_the_cores_memory_not_a_copy(tmp_path):
    """The Arrow C data interface hands over the core's buffers: two imports of one batch share
    them, and the batch stays valid after the scanner is gone."""
    package = package_with_every_kind_of_row(tmp_path)
    [(_, batch, _, _)] = list(_core.Scanner([str(package)], workers=1, with_bytes=True))
    first, second = pa.record_batch(batch), pa.record_batch(batch)
    assert len(batch) == first.num_rows == 3
    for name in ("caption", "image_bytes", "width"):
        assert first.column(name).buffers()[-1].address == second.column(name).buffers()[-1].address
    del batch
    assert first.column("image_bytes")[0].as_py() == jpeg_bytes()


def test_a_shards_rows_point_at_their_own_pixels_and_bytes(tmp_path):
    """The filter's worker gathers the core's batches of a shard in completion order: in its frame
    (plan order), every row's pixel_index is the row of the shard's pixel batch holding that
    row's image, and its image bytes are that image's."""
    from rocov2_fast.filter.decide import license_rows
    from rocov2_fast.filter.worker import Collected

    members = {}
    for k in range(3):
        members[f"PMC{900 + k}"] = {f"PMC{900 + k}/{g}.jpg": jpeg_bytes(seed=2 * k + j) for j, g in enumerate("xy")}
    packages = [write_package(tmp_path / f"{a}.tar.gz", {f"{a}/a.nxml": article_xml(fig("x") + fig("y", fig_id="f2")), **m})
                for a, m in members.items()]
    alone = {}  # each package scanned on its own: (archive, graphic) -> its pixels
    for src in ingest.iter_sources(packages, workers=1, size=32):
        for row in src.table.to_pylist():
            alone[row["archive"], row["graphic"]] = src.pixels[row["pixel_index"]]
    excluded = str(tmp_path / "PMC999.tar.gz")
    collected = Collected(skipped=license_rows({excluded: "CC BY-ND"}, {"PMC999": ("CC BY-ND", None)}))
    for _a, batch, pixels, stored in ingest.iter_batches(packages, workers=2, with_bytes=True, size=32):
        collected.add(batch, pixels, stored)
    order = [excluded, *(str(p) for p in reversed(packages))]
    df, image_bytes = collected.frame(order)
    assert df["archive"].to_list() == [excluded] + [p for p in order[1:] for _ in "xy"]
    assert len(image_bytes) == df.height and image_bytes[0] is None
    batch = np.concatenate(collected.pixels)
    assert sorted(df["pixel_index"].drop_nulls()) == list(range(len(batch))) == list(range(6))
    for i, (archive, graphic, index) in enumerate(df.select("archive", "graphic", "pixel_index").rows()):
        if index is not None:
            assert (batch[index] == alone[archive, graphic]).all()
            assert image_bytes[i] == members[Path(archive).name.split(".")[0]][f"{Path(archive).name.split('.')[0]}/{graphic}.jpg"]


def test_every_status_the_scan_writes_is_in_the_vocabulary(tmp_path):
    package = package_with_every_kind_of_row(tmp_path)
    broken = tmp_path / "PMC5.tar.gz"
    broken.write_bytes(package.read_bytes()[:200])
    out = tmp_path / "scan.parquet"
    ingest.scan([package, broken], out, workers=1)
    written = set(pq.read_table(out).column("status").to_pylist())
    assert written == {"ok", "missing_image", "no_graphic", "bad_archive"}
    assert written <= set(ingest.STATUSES)
    assert "not_read" in ingest.STATUSES and len(set(ingest.STATUSES)) == len(ingest.STATUSES)


def python_rule(path: str) -> str | None:
    """The accession rule written plainly in Python: `PMC`, then only ASCII digits to the first dot."""
    name = os.path.basename(path.rstrip("/"))
    stem = name[3:].split(".", 1)[0] if name.startswith("PMC") else ""
    return f"PMC{stem}" if stem and all(c in "0123456789" for c in stem) else None


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="PMC0123456789._-/ab", max_size=24))
def test_accession_is_one_strict_rule(path):
    assert accession(path) == _core.accession(path) == python_rule(path)


def test_accession_examples_and_the_scans_pmcid(tmp_path):
    assert accession("corpus/PMC13900.2/") == "PMC13900"
    assert accession("/x/PMC12_3.tar.gz") is None  # strict: no licence borrowed from PMC123 or PMC12
    assert plain_source_key("/x/PMC12_3.tar.gz") == "PMC12-3"
    assert accession("PMC١٢٣.tar.gz") is None  # only ASCII digits (str.isdigit took these)
    assert plain_source_key("PMC١٢٣.tar.gz") == "PMC---"
    # the scan's pmcid (when the XML gives none) and the file list use the same rule
    xml = article_xml(fig("a")).replace(b'<article-id pub-id-type="pmc">4242</article-id>', b"")
    package = write_package(tmp_path / "PMC123.tar.gz", {"a.nxml": xml, "a.jpg": jpeg_bytes()})
    odd = write_package(tmp_path / "PMC12_3.tar.gz", {"a.nxml": xml, "a.jpg": jpeg_bytes()})
    by_source = {Path(s).name: pa.record_batch(b)["pmcid"].to_pylist()
                 for s, b, _, _ in _core.Scanner([str(package), str(odd)], workers=1)}
    assert by_source == {"PMC123.tar.gz": ["PMC123"], "PMC12_3.tar.gz": [None]}


# -- read_members: the core's reader of named members (issue 15 item 4) -------------------------

CC_BY = '<permissions><license xlink:href="https://creativecommons.org/licenses/by/4.0/"/></permissions>'
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-figures" / "chest-xray-cc-by"


def real_members() -> dict[str, bytes]:
    jpegs = sorted(REAL.glob("*.jpg"))[:3]
    files = {f"PMC777/{p.name}": p.read_bytes() for p in jpegs}
    files["PMC777/a.nxml"] = article_xml(fig(jpegs[0].stem))
    files["PMC777/sub/" + jpegs[1].name] = b"same file name, another folder"
    return files


def tarfile_read(path: Path, names: set[str]) -> dict[str, bytes]:
    """The Python reader the core's replaced (filter/run.py), as the reference."""
    with tarfile.open(path, mode="r:*") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.name in names and m.isfile()}


def test_read_members_of_real_packages_in_every_layout(tmp_path):
    files = real_members()
    package = write_package(tmp_path / "PMC777.tar.gz", files)
    raw = gzip.decompress(package.read_bytes())
    (tmp_path / "plain.tar").write_bytes(raw)
    half = len(raw) // 2  # two gzip members, as pigz or `cat a.gz b.gz` write
    (tmp_path / "multi.tar.gz").write_bytes(gzip.compress(raw[:half]) + gzip.compress(raw[half:]))
    names = {*list(files)[:2], "PMC777/absent.jpg"}
    for source in (package, tmp_path / "plain.tar", tmp_path / "multi.tar.gz"):
        got = _core.read_members(source, names)
        assert got == tarfile_read(source, names) and len(got) == 2, source
        by_file_name = _core.read_members(str(source), [Path(n).name for n in names], file_names=True)
        second = Path(list(files)[1]).name
        assert by_file_name[second] == b"same file name, another folder"  # the later member of that name
    assert _core.read_members(package, set()) == {}


def test_read_members_of_an_article_folder(tmp_path):
    folder = tmp_path / "PMC777.1"
    folder.mkdir()
    for name, data in real_members().items():
        if name.count("/") == 1:
            (folder / Path(name).name).write_bytes(data)
    jpeg = min(REAL.glob("*.jpg"))
    got = _core.read_members(folder, {jpeg.name, "gone.jpg"})
    assert got == {jpeg.name: jpeg.read_bytes()}


def test_read_members_raises_input_error_for_a_broken_or_missing_source(tmp_path):
    package = write_package(tmp_path / "PMC777.tar.gz", real_members())
    truncated = tmp_path / "PMC778.tar.gz"
    truncated.write_bytes(package.read_bytes()[: package.stat().st_size // 2])
    for source in (truncated, tmp_path / "gone.tar.gz"):
        with pytest.raises(InputError, match="cannot read") as caught:
            _core.read_members(source, {"PMC777/a.nxml"})
        assert isinstance(caught.value, ValueError)
    with pytest.raises(InputError):
        check_package(truncated)
    check_package(package)


# -- core errors: rust/error.rs raises the classes of errors.py -------------------------------------

def test_core_errors_are_input_errors_and_value_errors(tmp_path):
    for call in (lambda: _core.parse_jats(b"<article><unclosed></article>"),
                 lambda: _core.decode_image(b"not an image"),
                 lambda: _core.model_input(b"not an image"),
                 lambda: _core.layout(np.zeros((4, 4, 2), np.uint8)),
                 lambda: _core.Scanner([str(tmp_path)], fit="squash"),
                 lambda: _core.Scanner([str(tmp_path / "missing")])):
        with pytest.raises(InputError) as caught:
            call()
        assert isinstance(caught.value, Rocov2Error) and isinstance(caught.value, ValueError)


# -- _core.pyi: the statuses and the defaults it writes are the core's ------------------------------

def stub() -> ast.Module:
    return ast.parse((Path(_core.__file__).parent / "_core.pyi").read_text(encoding="utf-8"))


def literal(module: ast.Module, name: str) -> list:
    [node] = [n for n in module.body if isinstance(n, ast.AnnAssign) and n.target.id == name]
    return [e.value for e in node.value.slice.elts]


def test_stub_literals_and_defaults_are_the_cores():
    module = stub()
    assert literal(module, "Status") == list(_core.STATUSES)
    assert [t for _, t in _core.SCAN_COLUMNS + _core.FILTER_COLUMNS] and \
        {t for _, t in _core.SCAN_COLUMNS + _core.FILTER_COLUMNS} <= set(literal(module, "ArrowType"))
    [scanner] = [n for n in module.body if isinstance(n, ast.ClassDef) and n.name == "Scanner"]
    [init] = [n for n in scanner.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    defaults = {a.arg: ast.literal_eval(d) for a, d in zip(init.args.kwonlyargs, init.args.kw_defaults)}
    assert {k: defaults[k] for k in _core.DEFAULT_LIMITS} == _core.DEFAULT_LIMITS
    assert defaults["fit"] in literal(module, "Fit")
    [decode] = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "decode_image"]
    decode_defaults = {a.arg: ast.literal_eval(d) for a, d in zip(decode.args.kwonlyargs, decode.args.kw_defaults)}
    assert decode_defaults["max_pixels"] == _core.DEFAULT_LIMITS["max_pixels"]
    assert decode_defaults["max_decoded_bytes"] == _core.DEFAULT_LIMITS["max_decoded_bytes"]
    with pytest.raises(InputError, match="'pad' or 'stretch'"):
        _core.model_input(b"", fit="squash")


def test_rethreshold_copies_kept_images_through_read_members_and_refuses_a_changed_source(tmp_path):
    from rocov2_fast.filter import FilterOptions, run_filter
    from rocov2_fast.filter.run import rethreshold

    folder = tmp_path / "corpus" / "PMC777.1"
    folder.mkdir(parents=True)
    jpegs = sorted(REAL.glob("*.jpg"))[:2]
    figures = "".join(fig(p.stem, fig_id=f"f{i}") for i, p in enumerate(jpegs))
    (folder / "PMC777.1.xml").write_bytes(article_xml(figures, CC_BY))
    for p in jpegs:
        (folder / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "run"
    run_filter(FilterOptions(inputs=[str(tmp_path / "corpus")], out=out, workers=1, compound_threshold=1.5,
                             radiology_threshold=1.5, layout_threshold=1.5, show_progress=False))
    assert not list((out / "images").iterdir())  # nothing kept at radiology 1.5
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    rethreshold(out, radiology=0.0)
    kept = pq.read_table(out / "manifest.parquet").to_pylist()
    assert sorted((out / r["image_path"]).read_bytes() for r in kept if r["fate"] == "kept") == \
        sorted(p.read_bytes() for p in jpegs)
    (folder / jpegs[1].name).unlink()
    with pytest.raises(Rocov2Error, match=f"no longer holds {jpegs[1].name}"):
        rethreshold(copy, radiology=0.0)

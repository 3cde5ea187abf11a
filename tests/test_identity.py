"""Issue 16, identity: every figure graphic of every source gets exactly one `image_id`, unique
over the run by construction (filter/manifest.py, docs/filter.md "Image identity"). Each case is
built from real tar.gz packages of real JPEGs and run through the real filter (and split)."""

from __future__ import annotations

import json
import random
import tarfile
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import article_xml, jpeg_bytes, write_package
from rocov2_fast.filter import FilterOptions, run_filter
from rocov2_fast.filter.manifest import image_file_name, source_keys, sources_image_ids

CC_BY = '<permissions><license xlink:href="https://creativecommons.org/licenses/by/4.0/"/></permissions>'
CAPTION = "<p>Axial CT of the chest showing a small nodule in the right upper lobe.</p>"


def package(path: Path, graphics: list[list[str]], seed: int = 0, pmcid: str = "4242") -> Path:
    """A package whose article has one `<fig>` per inner list, with those graphics, and a real
    JPEG member for every distinct graphic (`<graphic>.jpg`, or the name itself if it ends in .jpg)."""
    root = path.name.split(".")[0]
    figures = "".join(
        f'<fig id="f{i}"><label>Figure {i + 1}</label><caption>{CAPTION}</caption>'
        + "".join(f'<graphic xlink:href="{g}"/>' for g in gs) + "</fig>"
        for i, gs in enumerate(graphics))
    xml = article_xml(figures, CC_BY).replace(b">4242<", f">{pmcid}<".encode())
    files = {f"{root}/a.nxml": xml}
    for n, g in enumerate(dict.fromkeys(g for gs in graphics for g in gs)):
        files[f"{root}/{g if g.endswith('.jpg') else g + '.jpg'}"] = jpeg_bytes(size=(320, 240), seed=seed * 100 + n)
    return write_package(path, files)


def keep_all(inputs: list[Path], out: Path, **kw) -> pl.DataFrame:
    """The filter with its models out of the way (every decoded image kept unless a near-duplicate)."""
    options = {"workers": 2, "shard_size": 2, "compound_threshold": 1.5, "radiology_threshold": 0.0,
               "layout_threshold": 1.5, "show_progress": False} | kw
    run_filter(FilterOptions(inputs=[str(p) for p in inputs], out=out, **options))
    return pl.read_parquet(out / "manifest.parquet")


def check_run(out: Path, manifest: pl.DataFrame) -> None:
    """The invariants: ids unique (also case-insensitively), every decoded image has a fate, every
    kept image exactly one file of its own, no other file, no image paired with itself."""
    ids = manifest["image_id"]
    assert ids.null_count() == 0 and ids.is_unique().all(), manifest.filter(ids.is_duplicated()).select("archive", "graphic", "image_id")
    assert ids.str.to_lowercase().is_unique().all()
    assert manifest.filter(pl.col("status") == "ok")["fate"].is_in(["kept", "dropped"]).all()
    kept = manifest.filter(pl.col("fate") == "kept")
    assert kept["image_path"].null_count() == 0 and kept["image_path"].is_unique().all()
    on_disk = sorted(f"images/{p.name}" for p in (out / "images").iterdir())
    assert on_disk == sorted(kept["image_path"].to_list())
    assert manifest.filter(pl.col("duplicate_of") == pl.col("image_id")).height == 0
    assert set(manifest["duplicate_of"].drop_nulls()) <= set(kept["image_id"])


def run_split(out: Path) -> pl.DataFrame:
    from rocov2_fast import captions
    from rocov2_fast.concepts import run as concepts
    from rocov2_fast.dataset import split

    captions.run(out)
    concepts.run(out, concepts.ConceptsOptions(min_images=1))
    concepts.suggest(out)
    split.run(out)
    return pl.read_parquet(out / "dataset.parquet")


# -- the cases of the issue -----------------------------------------------------------------------

def test_a_byte_identical_copy_is_read_once_and_noted(tmp_path):
    corpus = tmp_path / "c"
    original = package(corpus / "a" / "PMC1.tar.gz", [["f1"], ["f2"]], seed=1)
    for copy in ("b/PMC1.tar.gz", "b/PMC1-again.tar.gz"):  # byte-identical copies, in another folder, under another name
        (corpus / copy).parent.mkdir(parents=True, exist_ok=True)
        (corpus / copy).write_bytes(original.read_bytes())
    package(corpus / "PMC2.tar.gz", [["f1"]], seed=2)
    out = tmp_path / "run"
    manifest = keep_all([corpus], out)
    check_run(out, manifest)
    assert sorted(manifest["image_id"]) == ["PMC1_f1", "PMC1_f2", "PMC2_f1"]
    assert manifest["archive"].str.contains("PMC1").sum() == 2 and (manifest["fate"] == "kept").all()
    plan = json.loads((out / "plan.json").read_text())
    first = next(s for s in plan["sources"] if "PMC1" in s)
    assert sorted(Path(c).name for c in plan["copies"]) == ["PMC1-again.tar.gz", "PMC1.tar.gz"]
    assert set(plan["copies"].values()) == {first}
    assert json.loads((out / "summary.json").read_text())["identity"]["sources_read_once_as_copies"] == 2


def test_copied_package_gets_its_own_ids_and_is_a_near_duplicate_not_itself(tmp_path):
    corpus = tmp_path / "c"
    for folder in ("a", "b"):  # the same article and images, other bytes (b's package has one more file)
        package(corpus / folder / "PMC1.tar.gz", [["f1"], ["f2"]], seed=1)
    with tarfile.open(corpus / "b" / "PMC1.tar.gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    write_package(corpus / "b" / "PMC1.tar.gz", {**members, "PMC1/notes.txt": b"re-packed"})
    package(corpus / "PMC2.tar.gz", [["f1"]], seed=2)
    out = tmp_path / "run"
    manifest = keep_all([corpus], out)
    check_run(out, manifest)
    copies = manifest.filter(pl.col("archive").str.contains("PMC1")).sort("archive", "figure_index")
    keys = [i.split("_")[0] for i in copies["image_id"]]
    assert len(set(keys)) == 2 and all(k.startswith("PMC1~") for k in keys)
    assert manifest.filter(pl.col("archive").str.ends_with("PMC2.tar.gz"))["image_id"].to_list() == ["PMC2_f1"]
    # each image of one copy is the near-duplicate of the same image of the other, never of itself
    assert copies["fate"].to_list().count("kept") == 2
    dropped = copies.filter(pl.col("stage") == "duplicate")
    assert dropped.height == 2
    by_graphic = dict(copies.filter(pl.col("fate") == "kept").select("graphic", "image_id").iter_rows())
    assert dict(dropped.select("graphic", "duplicate_of").iter_rows()) == by_graphic
    summary = json.loads((out / "summary.json").read_text())
    assert summary["identity"]["sources_sharing_a_key"] == 2
    assert summary["identity"]["pmcids_claimed_by_several_sources"] == {"PMC4242": 3}


def test_two_packages_claiming_one_pmcid_keep_both_images_and_are_noted(tmp_path):
    corpus = tmp_path / "c"
    package(corpus / "PMC10.tar.gz", [["f1"]], seed=10, pmcid="777")
    package(corpus / "PMC11.tar.gz", [["f1"]], seed=11, pmcid="777")  # same PMCID, same graphic, another image
    out = tmp_path / "run"
    manifest = keep_all([corpus], out)
    check_run(out, manifest)
    assert manifest.sort("archive")["image_id"].to_list() == ["PMC10_f1", "PMC11_f1"]
    assert manifest["fate"].to_list() == ["kept", "kept"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["identity"] == {"sources_read_once_as_copies": 0, "pmcids_claimed_by_several_sources": {"PMC777": 2},
                                   "sources_sharing_a_key": 0, "graphics_renamed": 0}


def test_graphic_names_that_sanitise_alike_give_two_images_and_split_runs(tmp_path):
    corpus = tmp_path / "c"
    package(corpus / "PMC20.tar.gz", [["x/f1"], ["x_f1"], ["f 1"], ["f_1"], ["g" * 300]], seed=20)
    out = tmp_path / "run"
    manifest = keep_all([corpus], out)
    check_run(out, manifest)
    ids = dict(manifest.select("graphic", "image_id").iter_rows())
    assert ids["x_f1"] == "PMC20_x_f1" and ids["f_1"] == "PMC20_f_1"  # already safe: as written
    assert ids["x/f1"].startswith("PMC20_x_f1~") and ids["f 1"].startswith("PMC20_f_1~")
    assert ids["g" * 300].startswith("PMC20_" + "g" * 120 + "~")  # long names are cut: ids are file names
    assert max(len(p.name) for p in (out / "images").iterdir()) < 255
    assert manifest["fate"].to_list() == ["kept"] * 5
    dataset = run_split(out)  # was a polars ShapeError
    assert dataset["image_id"].is_unique().all()
    assert sorted(dataset["image_id"]) == sorted(ids.values())


def test_one_graphic_in_two_figures_is_one_image_never_paired_with_itself(tmp_path):
    corpus = tmp_path / "c"
    package(corpus / "PMC30.tar.gz", [["f1"], ["f1"], ["f1.jpg", "f2"]], seed=30)
    out = tmp_path / "run"
    manifest = keep_all([corpus], out).sort("figure_index", "graphic")
    check_run(out, manifest)
    assert manifest["status"].to_list() == ["ok", "duplicate_reference", "duplicate_reference", "ok"]
    assert manifest["image_id"][0] == "PMC30_f1" and manifest["image_id"][3] == "PMC30_f2"
    assert manifest.filter(pl.col("stage") == "duplicate").height == 0
    assert sorted(p.name for p in (out / "images").iterdir()) == ["PMC30_f1.jpg", "PMC30_f2.jpg"]


def test_ids_do_not_depend_on_shards_workers_or_input_order(tmp_path):
    corpus = tmp_path / "c"
    for folder in ("a", "b"):
        package(corpus / folder / "PMC40.tar.gz", [["x/f1", "x_f1"]], seed=40 if folder == "a" else 41)
    package(corpus / "PMC41.tgz", [["f1"]], seed=42)
    package(corpus / "PMC41.tar.gz", [["F1"], ["f1"]], seed=43)

    def ids(out: Path, inputs: list[Path], **kw) -> dict:
        manifest = keep_all(inputs, out, **kw)
        check_run(out, manifest)
        return {(Path(a).relative_to(corpus).as_posix(), f, g): i
                for a, f, g, i in manifest.select("archive", "figure_index", "graphic", "image_id").iter_rows()}

    one = ids(tmp_path / "one", [corpus], shard_size=1, workers=1)
    assert ids(tmp_path / "many", [corpus], shard_size=5, workers=2) == one
    assert ids(tmp_path / "listed", [corpus / "b", corpus / "PMC41.tar.gz", corpus / "a", corpus / "PMC41.tgz"]) == one
    assert len(set(one.values())) == 7


# -- properties over random name collisions ---------------------------------------------------------

NAMES = ["f1", "F1", "x/f1", "x_f1", "f 1", "f_1", "f1.jpg", "ü1", "u1", "a.b", "a_b", "g" * 300]
FILES = ["PMC1.tar.gz", "PMC1.tgz", "pmc1.tar.gz", "PMC2.tar.gz", "odd name.tar.gz", "odd-name.tar.gz", "PMC01.tar.gz",
         "x" * 200 + ".tar.gz"]

articles = st.lists(st.lists(st.lists(st.sampled_from(NAMES), min_size=0, max_size=3), min_size=1, max_size=4),
                    min_size=1, max_size=5)
places = st.lists(st.tuples(st.sampled_from(["", "a", "b", "a/b"]), st.sampled_from(FILES)),
                  min_size=1, max_size=5, unique=True)


@settings(max_examples=400, deadline=None)
@given(places=places, figures=articles, seed=st.integers(0, 1000))
def test_ids_are_unique_and_independent_of_order(places, figures, seed):
    sources = [f"/corpus/{folder}/{name}".replace("//", "/") for folder, name in places]
    rows = [(s, i, g) for s, gs in zip(sources, figures * len(sources))
            for i, fig_graphics in enumerate(gs) for g in (fig_graphics or [None])]
    keys = source_keys(sources)
    ids = sources_image_ids([r[0] for r in rows], [r[2] for r in rows], [r[1] for r in rows], keys)
    assert len({i.casefold() for i in ids}) == len(ids)
    assert len({image_file_name(i, "m.JPG").casefold() for i in ids}) == len(ids)
    assert max(len(image_file_name(i, "m." + "x" * 40).encode()) for i in ids) < 255  # a file name on any filesystem
    for ident, (source, _, graphic) in zip(ids, rows):
        key, _, name = ident.partition("_")
        assert "_" not in key and ("~" in key) == (source in keys)
        assert name == graphic or "~" in name  # a name is as written, or visibly made
    # another source order and another interleaving of the sources' rows: the same ids
    rng = random.Random(seed)
    shuffled_sources = sources[:]
    rng.shuffle(shuffled_sources)
    order = sorted(range(len(rows)), key=lambda r: (shuffled_sources.index(rows[r][0]), r))
    again = sources_image_ids([rows[r][0] for r in order], [rows[r][2] for r in order], [rows[r][1] for r in order],
                              source_keys(shuffled_sources))
    assert [again[order.index(r)] for r in range(len(rows))] == ids


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(places=st.lists(st.tuples(st.sampled_from(["", "a", "b"]), st.sampled_from(FILES[:5])), min_size=1, max_size=4,
                       unique=True),
       figures=st.lists(st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=2), min_size=1, max_size=3),
                        min_size=1, max_size=4))
def test_every_decoded_image_has_a_file_or_a_fate_and_split_sees_no_duplicate(places, figures):
    with tempfile.TemporaryDirectory() as tmp:
        corpus, out = Path(tmp) / "c", Path(tmp) / "run"
        articles = list(zip(places, figures * len(places)))
        for n, ((folder, name), graphics) in enumerate(articles):
            package(corpus / folder / name, graphics, seed=n)
        manifest = keep_all([corpus], out)
        check_run(out, manifest)
        references = sum(len(fig_graphics) for _, graphics in articles for fig_graphics in graphics)
        assert manifest.filter(pl.col("graphic").is_not_null()).height == references  # one row per reference
        dataset = run_split(out)
        assert dataset["image_id"].is_unique().all()
        assert set(dataset["image_id"]) <= set(manifest.filter(pl.col("fate") == "kept")["image_id"])

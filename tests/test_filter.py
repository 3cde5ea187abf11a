"""`rocov2-fast filter` end to end on the synthetic corpus with the shipped ONNX models: the
manifest accounts for every image against truth.csv, the funnel adds up, kept images are PMC's
bytes, a SIGKILLed run resumes to exactly an uninterrupted run's result."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from rocov2_fast.errors import Rocov2Error
from rocov2_fast.filter import FilterModel, FilterOptions, GpuUnavailableError, run_filter
from rocov2_fast.filter.models import default_model_path, providers_for
from rocov2_fast.rundir import RunDir

ALLOWED = ("CC BY", "CC BY-NC")


@pytest.fixture(scope="module")
def corpus(make_corpus) -> Path:
    return make_corpus(24, seed=21, faults=True, name="filter_corpus")


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run")
    summary = run_filter(FilterOptions(inputs=[str(corpus)], out=out, workers=2, file_list=str(corpus / "oa_file_list.csv"), shard_size=5))
    return out, summary


def truth(corpus: Path) -> pl.DataFrame:
    return pl.read_csv(corpus / "truth.csv", schema_overrides={"duplicate_of": pl.String, "variant": pl.String})


def test_every_planted_image_has_exactly_one_fate(corpus, run):
    out, _ = run
    manifest = pl.read_parquet(out / "manifest.parquet")
    listed = pl.read_csv(corpus / "oa_file_list.csv").select(pl.col("Accession ID").alias("pmcid"), pl.col("License").alias("listed"))
    t = truth(corpus).join(listed, on="pmcid")
    read = t.filter(pl.col("listed").is_in(ALLOWED))
    rows = read.join(manifest, on=["pmcid", "graphic"], how="left")
    assert rows.height == read.height and rows["fate"].null_count() == 0
    # packages whose file-list licence is excluded: one row each, never read
    not_read = manifest.filter(pl.col("status") == "not_read")
    assert set(not_read["pmcid"]) == set(t.filter(~pl.col("listed").is_in(ALLOWED))["pmcid"])
    assert (not_read["stage"] == "license").all()
    assert set(manifest["fate"]) == {"kept", "dropped"}
    assert manifest.filter(pl.col("fate") == "dropped")["stage"].null_count() == 0


def test_decisions_follow_the_scores_and_the_models_agree_with_truth(corpus, run):
    out, _ = run
    manifest = pl.read_parquet(out / "manifest.parquet")
    t = json.loads((out / "run.json").read_text())["thresholds"]  # the models' own thresholds
    scored = manifest.filter(pl.col("compound_score").is_not_null())
    by_layout = (scored["panel_count"] >= 2) & (scored["compound_layout_score"] >= t["layout"])  # filter/layout_rule.py
    assert (((scored["compound_score"] >= t["compound"]) | by_layout) == (scored["stage"] == "compound")).all()
    assert scored.filter(by_layout & (scored["compound_score"] < t["compound"]))["reason"].str.starts_with("layout:").all()
    radiology = manifest.filter(pl.col("radiology_score").is_not_null() & (pl.col("stage") != "duplicate"))
    assert ((radiology["radiology_score"] < t["radiology"]) == (radiology["stage"] == "radiology")).all()
    joined = truth(corpus).join(scored, on=["pmcid", "graphic"])
    # the filter's compound call (the CNN or the layout detector), as the dataset sees it
    compound_right = ((joined["stage"] == "compound") == (joined["compound"] == 1)).mean()
    single = joined.filter(pl.col("radiology_score").is_not_null() & (pl.col("compound") == 0))
    radiology_right = ((single["radiology_score"] >= t["radiology"]) == (single["radiology"] == 1)).mean()
    print(f"\ncompound call agrees with truth on {compound_right:.1%} of {joined.height}, "
          f"radiology on {radiology_right:.1%} of {single.height}")
    assert compound_right >= 0.85 and radiology_right >= 0.85


def test_funnel_adds_up_and_is_printed_in_summary(run):
    out, summary = run
    assert json.loads((out / "summary.json").read_text())["funnel"] == summary["funnel"]
    funnel = summary["funnel"]
    assert funnel["images"] - sum(funnel["removed"].values()) == funnel["kept"] > 0
    assert summary["failed_sources"] == 3  # the three broken packages of --faults


def test_kept_images_are_the_bytes_pmc_shipped(run):
    out, _ = run
    kept = pl.read_parquet(out / "manifest.parquet").filter(pl.col("fate") == "kept")
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(Path(p).name for p in kept["image_path"])
    for archive, member, path in kept.select("archive", "member", "image_path").iter_rows():
        with tarfile.open(archive) as tar:
            assert tar.extractfile(member).read() == (out / path).read_bytes()


def test_near_duplicates_point_to_a_kept_representative(run):
    out, _ = run
    manifest = pl.read_parquet(out / "manifest.parquet")
    dups = manifest.filter(pl.col("stage") == "duplicate")
    kept_ids = set(manifest.filter(pl.col("fate") == "kept")["image_id"])
    assert set(dups["duplicate_of"]) <= kept_ids
    assert dups["image_path"].null_count() == dups.height


def test_rerun_resumes_without_redoing_finished_shards(corpus, run):
    out, summary = run
    before = pl.read_parquet(out / "manifest.parquet")
    again = run_filter(FilterOptions(inputs=[str(corpus)], out=out, workers=2, file_list=str(corpus / "oa_file_list.csv"), shard_size=5))
    assert again["shards_processed_this_run"] == 0 and again["funnel"] == summary["funnel"]
    assert pl.read_parquet(out / "manifest.parquet").equals(before)


def test_the_stage_entry_point_is_run_of_run_dir_and_options(corpus, run, tmp_path):
    import rocov2_fast.filter.run as stage

    out, first = run
    options = FilterOptions(inputs=[str(corpus)], out=tmp_path / "not-this", workers=2, file_list=str(corpus / "oa_file_list.csv"), shard_size=5)
    again = stage.run(out, options)  # `out` is the run directory: resumed, nothing left to do
    assert again["shards_processed_this_run"] == 0 and again["funnel"] == first["funnel"]
    assert not (tmp_path / "not-this").exists()


def test_model_metadata_is_read_without_a_session_as_onnxruntime_reads_it(tmp_path):
    import numpy as np

    from rocov2_fast.filter.models import onnxruntime, read_metadata

    for kind in ("compound", "radiology"):
        path = default_model_path(kind)
        session = onnxruntime().InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert read_metadata(path) == dict(session.get_modelmeta().custom_metadata_map)
        assert FilterModel.describe(path).meta == FilterModel.load(path).meta
    (tmp_path / "text.onnx").write_bytes(b"not a model at all")
    with pytest.raises(Rocov2Error, match="not an ONNX model"):
        read_metadata(tmp_path / "text.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"\x08\x07" + b"\x00" * 10)  # parses, holds no graph
    model = FilterModel.load(tmp_path / "empty.onnx")  # the session is built in the background
    with pytest.raises(Rocov2Error, match="onnxruntime cannot load it"):
        model.predict(np.zeros((2, 128, 128, 3), np.uint8))


def test_a_model_onnxruntime_cannot_load_fails_the_run_even_when_nothing_is_scored(corpus, tmp_path):
    broken = tmp_path / "empty.onnx"
    broken.write_bytes(b"\x08\x07" + b"\x00" * 10)  # parses, holds no graph
    options = FilterOptions(inputs=[str(corpus)], out=tmp_path / "run", licenses=("none of them",), shard_size=5,
                            compound_model=str(broken), radiology_model=str(broken))  # every article licence-excluded
    with pytest.raises(Rocov2Error, match="onnxruntime cannot load it"):
        run_filter(options)


def test_model_metadata_that_is_not_json_stays_text():
    from rocov2_fast.filter.models import parse_metadata

    meta = parse_metadata({"trained": "2024-01-01", "note": "", "threshold": "0.5", "sizes": "[1, 2]", "shift": "-3"})
    assert meta == {"trained": "2024-01-01", "note": "", "threshold": 0.5, "sizes": [1, 2], "shift": -3}


def test_changed_settings_need_fresh(corpus, run):
    out, _ = run
    with pytest.raises(Rocov2Error, match="--fresh"):
        run_filter(FilterOptions(inputs=[str(corpus)], out=out, licenses=("CC BY",), shard_size=5,
                                 file_list=str(corpus / "oa_file_list.csv")))


def cli_filter(corpus: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rocov2_fast.cli", "filter", str(corpus), "--out", str(out), "--workers", "2",
            "--shard-size", "2", "--file-list", str(corpus / "oa_file_list.csv"), "--no-progress", *extra]


def snapshot(out: Path) -> tuple[pl.DataFrame, dict[str, bytes]]:
    manifest = pl.read_parquet(out / "manifest.parquet")
    return manifest, {p.name: p.read_bytes() for p in sorted((out / "images").iterdir())}


def test_sigkill_at_any_point_then_rerun_equals_an_uninterrupted_run(corpus, tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(cli_filter(corpus, reference), check=True, capture_output=True)
    out = tmp_path / "killed"
    for markers_before_kill in (1, 4, 7):
        proc = subprocess.Popen(cli_filter(corpus, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if len(list((out / "manifest").glob("*.done"))) >= markers_before_kill:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = subprocess.run(cli_filter(corpus, out), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ref_manifest, ref_images = snapshot(reference)
    manifest, images = snapshot(out)
    assert manifest.equals(ref_manifest)
    assert images == ref_images
    assert not list(out.rglob("*.tmp"))


def test_gpus_that_are_not_there_are_a_clear_error(corpus, tmp_path):
    import onnxruntime as ort
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.fail("this test expects a CPU-only onnxruntime")  # CI machines have none
    with pytest.raises(GpuUnavailableError, match="--gpus 2"):
        providers_for(2)
    result = subprocess.run(cli_filter(corpus, tmp_path / "gpu", "--gpus", "2"), capture_output=True, text=True)
    assert result.returncode == 2 and "CUDAExecutionProvider" in result.stderr


def test_shipped_models_carry_their_metadata():
    models = Path(default_model_path("compound")).parent
    card = (models / "README.md").read_text()
    report = json.loads((models / "real_test_report.json").read_text())
    sizes = set()
    for kind in ("compound", "radiology"):
        meta = FilterModel.load(default_model_path(kind), [["CPUExecutionProvider"]]).meta
        sizes.add(meta["input_size"])
        assert meta["kind"] == kind and meta["input_size"] == 128 and meta["layout"] == "NHWC uint8"
        # the threshold chosen on the val split is the one the card and the test report state
        assert meta["threshold"] == report[kind]["test"]["threshold"]
        assert f"{kind}.onnx on the test split (threshold {meta['threshold']})" in card
        assert meta["held_out_metrics"] == report[kind]["test"]["overall"]
        for source in ("chest-xray", "pydicom", "nibabel", "scikit-image", "matplotlib", "synthetic"):
            assert source in meta["training_data"], source
    assert len(sizes) == 1  # the filter hands one pixel batch to both models


def test_rethreshold_redecides_from_stored_scores_and_round_trips(run, tmp_path):
    import shutil

    from rocov2_fast.filter.run import rethreshold
    original, _ = run
    out = tmp_path / "copy"
    shutil.copytree(original, out)
    before = pl.read_parquet(out / "manifest.parquet")
    loose = rethreshold(out, radiology=0.0001)
    after = pl.read_parquet(out / "manifest.parquet")
    assert loose["funnel"]["kept"] > before.filter(pl.col("fate") == "kept").height
    kept = after.filter(pl.col("fate") == "kept")
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(Path(p).name for p in kept["image_path"])
    for archive, member, path in kept.select("archive", "member", "image_path").iter_rows():
        with tarfile.open(archive) as tar:
            assert tar.extractfile(member).read() == (out / path).read_bytes()
    rethreshold(out, radiology=json.loads((original / "run.json").read_text())["thresholds"]["radiology"])  # the run's own
    back = pl.read_parquet(out / "manifest.parquet")
    assert back.select("image_id", "fate", "stage", "duplicate_of").equals(before.select("image_id", "fate", "stage", "duplicate_of"))


def test_image_plus_caption_decisions_follow_the_combined_scores(corpus, tmp_path):
    from rocov2_fast.filter.decide import decision_scores
    from rocov2_fast.filter.run import rethreshold

    out = tmp_path / "captioned"
    run_filter(FilterOptions(inputs=[str(corpus)], out=out, workers=2, file_list=str(corpus / "oa_file_list.csv"),
                             shard_size=5, decision="image+caption", show_progress=False))
    assert json.loads((out / "run.json").read_text())["decision"] == "image+caption"
    manifest = pl.read_parquet(out / "manifest.parquet")
    with_caption = manifest.filter(pl.col("caption").str.strip_chars().str.len_chars() > 0)
    assert with_caption["caption_radiology"].null_count() == 0 and with_caption["caption_compound"].null_count() == 0
    scored = manifest.filter(pl.col("compound_score").is_not_null() & (pl.col("stage") != "duplicate"))
    thresholds = json.loads((out / "run.json").read_text())["thresholds"]
    columns = [scored[c].cast(pl.Float32).fill_null(float("nan")).to_numpy()
               for c in ("compound_score", "radiology_score", "caption_compound", "caption_radiology")]
    compound, radiology = decision_scores(*columns, "image+caption", thresholds)
    by_layout = ((scored["panel_count"] >= 2) & (scored["compound_layout_score"] >= thresholds["layout"])).to_numpy()
    assert (((compound >= thresholds["compound"]) | by_layout) == (scored["stage"] == "compound").to_numpy()).all()
    single = (compound < thresholds["compound"]) & ~by_layout
    assert ((radiology[single] >= thresholds["radiology"]) == (scored["fate"] == "kept").to_numpy()[single]).all()
    # a rethreshold to the same thresholds re-decides with the same rule: nothing changes
    rethreshold(out)
    again = pl.read_parquet(out / "manifest.parquet")
    assert again.select("image_id", "fate", "stage").equals(manifest.select("image_id", "fate", "stage"))


def test_shard_starts_bound_count_and_bytes():
    from rocov2_fast.rundir import shard_slice, shard_starts

    sizes = [5, 5, 5, 20, 1, 1, 1, 1, 1, 1]
    # a source that would take a shard past 10 bytes starts the next; one bigger than that is alone
    assert shard_starts(sizes, 3, 10) == [0, 2, 3, 4, 7]
    assert shard_starts(sizes, 3, 0) == shard_starts(sizes, 3, None) == [0, 3, 6, 9]
    assert shard_starts([], 3, 10) == []
    plan = {"sources": list("abcdefghij"), "shard_size": 3, "shard_starts": [0, 2, 3, 4, 7], "shards": 5}
    assert [plan["sources"][shard_slice(plan, k)] for k in range(5)] == [list("ab"), ["c"], ["d"], list("efg"), list("hij")]
    old = {"sources": list("abcdefghij"), "shard_size": 3, "shards": 4}  # planned before byte-bounded shards
    assert [old["sources"][shard_slice(old, k)] for k in range(4)] == [list("abc"), list("def"), list("ghi"), ["j"]]


BYTE_BOUND = ("--shard-size", "5", "--shard-source-bytes", "400000")


def test_byte_bounded_shards_are_planned_once_and_give_one_result_killed_or_not_on_any_workers(corpus, tmp_path):
    from rocov2_fast.filter.run import dry_run
    from rocov2_fast.rundir import shard_slice

    reference = tmp_path / "reference"
    subprocess.run(cli_filter(corpus, reference, *BYTE_BOUND), check=True, capture_output=True)
    plan = json.loads((reference / "plan.json").read_text())
    starts = plan["shard_starts"]
    assert starts != list(range(0, len(plan["sources"]), 5))  # the byte bound cut shards the count would not
    assert plan["shards"] == len(starts) and starts[0] == 0 and starts == sorted(set(starts))
    listed = {r["Accession ID"]: r["License"] for r in pl.read_csv(corpus / "oa_file_list.csv").to_dicts()}
    for k in range(plan["shards"]):
        sources = plan["sources"][shard_slice(plan, k)]
        read = [Path(s).stat().st_size for s in sources if listed.get(Path(s).name.split(".")[0], "CC BY") in ALLOWED]
        assert len(sources) <= 5 and (len(sources) == 1 or sum(read) <= 400_000)
        assert json.loads((reference / "manifest" / f"part-{k:06d}.done").read_text())["sources"] == len(sources)
    options = FilterOptions(inputs=[str(corpus)], out=reference, file_list=str(corpus / "oa_file_list.csv"),
                            shard_size=5, shard_source_bytes=400_000)
    assert dry_run(options)["shards"] == plan["shards"] == dry_run(options)["shards_done"]
    # other bounds: the dry run refuses as the run itself would, instead of counting shards done
    with pytest.raises(Rocov2Error, match="other shard_source_bytes"):
        dry_run(replace(options, shard_source_bytes=900_000))
    # nodes planning at once: the first plan written is everyone's
    assert not RunDir(reference).create_plan({**plan, "shard_starts": [0]})
    assert json.loads((reference / "plan.json").read_text()) == plan

    # killed after two shards, resumed; and two worker processes: the reference's result
    out = tmp_path / "killed"
    proc = subprocess.Popen(cli_filter(corpus, out, *BYTE_BOUND), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and len(list((out / "manifest").glob("*.done"))) < 2:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(cli_filter(corpus, out, *BYTE_BOUND), check=True, capture_output=True)
    workers = tmp_path / "workers"
    subprocess.run(cli_filter(corpus, workers, *BYTE_BOUND, "--shard-workers", "2"), check=True, capture_output=True)
    for other in (out, workers):
        assert json.loads((other / "plan.json").read_text())["shard_starts"] == starts
        assert snapshot(other)[0].equals(snapshot(reference)[0]) and snapshot(other)[1] == snapshot(reference)[1]
        assert (other / "duplicates.parquet").read_bytes() == (reference / "duplicates.parquet").read_bytes()


def test_a_resume_keeps_the_planned_shards_when_a_source_changes_size(corpus, tmp_path):
    import shutil

    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    out = tmp_path / "run"
    subprocess.run(cli_filter(copy, out, *BYTE_BOUND), check=True, capture_output=True)
    plan = json.loads((out / "plan.json").read_text())
    # the first shard's first package replaced by a much bigger one (another package's files, twice over)
    first = Path(plan["sources"][0])
    other = max((Path(s) for s in plan["sources"]), key=lambda p: p.stat().st_size)
    first.write_bytes(other.read_bytes() + b"\0" * 1_000_000)
    markers = {p.name: p.stat().st_mtime_ns for p in (out / "manifest").glob("*.done")}
    subprocess.run(cli_filter(copy, out, *BYTE_BOUND), check=True, capture_output=True)
    again = json.loads((out / "plan.json").read_text())
    assert again["shard_starts"] == plan["shard_starts"] and again["fingerprints"] != plan["fingerprints"]
    redone = sorted(n for n, t in markers.items() if (out / "manifest" / n).stat().st_mtime_ns != t)
    assert redone == ["part-000000.done"]


def test_a_run_planned_before_byte_bounded_shards_resumes_with_its_shards(corpus, tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(cli_filter(corpus, reference, "--shard-size", "5", "--shard-source-bytes", "0"), check=True, capture_output=True)
    out = tmp_path / "old"
    subprocess.run(cli_filter(corpus, out, "--shard-size", "5", "--shard-source-bytes", "0"), check=True, capture_output=True)
    # as the code before wrote it: no byte bound in run.json, no shard starts in plan.json; two shards not done
    for name, keys in (("run.json", ("shard_source_bytes",)), ("plan.json", ("shard_source_bytes", "shard_starts"))):
        value = json.loads((out / name).read_text())
        (out / name).write_text(json.dumps({k: v for k, v in value.items() if k not in keys}))
    shards = json.loads((out / "plan.json").read_text())["shards"]
    for k in (1, shards - 1):
        (out / "manifest" / f"part-{k:06d}.done").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "manifest").glob("*.done")}
    done = subprocess.run(cli_filter(corpus, out, *BYTE_BOUND), capture_output=True, text=True)  # today's options
    assert done.returncode == 0, done.stderr
    plan = json.loads((out / "plan.json").read_text())
    assert plan["shard_starts"] == list(range(0, len(plan["sources"]), 5)) and plan["shard_source_bytes"] is None
    assert json.loads((out / "summary.json").read_text())["options"]["shard_source_bytes"] is None  # the bound in force
    assert "does not apply to it" in done.stderr
    assert all((out / "manifest" / n).stat().st_mtime_ns == t for n, t in kept.items())  # done shards not redone
    assert snapshot(out)[0].equals(snapshot(reference)[0]) and snapshot(out)[1] == snapshot(reference)[1]


def test_file_list_read_once_reads_as_read_file_list(corpus):
    from rocov2_fast._core import FileList, read_file_list

    path = str(corpus / "oa_file_list.csv")
    loaded, rows = FileList(path), read_file_list(path)
    assert len(loaded) == len(rows) > 0
    assert all(a in loaded and loaded[a] == loaded.get(a) == entry for a, entry in rows.items())
    assert "PMC0" not in loaded and loaded.get("PMC0") is None and loaded.get("PMC0", ("x", None)) == ("x", None)
    with pytest.raises(KeyError):
        loaded["PMC0"]


def test_a_worker_holds_at_most_two_shards(run, tmp_path):
    import shutil

    from rocov2_fast.filter.worker import ShardWorker, WorkerSpec

    out = tmp_path / "run"
    shutil.copytree(run[0], out)
    worker = ShardWorker(WorkerSpec(run_dir=str(out), decode_threads=2, session_threads=1))
    todo, held, most = iter(range(worker.plan["shards"])), set(), []

    def claim():  # the collector claims only once it holds a free slot
        k = next(todo, None)
        if k is not None:
            held.add(k)
            most.append(len(held))
        return k

    worker.run_stream(claim, lambda marker: held.discard(marker["shard"]))
    assert worker.plan["shards"] >= 4 and not held
    assert max(most) == 2  # one scored and written, the next decoded meanwhile
    assert pl.read_parquet(out / "manifest" / "part-000003.parquet").equals(pl.read_parquet(run[0] / "manifest" / "part-000003.parquet"))


def test_a_worker_whose_shard_fails_stops_its_collector(run, tmp_path):
    import shutil
    import threading

    from rocov2_fast.errors import Rocov2Error
    from rocov2_fast.filter.worker import ShardWorker, WorkerSpec, iterate

    out = tmp_path / "run"
    shutil.copytree(run[0], out)
    worker = ShardWorker(WorkerSpec(run_dir=str(out), decode_threads=1, session_threads=1, name="failing"))
    write, claimed = worker.decide_and_write, []

    def disk_full_on_shard_1(k, collected, started):
        if k == 1:
            raise Rocov2Error("disk full (simulated)")
        return write(k, collected, started)

    worker.decide_and_write = disk_full_on_shard_1
    every = iterate(list(range(worker.plan["shards"])))

    def claim():
        claimed.append(every())
        return claimed[-1]

    with pytest.raises(Rocov2Error, match="disk full"):
        worker.run_stream(claim, lambda marker: None)
    collector = next((t for t in threading.enumerate() if t.name == "failing-collect"), None)
    if collector is not None:
        collector.join(timeout=60)
        assert not collector.is_alive()  # before: blocked for good on a slot, holding a decoded shard
    assert worker.plan["shards"] >= 4 and len(claimed) <= 3  # shards 0 and 1, and at most the one decoded meanwhile

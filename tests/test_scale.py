"""The filter at scale on one node: several shard workers (CPU sessions standing in for GPUs) give
the same result as one, a worker killed mid-run loses nothing, the run directory refuses a second
driver, a run split over nodes (`--num-nodes/--node-rank`) finishes with `--finish-only`, and a
run can be watched (`status`, logs, plain progress lines, `--dry-run`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from helpers import assert_same_result, filter_cli, run_cli
from rocov2_fast.errors import Rocov2Error
from rocov2_fast.rundir import HOST, RunDir

@pytest.fixture
def corpus(scale_corpus) -> Path:
    return scale_corpus


@pytest.fixture
def reference(scale_reference) -> Path:
    return scale_reference


def workers_that_scored(out: Path) -> dict[str, int]:
    scored: dict[str, int] = {}
    for marker in RunDir(out).markers().values():
        ok = marker["counts"]["statuses"].get("ok", 0)
        scored[marker["worker"]] = scored.get(marker["worker"], 0) + ok
    return scored


def test_two_workers_each_score_images_and_equal_one_worker(corpus, reference, tmp_path):
    out = tmp_path / "two"
    done = run_cli(filter_cli(corpus, out, "--shard-workers", "2", "--no-progress"))
    assert done.returncode == 0, done.stderr
    scored = workers_that_scored(out)
    assert set(scored) == {"worker-0", "worker-1"} and min(scored.values()) > 0, scored
    assert_same_result(out, reference)


def test_a_worker_killed_mid_run_loses_nothing(corpus, reference, tmp_path):
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "killed_worker"
    proc = subprocess.Popen(filter_cli(corpus, out, "--shard-workers", "2", "--no-progress"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and killed is None:
        children = []
        for child in psutil.Process(proc.pid).children():
            try:
                if "spawn_main" in " ".join(child.cmdline()):  # the worker processes, not the resource tracker
                    children.append(child)
            except psutil.Error:
                pass
        if len(list((out / "manifest").glob("*.done"))) >= 1 and len(children) == 2:
            children[0].send_signal(signal.SIGKILL)
            killed = children[0].pid
        time.sleep(0.01)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert killed is not None, "the run ended before a worker could be killed"
    assert_same_result(out, reference)


def test_a_second_driver_on_the_same_run_dir_is_refused(corpus, tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / "lock").write_text(json.dumps({"host": HOST, "pid": holder.pid, "started": "2026-01-01T00:00:00",
                                              "command": "filter"}))
        refused = run_cli(filter_cli(corpus, out, "--no-progress"))
        assert refused.returncode == 2
        assert refused.stderr.startswith("error: ") and len(refused.stderr.strip().splitlines()) == 1
        assert f"pid {holder.pid} on host {HOST}" in refused.stderr and "--force-unlock" in refused.stderr
        assert not (out / "manifest.parquet").exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder is dead now: its stale lock is taken over, with a message
    taken = run_cli(filter_cli(corpus, out, "--no-progress"))
    assert taken.returncode == 0, taken.stderr
    assert "taking over" in taken.stderr and not (out / "lock").exists()


def test_a_lock_from_another_host_needs_force_unlock(corpus, reference, tmp_path):
    out = tmp_path / "other_host"
    out.mkdir()
    (out / "lock").write_text(json.dumps({"host": "node-17", "pid": 1, "started": "x", "command": "filter"}))
    assert run_cli(filter_cli(corpus, out, "--no-progress")).returncode == 2
    forced = run_cli(filter_cli(corpus, out, "--no-progress", "--force-unlock"))
    assert forced.returncode == 0, forced.stderr
    assert_same_result(out, reference)


def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(corpus, tmp_path):
    out = tmp_path / "stale"
    (out / "images").mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out / "images" / f".PMC1_f1.jpg.{HOST}.{int(dead.stdout)}.0.tmp"
    live = out / "images" / f".PMC1_f2.jpg.{HOST}.{os.getpid()}.0.tmp"
    stale.write_bytes(b"half")
    live.write_bytes(b"being written")
    done = run_cli(filter_cli(corpus, out, "--no-progress"))
    assert done.returncode == 0, done.stderr
    assert not stale.exists() and live.exists()


def test_nodes_split_the_shards_and_finish_only_merges(corpus, reference, tmp_path):
    out = tmp_path / "nodes"
    early = run_cli(filter_cli(corpus, out, "--no-progress", "--num-nodes", "2", "--node-rank", "1"))
    assert early.returncode == 0, early.stderr
    assert not (out / "manifest.parquet").exists()
    done = set(RunDir(out).markers())
    plan = RunDir(out).plan()
    assert done == {k for k in range(plan["shards"]) if k % 2 == 1}
    # finishing before node 0 is done is refused, with what is missing
    refused = run_cli([sys.executable, "-m", "rocov2_fast.cli", "filter", "--out", str(out), "--finish-only"])
    assert refused.returncode == 2 and "not done yet" in refused.stderr
    status = json.loads(run_cli([sys.executable, "-m", "rocov2_fast.cli", "status", str(out), "--json"]).stdout)
    assert status["shards_done"] == len(done) and not status["running"] and not status["finished"]
    assert status["funnel_so_far"]["images"] > 0
    assert run_cli(filter_cli(corpus, out, "--no-progress", "--num-nodes", "2", "--node-rank", "0")).returncode == 0
    finished = run_cli([sys.executable, "-m", "rocov2_fast.cli", "filter", "--out", str(out), "--finish-only"])
    assert finished.returncode == 0, finished.stderr
    assert_same_result(out, reference)
    status = json.loads(run_cli([sys.executable, "-m", "rocov2_fast.cli", "status", str(out), "--json"]).stdout)
    assert status["finished"] and status["funnel"] == json.loads((out / "summary.json").read_text())["funnel"]


def test_off_a_terminal_progress_lines_and_a_log_file(corpus, tmp_path):
    out = tmp_path / "watched"
    done = run_cli(filter_cli(corpus, out, "--progress-interval", "0"))  # stderr is a pipe here
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "progress:" in line]
    assert lines and "shards" in lines[-1] and "images/s" in lines[-1] and "ETA" in lines[-1]
    (log,) = (out / "logs").glob("filter-*.log")
    assert log.name == f"filter-{HOST}-{log.name.split('-')[-1]}"
    text = log.read_text()
    assert "shard 0 done" in text and "finished:" in text
    assert text.splitlines()[0][:4].isdigit()  # timestamped
    human = run_cli([sys.executable, "-m", "rocov2_fast.cli", "status", str(out)])
    assert "not running" in human.stdout and "finished:" in human.stdout


def test_dry_run_counts_without_reading_or_writing(corpus, tmp_path):
    out = tmp_path / "dry"
    listed = pl.read_csv(corpus / "oa_file_list.csv")
    excluded = listed.filter(~pl.col("License").is_in(["CC BY", "CC BY-NC"]))
    result = run_cli(filter_cli(corpus, out, "--dry-run"))
    assert result.returncode == 0, result.stderr
    packages = sum(int(line.split(": ")[1].split(" packages")[0]) for line in result.stdout.splitlines()
                   if "excluded by the file list" in line)
    assert packages == excluded.height > 0
    shards = -(-len(list(corpus.glob("**/*.tar.gz"))) // 3)
    assert f"{shards} (0 done, {shards} to do)" in result.stdout
    assert not out.exists()


def test_a_worker_that_cannot_see_the_inputs_says_so(corpus, reference, tmp_path):
    import shutil

    from rocov2_fast.filter.worker import ShardWorker, WorkerSpec

    out = tmp_path / "elsewhere"
    shutil.copytree(reference, out)
    plan = json.loads((out / "plan.json").read_text())
    plan["sources"] = ["/mnt/not-mounted-here" + s for s in plan["sources"]]
    (out / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(Rocov2Error, match="shared filesystem"):
        ShardWorker(WorkerSpec(run_dir=str(out)))


def test_version_and_gpus_all_without_cuda(corpus, tmp_path):
    version = run_cli([sys.executable, "-m", "rocov2_fast.cli", "--version"])
    assert version.returncode == 0 and version.stdout.startswith("rocov2-fast ")
    no_gpu = run_cli(filter_cli(corpus, tmp_path / "all", "--gpus", "all"), env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert no_gpu.returncode == 2 and no_gpu.stderr.startswith("error: ")


def test_the_installed_command_runs_main():
    """main() (gc.freeze, SIGTERM → unwinding) is what users get, not the bare typer app."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "rocov2-fast"]
    assert script.value == "rocov2_fast.cli:main"


def test_rethreshold_is_its_own_command_reading_the_run(reference, tmp_path):
    import shutil

    out = tmp_path / "rethreshold"
    shutil.copytree(reference, out)
    done = run_cli([sys.executable, "-m", "rocov2_fast.cli", "rethreshold", str(out), "--radiology-threshold", "0.001"])
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rethreshold"]["new"]["radiology"] == 0.001
    assert summary["rethreshold"]["new"]["compound"] == summary["rethreshold"]["old"]["compound"]  # from run.json
    assert summary["options"]["dedup_distance"] == json.loads((out / "plan.json").read_text())["dedup_distance"]
    missing = run_cli([sys.executable, "-m", "rocov2_fast.cli", "rethreshold", str(tmp_path / "nothing")])
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr


@pytest.mark.parametrize("command", [["captions"], ["concepts"], ["split"], ["export", "--out", "EXPORT", "--format", "rocov2"],
                                     ["report"], ["inspect", "--out", "EXPORT.html"]])
def test_stage_commands_on_a_damaged_run_print_one_line(reference, tmp_path, command):
    """A truncated manifest, or a stage's input missing: one `error:` line and exit 2, no traceback."""
    run = tmp_path / "damaged"
    run.mkdir()
    for name in ("run.json", "plan.json"):
        (run / name).write_bytes((reference / name).read_bytes())
    (run / "manifest.parquet").write_bytes((reference / "manifest.parquet").read_bytes()[:200])
    args = [a.replace("EXPORT", str(tmp_path / "export")) for a in command]
    done = run_cli([sys.executable, "-m", "rocov2_fast.cli", args[0], str(run), *args[1:]])
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_unrecognised_file_list_licences_are_reported_not_silently_excluded(corpus, tmp_path):
    import shutil

    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    lines = (copy / "oa_file_list.csv").read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",Creative Commons Whatever"
    (copy / "oa_file_list.csv").write_text("\n".join(lines) + "\n")
    done = run_cli(filter_cli(copy, tmp_path / "run", "--no-progress"))
    assert done.returncode == 0, done.stderr
    assert "match no known licence" in done.stderr and "Creative Commons Whatever" in done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["file_list_unrecognised_licenses"] == {"Creative Commons Whatever": 1}

"""`filter` leaves the funnel as a picture and as text (RUN_DIR/funnel.png, funnel.txt), the same
plot `report` shows; matplotlib writes nothing under $HOME. The report states how the dataset was
made (version, model digests, training data, thresholds, Table 1 counts)."""

from __future__ import annotations

import json
import os

from helpers import filter_cli, run_cli


def test_filter_writes_the_funnel_png_and_text_the_report_shows(built_run):
    run, _ = built_run
    summary = json.loads((run / "summary.json").read_text())
    assert (run / "funnel.txt").read_text() == "\n".join(summary["funnel_text"]) + "\n"
    png = (run / "funnel.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert png == (run / "report" / "funnel.png").read_bytes(), "the same plot as the report's"


def test_filter_cli_writes_the_funnel_without_touching_home(tiny_corpus, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    out = tmp_path / "run"
    done = run_cli(filter_cli(tiny_corpus, out, "--no-progress"), env=env)
    assert done.returncode == 0, done.stderr
    assert (out / "funnel.png").stat().st_size > 5000
    assert (out / "funnel.txt").read_text().splitlines() == json.loads((out / "summary.json").read_text())["funnel_text"]
    assert "figure images" in done.stdout
    # (onnxruntime keeps a device id under ~/.cache/Microsoft; that is not ours to change)
    assert not [p for p in home.rglob("*") if "matplotlib" in p.name or p.name.startswith("fontlist")], "matplotlib wrote in $HOME"


def test_report_states_how_the_dataset_was_made(built_run):
    run, _ = built_run
    stats = json.loads((run / "report.json").read_text())
    facts = stats["provenance"]
    run_json = json.loads((run / "run.json").read_text())
    assert facts["version"].startswith("0.") and facts["thresholds"] == run_json["thresholds"]
    assert {k: m["sha256_16"] for k, m in facts["models"].items()} == {k: run_json[f"{k}_model"] for k in ("compound", "radiology")}
    assert all(m["training_data"] for m in facts["models"].values())
    assert facts["table1"] == json.loads((run / "summary.json").read_text())["funnel"]
    page = (run / "report.html").read_text()
    assert "How it was made" in page and run_json["compound_model"] in page and "| duplicate filter |" in page


def test_the_funnel_picture_is_drawn_without_matplotlib(tmp_path):
    """Importing pyplot and drawing cost filter about 0.45 s per run: the picture is Pillow's."""
    import subprocess
    import sys

    from PIL import Image

    code = ("import sys; from rocov2_fast.funnel import write_funnel_png; "
            f"write_funnel_png({{'images': 202, 'removed': {{'license': 54, 'ingest': 2, 'compound': 41, 'radiology': 45, "
            f"'duplicate': 2}}, 'kept': 58}}, {str(tmp_path / 'funnel.png')!r}); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "funnel.png") as picture:
        assert picture.size == (600, 320) and picture.format == "PNG"
        colours = {c for _, c in picture.convert("RGB").getcolors(1 << 16)}
    assert {(0x44, 0x77, 0xAA), (0xCC, 0x66, 0x77), (0x66, 0xAA, 0x55)} <= colours  # images, removed, kept bars

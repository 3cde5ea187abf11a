"""Measure the shipped models on the fixed real test split, from the files, as the filter runs them
(`model_input` + `FilterModel` at each model's own threshold), and write the result into
models/real_test_report.json (`test`) and each ONNX file's metadata (`real_test_report`,
`held_out_metrics`, `held_out_images`):

    python -m rocov2_fast.modeldev.measure --models models --fixtures tests/fixtures/real_images_test

The last step of scripts/train_default_models.sh: the card's test numbers are then the ONNX file's own
(float32) scores on the committed fixture, the numbers tests/test_models_on_real_images.py recomputes.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from . import dataset


def fixture_rows(folder: Path) -> list[dict]:
    return list(csv.DictReader((folder / "manifest.csv").open(encoding="utf-8")))


def rows_for(rows: list[dict], kind: str) -> list[dict]:
    """The evaluation rows of one model: the compound model sees every figure, the radiology model only
    single images (as in the filter)."""
    out = []
    for r in rows:
        if kind == "radiology" and r["compound"] == "1":
            continue
        label = int(r["compound"]) if kind == "compound" else int(r["radiology"])
        out.append({"source": r["source"], "kind": r["kind"].split(",")[0] if r["source"] == "compound" else r["kind"],
                    "label": label, "file": r["file"]})
    return out


def measure(models: Path, fixtures: Path) -> dict:
    from .._core import model_input
    from ..filter.models import FilterModel, providers_for

    rows = fixture_rows(fixtures)
    out = {}
    for kind in ("compound", "radiology"):
        model = FilterModel.load(models / f"{kind}.onnx", providers_for(0))
        eval_rows = rows_for(rows, kind)
        pixels = np.stack([model_input((fixtures / r["file"]).read_bytes(), size=model.input_size) for r in eval_rows])
        prob = np.asarray(model.predict(pixels), np.float64)
        out[kind] = dataset.report(eval_rows, prob, model.threshold, kind)
    return out


def write(models: Path, reports: dict) -> None:
    import onnx

    path = models / "real_test_report.json"
    cards = json.loads(path.read_text()) if path.exists() else {}
    for kind, report in reports.items():
        cards.setdefault(kind, {})["test"] = report
        onnx_path = models / f"{kind}.onnx"
        proto = onnx.load(str(onnx_path))
        meta = {p.key: p.value for p in proto.metadata_props}
        meta.update(real_test_report=json.dumps(report), held_out_metrics=json.dumps(report["overall"]),
                    held_out_images=json.dumps(report["overall"]["n"]))
        del proto.metadata_props[:]
        for k, v in meta.items():
            proto.metadata_props.add(key=k, value=v)
        onnx.save(proto, str(onnx_path))
    path.write_text(json.dumps(cards, indent=1, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=Path, default=Path("models"))
    ap.add_argument("--fixtures", type=Path, default=Path("tests/fixtures/real_images_test"))
    args = ap.parse_args(argv)
    reports = measure(args.models, args.fixtures)
    write(args.models, reports)
    for kind, r in reports.items():
        print(kind, json.dumps(r["overall"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

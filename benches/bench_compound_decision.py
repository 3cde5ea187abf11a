"""The filter's compound call on the fixed real test split (tests/fixtures/real_images_test, never
trained on): the CNN alone, the layout detector alone, and the filter's rule (CNN or layout,
filter/decide.py), each as the filter computes it (the core's decode, model input and layout).

    .venv/bin/python benches/bench_compound_decision.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from rocov2_fast import _core
from rocov2_fast.filter.decide import layout_compound
from rocov2_fast.filter.layout_rule import DEFAULT_LAYOUT_THRESHOLD
from rocov2_fast.filter.models import FilterModel, default_model_path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "real_images_test"


def main() -> None:
    rows = list(csv.DictReader((FIXTURE / "manifest.csv").open(encoding="utf-8")))
    model = FilterModel.load(default_model_path("compound"))
    size = model.input_size
    pixels, layout, panels = [], [], []
    for r in rows:
        data = (FIXTURE / r["file"]).read_bytes()
        decoded = _core.decode_image(data, reduce_to=224)["pixels"]  # the scan's reduced decode
        score, count, _, _ = _core.layout(decoded)
        layout.append(score)
        panels.append(count)
        pixels.append(_core.model_input(data, size=size))  # what the core hands the models
    cnn = model.predict(np.stack(pixels))
    layout_a, panels_a = np.array(layout, np.float32), np.array(panels, np.float32)
    truth = np.array([int(r["compound"]) for r in rows]) == 1
    real_single = np.array([r["source"] not in ("render",) and r["compound"] == "0" for r in rows])
    thresholds = {"compound": model.threshold, "layout": DEFAULT_LAYOUT_THRESHOLD}
    calls = {"CNN alone": cnn >= model.threshold,
             "layout alone": layout_compound(layout_a, panels_a, thresholds),
             "filter (CNN or layout)": (cnn >= model.threshold) | layout_compound(layout_a, panels_a, thresholds)}
    print(f"{truth.sum()} compound figures, {real_single.sum()} real single images, "
          f"{(~truth & ~real_single).sum()} rendered single figures; CNN threshold {model.threshold}")
    print("| rule | compound recall | FPR, real single | FPR, rendered single |")
    print("|---|---|---|---|")
    for name, call in calls.items():
        print(f"| {name} | {call[truth].mean():.3f} | {call[real_single].mean():.3f} | {call[~truth & ~real_single].mean():.3f} |")


if __name__ == "__main__":
    main()

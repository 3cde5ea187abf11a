"""The filter's compound call (CNN or layout detector, filter/layout_rule.py) on the VAL split, for choosing
its thresholds without the test split (`benches/bench_compound_decision.py` measures the test split):

    python -m rocov2_fast.modeldev.compound_rule

Builds the val split of the mix (no training samples: about a minute), runs the shipped compound model and
the core's layout detector as the filter does (the scan's 224 px reduced decode for the layout, the model
input for the CNN), and prints recall and single-image FPR of the combined call over a grid of CNN and
layout thresholds.
"""

from __future__ import annotations

import argparse

import numpy as np

from . import dataset


def scores(samples, model):
    from .. import _core

    layout, panels, pixels = [], [], []
    for s in samples:
        decoded = _core.decode_image(s.data, reduce_to=224)["pixels"]
        score, count, _, _ = _core.layout(decoded)
        layout.append(score)
        panels.append(count)
        pixels.append(_core.model_input(s.data, size=model.input_size))
    cnn = np.asarray(model.predict(np.stack(pixels)), np.float64)
    return cnn, np.array(layout, np.float32), np.array(panels, np.float32)


def main(argv=None) -> int:
    from ..filter.decide import layout_compound
    from ..filter.layout_rule import DEFAULT_LAYOUT_THRESHOLD
    from ..filter.models import FilterModel, default_model_path

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="compound ONNX model (default: the shipped one)")
    args = ap.parse_args(argv)
    model = FilterModel.load(args.model or default_model_path("compound"))
    samples = [s for s in dataset.build(0, train_variants=0, renders_train=0, compounds_train=0, renders_eval=80,
                                        compounds_eval=120, log=lambda _: None) if s.split == "val"]
    cnn, layout, panels = scores(samples, model)
    truth = np.array([s.compound for s in samples])
    real_single = np.array([s.source != "render" and not s.compound for s in samples])

    def line(name, call):
        print(f"| {name} | {call[truth].mean():.3f} | {call[~truth].mean():.3f} ({int(call[~truth].sum())}) | "
              f"{call[real_single].mean():.3f} ({int(call[real_single].sum())}) |")

    print(f"val: {truth.sum()} compound figures, {(~truth).sum()} single images ({real_single.sum()} real)")
    print("| rule | compound recall | FPR, all singles | FPR, real singles |\n|---|---|---|---|")
    line("layout alone (default threshold)", layout_compound(layout, panels, {"layout": DEFAULT_LAYOUT_THRESHOLD}))
    for t in sorted({model.threshold, *np.round(np.quantile(cnn[~truth], [0.8, 0.85, 0.9, 0.95]), 4)}):
        line(f"CNN >= {t:.4f}", cnn >= t)
        line(f"CNN >= {t:.4f} or layout >= {DEFAULT_LAYOUT_THRESHOLD}",
             (cnn >= t) | layout_compound(layout, panels, {"layout": DEFAULT_LAYOUT_THRESHOLD}))
    for lt in (0.6, 0.8, 0.9, 0.95):
        line(f"CNN >= {model.threshold} or layout >= {lt}", (cnn >= model.threshold) | layout_compound(layout, panels, {"layout": lt}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

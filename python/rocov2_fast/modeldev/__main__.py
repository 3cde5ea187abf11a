"""`python -m rocov2_fast.modeldev`: build the mix, fine-tune both default models, choose thresholds on
the val split, measure on the fixed test split, export ONNX with the measurements in its metadata,
and write the test split (with provenance) as the fixture tests/test_models_on_real_images.py reads.

    python -m rocov2_fast.modeldev --seed 0 --out models --fixtures tests/fixtures/real_images_test
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from . import train as tr
from . import dataset, real

SIZE = 128
TARGETS = {"radiology_recall": 0.95, "radiology_fpr": 0.05, "compound_recall": 0.85, "compound_fpr": 0.05}


def pixels_of(samples) -> np.ndarray:
    from .._core import model_input

    return np.stack([model_input(s.data, size=SIZE) for s in samples]) if samples else np.zeros((0, SIZE, SIZE, 3), np.uint8)


def rows_of(samples, kind: str) -> list[dict]:
    label = (lambda s: int(s.compound)) if kind == "compound" else (lambda s: int(bool(s.radiology)))
    return [{"source": s.source, "kind": s.kind if s.source != "compound" else s.kind.split(",")[0], "label": label(s)}
            for s in samples]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("models"))
    ap.add_argument("--fixtures", type=Path, default=None)
    ap.add_argument("--init", type=Path, default=None, help="folder of the synthetic-trained models to fine-tune")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the number of generated training samples")
    ap.add_argument("--kinds", default="compound,radiology", help="which models to train (comma-separated)")
    ap.add_argument("--lr", default="compound=2e-3,radiology=1e-3", help="peak learning rate per model")
    ap.add_argument("--kind-epochs", default="", help="per-model epochs, e.g. compound=7 (default: --epochs)")
    args = ap.parse_args(argv)
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:6.0f}s] {msg}", flush=True)

    samples = dataset.build(args.seed, train_variants=args.scale, renders_train=int(300 * args.scale),
                            compounds_train=int(450 * args.scale), renders_eval=80, compounds_eval=120,
                            families=real.FIRST_ROUND, log=log)  # the sources of the round that fine-tuned them
    by = {s: [x for x in samples if x.split == s] for s in ("train", "val", "test")}
    px = {s: pixels_of(v) for s, v in by.items()}
    log({s: len(v) for s, v in by.items()})
    if args.fixtures:
        write_fixtures(args.fixtures, by["test"])
        log(f"fixtures written to {args.fixtures}")

    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    init = args.init or args.out
    report_path = args.out / "real_test_report.json"
    cards = json.loads(report_path.read_text()) if report_path.exists() else {}
    lrs = {k: float(v) for k, v in (x.split("=") for x in args.lr.split(","))}
    kind_epochs = {k: int(v) for k, v in (x.split("=") for x in args.kind_epochs.split(",") if x)}
    for kind in args.kinds.split(","):
        epochs = kind_epochs.get(kind, args.epochs)
        keep = {s: np.array([kind == "compound" or not x.compound for x in by[s]], bool) for s in by}
        x = {s: px[s][keep[s]] for s in by}
        rows = {s: rows_of([v for v, k in zip(by[s], keep[s]) if k], kind) for s in by}
        y = {s: np.array([r["label"] for r in rows[s]]) for s in by}
        log(f"{kind}: train {len(y['train'])} ({int(y['train'].sum())} positive), val {len(y['val'])}, test {len(y['test'])}")
        model = tr.from_onnx(init / f"{kind}.onnx")
        history = tr.fit(model, x["train"], y["train"], epochs=epochs, lr=lrs.get(kind, 1e-3), seed=args.seed, frozen_bn=True, log=log)
        val_prob = tr.predict(model, x["val"])
        if kind == "radiology":
            threshold = dataset.choose_threshold(val_prob, y["val"], min_recall=0.97)
        else:
            threshold = dataset.choose_threshold(val_prob, y["val"], max_fpr=0.03)
        test_prob = tr.predict(model, x["test"])
        card = {"val": dataset.report(rows["val"], val_prob, threshold, kind),
                "test": dataset.report(rows["test"], test_prob, threshold, kind)}
        cards[kind] = card
        log(json.dumps(card["test"]["overall"]))
        meta = {
            "kind": kind, "input_size": SIZE, "layout": "NHWC uint8", "mean": tr.IMAGENET_MEAN, "std": tr.IMAGENET_STD,
            "labels": [tr.NEGATIVE[kind], tr.POSITIVE[kind]], "positive_label": tr.POSITIVE[kind], "threshold": round(threshold, 4),
            "threshold_rule": "highest threshold with recall >= 0.97 on the val split" if kind == "radiology"
            else "lowest threshold with FPR <= 0.03 on the val split's single images",
            "architecture": "torchvision mobilenet_v3_small, fine-tuned (BatchNorm frozen) from the synthetic-trained model",
            "training_data": "python -m rocov2_fast.modeldev: real images (chest-xray CC BY, pydicom(-data) DICOM, nibabel MR volumes, "
                             "scikit-image and matplotlib samples; train split of source images, augmented) + renders "
                             "(matplotlib/seaborn charts, graphviz flow diagrams, RDKit structures, tables, text, gels) + "
                             "compound figures composed from them; initialised from the model trained on a synthetic corpus",
            "train_images": int(len(y["train"])), "val_images": int(len(y["val"])), "held_out_images": int(len(y["test"])),
            "held_out_metrics": card["test"]["overall"], "real_test_report": card["test"], "train_history": history,
            "seed": args.seed, "epochs": epochs, "lr": lrs.get(kind, 1e-3), "targets": TARGETS,
        }
        tr.export_onnx(model, args.out / f"{kind}.onnx", SIZE, meta)
        log(f"wrote {args.out / f'{kind}.onnx'}")
        report_path.write_text(json.dumps(cards, indent=1, ensure_ascii=False) + "\n")
    report_path.write_text(json.dumps(cards, indent=1, ensure_ascii=False) + "\n")
    return 0


def write_fixtures(folder: Path, samples) -> None:
    """The fixed test split as files, with what each one is and where it comes from."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.jpg"):
        old.unlink()
    with (folder / "manifest.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "name", "source", "kind", "group", "compound", "radiology", "credit", "licence"])
        for i, s in enumerate(samples):
            file = f"{i:04d}.jpg"
            (folder / file).write_bytes(s.data)
            w.writerow([file, s.name, s.source, s.kind, s.group, int(s.compound), "" if s.radiology is None else int(s.radiology),
                        s.credit, s.licence])


if __name__ == "__main__":
    raise SystemExit(main())

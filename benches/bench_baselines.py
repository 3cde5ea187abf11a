"""Concept-baseline throughput: images/s of the data pipeline alone (decode + resize to 1.25×,
flips, crop, normalise; Pillow in DataLoader workers) and of full training steps
(EfficientNet-B0 at 224 px, random init, multi-label soft-margin loss) on this machine.

    .venv/bin/pip install -e '.[baselines]'
    .venv/bin/python benches/bench_baselines.py --dataset demo/build --steps 10 --batch-size 16 --workers 2

Projection: ROCOv2's train split (60,163 images) / measured training images/s = epoch time.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from rocov2_fast.baselines.concepts import ConceptOptions, loader, make_model, training_step
from rocov2_fast.baselines.data import load_splits

ROCOV2_TRAIN = 60_163


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="demo/build")
    ap.add_argument("--arch", default="efficientnet_b0")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    train = load_splits(args.dataset)["train"]
    labels = {c: i for i, c in enumerate(sorted({c for cs in train.concepts for c in cs}))}
    device = torch.device(args.device)
    data = loader(train, labels, args.size, args.batch_size, True, args.workers, device.type == "cuda")

    def batches():
        while True:
            yield from data

    it = batches()
    next(it)  # start the workers
    started, seen = time.perf_counter(), 0
    for _ in range(args.steps):
        x, _ = next(it)
        seen += len(x)
    loading = seen / (time.perf_counter() - started)

    model = make_model(ConceptOptions(dataset=args.dataset, out=".", arch=args.arch), len(labels)).to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = torch.nn.MultiLabelSoftMarginLoss()
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    for step in range(args.steps + 1):
        if step == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started, seen = time.perf_counter(), 0
        x, y = next(it)
        training_step(model, opt, scaler, loss_fn, x, y, device)
        seen += len(x) if step else 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    training = seen / (time.perf_counter() - started)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"device {device} ({name}), {args.arch} {args.size}px, batch {args.batch_size}, {args.workers} loader workers")
    print(f"data pipeline alone: {loading:.1f} images/s; training steps: {training:.1f} images/s")
    print(f"projected epoch on ROCOv2 train ({ROCOV2_TRAIN} images): {ROCOV2_TRAIN / training / 60:.1f} min "
          f"(loader-bound at {ROCOV2_TRAIN / loading / 60:.1f} min)")


if __name__ == "__main__":
    main()

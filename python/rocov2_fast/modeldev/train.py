"""`rocov2-fast train-filter`: train a small CNN (torchvision MobileNetV3-Small) for one filter,
export it to ONNX with its preprocessing and metadata. torch is an optional extra (`.[train]`).

Data: a folder of class sub-folders (`compound/` + `single/`, or `radiology/` + `non-radiology/`:
the positive class is named by `--positive`), or the `truth.csv` of a `rocov2-fast synth` corpus
(labels from its `compound` / `radiology` columns). Pretrained weights only by path, never
downloaded.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import ingest
from .._core import model_input

POSITIVE = {"compound": "compound", "radiology": "radiology"}
NEGATIVE = {"compound": "single", "radiology": "non-radiology"}
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@dataclass
class Dataset:
    pixels: np.ndarray  # N × S × S × 3 uint8
    labels: np.ndarray  # N, 1 = positive
    description: str


def load_truth_csv(truth: Path, kind: str, size: int) -> Dataset:
    """Images of a synth corpus, decoded by the core exactly as `filter` will see them."""
    corpus = truth.parent
    with truth.open() as f:
        rows = {(r["pmcid"], r["graphic"]): r for r in csv.DictReader(f)}
    pixels, labels = [], []
    for src in ingest.iter_sources([corpus], size=size):
        if src.pixels is None:
            continue
        t = src.table
        for pmcid, graphic, index in zip(t["pmcid"].to_pylist(), t["graphic"].to_pylist(), t["pixel_index"].to_pylist()):
            row = rows.get((pmcid, graphic))
            if index is None or row is None:
                continue
            if kind == "radiology" and row["compound"] == "1":
                continue  # the radiology filter only ever sees non-compound figures
            pixels.append(src.pixels[index])
            labels.append(int(row[kind]))
    return Dataset(np.stack(pixels), np.array(labels), f"synthetic corpus {corpus.name} ({len(labels)} images)")


def load_folder(folder: Path, kind: str, size: int) -> Dataset:
    pixels, labels = [], []
    for label, name in ((1, POSITIVE[kind]), (0, NEGATIVE[kind])):
        for path in sorted((folder / name).rglob("*")):
            if path.is_file():
                try:
                    pixels.append(model_input(path.read_bytes(), size=size))
                    labels.append(label)
                except ValueError:
                    continue  # unreadable file: not training material
    if not labels:
        raise SystemExit(f"{folder}: expected sub-folders {POSITIVE[kind]}/ and {NEGATIVE[kind]}/ with images")
    return Dataset(np.stack(pixels), np.array(labels), f"folder {folder} ({len(labels)} images)")


def split(n: int, labels: np.ndarray, seed: int, held_out: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train / held-out indices."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for value in (0, 1):
        idx = np.flatnonzero(labels == value)
        rng.shuffle(idx)
        cut = int(round(len(idx) * held_out))
        test.extend(idx[:cut])
        train.extend(idx[cut:])
    return np.array(sorted(train)), np.array(sorted(test))


def train(data: Path, kind: str, out: Path, *, size: int = 128, epochs: int = 8, batch_size: int = 32,
          lr: float = 2e-3, seed: int = 0, weights: Path | None = None, threshold: float = 0.5) -> dict:
    import torch
    from torch import nn
    from torchvision.models import mobilenet_v3_small

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    dataset = load_truth_csv(data, kind, size) if data.is_file() else load_folder(data, kind, size)
    train_idx, test_idx = split(len(dataset.labels), dataset.labels, seed)

    net = mobilenet_v3_small(num_classes=1)
    if weights:
        state = torch.load(weights, map_location="cpu")
        state = {k: v for k, v in state.items() if not k.startswith("classifier.3")}
        net.load_state_dict(state, strict=False)
    for module in net.modules():  # torchvision's 0.01 leaves eval statistics stale after a short training
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.1
    model = Deployable(net, IMAGENET_MEAN, IMAGENET_STD)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    x_all = torch.from_numpy(dataset.pixels)
    y_all = torch.from_numpy(dataset.labels.astype(np.float32))
    generator = torch.Generator().manual_seed(seed)
    log = []
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(train_idx)[torch.randperm(len(train_idx), generator=generator)]
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            x = augment(x_all[batch], generator)
            optimiser.zero_grad()
            loss = loss_fn(model.logits(x), y_all[batch])
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        recalibrate_batchnorm(model, x_all[train_idx], batch_size)
        metrics = evaluate(model, x_all[test_idx], dataset.labels[test_idx], threshold)
        log.append({"epoch": epoch + 1, "train_loss": total / len(train_idx), **metrics})
        print(json.dumps(log[-1]))
    meta = {
        "kind": kind, "input_size": size, "layout": "NHWC uint8", "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
        "labels": [NEGATIVE[kind], POSITIVE[kind]], "positive_label": POSITIVE[kind], "threshold": threshold,
        "architecture": "torchvision mobilenet_v3_small" + (f" from {weights.name}" if weights else ", random init"),
        "training_data": dataset.description, "train_images": len(train_idx), "held_out_images": len(test_idx),
        "held_out_metrics": log[-1], "seed": seed, "epochs": epochs,
    }
    export_onnx(model, out, size, meta)
    return meta


def _deployable_class():
    import torch
    from torch import nn

    class Deployable(nn.Module):
        """uint8 NHWC pixels in, positive-class probability out: preprocessing inside the graph."""

        def __init__(self, net: nn.Module, mean: list[float], std: list[float]):
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

        def logits(self, pixels: torch.Tensor) -> torch.Tensor:
            x = pixels.permute(0, 3, 1, 2).float() / 255.0
            return self.net((x - self.mean) / self.std).squeeze(1)

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.logits(pixels))

    return Deployable


def Deployable(net, mean, std):  # noqa: N802 - a class built lazily so torch stays optional
    return _deployable_class()(net, mean, std)


def recalibrate_batchnorm(model, x, batch_size: int) -> None:
    """Recomputes BatchNorm running statistics with the final weights (cumulative average)."""
    import torch
    from torch import nn

    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            model.logits(x[start:start + batch_size])
    for m in norms:
        m.momentum = 0.1


def augment(x, generator):
    """Random horizontal flips (figures are not mirror-sensitive for these two questions)."""
    import torch

    flip = torch.rand(len(x), generator=generator) < 0.5
    x = x.clone()
    x[flip] = x[flip].flip(2)
    return x


def evaluate(model, x, labels: np.ndarray, threshold: float) -> dict:
    import torch

    model.eval()
    with torch.no_grad():
        prob = torch.cat([model(x[i:i + 64]) for i in range(0, len(x), 64)]).numpy()
    pred = prob >= threshold
    tp = int((pred & (labels == 1)).sum())
    fp = int((pred & (labels == 0)).sum())
    fn = int((~pred & (labels == 1)).sum())
    accuracy = float((pred == (labels == 1)).mean())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": round(accuracy, 4), "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def export_onnx(model, out: Path, size: int, meta: dict) -> None:
    import onnx
    import torch

    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    dummy = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    torch.onnx.export(model, (dummy,), buf, input_names=["pixels"], output_names=["prob"], opset_version=17,
                      dynamic_axes={"pixels": {0: "n"}, "prob": {0: "n"}}, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.helper.set_model_props(proto, {k: json.dumps(v) if not isinstance(v, str) else v for k, v in meta.items()})
    onnx.save(proto, str(out))


def from_onnx(path: Path):
    """A Deployable MobileNetV3-Small holding the weights of an exported model (ours: Conv+BatchNorm were
    fused at export, so each BatchNorm comes back as the identity plus the fused bias). Fine-tune it with
    the BatchNorm layers frozen (`freeze_batchnorm`). Also reads the backbone out of a model with a
    feature head (`rocov2_fast.modeldev.head`: its weights are named `features.net.*`)."""
    import onnx
    import torch
    from onnx import numpy_helper
    from torch import nn
    from torchvision.models import mobilenet_v3_small

    proto = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    net = mobilenet_v3_small(num_classes=1)
    state = net.state_dict()
    prefix = "features.net." if any(k.startswith("features.net.") for k in init) else "net."
    named = {k: v for k, v in init.items() if k.startswith(prefix)}
    for k, v in named.items():
        state[k[len(prefix):]] = torch.from_numpy(v.copy())
    fused = [n for n in proto.graph.node if n.op_type == "Conv" and not n.input[1].startswith(prefix)]
    pairs, last_conv = [], None
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            last_conv = name
        elif isinstance(module, nn.BatchNorm2d):
            pairs.append((last_conv, name, module.eps))
    if len(pairs) != len(fused):
        raise ValueError(f"{path}: {len(fused)} fused convolutions, the network has {len(pairs)}")
    for (conv, bn, eps), node in zip(pairs, fused):
        state[f"{conv}.weight"] = torch.from_numpy(init[node.input[1]].copy())
        bias = init[node.input[2]] if len(node.input) > 2 else np.zeros(state[f"{bn}.weight"].shape, np.float32)
        state[f"{bn}.weight"] = torch.ones_like(state[f"{bn}.weight"])
        state[f"{bn}.bias"] = torch.from_numpy(bias.copy())
        state[f"{bn}.running_mean"] = torch.zeros_like(state[f"{bn}.running_mean"])
        state[f"{bn}.running_var"] = torch.full_like(state[f"{bn}.running_var"], 1 - eps)
    net.load_state_dict(state)
    meta = {p.key: p.value for p in proto.metadata_props}
    return Deployable(net, json.loads(meta.get("mean", json.dumps(IMAGENET_MEAN))), json.loads(meta.get("std", json.dumps(IMAGENET_STD))))


def freeze_batchnorm(model) -> None:
    """BatchNorm layers in eval mode with fixed parameters (fine-tuning a fused, exported model)."""
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)


def fit(model, x, y, *, epochs: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0, frozen_bn: bool = False,
        log=print):
    """Trains `model` (a Deployable) on uint8 N×S×S×3 pixels `x` with 0/1 labels `y`; class-balanced loss,
    random horizontal flips, cosine learning rate."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x_all = torch.from_numpy(x)
    y_all = torch.from_numpy(y.astype(np.float32))
    pos = max(1.0, float(y.sum()))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - pos) / pos))
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(y) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.15)
    history = []
    for epoch in range(epochs):
        model.train()
        if frozen_bn:
            freeze_batchnorm(model)
        order = torch.randperm(len(y), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model.logits(augment(x_all[batch], generator)), y_all[batch])
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        history.append({"epoch": epoch + 1, "train_loss": round(total / len(y), 5)})
        log(json.dumps(history[-1]))
    model.eval()
    return history


def predict(model, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        t = torch.from_numpy(x)
        return torch.cat([model(t[i:i + batch_size]) for i in range(0, len(t), batch_size)]).numpy() if len(t) else np.zeros(0)

"""`rocov2-fast baseline concepts DATASET --out DIR`: multi-label concept detection as in the
ROCOv2 paper: timm EfficientNet-B0 (224 px) or EfficientNetV2-S (300 px), images loaded at 1.25×
the size, random horizontal and vertical flips, random crop (centre crop for valid/test),
ImageNet normalisation, multi-label soft-margin loss, sigmoid > 0.5, drop rate 0.2, mixed
precision on GPU; optional grid search over learning rate × optimiser on the validation split,
then the final model on train + valid. Pretrained weights only by path."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..evaluate.concepts import f1
from .data import Split, load_splits, write_submission

ARCH_DEFAULTS = {"efficientnet_b0": (224, 256), "tf_efficientnetv2_s": (300, 92)}
GRID_LRS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
GRID_OPTIMISERS = ("adam", "sgd", "rmsprop")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass
class ConceptOptions:
    dataset: Path
    out: Path
    arch: str = "efficientnet_b0"
    weights: str | None = None
    image_size: int | None = None
    batch_size: int | None = None
    epochs: int = 20
    lr: float = 1e-3
    optimizer: str = "adam"
    drop_rate: float = 0.2
    threshold: float = 0.5
    grid_search: bool = False
    grid_epochs: int | None = None
    workers: int = 4
    device: str | None = None
    max_steps: int | None = None  # per epoch; for smoke runs
    seed: int = 0


class ImageDataset:
    def __init__(self, split: Split, labels: dict[str, int], transform):
        self.split, self.labels, self.transform = split, labels, transform

    def __len__(self) -> int:
        return len(self.split.paths)

    def __getitem__(self, i: int):
        import torch
        from PIL import Image

        with Image.open(self.split.paths[i]) as img:
            x = self.transform(img.convert("RGB"))
        y = torch.zeros(len(self.labels))
        for cui in self.split.concepts[i]:
            if cui in self.labels:
                y[self.labels[cui]] = 1.0
        return x, y


def transforms(size: int, train: bool):
    from torchvision import transforms as T

    load = T.Resize(int(round(size * 1.25)))
    steps = [load, T.RandomHorizontalFlip(0.5), T.RandomVerticalFlip(0.5), T.RandomCrop(size)] if train \
        else [load, T.CenterCrop(size)]
    return T.Compose(steps + [T.ToTensor(), T.Normalize(MEAN, STD)])


def loader(split: Split, labels: dict[str, int], size: int, batch: int, train: bool, workers: int, pin: bool):
    import torch

    return torch.utils.data.DataLoader(ImageDataset(split, labels, transforms(size, train)), batch_size=batch, shuffle=train,
                                       num_workers=workers, pin_memory=pin, persistent_workers=workers > 0, drop_last=False)


def make_model(o: ConceptOptions, classes: int):
    import timm

    kwargs = {"num_classes": classes, "drop_rate": o.drop_rate}
    if o.weights:  # never downloaded: the file the user gives
        kwargs.update(pretrained=True, pretrained_cfg_overlay={"file": o.weights})
    return timm.create_model(o.arch, **kwargs)


def make_optimizer(name: str, params, lr: float):
    import torch

    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise ValueError(f"optimizer must be adam, sgd or rmsprop, not {name!r}")


def predict(model, data, device, threshold: float, label_names: list[str]) -> list[list[str]]:
    import torch

    model.eval()
    out = []
    with torch.no_grad(), torch.autocast(device.type, enabled=device.type == "cuda"):
        for x, _ in data:
            probs = torch.sigmoid(model(x.to(device, non_blocking=True)).float()).cpu()
            out += [[label_names[j] for j in (p > threshold).nonzero().flatten().tolist()] for p in probs]
    return out


def mean_f1(gold: list[list[str]], predicted: list[list[str]]) -> float:
    """The evaluator's primary F1 on in-memory lists (gold [] reads as {""}, as in the files)."""
    scores = [f1(tuple(g) or ("",), tuple(p)) for g, p in zip(gold, predicted)]
    return sum(scores) / len(scores) if scores else 0.0


def train(o: ConceptOptions, train_split: Split, eval_split: Split | None, labels: dict[str, int], lr: float,
          optimizer: str, epochs: int, log) -> tuple[object, list[dict]]:
    import torch

    torch.manual_seed(o.seed)
    device = torch.device(o.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    size, batch = image_size_and_batch(o)
    model = make_model(o, len(labels)).to(device)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    loss_fn = torch.nn.MultiLabelSoftMarginLoss()
    pin = device.type == "cuda"
    train_data = loader(train_split, labels, size, batch, True, o.workers, pin)
    eval_data = loader(eval_split, labels, size, batch, False, o.workers, pin) if eval_split else None
    names = sorted(labels, key=labels.get)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        started, seen, total = time.perf_counter(), 0, 0.0
        for step, (x, y) in enumerate(train_data):
            if o.max_steps is not None and step >= o.max_steps:
                break
            loss = training_step(model, opt, scaler, loss_fn, x, y, device)
            seen += len(x)
            total += loss * len(x)
        seconds = time.perf_counter() - started
        entry = {"epoch": epoch, "lr": lr, "optimizer": optimizer, "train_loss": total / max(seen, 1),
                 "images_per_second": seen / seconds if seconds else None, "seconds": round(seconds, 2)}
        if eval_data is not None:
            entry["valid_f1"] = mean_f1(eval_split.concepts, predict(model, eval_data, device, o.threshold, names))
        history.append(entry)
        log(entry)
    return model, history


def training_step(model, opt, scaler, loss_fn, x, y, device) -> float:
    """One optimiser step (autocast and gradient scaling on CUDA); returns the loss."""
    import torch

    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    with torch.autocast(device.type, enabled=device.type == "cuda"):
        loss = loss_fn(model(x), y)
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    return loss.item()


def image_size_and_batch(o: ConceptOptions) -> tuple[int, int]:
    size, batch = ARCH_DEFAULTS.get(o.arch, (224, 64))
    return o.image_size or size, o.batch_size or batch


def merge(a: Split, b: Split) -> Split:
    return Split(a.ids + b.ids, a.paths + b.paths, a.captions + b.captions, a.concepts + b.concepts)


def run_concepts(o: ConceptOptions) -> dict:
    import torch

    out = Path(o.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_splits(o.dataset)
    if not splits["train"].ids:
        raise ValueError(f"{o.dataset}: the dataset has no train images")
    labels = {c: i for i, c in enumerate(sorted({c for cs in splits["train"].concepts for c in cs}))}
    log_path = out / "log.jsonl"
    log_path.unlink(missing_ok=True)

    def log(entry: dict) -> None:
        with log_path.open("a") as f:
            f.write(json.dumps(entry) + "\n")

    lr, optimizer, grid = o.lr, o.optimizer, []
    if o.grid_search:
        for candidate_lr in GRID_LRS:
            for candidate_opt in GRID_OPTIMISERS:
                _, history = train(o, splits["train"], splits["valid"], labels, candidate_lr, candidate_opt,
                                   o.grid_epochs or o.epochs, lambda e: log({"grid": True, **e}))
                grid.append({"lr": candidate_lr, "optimizer": candidate_opt, "valid_f1": history[-1]["valid_f1"]})
        best = max(grid, key=lambda g: g["valid_f1"])
        lr, optimizer = best["lr"], best["optimizer"]
        final_train, final_eval = merge(splits["train"], splits["valid"]), None
    else:
        final_train, final_eval = splits["train"], splits["valid"] if splits["valid"].ids else None
    model, history = train(o, final_train, final_eval, labels, lr, optimizer, o.epochs, log)
    device = next(model.parameters()).device
    size, batch = image_size_and_batch(o)
    names = sorted(labels, key=labels.get)
    result = {"options": {k: str(v) for k, v in asdict(o).items()}, "labels": len(labels), "lr": lr, "optimizer": optimizer,
              "grid": grid, "epochs": history}
    for split in ("valid", "test"):
        if splits[split].ids:
            predicted = predict(model, loader(splits[split], labels, size, batch, False, o.workers, False), device, o.threshold, names)
            write_submission(out / f"submission_{split}.csv", ((i, ";".join(p)) for i, p in zip(splits[split].ids, predicted)))
            result[f"{split}_f1"] = mean_f1(splits[split].concepts, predicted)
    torch.save({"state_dict": model.state_dict(), "labels": names, "arch": o.arch, "image_size": size}, out / "model.pt")
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    return result

"""`rocov2-fast baseline captions DATASET --out DIR --encoder PATH --decoder PATH`: caption
prediction as in the ROCOv2 paper: a VisionEncoderDecoder from a ViT encoder and a GPT-2-style
causal LM (both by path; a pad token is set when the tokenizer has none), Adafactor, fp16 on GPU,
2 epochs, batch 2 with gradient accumulation 2, at most 128 tokens, beam search to generate."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .data import Split, load_splits, write_submission


@dataclass
class CaptionOptions:
    dataset: Path
    out: Path
    encoder: str
    decoder: str
    epochs: int = 2
    batch_size: int = 2
    grad_accum: int = 2
    max_length: int = 128
    beams: int = 4
    lr: float | None = None  # None: Adafactor's relative step size
    device: str | None = None
    max_steps: int | None = None  # per epoch; for smoke runs
    seed: int = 0


def build_model(o: CaptionOptions):
    from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel

    tokenizer = AutoTokenizer.from_pretrained(o.decoder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    processor = AutoImageProcessor.from_pretrained(o.encoder)
    model = VisionEncoderDecoderModel.from_encoder_decoder_pretrained(o.encoder, o.decoder)
    model.config.decoder_start_token_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.decoder_start_token_id = model.config.decoder_start_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer, processor


def batches(split: Split, size: int):
    for i in range(0, len(split.ids), size):
        yield slice(i, i + size)


def pixels(processor, paths):
    from PIL import Image

    images = []
    for p in paths:
        with Image.open(p) as img:
            images.append(img.convert("RGB"))
    return processor(images=images, return_tensors="pt").pixel_values


def run_captions(o: CaptionOptions) -> dict:
    import torch
    from transformers.optimization import Adafactor

    torch.manual_seed(o.seed)
    out = Path(o.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_splits(o.dataset)
    device = torch.device(o.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, tokenizer, processor = build_model(o)
    model.to(device)
    optimizer = Adafactor(model.parameters(), lr=o.lr, relative_step=o.lr is None, scale_parameter=o.lr is None,
                          warmup_init=o.lr is None)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    history, log_path = [], out / "log.jsonl"
    log_path.unlink(missing_ok=True)
    train = splits["train"]
    for epoch in range(1, o.epochs + 1):
        model.train()
        order = torch.randperm(len(train.ids)).tolist()
        shuffled = Split([train.ids[i] for i in order], [train.paths[i] for i in order],
                         [train.captions[i] for i in order], [train.concepts[i] for i in order])
        started, total, steps = time.perf_counter(), 0.0, 0
        for step, part in enumerate(batches(shuffled, o.batch_size)):
            if o.max_steps is not None and step >= o.max_steps:
                break
            x = pixels(processor, shuffled.paths[part]).to(device)
            tokens = tokenizer(shuffled.captions[part], padding=True, truncation=True, max_length=o.max_length, return_tensors="pt")
            labels = tokens.input_ids.masked_fill(tokens.attention_mask == 0, -100).to(device)
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                loss = model(pixel_values=x, labels=labels).loss / o.grad_accum
            scaler.scale(loss).backward()
            if (step + 1) % o.grad_accum == 0:
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
            total += loss.item() * o.grad_accum
            steps += 1
        entry = {"epoch": epoch, "train_loss": total / max(steps, 1), "seconds": round(time.perf_counter() - started, 2)}
        history.append(entry)
        with log_path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
    model.eval()
    result = {"options": {k: str(v) for k, v in asdict(o).items()}, "epochs": history}
    for split in ("valid", "test"):
        data = splits[split]
        if not data.ids:
            continue
        captions = []
        for part in batches(data, max(o.batch_size, 8)):
            with torch.no_grad():
                generated = model.generate(pixels(processor, data.paths[part]).to(device), max_length=o.max_length, num_beams=o.beams)
            captions += [t.strip() for t in tokenizer.batch_decode(generated, skip_special_tokens=True)]
        write_submission(out / f"submission_{split}.csv", zip(data.ids, captions))
        result[f"{split}_captions"] = len(captions)
    model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    return result

"""Model-based caption metrics, each from a model given by path (nothing is downloaded):
BERTScore (as bert-score computes it: greedy cosine matching of one layer's token embeddings,
special tokens left out, no idf, no rescaling), BLEURT (a sequence-classification checkpoint's
score) and CLIPScore (2.5 × max(cos(image, text), 0), Hessel et al. 2021)."""

from __future__ import annotations

from pathlib import Path

DEBERTA_XLARGE_MNLI_LAYER = 40


def bertscore(model_path: str, references: list[str], candidates: list[str], batch_size: int = 16,
              layer: int | None = None) -> list[float]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()
    if layer is None:
        layer = min(DEBERTA_XLARGE_MNLI_LAYER, model.config.num_hidden_layers)

    def embed(texts: list[str]):
        out = []
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(texts[i:i + batch_size], return_tensors="pt", padding=True, truncation=True,
                              return_special_tokens_mask=True)
            special = batch.pop("special_tokens_mask").bool()
            with torch.no_grad():
                hidden = model(**batch, output_hidden_states=True).hidden_states[layer]
            hidden = torch.nn.functional.normalize(hidden, dim=-1)
            keep = batch["attention_mask"].bool() & ~special
            out += [h[k] for h, k in zip(hidden, keep)]
        return out

    scores = []
    for r, c in zip(embed(references), embed(candidates)):
        if len(r) == 0 or len(c) == 0:
            scores.append(1.0 if len(r) == len(c) else 0.0)
            continue
        sim = c @ r.T
        precision, recall = sim.max(dim=1).values.mean().item(), sim.max(dim=0).values.mean().item()
        scores.append(2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0)
    return scores


def bleurt(model_path: str, references: list[str], candidates: list[str], batch_size: int = 16) -> list[float]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForSequenceClassification.from_pretrained(model_path).eval()
    scores = []
    for i in range(0, len(references), batch_size):
        batch = tokenizer(references[i:i + batch_size], candidates[i:i + batch_size], return_tensors="pt",
                          padding=True, truncation=True)
        with torch.no_grad():
            scores += model(**batch).logits[:, 0].tolist()
    return scores


def clipscore(model_path: str, images: Path, ids: list[str], candidates: list[str], batch_size: int = 16) -> list[float]:
    import torch
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

    processor = CLIPProcessor.from_pretrained(model_path)
    model = CLIPModel.from_pretrained(model_path).eval()
    scores = []
    for i in range(0, len(ids), batch_size):
        pictures = [Image.open(images / f"{image_id}.jpg").convert("RGB") for image_id in ids[i:i + batch_size]]
        batch = processor(text=candidates[i:i + batch_size], images=pictures, return_tensors="pt", padding=True, truncation=True)
        with torch.no_grad():
            out = model(**batch)
        img = torch.nn.functional.normalize(out.image_embeds, dim=-1)
        txt = torch.nn.functional.normalize(out.text_embeds, dim=-1)
        scores += (2.5 * (img * txt).sum(-1).clamp(min=0)).tolist()
    return scores

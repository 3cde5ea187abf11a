"""Caption prediction scores as ImageCLEFmedical Caption 2023 computes them.

Both texts are preprocessed the same way: lower-cased, every run of digits replaced by `number`,
every character of `string.punctuation` removed. Then per image, mean over images:
- ROUGE-1 F-measure, no stemming, with rouge-score's tokenizer (non-[a-z0-9] characters split words);
- BLEU-1: clipped unigram precision × brevity penalty (one reference);
- CIDEr: pycocoevalcap's CIDEr-D (n = 1..4, document frequencies from the gold captions of the
  whole file, length penalty σ = 6, clipped, × 10);
- METEOR: nltk's, when nltk and its WordNet data are installed;
- BERTScore F1 with `--bertscore-model PATH` (microsoft/deberta-xlarge-mnli, layer 40, no idf, no
  baseline rescaling), BLEURT with `--bleurt-model PATH`, CLIPScore with `--clip-model PATH` and the
  images: these need the `baselines` extra (torch, transformers).
A metric that cannot be computed is reported with the reason; the others are still computed.

Both texts empty after preprocessing (e.g. "1." against "2"): the pair counts as a perfect match
(1.0) for ROUGE-1, BLEU-1 and METEOR; one empty and not the other counts 0. CIDEr is left as its
formula gives (0 for an empty candidate).
"""

from __future__ import annotations

import csv
import math
import re
import string
from collections import Counter
from pathlib import Path

DIGITS = re.compile(r"\d+")
PUNCTUATION = str.maketrans("", "", string.punctuation)
ROUGE_TOKEN = re.compile(r"[^a-z0-9]+")


def preprocess(text: str) -> str:
    return DIGITS.sub("number", text.lower()).translate(PUNCTUATION)


def read_captions(path: Path) -> dict[str, str]:
    """`ID,Caption` rows (a first field containing `ID` is a header, as for concepts)."""
    captions = {}
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or "ID" in row[0]:
                continue
            if len(row) != 2:
                raise ValueError(f"{path}: line {n} must be 'ID,caption' (quote captions holding commas)")
            if row[0] in captions:
                raise ValueError(f"{path}: line {n}: image ID '{row[0]}' is given more than once")
            captions[row[0]] = row[1]
    return captions


def rouge_tokens(text: str) -> list[str]:
    return ROUGE_TOKEN.sub(" ", text.lower()).split()


def rouge1_f(reference: str, candidate: str) -> float:
    ref, cand = Counter(rouge_tokens(reference)), Counter(rouge_tokens(candidate))
    if not ref and not cand:
        return 1.0
    overlap = sum((ref & cand).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(cand.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def bleu1(reference: str, candidate: str) -> float:
    ref, cand = reference.split(), candidate.split()
    if not ref and not cand:
        return 1.0
    if not cand or not ref:
        return 0.0
    clipped = sum((Counter(ref) & Counter(cand)).values())
    brevity = 1.0 if len(cand) > len(ref) else math.exp(1 - len(ref) / len(cand))
    return brevity * clipped / len(cand)


def ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def cider_d(references: list[str], candidates: list[str], n_max: int = 4, sigma: float = 6.0) -> list[float]:
    """pycocoevalcap's CIDEr-D with one reference per image; document frequencies from the references."""
    ref_words = [r.split() for r in references]
    cand_words = [c.split() for c in candidates]
    df: Counter = Counter()
    for words in ref_words:
        for n in range(1, n_max + 1):
            df.update(set(ngrams(words, n)))
    log_n = math.log(float(len(references))) if references else 0.0

    def vectors(words: list[str]) -> tuple[list[dict], list[float]]:
        vec, norms = [], []
        for n in range(1, n_max + 1):
            v = {g: tf * (log_n - math.log(max(1.0, df[g]))) for g, tf in ngrams(words, n).items()}
            vec.append(v)
            norms.append(math.sqrt(sum(x * x for x in v.values())))
        return vec, norms

    scores = []
    for ref, cand in zip(ref_words, cand_words):
        (vr, nr), (vc, nc) = vectors(ref), vectors(cand)
        delta = len(cand) - len(ref)
        total = 0.0
        for n in range(n_max):
            dot = sum(min(vc[n][g], vr[n].get(g, 0.0)) * vr[n].get(g, 0.0) for g in vc[n])
            if nc[n] and nr[n]:
                total += dot / (nc[n] * nr[n]) * math.exp(-(delta ** 2) / (2 * sigma ** 2))
        scores.append(total / n_max * 10.0)
    return scores


def meteor(references: list[str], candidates: list[str]) -> tuple[list[float] | None, str | None]:
    try:
        from nltk.corpus import wordnet
        from nltk.translate.meteor_score import meteor_score

        wordnet.ensure_loaded()
    except Exception as e:  # nltk missing, or its WordNet data not downloaded
        return None, f"needs nltk with WordNet data (pip install nltk; python -m nltk.downloader wordnet): {type(e).__name__}"
    return [1.0 if not r.split() and not c.split() else meteor_score([r.split()], c.split())
            for r, c in zip(references, candidates)], None


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def evaluate_captions(gold_path: Path, predictions_path: Path, *, bertscore_model: str | None = None,
                      bleurt_model: str | None = None, clip_model: str | None = None, images: Path | None = None,
                      batch_size: int = 16) -> dict:
    gold = read_captions(Path(gold_path))
    predicted = read_captions(Path(predictions_path))
    unknown = set(predicted) - set(gold)
    if unknown:
        raise ValueError(f"{predictions_path}: image ID '{sorted(unknown)[0]}' is not in the gold file")
    if set(gold) - set(predicted):
        raise ValueError(f"{predictions_path}: {len(set(gold) - set(predicted))} gold image(s) have no caption")
    ids = sorted(gold)
    refs = [preprocess(gold[i]) for i in ids]
    cands = [preprocess(predicted[i]) for i in ids]
    scores: dict = {"images": len(ids)}
    not_computed: dict[str, str] = {}
    scores["rouge1"] = mean([rouge1_f(r, c) for r, c in zip(refs, cands)])
    scores["bleu1"] = mean([bleu1(r, c) for r, c in zip(refs, cands)])
    scores["cider"] = mean(cider_d(refs, cands))
    values, reason = meteor(refs, cands)
    if values is None:
        not_computed["meteor"] = reason
    else:
        scores["meteor"] = mean(values)
    from . import model_metrics

    for name, path, run in (("bertscore", bertscore_model, model_metrics.bertscore),
                            ("bleurt", bleurt_model, model_metrics.bleurt)):
        if not path:
            not_computed[name] = f"no model given (--{name}-model PATH)"
            continue
        try:
            scores[name] = mean(run(path, refs, cands, batch_size))
        except ImportError as e:
            not_computed[name] = f"needs the baselines extra (torch, transformers): {e}"
    if not clip_model or images is None:
        not_computed["clipscore"] = "no model or images given (--clip-model PATH --images DIR)"
    else:
        try:
            scores["clipscore"] = mean(model_metrics.clipscore(clip_model, Path(images), ids, cands, batch_size))
        except ImportError as e:
            not_computed["clipscore"] = f"needs the baselines extra (torch, transformers): {e}"
    scores["not_computed"] = not_computed
    return scores

"""The baselines end to end on the synthetic build: tiny models trained for a few steps produce
valid ImageCLEF submissions that the evaluator scores. Needs the `baselines` extra (torch, timm,
transformers); skipped without it (CI installs only the core and test extras)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
transformers = pytest.importorskip("transformers")

from rocov2_fast.baselines.captions import CaptionOptions, run_captions  # noqa: E402
from rocov2_fast.baselines.concepts import ConceptOptions, run_concepts  # noqa: E402
from rocov2_fast.evaluate import evaluate_captions, evaluate_concepts  # noqa: E402


def submission_ids(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return [row[0] for row in csv.reader(f)]


def test_concept_baseline_writes_a_submission_the_evaluator_scores(built_run, tmp_path):
    run, _ = built_run
    result = run_concepts(ConceptOptions(dataset=run, out=tmp_path / "c", arch="test_efficientnet", epochs=2, batch_size=8,
                                         image_size=64, workers=0, device="cpu"))
    gold = run / "export" / "rocov2"
    with (gold / "test_captions.csv").open(newline="") as f:
        gold_ids = [r[0] for r in csv.reader(f)][1:]
    assert submission_ids(tmp_path / "c" / "submission_test.csv") == sorted(gold_ids)
    scored = evaluate_concepts(gold / "test_concepts.csv", tmp_path / "c" / "submission_test.csv", gold / "test_concepts_manual.csv")
    assert scored["f1"] == pytest.approx(result["test_f1"]), "the baseline's own F1 is the evaluator's"
    log = (tmp_path / "c" / "log.jsonl").read_text().splitlines()
    assert len(log) == 2 and (tmp_path / "c" / "model.pt").exists()


def test_concept_grid_search_then_train_plus_valid(built_run, tmp_path, monkeypatch):
    from rocov2_fast.baselines import concepts

    monkeypatch.setattr(concepts, "GRID_LRS", (1e-2, 1e-3))
    monkeypatch.setattr(concepts, "GRID_OPTIMISERS", ("adam", "sgd"))
    run, _ = built_run
    result = run_concepts(ConceptOptions(dataset=run, out=tmp_path / "g", arch="test_efficientnet", epochs=1, batch_size=8,
                                         image_size=64, workers=0, device="cpu", grid_search=True))
    assert len(result["grid"]) == 4
    best = max(result["grid"], key=lambda g: g["valid_f1"])
    assert (result["lr"], result["optimizer"]) == (best["lr"], best["optimizer"])


def tiny_encoder_decoder(folder: Path, captions: list[str]) -> tuple[Path, Path]:
    """A tiny ViT and a tiny GPT-2 with a byte-level BPE tokenizer trained on the captions."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, ViTConfig, ViTImageProcessor, ViTModel

    encoder, decoder = folder / "vit", folder / "gpt2"
    ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64)).save_pretrained(encoder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(encoder)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(captions, vocab_size=300, special_tokens=["<|endoftext|>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    tokenizer.save_pretrained(decoder)  # no pad token: the baseline must set one
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=160,
                               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)).save_pretrained(decoder)
    return encoder, decoder


def test_caption_baseline_writes_a_submission_the_evaluator_scores(built_run, tmp_path):
    import polars as pl

    run, _ = built_run
    captions = pl.read_parquet(run / "dataset.parquet")["caption"].to_list()
    encoder, decoder = tiny_encoder_decoder(tmp_path, captions)
    run_captions(CaptionOptions(dataset=run, out=tmp_path / "cap", encoder=str(encoder), decoder=str(decoder), epochs=1,
                                max_steps=6, max_length=24, beams=2, device="cpu"))
    gold = run / "export" / "rocov2" / "test_captions.csv"
    submission = tmp_path / "cap" / "submission_test.csv"
    with gold.open(newline="") as f:
        gold_ids = [r[0] for r in csv.reader(f)][1:]
    assert sorted(submission_ids(submission)) == sorted(gold_ids)
    scored = evaluate_captions(gold, submission)
    assert 0.0 <= scored["rouge1"] <= 1.0 and 0.0 <= scored["bleu1"] <= 1.0 and scored["images"] == len(gold_ids)


def test_bertscore_with_a_model_by_path(tmp_path):
    from rocov2_fast.evaluate.model_metrics import bertscore
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "ct", "of", "the", "chest", "mri", "brain"]))
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(tmp_path / "bert")
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=11, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)).save_pretrained(tmp_path / "bert")
    same, different = bertscore(str(tmp_path / "bert"), ["ct of the chest", "ct of the chest"], ["ct of the chest", "mri brain"])
    assert same == pytest.approx(1.0, abs=1e-6) and different < same

"""ImageCLEFmedical Caption evaluation: concept detection (concepts.py, no torch needed) and
caption prediction (captions.py; BERTScore/BLEURT/CLIPScore only with their models by path)."""

from .captions import evaluate_captions, preprocess
from .concepts import SubmissionError, evaluate_concepts

__all__ = ["SubmissionError", "evaluate_captions", "evaluate_concepts", "preprocess"]

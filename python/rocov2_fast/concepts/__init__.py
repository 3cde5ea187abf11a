"""Concepts: MedCAT extraction (extract.py), the ROCOv2 filters (filters.py), manual concepts and
suggestions (manual.py), the default model pack (pack.py)."""

from .extract import extract
from .filters import DEFAULT_TUIS, apply_filters
from .manual import merge, read_manual, suggest_manual

__all__ = ["DEFAULT_TUIS", "apply_filters", "extract", "merge", "read_manual", "suggest_manual"]

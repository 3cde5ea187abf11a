"""rocov2-fast: the PMC OA subset → a curated radiology image-caption dataset (ROCOv2 pipeline).

The names below that need numpy, polars or pyarrow are imported on first use, so that the
command line starts at once (`rocov2-fast --help` imports none of them)."""

from ._core import Scanner, __version__, discover_sources
from .errors import InputError, Rocov2Error

_LAZY = {"decode_image": "images", "ScanSummary": "ingest", "SourceRecords": "ingest", "iter_sources": "ingest",
         "scan": "ingest", "parse_jats": "jats"}

__all__ = [
    "Scanner", "ScanSummary", "SourceRecords", "InputError", "Rocov2Error", "__version__",
    "decode_image", "discover_sources", "iter_sources", "parse_jats", "scan",
]


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

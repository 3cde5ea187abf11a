"""rocov2-fast: the PMC OA subset → a curated radiology image-caption dataset (ROCOv2 pipeline)."""

from ._core import Scanner, __version__, discover_sources
from .errors import InputError, Rocov2Error
from .images import decode_image
from .ingest import ScanSummary, SourceRecords, iter_sources, scan
from .jats import parse_jats

__all__ = [
    "Scanner", "ScanSummary", "SourceRecords", "InputError", "Rocov2Error", "__version__",
    "decode_image", "discover_sources", "iter_sources", "parse_jats", "scan",
]

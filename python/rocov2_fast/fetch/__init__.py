"""Getting the data: `fetch` (legacy packages or the 2026 per-article layout, licence-filtered,
resumable; run.py) and `trainset` (labelled figure folders from lists of package members;
trainset.py), over resumable verified downloads (http.py)."""

from .run import FetchOptions, fetch
from .trainset import build_trainset, read_roco_lists, read_rows

__all__ = ["FetchOptions", "build_trainset", "fetch", "read_roco_lists", "read_rows"]

"""Global near-duplicate removal over the kept images.

Candidates: pHash pairs within `max_distance` bits (multi-index hashing in the Rust core; exact).
Confirmation: AntiDupl's rule (gray 32×32 thumbnails with RMS difference ≤ 5 % of full scale,
aspect ratios within 3 %). Clusters are the connected components of confirmed pairs; the
representative is the largest image, then the lowest PMCID, then the lowest image id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import polars as pl

from .._core import antidupl_confirms, near_duplicate_pairs
from ..errors import Rocov2Error

from ..options import DEDUP_DISTANCE as DEFAULT_DISTANCE  # noqa: E402  (pHash radius for candidates)


@dataclass
class DedupResult:
    duplicate_of: dict[str, str]  # image id → its cluster's representative
    candidate_pairs: int
    confirmed_pairs: int


def _pmcid_number(pmcid: str | None) -> int:
    digits = "".join(c for c in (pmcid or "") if c.isdigit())
    return int(digits) if digits else 1 << 62


def find_duplicates(kept: pl.DataFrame, max_distance: int = DEFAULT_DISTANCE) -> DedupResult:
    """`kept`: columns image_id, pmcid, phash, width, height, thumb32."""
    if kept.height < 2:
        return DedupResult({}, 0, 0)
    ids = kept["image_id"].to_list()
    if len(set(ids)) != len(ids):  # ids are unique by construction (manifest.py): never pair an image with itself
        twice = sorted(i for i, n in Counter(ids).items() if n > 1)
        raise Rocov2Error(f"internal error: {len(twice)} image ids name several kept rows (first: {twice[0]!r}); "
                          "parts made by an older version? rerun filter with --fresh")
    hashes = [int(h, 16) for h in kept["phash"].to_list()]
    thumbs = kept["thumb32"].to_list()
    widths, heights = kept["width"].to_list(), kept["height"].to_list()
    aspects = [w / h for w, h in zip(widths, heights)]
    pairs = near_duplicate_pairs(hashes, max_distance)
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    confirmed = 0
    for i, j, _distance in pairs:
        if i != j and antidupl_confirms(thumbs[i], thumbs[j], aspects[i], aspects[j]):
            confirmed += 1
            parent[root(i)] = root(j)
    clusters: dict[int, list[int]] = {}
    for i in range(len(ids)):
        clusters.setdefault(root(i), []).append(i)
    pmcids = kept["pmcid"].to_list()
    duplicate_of = {}
    for members in clusters.values():
        if len(members) < 2:
            continue
        best = min(members, key=lambda i: (-widths[i] * heights[i], _pmcid_number(pmcids[i]), ids[i]))
        duplicate_of.update({ids[i]: ids[best] for i in members if i != best})
    return DedupResult(duplicate_of, len(pairs), confirmed)

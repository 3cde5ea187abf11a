"""Decisions: one shard's records and scores → manifest rows (fate, stage, reason)."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import polars as pl
import pyarrow as pa

from .._core import FileList
from ..ingest import STATUSES
from ..rundir import source_state
from .caption_evidence import DECISIONS, combine_compound, combine_radiology, score_captions
from .layout_rule import DEFAULT_LAYOUT_THRESHOLD
from .manifest import MANIFEST_SCHEMA, accession, image_file_name, sources_image_ids

__all__ = ["DECISIONS", "accession", "decide", "decision_scores", "fate_of"]

#: The statuses the filter (decide.py, finish.py, gallery.py) tests for by name, spelled as the core spells
#: them (`ingest.STATUSES`, rust/error.rs): a misspelt or renamed status fails at import.
OK, NOT_READ, LICENSE_EXCLUDED = "ok", "not_read", "license_excluded"
#: a whole source unread (no image rows): counted as the funnel's failed sources
SOURCE_FAILURES = ("bad_archive", "no_xml", "bad_xml", "internal_error")
if unknown := {OK, NOT_READ, LICENSE_EXCLUDED, *SOURCE_FAILURES} - set(STATUSES):
    raise RuntimeError(f"filter/decide.py names statuses the core does not have: {sorted(unknown)}")


def file_list(path: str | os.PathLike) -> FileList:
    """`oa_file_list.csv` read into the core once per filter run while it is unchanged: the plan,
    an in-process worker and the finish share it (PMC's list: about 250 MB and 1.7 s per million
    rows); `forgetting_file_list` lets it go when the run ends."""
    real = os.path.realpath(path)
    return _file_list(real, source_state(real))


def forget_file_list() -> None:
    _file_list.cache_clear()


@contextmanager
def forgetting_file_list() -> Iterator[None]:
    try:
        yield
    finally:
        forget_file_list()


@functools.lru_cache(maxsize=1)
def _file_list(path: str, state: str) -> FileList:
    return FileList(path)


def excluded_by_file_list(source: str, listed: dict, allowed: tuple[str, ...]) -> str | None:
    """The file-list licence of a package that must not be read, or None. Both sides are compared
    normalised, as the XML's licences are (`CC-BY`, `cc by 4.0`, `CC BY 4.0 International` → `CC BY`;
    `listed` (`_core.FileList` or `read_file_list`'s dict) holds normalised licences, a value naming no known
    licence as written)."""
    from .._core import normalize_license

    entry = listed.get(accession(source) or "")
    if entry is None:
        return None
    wanted = {normalize_license(a) or a.strip() for a in allowed}
    if (normalize_license(entry[0]) or entry[0].strip()) not in wanted:
        return entry[0]
    return None


def license_rows(skipped: dict[str, str], listed: dict) -> pa.Table:
    """One row per package the file list excludes (never opened)."""
    accessions = [accession(s) for s in skipped]
    return pl.DataFrame({
        "archive": list(skipped), "pmcid": accessions, "pmid": [listed[a][1] for a in accessions],
        "license": list(skipped.values()), "license_source": ["file_list"] * len(skipped),
        "status": [NOT_READ] * len(skipped),
        "error": [f"file-list licence {lic!r} is not allowed: package not read" for lic in skipped.values()]},
        schema={c: pl.String for c in ("archive", "pmcid", "pmid", "license", "license_source", "status", "error")}).to_arrow()


def decision_scores(compound: np.ndarray, radiology: np.ndarray, caption_compound: np.ndarray,
                    caption_radiology: np.ndarray, decision: str, thresholds: dict) -> tuple[np.ndarray, np.ndarray]:
    """The scores the thresholds are applied to: the image models' (`image`), or those moved by
    the caption's evidence (`image+caption`, docs/caption-evidence.md), on the image models' scale."""
    if decision == "image":
        return compound, radiology
    return (combine_compound(compound, caption_compound, image_threshold=thresholds["compound"]),
            combine_radiology(radiology, caption_radiology, image_threshold=thresholds["radiology"]))


def layout_compound(layout_score: np.ndarray, panel_count: np.ndarray, thresholds: dict) -> np.ndarray:
    """The training-free detector's call (filter/layout_rule.py): at least two panels and a
    layout score at or above the threshold. It only ever adds compound calls to the CNN's."""
    threshold = thresholds.get("layout", DEFAULT_LAYOUT_THRESHOLD)
    with np.errstate(invalid="ignore"):
        return (np.nan_to_num(panel_count, nan=0.0) >= 2) & (np.nan_to_num(layout_score, nan=-1.0) >= threshold)


def fate_of(r: dict, compound_score: float, radiology_score: float, compound_threshold: float,
            radiology_threshold: float, layout: str | None = None) -> tuple[str, str | None, str | None]:
    """`layout`: the reason, when the layout detector calls the figure compound."""
    status = r["status"]
    if status in (LICENSE_EXCLUDED, NOT_READ):
        return "dropped", "license", r.get("error")
    if status != OK:
        return "dropped", "ingest", f"{status}: {r.get('error') or ''}".rstrip(": ")
    if layout is not None and not compound_score >= compound_threshold:
        return "dropped", "compound", layout
    if compound_score >= compound_threshold:
        return "dropped", "compound", f"compound score {compound_score:.3f} >= {compound_threshold}"
    if radiology_score < radiology_threshold:
        return "dropped", "radiology", f"radiology score {radiology_score:.3f} < {radiology_threshold}"
    return "kept", None, None


def layout_reason(score: float, panels: float, thresholds: dict) -> str:
    return (f"layout: {int(panels)} panels, layout score {score:.3f} >= "
            f"{thresholds.get('layout', DEFAULT_LAYOUT_THRESHOLD)}")


def align(df: pl.DataFrame) -> pa.Table:
    """Polars' frame → the manifest schema (missing columns as nulls, large types cast down)."""
    table = df.to_arrow()
    columns = [table[name].cast(f.type) if name in table.column_names else pa.nulls(table.num_rows, f.type)
               for name, f in zip(MANIFEST_SCHEMA.names, MANIFEST_SCHEMA)]
    return pa.Table.from_arrays(columns, schema=MANIFEST_SCHEMA)


def shard_counts(table: pa.Table) -> dict:
    """The funnel of one shard (stored in its marker, so progress needs no part reads)."""
    df = pl.from_arrow(table.select(["graphic", "status", "fate", "stage"]))
    images = df.filter(pl.col("graphic").is_not_null() | (pl.col("status") == NOT_READ))
    removed = dict(images.filter(pl.col("fate") == "dropped").group_by("stage").len().rows())
    return {"images": images.height, "kept": int((df["fate"] == "kept").sum()),
            "removed": {k: int(v) for k, v in sorted(removed.items(), key=lambda kv: str(kv[0]))},
            "statuses": {k: int(v) for k, v in sorted(df.group_by("status").len().rows(), key=lambda kv: str(kv[0]))}}


def decide(shard: int, df: pl.DataFrame, image_bytes: Sequence[bytes | None], batch: np.ndarray, compound, radiology,
           thresholds: dict, batch_size: int, write_image, decision: str = "image",
           source_keys: dict[str, str] | None = None) -> pa.Table:
    """Scores every decoded image (and its caption), decides its fate and writes the kept images'
    original bytes (`write_image(name, bytes) → relative path`); `image_bytes[i]`: row i's original
    bytes (worker.RowBytes: taken out of the core's Arrow column only for the kept rows). `source_keys`: the plan's
    disambiguated source keys (manifest.source_keys); every source of the shard is in `df`."""
    n = df.height
    pixel_index = df["pixel_index"].to_list() if "pixel_index" in df.columns else [None] * n
    captions = df["caption"] if "caption" in df.columns else pl.Series("caption", [None] * n, pl.String)
    caption_radiology, caption_compound = score_captions(captions)
    compound_scores = np.full(n, np.nan, np.float32)
    scored = [i for i in range(n) if pixel_index[i] is not None]
    if scored:
        compound_scores[scored] = compound.predict(batch[[pixel_index[i] for i in scored]], batch_size)
    compound_decision, _ = decision_scores(compound_scores, compound_scores, caption_compound, caption_radiology,
                                           decision, thresholds)
    layout_score, panel_count = (df[c].cast(pl.Float32).fill_null(float("nan")).to_numpy() if c in df.columns
                                 else np.full(n, np.nan, np.float32) for c in ("compound_layout_score", "panel_count"))
    by_layout = layout_compound(layout_score, panel_count, thresholds)
    single = [i for i in scored if compound_decision[i] < thresholds["compound"] and not by_layout[i]]
    radiology_scores = np.full(n, np.nan, np.float32)
    if single:
        radiology_scores[single] = radiology.predict(batch[[pixel_index[i] for i in single]], batch_size)
    _, radiology_decision = decision_scores(compound_scores, radiology_scores, caption_compound, caption_radiology,
                                            decision, thresholds)
    # Column lists, not row dicts; image bytes are touched only for kept images.
    column = {c: df[c].to_list() if c in df.columns else [None] * n
              for c in ("status", "error", "archive", "graphic", "figure_index", "member")}
    ids = sources_image_ids(column["archive"], column["graphic"], column["figure_index"], source_keys or {})
    fates, stages, reasons, paths = [], [], [], []
    for i in range(n):
        fate, stage, reason = fate_of({"status": column["status"][i], "error": column["error"][i]},
                                      compound_decision[i], radiology_decision[i], thresholds["compound"], thresholds["radiology"],
                                      layout_reason(layout_score[i], panel_count[i], thresholds) if by_layout[i] else None)
        path = write_image(image_file_name(ids[i], column["member"][i]), image_bytes[i]) if fate == "kept" else None
        fates.append(fate), stages.append(stage), reasons.append(reason), paths.append(path)
    # thumbnails are kept for every decoded image: a rethreshold may keep more
    thumbs = df["thumb32"] if "thumb32" in df.columns else pl.Series("thumb32", [None] * n, pl.Binary)
    out = df.drop([c for c in ("pixel_index", "thumb32") if c in df.columns]).with_columns(
        pl.lit(shard, pl.Int32).alias("shard"), pl.Series("image_id", ids), pl.Series("fate", fates),
        pl.Series("stage", stages, pl.String), pl.Series("reason", reasons, pl.String),
        pl.Series("compound_score", compound_scores).fill_nan(None), pl.Series("radiology_score", radiology_scores).fill_nan(None),
        pl.Series("caption_compound", caption_compound).fill_nan(None),
        pl.Series("caption_radiology", caption_radiology).fill_nan(None),
        pl.lit(None, pl.String).alias("duplicate_of"), pl.Series("image_path", paths, pl.String),
        thumbs.alias("thumb32").cast(pl.Binary))
    return align(out)

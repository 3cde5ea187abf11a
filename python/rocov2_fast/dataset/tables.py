"""The dataset table: one row per image that survived filtering and caption cleaning, with its
caption, concepts, manual concepts, licence metadata and where its bytes are.

`RUN_DIR/dataset.parquet` (written by `split`, or by `import-rocov2`) has the columns of
`DATASET_SCHEMA`; `concepts` holds every CUI of the image (manual first, then automatic, as the
ROCOv2 `*_concepts.csv` files do) and `concepts_manual` the manual ones only.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .. import rundir
from ..concepts.manual import merge

SPLITS = ("train", "valid", "test")
PMC_ARTICLE_URL = "https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/"

DATASET_SCHEMA = {
    "image_id": pl.String,
    "split": pl.String,
    "pmcid": pl.String,
    "caption": pl.String,
    "concepts": pl.List(pl.String),
    "concepts_manual": pl.List(pl.String),
    "manual_source": pl.String,  # annotated | suggested | none
    "image_path": pl.String,  # relative to the run directory
    "format": pl.String,
    "width": pl.Int32,
    "height": pl.Int32,
    "license": pl.String,
    "license_raw": pl.String,
    "attribution": pl.String,
    "link": pl.String,
}


def read_dataset(run_dir: Path) -> pl.DataFrame:
    path = Path(run_dir) / rundir.DATASET
    if not path.exists():
        raise FileNotFoundError(f"{path}: run `rocov2-fast split {run_dir}` (or `import-rocov2`) first")
    return pl.read_parquet(path)


def write_dataset(run_dir: Path, df: pl.DataFrame) -> Path:
    path = Path(run_dir) / rundir.DATASET
    with rundir.replaced_atomically(path) as tmp:
        df.select(list(DATASET_SCHEMA)).cast(DATASET_SCHEMA).write_parquet(tmp)
    return path


def attribution(authors: str | None, title: str | None, journal: str | None, year: int | None,
                license: str | None, license_raw: str | None) -> str:
    """A CC attribution line (title, authors, source, licence):
    `Dennehy JJ, Wang IN. Factors influencing ... BMC Microbiology (2011). CC BY (http://...)`."""
    names = (authors or "").split("; ") if authors else []
    who = ", ".join(names[:3]) + (", et al" if len(names) > 3 else "")
    source = " ".join(x for x in (journal or "", f"({year})" if year else "") if x)
    terms = " ".join(x for x in (license or "", f"({license_raw})" if license_raw and "://" in license_raw else "") if x)
    parts = [p.strip().rstrip(".") for p in (who, title or "", source, terms) if p and p.strip()]
    return ". ".join(parts) + "." if parts else ""


def suggested_manual(suggestions: pl.DataFrame) -> pl.DataFrame:
    """manual_suggestions.parquet → `image_id`, `cuis_manual`: the one modality a caption names,
    and for X-rays the region and projection it states."""
    rows = []
    for row in suggestions.iter_rows(named=True):
        cuis = [c for c in (row["modality"], row["region"], row["projection"]) if c]
        rows.append((row["image_id"], cuis))
    return pl.DataFrame(rows, schema={"image_id": pl.String, "cuis_manual": pl.List(pl.String)}, orient="row")


def assemble(run_dir: Path, *, use_suggestions: bool = True) -> pl.DataFrame:
    """The images `filter` kept whose caption `captions` kept, with `concepts` results and
    manual concepts (annotated ones from `concepts --manual`; where an image has none and
    `use_suggestions`, the caption-based suggestions of `suggest-manual`), without `split`."""
    run_dir = Path(run_dir)
    manifest = pl.read_parquet(run_dir / rundir.MANIFEST).filter(pl.col("fate") == "kept")
    captions = pl.read_parquet(run_dir / rundir.CAPTIONS).filter(pl.col("keep")).select("image_id", "caption")
    concepts = pl.read_parquet(run_dir / rundir.CONCEPTS).select("image_id", "cuis", "cuis_manual")
    df = (manifest.drop("caption").join(captions, on="image_id", how="inner")
          .join(concepts, on="image_id", how="left")
          .with_columns(pl.col("cuis", "cuis_manual").fill_null(pl.lit([], pl.List(pl.String)))))
    annotated = df["cuis_manual"].list.len() > 0
    source = pl.when(annotated).then(pl.lit("annotated")).otherwise(pl.lit("none"))
    suggestions_path = run_dir / rundir.SUGGESTIONS
    if use_suggestions and suggestions_path.exists():
        suggested = suggested_manual(pl.read_parquet(suggestions_path)).rename({"cuis_manual": "suggested"})
        df = df.join(suggested, on="image_id", how="left").with_columns(
            pl.when(annotated).then(pl.col("cuis_manual")).otherwise(pl.col("suggested").fill_null([])).alias("cuis_manual"))
        source = (pl.when(annotated).then(pl.lit("annotated"))
                  .when(pl.col("cuis_manual").list.len() > 0).then(pl.lit("suggested")).otherwise(pl.lit("none")))
        df = df.with_columns(source.alias("manual_source")).drop("suggested")
    else:
        df = df.with_columns(source.alias("manual_source"))
    # The paper's priority rule, applied again now that suggested manual concepts may be present.
    merged = merge(df.select("image_id", "cuis"), df.select("image_id", "cuis_manual"))
    df = df.drop("cuis", "cuis_manual").join(merged.select("image_id", "cuis", "cuis_manual"), on="image_id")
    links = [PMC_ARTICLE_URL.format(pmcid=p) if p else None for p in df["pmcid"].to_list()]
    attributions = [attribution(*r) for r in df.select("authors", "title", "journal", "year", "license", "license_raw").iter_rows()]
    return df.with_columns(
        pl.concat_list(pl.col("cuis_manual"), pl.col("cuis")).list.unique(maintain_order=True).alias("concepts"),
        pl.col("cuis_manual").alias("concepts_manual"),
        pl.lit(None, pl.String).alias("split"),
        pl.Series("link", links, pl.String),
        pl.Series("attribution", attributions, pl.String),
    ).select(list(DATASET_SCHEMA)).cast(DATASET_SCHEMA).sort("image_id")

"""`rocov2-fast export RUN_DIR --out DIR --format rocov2|hf|wds`: the split dataset as the ROCOv2
release files, as Hugging Face parquet shards with a dataset card, or as WebDataset tar shards.

The Hugging Face rows keep the seed's four columns first (`image`, `image_id`, `caption`, `cui`: a
drop-in for the published ROCOv2), then `pmcid`, `pmid`, `doi`, `license`, `attribution` (the
text of `license_information.csv`), `modality` (the manual modality CUI, annotated or
suggested), `concepts_manual` and `caption_original` (before cleaning; from the manifest).

Images are written with the bytes PMC shipped when those are JPEG; PNG, GIF and TIFF figures are
re-encoded as JPEG (quality 95) because the ROCOv2 layout promises `<ID>.jpg`, and the export
summary counts them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .. import rundir
from ..concepts.modality import MODALITIES
from ..concepts.pack import canonical_names
from ..errors import Rocov2Error
from ..options import FORMATS, PREFIX
from ..rundir import write_atomic
from .provenance import facts_markdown, run_facts
from .tables import SPLITS, read_dataset

HF_SPLITS = {"train": "train", "valid": "validation", "test": "test"}
SHARD_BYTES = 500_000_000
WDS_SHARD_BYTES = 1_000_000_000
TAR_MTIME = 1_704_067_200  # 2024-01-01 UTC, = ZIP_DATE: fixed, so a rerun writes identical tars
JPEG_QUALITY = 95
ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # fixed, so a rerun writes identical zips
HF_FEATURES = {
    "image": {"_type": "Image"},
    "image_id": {"dtype": "string", "_type": "Value"},
    "caption": {"dtype": "string", "_type": "Value"},
    "cui": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
    **{name: {"dtype": "string", "_type": "Value"} for name in ("pmcid", "pmid", "doi", "license", "attribution", "modality")},
    "concepts_manual": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
    "caption_original": {"dtype": "string", "_type": "Value"},
}
#: the Hugging Face columns after the seed's four, and what each holds (the card lists them)
HF_EXTRA_COLUMNS = {
    "pmcid": "PubMed Central ID of the article",
    "pmid": "PubMed ID of the article (null where PMC lists none)",
    "doi": "DOI of the article (null where the article XML has none)",
    "license": "the article's licence: `CC BY` or `CC BY-NC`",
    "attribution": "the CC attribution line (authors, title, journal, year, licence): the text of `license_information.csv`",
    "modality": "the image's modality CUI from its manual concepts (annotated, or suggested from the caption); null if none",
    "concepts_manual": "the manual concepts only (modality, and for X-rays region and projection)",
    "caption_original": "the caption as the article has it, before cleaning (null for an imported release)",
}
CITATION = """@article{ruckert2024rocov2,
  title   = {{ROCOv2}: Radiology Objects in {COntext} Version 2, an Updated Multimodal Image Dataset},
  author  = {R{\\"u}ckert, Johannes and Bloch, Louise and Br{\\"u}ngel, Raphael and others},
  journal = {Scientific Data},
  volume  = {11},
  pages   = {688},
  year    = {2024},
  doi     = {10.1038/s41597-024-03496-6}
}"""


def numbered(df: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """Adds `ID` = `<prefix>_<split>_NNNNNN`, numbered from 1 within a split in (pmcid, image_id) order."""
    order = {s: i for i, s in enumerate(SPLITS)}
    df = df.with_columns(pl.col("split").replace_strict(order, return_dtype=pl.Int8).alias("_order"))
    df = df.sort("_order", "pmcid", "image_id", nulls_last=True).drop("_order")
    number = pl.int_range(1, pl.len() + 1).over("split")
    return df.with_columns(pl.format(f"{prefix}_{{}}_{{}}", pl.col("split"), number.cast(pl.String).str.zfill(6)).alias("ID"))


def jpeg_bytes(path: Path, fmt: str | None) -> tuple[bytes, bool]:
    """The image's bytes as a JPEG, and whether they had to be re-encoded."""
    data = path.read_bytes()
    if fmt == "jpeg":
        return data, False
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.seek(0)
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue(), True


def iter_images(run_dir: Path, rows: pl.DataFrame) -> Iterator[tuple[dict, bytes, bool]]:
    for row in rows.iter_rows(named=True):
        data, converted = jpeg_bytes(run_dir / row["image_path"], row["format"])
        yield row, data, converted


def write_csv(path: Path, header: list[str], rows) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)


def cui_names(run_dir: Path) -> dict[str, str]:
    """CUI → canonical name: the run's cui_mapping.csv, then the default concept pack's names."""
    names: dict[str, str] = {}
    path = run_dir / rundir.CUI_MAPPING
    if path.exists():
        with path.open(newline="", encoding="utf-8") as f:
            names.update({r["CUI"]: r["Canonical name"] for r in csv.DictReader(f)})
    for cui, name in canonical_names().items():
        names.setdefault(cui, name)
    return names


def export_rocov2(run_dir: Path, out: Path, prefix: str = PREFIX) -> dict:
    run_dir, out = Path(run_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = numbered(read_dataset(run_dir), prefix)
    converted = 0
    for split in SPLITS:
        rows = df.filter(pl.col("split") == split)
        zip_path = out / f"{split}_images.zip"
        tmp = zip_path.with_name(zip_path.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:  # JPEGs do not compress
            for row, data, was_converted in iter_images(run_dir, rows):
                zf.writestr(zipfile.ZipInfo(f"{split}/{row['ID']}.jpg", date_time=ZIP_DATE), data)
                converted += was_converted
        os.replace(tmp, zip_path)
        ids = rows["ID"].to_list()
        write_csv(out / f"{split}_captions.csv", ["ID", "Caption"], zip(ids, rows["caption"].to_list()))
        for suffix, column in (("concepts", "concepts"), ("concepts_manual", "concepts_manual")):
            write_csv(out / f"{split}_{suffix}.csv", ["ID", "CUIs"], ((i, ";".join(c)) for i, c in zip(ids, rows[column].to_list())))
        # beside the release's format (kept as is): where each image's manual concepts came from
        sources = rows["manual_source"].to_list() if "manual_source" in rows.columns else ["annotated"] * len(ids)
        write_csv(out / f"{split}_concepts_manual_source.csv", ["ID", "Source"], zip(ids, sources))
    used = sorted(set(df["concepts"].explode().drop_nulls().to_list()))
    names = cui_names(run_dir)
    write_csv(out / "cui_mapping.csv", ["CUI", "Canonical name"], ((c, names.get(c, "")) for c in used))
    write_csv(out / "license_information.csv", ["ID", "PMCID", "Attribution", "Link"],
              df.select("ID", "pmcid", "attribution", "link").iter_rows())
    ids = df.select("ID", "image_id", "split")
    with rundir.replaced_atomically(run_dir / rundir.EXPORT_IDS) as tmp:
        ids.write_parquet(tmp)
    return {"out": str(out), "format": "rocov2", "sizes": {s: int((df["split"] == s).sum()) for s in SPLITS},
            "concepts": len(used), "reencoded_as_jpeg": converted}


def with_provenance(run_dir: Path, df: pl.DataFrame) -> pl.DataFrame:
    """Adds `pmid`, `doi` and `caption_original` from the manifest (nulls where a run has none, as
    an imported release) and `modality` (the first modality CUI among the manual concepts)."""
    extra = {"pmid": pl.String, "doi": pl.String, "caption_original": pl.String}
    manifest = Path(run_dir) / rundir.MANIFEST
    if manifest.exists():
        found = pl.read_parquet(manifest, columns=["image_id", "pmid", "doi", "caption"]).rename({"caption": "caption_original"})
        df = df.join(found.unique("image_id", keep="first").cast(extra), on="image_id", how="left")
    else:
        df = df.with_columns(pl.lit(None, t).alias(k) for k, t in extra.items())
    modality = [next((c for c in manual if c in MODALITIES), None) for manual in df["concepts_manual"].to_list()]
    return df.with_columns(pl.Series("modality", modality, pl.String))


def hf_schema() -> pa.Schema:
    fields = [("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), ("image_id", pa.string()),
              ("caption", pa.string()), ("cui", pa.list_(pa.string())),
              *((k, pa.string()) for k in ("pmcid", "pmid", "doi", "license", "attribution", "modality")),
              ("concepts_manual", pa.list_(pa.string())), ("caption_original", pa.string())]
    return pa.schema(fields, metadata={"huggingface": json.dumps({"info": {"features": HF_FEATURES}})})


def byte_chunks(sizes: list[int], shard_bytes: int) -> list[range]:
    """Consecutive runs of rows of about `shard_bytes` each (never empty; one for an empty split)."""
    chunks, start, total = [], 0, 0
    for i, size in enumerate(sizes):
        if i > start and total + size > shard_bytes:
            chunks.append(range(start, i))
            start, total = i, 0
        total += size
    chunks.append(range(start, len(sizes)))
    return chunks


def export_hf(run_dir: Path, out: Path, prefix: str = PREFIX, shard_bytes: int = SHARD_BYTES) -> dict:
    """Parquet shards `data/{train,validation,test}-NNNNN-of-NNNNN.parquet` + README.md card.
    Shards are planned from the files' sizes and read one at a time, so memory holds one shard."""
    run_dir, out = Path(run_dir), Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    df = with_provenance(run_dir, numbered(read_dataset(run_dir), prefix))
    schema, splits_info, converted = hf_schema(), {}, 0
    for split in SPLITS:
        rows = df.filter(pl.col("split") == split)
        chunks = byte_chunks([(run_dir / p).stat().st_size for p in rows["image_path"].to_list()], shard_bytes)
        name = HF_SPLITS[split]
        for old in (out / "data").glob(f"{name}-*.parquet"):
            old.unlink()  # a rerun may shard differently
        total = 0
        for k, chunk in enumerate(chunks):
            images = list(iter_images(run_dir, rows[chunk.start:chunk.stop]))
            converted += sum(c for _, _, c in images)
            total += sum(len(b) for _, b, _ in images)
            table = pa.Table.from_pydict({
                "image": [{"bytes": b, "path": f"{r['ID']}.jpg"} for r, b, _ in images],
                "image_id": [r["ID"] for r, _, _ in images],
                "caption": [r["caption"] for r, _, _ in images],
                "cui": [r["concepts"] for r, _, _ in images],
                **{k: [r[k] for r, _, _ in images] for k in HF_EXTRA_COLUMNS},
            }, schema=schema)
            path = out / "data" / f"{name}-{k:05d}-of-{len(chunks):05d}.parquet"
            tmp = path.with_name(path.name + ".tmp")
            pq.write_table(table, tmp, row_group_size=100)
            os.replace(tmp, path)
        splits_info[name] = {"num_examples": rows.height, "num_bytes": total}
    licenses = set(df["license"].drop_nulls().to_list())
    mix = dict(sorted(df["license"].fill_null("none recorded").value_counts().rows()))
    card = dataset_card(splits_info, "cc-by-nc-4.0" if any("NC" in x for x in licenses) else "cc-by-4.0", mix,
                        facts_markdown(run_facts(run_dir)))
    tmp = out / "README.md.tmp"
    tmp.write_text(card, encoding="utf-8")
    os.replace(tmp, out / "README.md")
    return {"out": str(out), "format": "hf", "sizes": {k: v["num_examples"] for k, v in splits_info.items()},
            "reencoded_as_jpeg": converted}


def dataset_card(splits: dict[str, dict], license_id: str, licenses: dict[str, int], facts: str = "") -> str:
    """The Hub card: YAML header (features, splits, files) and the dataset's description.
    `licenses`: images per licence; `facts`: how it was made (provenance.facts_markdown)."""
    split_yaml = "".join(f"  - name: {k}\n    num_bytes: {v['num_bytes']}\n    num_examples: {v['num_examples']}\n"
                         for k, v in splits.items())
    files_yaml = "".join(f"  - split: {k}\n    path: data/{k}-*\n" for k in splits)
    size = sum(v["num_bytes"] for v in splits.values())
    counts = ", ".join(f"{k} {v['num_examples']}" for k, v in splits.items())
    extra_yaml = "".join(f"  - name: {k}\n    {'sequence' if k == 'concepts_manual' else 'dtype'}: string\n" for k in HF_EXTRA_COLUMNS)
    columns = "\n".join(f"| `{k}` | {v} |" for k, v in {
        "image": "the figure as JPEG (PMC's bytes where PMC shipped a JPEG)", "image_id": "`<prefix>_<split>_NNNNNN`",
        "caption": "the cleaned English caption", "cui": "UMLS concepts: manual first, then automatically extracted",
        **HF_EXTRA_COLUMNS}.items())
    mix = ", ".join(f"{k}: {v} images" for k, v in licenses.items()) or "none recorded"
    return f"""---
license: {license_id}
language:
- en
task_categories:
- image-to-text
tags:
- medical
- radiology
pretty_name: ROCOv2-style radiology image-caption dataset (rocov2-fast)
dataset_info:
  features:
  - name: image
    dtype: image
  - name: image_id
    dtype: string
  - name: caption
    dtype: string
  - name: cui
    sequence: string
{extra_yaml}  splits:
{split_yaml}  download_size: {size}
  dataset_size: {size}
configs:
- config_name: default
  data_files:
{files_yaml}---

# ROCOv2-style radiology image-caption dataset

Built with [rocov2-fast](https://github.com/) from the PubMed Central Open Access subset, following
the ROCOv2 pipeline (Rückert et al., Scientific Data 2024): radiology figures that are not compound
figures, with cleaned English captions and UMLS concepts (`cui`: manual concepts first, then
automatically extracted ones).

Splits: {counts}. Figures of one article are in one split unless the split was made with
`--group-by none`.

## Columns

The first four are the published ROCOv2's; the rest follow them.

| column | holds |
|---|---|
{columns}

## Licence

Every image keeps the licence of its article. Licence mix: {mix}. The card's licence tag is the
most restrictive of them. CC BY requires attribution of every image: each row's `attribution`
holds the line to credit (the same text as the ROCOv2 export's `license_information.csv`).

To keep only CC BY images (e.g. for commercial use):

```python
from datasets import load_dataset

ds = load_dataset("PATH_OR_REPO")
cc_by = ds.filter(lambda license: license == "CC BY", input_columns="license")  # decodes no image
```

## How it was made

{facts}

## Citation

```bibtex
{CITATION}
```
"""


def tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """One file with fixed header fields (mtime, owner, mode), so a rerun writes identical bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), TAR_MTIME, 0o444
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def wds_sample(row: dict, split: str) -> tuple[bytes, bytes]:
    """A sample's `.txt` (caption) and `.json` (concepts, manual concepts, article, licence, split)."""
    meta = {"id": row["ID"], "image_id": row["image_id"], "split": split, "concepts": row["concepts"],
            "concepts_manual": row["concepts_manual"], "modality": row["modality"], "pmcid": row["pmcid"],
            "pmid": row["pmid"], "doi": row["doi"], "license": row["license"], "attribution": row["attribution"],
            "link": row["link"]}
    return row["caption"].encode(), json.dumps(meta, ensure_ascii=False, sort_keys=True).encode()


class TarShards:
    """`{split}-NNNNNN.tar` files of at most `cap` bytes (a sample is never split), each written
    under a temporary name and renamed when full; `shards` is the index of those written."""

    def __init__(self, out: Path, split: str, cap: int):
        self.out, self.split, self.cap = out, split, cap
        self.shards: list[dict] = []
        self.tar: tarfile.TarFile | None = None
        self.written = 0

    def add(self, key: str, files: list[tuple[str, bytes]]) -> None:
        size = sum(512 + (len(b) + 511) // 512 * 512 for _, b in files)  # header + padded data
        if self.tar is not None and self.written + size > self.cap:
            self.close()
        if self.tar is None:
            self.shards.append({"name": f"{self.split}-{len(self.shards):06d}.tar", "samples": 0})
            self.tar, self.written = tarfile.open(self.tmp, "w", format=tarfile.USTAR_FORMAT), 0  # noqa: SIM115 (closed by close())
        for ext, payload in files:
            tar_member(self.tar, f"{key}.{ext}", payload)
        self.shards[-1]["samples"] += 1
        self.written += size

    @property
    def tmp(self) -> Path:
        return self.out / (self.shards[-1]["name"] + ".tmp")

    def close(self) -> None:
        import hashlib

        if self.tar is None:
            return
        self.tar.close()
        self.tar = None
        path = self.out / self.shards[-1]["name"]
        os.replace(self.tmp, path)
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        self.shards[-1].update(bytes=path.stat().st_size, sha256=digest.hexdigest())


def export_wds(run_dir: Path, out: Path, prefix: str = PREFIX, shard_bytes: int = WDS_SHARD_BYTES) -> dict:
    """WebDataset shards `{split}-NNNNNN.tar` of about `shard_bytes` each (img2dataset's layout):
    per sample `<ID>.jpg` (the bytes the rocov2 export writes), `<ID>.txt` (the caption) and
    `<ID>.json`, in ID order; and `{split}-shards.json`, the index (shards, samples, bytes)."""
    run_dir, out = Path(run_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = with_provenance(run_dir, numbered(read_dataset(run_dir), prefix))
    sizes, converted = {}, 0
    for split in SPLITS:
        for old in out.glob(f"{split}-[0-9]*.tar"):
            old.unlink()  # a rerun may shard differently
        rows = df.filter(pl.col("split") == split)
        shards = TarShards(out, split, shard_bytes)
        for row, data, was_converted in iter_images(run_dir, rows):
            converted += was_converted
            txt, meta = wds_sample(row, split)
            shards.add(row["ID"], [("jpg", data), ("txt", txt), ("json", meta)])
        shards.close()
        index = {"split": split, "samples": rows.height, "shards": shards.shards,
                 "keys": {"jpg": "image (JPEG)", "txt": "caption", "json": "concepts, concepts_manual, modality, pmcid, "
                          "pmid, doi, license, attribution, link, split"}}
        write_atomic(out / f"{split}-shards.json", json.dumps(index, indent=2).encode())
        sizes[split] = rows.height
    return {"out": str(out), "format": "wds", "sizes": sizes, "reencoded_as_jpeg": converted}


WRITERS = {"rocov2": export_rocov2, "hf": export_hf, "wds": export_wds}


@dataclass(frozen=True)
class ExportOptions:
    """`rocov2-fast export` (one format) and `build`'s export stage (each of `formats`, into RUN_DIR/export/<format>)."""

    prefix: str = PREFIX
    #: formats `build` writes (WRITERS' keys)
    formats: tuple[str, ...] = FORMATS
    #: shard size cap in bytes for hf and wds (None: the format's default)
    shard_bytes: int | None = None

    def writer_options(self, fmt: str) -> dict:
        """`export`'s keyword arguments for one format."""
        return {"prefix": self.prefix, **({"shard_bytes": self.shard_bytes} if self.shard_bytes and fmt != "rocov2" else {})}


#: what the writers put at the top of `--out`: an existing folder holding only these is an earlier
#: export, which an export replaces whole; anything else there is the user's, never removed
EXPORT_ENTRIES = ("cui_mapping.csv", "license_information.csv", "*_captions.csv", "*_concepts*.csv", "*_images.zip",
                  "README.md", "data", "*-shards.json", "*-[0-9]*.tar")


def check_replaceable(out: Path) -> None:
    """`--out` must be a new folder, an empty one or an earlier export (replaced whole)."""
    if out.exists() and not out.is_dir():
        raise Rocov2Error(f"--out {out} is a file: give a folder (it is created, or an earlier export there is replaced)")
    foreign = [p.name for p in out.iterdir() if not any(p.match(pattern) for pattern in EXPORT_ENTRIES)] if out.is_dir() else []
    if foreign:
        raise Rocov2Error(f"--out {out} holds files no export writes ({', '.join(sorted(foreign)[:3])}): an export replaces "
                          "its folder whole, so give a new or empty folder, or an earlier export's")


def export(run_dir: Path, out: Path, fmt: str, **options) -> dict:
    """One export in `fmt`, whole or nothing: written into a staging folder beside `out` and swapped
    in with renames, so a failure or a kill part-way never leaves new files beside an earlier
    export's (the earlier export stays as it was); staging folders of dead writers are removed."""
    import shutil

    from ..rundir import HOST, stale_temporary

    if fmt not in WRITERS:
        raise Rocov2Error(f"unknown export format {fmt!r}; formats are {', '.join(WRITERS)}")
    out = Path(out)
    check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.*.tmp"):
        if stale_temporary(stale):
            shutil.rmtree(stale, ignore_errors=True)
    staging = out.parent / f".{out.name}.{HOST}.{os.getpid()}.0.tmp"
    previous = out.parent / f".{out.name}.{HOST}.{os.getpid()}.1.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        result = WRITERS[fmt](run_dir, staging, **options)
        if out.exists():
            os.replace(out, previous)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)
    return {**result, "out": str(out)}

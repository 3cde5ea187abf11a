"""`rocov2-fast filter`: records → batches → decisions → manifest.

Order chosen for cost: licence first (a package whose file-list licence is excluded is never
gunzipped; an article whose XML licence is excluded is never decoded), the compound CNN on every
remaining figure, the radiology CNN on the non-compound ones, then global near-duplicate removal
over everything kept. Work is done in shards of packages; a finished shard is never redone.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from .. import ingest
from .._core import discover_sources, read_file_list
from ..progress import ScanProgress
from . import dedup
from .manifest import MANIFEST_SCHEMA, RunDir, image_id, write_atomic, write_table_atomic
from .models import FilterModel, default_model_path, providers_for

DEFAULT_LICENSES = ("CC BY", "CC BY-NC")
STAGES = ("license", "ingest", "compound", "radiology", "duplicate")


@dataclass
class FilterOptions:
    inputs: list[str]
    out: Path
    gpus: int = 0
    workers: int = 0
    file_list: str | None = None
    licenses: tuple[str, ...] = DEFAULT_LICENSES
    compound_model: str | None = None
    radiology_model: str | None = None
    batch_size: int = 256
    dedup_distance: int = dedup.DEFAULT_DISTANCE
    shard_size: int = 64
    fresh: bool = False
    show_progress: bool | None = None
    #: CPU threads per onnxruntime session (0: onnxruntime's default)
    session_threads: int = 0
    #: decision thresholds (None: the value stored in each model's metadata)
    compound_threshold: float | None = None
    radiology_threshold: float | None = None


@dataclass
class Funnel:
    images: int = 0
    removed: dict = field(default_factory=lambda: {s: 0 for s in STAGES})
    kept: int = 0
    failed_sources: int = 0

    def lines(self) -> list[str]:
        remaining = self.images
        out = [f"{'figure images':28} {self.images:>10}"]
        for stage in STAGES:
            remaining -= self.removed[stage]
            out.append(f"  - {stage + ' filter':24} {-self.removed[stage]:>10}  → {remaining}")
        out.append(f"{'kept':28} {self.kept:>10}")
        if self.failed_sources:
            out.append(f"({self.failed_sources} packages could not be read at all: see stage 'ingest' rows without a graphic)")
        return out


def file_sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def run_filter(opts: FilterOptions) -> dict:
    started = time.perf_counter()
    run = RunDir(opts.out)
    if opts.fresh:
        run.clear()
    providers = providers_for(opts.gpus)
    compound_path = Path(opts.compound_model) if opts.compound_model else default_model_path("compound")
    radiology_path = Path(opts.radiology_model) if opts.radiology_model else default_model_path("radiology")
    compound = FilterModel.load(compound_path, providers, opts.session_threads)
    radiology = FilterModel.load(radiology_path, providers, opts.session_threads)
    compound.meta["threshold"] = opts.compound_threshold if opts.compound_threshold is not None else compound.threshold
    radiology.meta["threshold"] = opts.radiology_threshold if opts.radiology_threshold is not None else radiology.threshold
    if compound.input_size != radiology.input_size:
        raise ValueError(f"the models want different input sizes ({compound.input_size} vs {radiology.input_size})")
    sources = discover_sources([os.fspath(p) for p in opts.inputs])
    listed = read_file_list(os.fspath(opts.file_list)) if opts.file_list else {}
    run.prepare({
        "sources": hashlib.sha256("\n".join(sources).encode()).hexdigest()[:16], "source_count": len(sources),
        "licenses": list(opts.licenses), "file_list": file_sha(Path(opts.file_list)) if opts.file_list else None,
        "compound_model": file_sha(compound_path), "radiology_model": file_sha(radiology_path),
        "shard_size": opts.shard_size,
        # parts written by another version of the manifest's columns cannot be merged with new ones
        "manifest_columns": hashlib.sha256(",".join(MANIFEST_SCHEMA.names).encode()).hexdigest()[:16],
        "thresholds": thresholds_of(run, compound.threshold, radiology.threshold),
    })
    shards = [sources[i:i + opts.shard_size] for i in range(0, len(sources), opts.shard_size)]
    todo = [k for k in range(len(shards)) if not run.shard_done(k)]
    with ScanProgress(total=sum(len(shards[k]) for k in todo), enabled=opts.show_progress, label="filtering") as progress:
        for k, collected in collect_shards(shards, todo, listed, compound.input_size, opts, progress):
            run.finish_shard(k, decide(k, collected, compound, radiology, opts, run), shards[k])
    manifest = finish(run, opts)
    summary = summarise(manifest, opts, time.perf_counter() - started, len(sources), len(todo), len(shards))
    write_atomic(run.root / "summary.json", json.dumps(summary, indent=2).encode())
    return summary


def thresholds_of(run: RunDir, compound: float, radiology: float) -> dict:
    """The thresholds in force: a --rethreshold on this run dir overrides the models' values."""
    path = run.root / "run.json"
    if path.exists():
        previous = json.loads(path.read_text()).get("thresholds")
        if previous:
            return previous
    return {"compound": compound, "radiology": radiology}


def rethreshold(out: Path, compound: float | None = None, radiology: float | None = None, dedup_distance: int = dedup.DEFAULT_DISTANCE) -> dict:
    """Re-decides a finished run from its stored scores, without decoding: updates fates, adds
    the original bytes of newly kept images (read from their packages, not decoded) and removes
    those no longer kept. Images never scored by the radiology model (compound at the old
    threshold) cannot be re-decided and are reported."""
    started = time.perf_counter()
    run = RunDir(out)
    config = json.loads((run.root / "run.json").read_text())
    old = config["thresholds"]
    new = {"compound": old["compound"] if compound is None else compound, "radiology": old["radiology"] if radiology is None else radiology}
    unscored = 0
    for part in sorted(run.parts.glob("part-*.parquet")):
        df = pl.read_parquet(part)
        records = df.to_dicts()
        for r in records:
            c, rad = r["compound_score"], r["radiology_score"]
            if r["status"] != "ok":
                continue
            if c is not None and c < new["compound"] and rad is None:
                unscored += 1
                r["fate"], r["stage"] = "dropped", "radiology"
                r["reason"] = "no radiology score (compound at the old threshold): rerun filter --fresh to score it"
            else:
                r["fate"], r["stage"], r["reason"] = fate_of(r, c, rad if rad is not None else float("nan"), new["compound"], new["radiology"])
            r["duplicate_of"] = None
        updated = pl.DataFrame(records, schema=df.schema)
        sync_images(run, df, updated)
        write_table_atomic(part, align(updated))
    config["thresholds"] = new
    write_atomic(run.root / "run.json", json.dumps(config, indent=2).encode())
    opts = FilterOptions(inputs=[], out=out, dedup_distance=dedup_distance)
    manifest = finish(run, opts)
    summary = summarise(manifest, opts, time.perf_counter() - started, config["source_count"], 0, len(list(run.parts.glob("*.done"))))
    summary["rethreshold"] = {"old": old, "new": new, "unscored_images": unscored}
    write_atomic(run.root / "summary.json", json.dumps(summary, indent=2).encode())
    return summary


def sync_images(run: RunDir, before: pl.DataFrame, after: pl.DataFrame) -> None:
    """Writes the bytes of newly kept images and removes the files of images no longer kept."""
    was_kept = set(before.filter(pl.col("image_path").is_not_null())["image_id"])
    rows = after.to_dicts()
    wanted = {}
    for r in rows:
        if r["fate"] == "kept":
            r["image_path"] = f"images/{r['image_id']}{Path(r['member']).suffix.lower() or '.img'}"
            if r["image_id"] not in was_kept or not (run.root / r["image_path"]).exists():
                wanted.setdefault(r["archive"], {})[r["member"]] = r["image_path"]
        elif r["image_path"]:
            (run.root / r["image_path"]).unlink(missing_ok=True)
            r["image_path"] = None
    for archive, members in wanted.items():
        for member, data in read_members(archive, set(members)).items():
            run.write_image(Path(members[member]).name, data)
    after.replace_column(after.get_column_index("image_path"), pl.Series("image_path", [r["image_path"] for r in rows], pl.String))


def read_members(archive: str, names: set[str]) -> dict[str, bytes]:
    """Original bytes of named members (a package streamed with tarfile, or files of a folder)."""
    import tarfile

    path = Path(archive)
    if path.is_dir():
        return {n: (path / Path(n).name).read_bytes() for n in names}
    found = {}
    with tarfile.open(path, mode="r|gz") as tar:
        for member in tar:
            if member.name in names and member.isfile():
                found[member.name] = tar.extractfile(member).read()
    return found


def accession(path: str) -> str | None:
    name = Path(path).name
    digits = "".join(c for c in name[3:].split(".")[0] if c.isdigit()) if name.startswith("PMC") else ""
    return f"PMC{digits}" if digits else None


def excluded_by_file_list(source: str, listed: dict, allowed: tuple[str, ...]) -> str | None:
    entry = listed.get(accession(source) or "")
    if entry is not None and entry[0] not in allowed:
        return entry[0]
    return None


@dataclass
class Collected:
    """What the core returned for one shard's sources, until the shard is complete."""

    records: ingest.ColumnBuffer = field(default_factory=lambda: ingest.ColumnBuffer(("pixel_index", "thumb32")))
    #: the original image bytes, row for row with `records`: kept as the core's bytes objects
    #: (never converted to Arrow), since only the kept images' bytes are used, once
    image_bytes: list[bytes | None] = field(default_factory=list)
    #: rows for packages the file list excluded (never read)
    skipped: pa.Table | None = None
    pixels: list[np.ndarray] = field(default_factory=list)
    pixel_rows: int = 0
    waiting: int = 0

    def add(self, columns: dict, pixels: np.ndarray | None) -> None:
        self.image_bytes.extend(columns.pop("image_bytes", None) or [None] * len(columns["status"]))
        self.records.extend(columns, pixel_offset=self.pixel_rows)  # pixel rows renumbered into the shard's batch
        if pixels is not None:
            self.pixels.append(pixels)
            self.pixel_rows += len(pixels)
        self.waiting -= 1

    def rows(self) -> tuple[list[pa.Table], list[bytes | None]]:
        """The shard's tables (file-list exclusions first) and the image bytes of their rows."""
        skipped = self.skipped.num_rows if self.skipped is not None else 0
        tables = [t for t in (self.skipped, self.records.to_table()) if t is not None and t.num_rows]
        return tables, [None] * skipped + self.image_bytes


def collect_shards(shards: list[list[str]], todo: list[int], listed: dict, size: int, opts: FilterOptions,
                   progress: ScanProgress):
    """Yields (shard, Collected) as each shard completes. One scanner serves every shard, with a
    queue long enough that the core keeps decoding while a finished shard is in inference."""
    shard_of, collected, to_read = {}, {}, []
    for k in todo:
        collected[k] = Collected()
        skipped = {}
        for source in shards[k]:
            if lic := excluded_by_file_list(source, listed, opts.licenses):
                skipped[source] = lic
                progress.advance(images=0, stored_bytes=0)
            else:
                shard_of[source] = k
                collected[k].waiting += 1
                to_read.append(source)
        if skipped:
            collected[k].skipped = license_rows(skipped, listed)
    for k in todo:
        if collected[k].waiting == 0:
            yield k, collected.pop(k)
    if not to_read:
        return
    for archive, columns, pixels, stored in ingest.iter_columns(
            to_read, workers=opts.workers, file_list=opts.file_list, with_pixels=True, with_bytes=True,
            licenses=list(opts.licenses), size=size, queue=max(4 * max(opts.workers, 1), opts.shard_size)):
        k = shard_of[archive]
        collected[k].add(columns, pixels)
        progress.advance(images=columns["status"].count("ok"), stored_bytes=stored)
        if collected[k].waiting == 0:
            yield k, collected.pop(k)


def license_rows(skipped: dict[str, str], listed: dict) -> pa.Table:
    """One row per package the file list excludes (never opened)."""
    accessions = [accession(s) for s in skipped]
    return pl.DataFrame({
        "archive": list(skipped), "pmcid": accessions, "pmid": [listed[a][1] for a in accessions],
        "license": list(skipped.values()), "license_source": ["file_list"] * len(skipped),
        "status": ["not_read"] * len(skipped),
        "error": [f"file-list licence {lic!r} is not allowed: package not read" for lic in skipped.values()]},
        schema={c: pl.String for c in ("archive", "pmcid", "pmid", "license", "license_source", "status", "error")}).to_arrow()


def decide(shard: int, collected: Collected, compound: FilterModel, radiology: FilterModel,
           opts: FilterOptions, run: RunDir) -> pa.Table:
    tables, image_bytes = collected.rows()
    if not tables:
        return MANIFEST_SCHEMA.empty_table()
    df = pl.from_arrow(pa.concat_tables(tables, promote_options="permissive"))
    size = compound.input_size
    batch = np.concatenate(collected.pixels) if collected.pixels else np.zeros((0, size, size, 3), np.uint8)
    n = df.height
    pixel_index = df["pixel_index"].to_list() if "pixel_index" in df.columns else [None] * n
    compound_scores = np.full(n, np.nan, np.float32)
    scored = [i for i in range(n) if pixel_index[i] is not None]
    if scored:
        compound_scores[scored] = compound.predict(batch[[pixel_index[i] for i in scored]], opts.batch_size)
    single = [i for i in scored if compound_scores[i] < compound.threshold]
    radiology_scores = np.full(n, np.nan, np.float32)
    if single:
        radiology_scores[single] = radiology.predict(batch[[pixel_index[i] for i in single]], opts.batch_size)
    # Column lists, not row dicts; image bytes are touched only for kept images.
    column = {c: df[c].to_list() if c in df.columns else [None] * n
              for c in ("status", "error", "pmcid", "archive", "graphic", "figure_index", "member")}
    fates, stages, reasons, ids, paths = [], [], [], [], []
    for i in range(n):
        fate, stage, reason = fate_of({"status": column["status"][i], "error": column["error"][i]},
                                      compound_scores[i], radiology_scores[i], compound.threshold, radiology.threshold)
        ident = image_id(column["pmcid"][i], column["archive"][i], column["graphic"][i], column["figure_index"][i])
        path = None
        if fate == "kept":
            ext = Path(column["member"][i]).suffix.lower() or ".img"
            path = run.write_image(ident + ext, image_bytes[i])
        fates.append(fate), stages.append(stage), reasons.append(reason), ids.append(ident), paths.append(path)
    # thumbnails are kept for every decoded image: --rethreshold may keep more
    thumbs = df["thumb32"] if "thumb32" in df.columns else pl.Series("thumb32", [None] * n, pl.Binary)
    out = df.drop([c for c in ("pixel_index", "thumb32") if c in df.columns]).with_columns(
        pl.lit(shard, pl.Int32).alias("shard"), pl.Series("image_id", ids), pl.Series("fate", fates),
        pl.Series("stage", stages, pl.String), pl.Series("reason", reasons, pl.String),
        pl.Series("compound_score", compound_scores).fill_nan(None), pl.Series("radiology_score", radiology_scores).fill_nan(None),
        pl.lit(None, pl.String).alias("duplicate_of"), pl.Series("image_path", paths, pl.String),
        thumbs.alias("thumb32").cast(pl.Binary))
    return align(out)


def align(df: pl.DataFrame) -> pa.Table:
    """Polars' frame → the manifest schema (missing columns as nulls, large types cast down)."""
    table = df.to_arrow()
    columns = [table[name].cast(f.type) if name in table.column_names else pa.nulls(table.num_rows, f.type)
               for name, f in zip(MANIFEST_SCHEMA.names, MANIFEST_SCHEMA)]
    return pa.Table.from_arrays(columns, schema=MANIFEST_SCHEMA)


def fate_of(r: dict, compound_score: float, radiology_score: float, compound_threshold: float,
            radiology_threshold: float) -> tuple[str, str | None, str | None]:
    status = r["status"]
    if status in ("license_excluded", "not_read"):
        return "dropped", "license", r.get("error")
    if status != "ok":
        return "dropped", "ingest", f"{status}: {r.get('error') or ''}".rstrip(": ")
    if compound_score >= compound_threshold:
        return "dropped", "compound", f"compound score {compound_score:.3f} >= {compound_threshold}"
    if radiology_score < radiology_threshold:
        return "dropped", "radiology", f"radiology score {radiology_score:.3f} < {radiology_threshold}"
    return "kept", None, None


def finish(run: RunDir, opts: FilterOptions) -> pl.DataFrame:
    """Global near-duplicate removal over all shards, then the merged manifest."""
    manifest = pl.from_arrow(run.read_parts()).sort("archive", "figure_index", "graphic", nulls_last=True)
    kept = manifest.filter(pl.col("fate") == "kept")
    result = dedup.find_duplicates(kept, opts.dedup_distance)
    duplicates = pl.DataFrame({"image_id": list(result.duplicate_of), "duplicate_of": list(result.duplicate_of.values())},
                              schema={"image_id": pl.String, "duplicate_of": pl.String})
    write_table_atomic(run.root / "duplicates.parquet", duplicates.to_arrow())
    for path in manifest.filter(pl.col("image_id").is_in(duplicates["image_id"].implode()) & (pl.col("fate") == "kept"))["image_path"]:
        (run.root / path).unlink(missing_ok=True)
    is_dup = pl.col("image_id").is_in(duplicates["image_id"].implode()) & (pl.col("fate") == "kept")
    rep = pl.col("image_id").replace_strict(result.duplicate_of, default=None, return_dtype=pl.String)
    manifest = manifest.with_columns(
        pl.when(is_dup).then(rep).otherwise(pl.col("duplicate_of")).alias("duplicate_of"),
        pl.when(is_dup).then(pl.lit("duplicate")).otherwise(pl.col("stage")).alias("stage"),
        pl.when(is_dup).then(pl.concat_str(pl.lit("near-duplicate of "), rep)).otherwise(pl.col("reason")).alias("reason"),
        pl.when(is_dup).then(None).otherwise(pl.col("image_path")).alias("image_path"),
        pl.when(is_dup).then(pl.lit("dropped")).otherwise(pl.col("fate")).alias("fate"),
    )
    write_table_atomic(run.root / "manifest.parquet", align(manifest.drop("thumb32").with_columns(pl.lit(None, pl.Binary).alias("thumb32"))))
    return manifest


def summarise(manifest: pl.DataFrame, opts: FilterOptions, seconds: float, sources: int, done_now: int, shards: int) -> dict:
    images = manifest.filter(pl.col("graphic").is_not_null() | (pl.col("status") == "not_read"))
    funnel = Funnel(images=images.height, kept=int((manifest["fate"] == "kept").sum()),
                    failed_sources=manifest.filter(pl.col("graphic").is_null() & (pl.col("stage") == "ingest")
                                                   & pl.col("status").is_in(["bad_archive", "no_xml", "bad_xml", "internal_error"])).height)
    for stage, count in Counter(images.filter(pl.col("fate") == "dropped")["stage"].to_list()).items():
        funnel.removed[stage] = count
    return {
        "sources": sources, "shards": shards, "shards_processed_this_run": done_now, "seconds": round(seconds, 2),
        "funnel": {"images": funnel.images, "removed": funnel.removed, "kept": funnel.kept},
        "statuses": dict(Counter(manifest["status"].to_list())), "failed_sources": funnel.failed_sources,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        "funnel_text": funnel.lines(),
    }

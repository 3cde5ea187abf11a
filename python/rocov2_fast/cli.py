"""`rocov2-fast`: PMC Open Access → a curated radiology image-caption dataset (ROCOv2), one thin function per command.

Data flow: sources (packages, article folders) → records (scan) → batches → decisions → manifest (filter) → captions →
concepts → dataset (split) → files (export) → report; `build` runs them all, stage by stage.

Commands: `synth` (a synthetic PMC OA corpus), `fetch` (download the licence-allowed part of PMC
OA), `scan` (sources → records), `filter` (licence, compound, radiology and near-duplicate
decisions → manifest + kept images), `rethreshold`, `status`, `inspect` (a run's images by eye),
`train-filter`, `trainset roco|list` (its training folders), `captions`, `concepts`,
`suggest-manual`, `build-concept-model` (the MedCAT pack), `split`, `export`, `import-rocov2`,
`report`, `build` (all stages), `evaluate concepts|captions` (ImageCLEF rules), `baseline
concepts|captions` (the paper's models).

Modules: ingest.py, filter/, captions.py, concepts/, dataset/ (split, export, import, report),
fetch/, evaluate/, baselines/, build.py (the stage table), options.py (every option's default),
config.py (--config, ROCOV2_FAST_<OPTION>), rundir.py (the run directory), synth/.
"""

from __future__ import annotations

import gc
import inspect
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from . import options as opt
from .config import CONFIG_SETTINGS, config_callback
from .errors import Rocov2Error
from .process import fewer_malloc_arenas, imports_without_collector


class ExpectedErrors(TyperGroup):
    """The one CLI handler: an expected failure (bad input, a missing stage output, a locked run
    directory, a full or read-only disk) prints one `error: …` line and exits 2; anything else is
    a bug and shows its traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (Rocov2Error, OSError) as e:
            typer.echo(f"error: {error_line(e)}", err=True)
            raise typer.Exit(2) from e
        except Exception as e:
            if not table_error(e):
                raise
            typer.echo(f"error: {error_line(e)} (a table this command reads is damaged, incomplete or from another "
                       "version: rerun the stage that writes it)", err=True)
            raise typer.Exit(2) from e


def table_error(e: Exception) -> bool:
    """polars' and pyarrow's errors on reading a table (truncated, not parquet, a column missing)."""
    return type(e).__module__.split(".")[0] in ("polars", "pyarrow") or type(e).__name__ in ("ArrowInvalid", "ArrowIOError")


def error_line(e: BaseException) -> str:
    if isinstance(e, OSError) and not isinstance(e, Rocov2Error) and e.filename is not None:
        return f"{e.strerror or e}: {e.filename}"
    return str(e).splitlines()[0] if str(e) else type(e).__name__


app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=ExpectedErrors,
                  rich_markup_mode=None)  # plain help: rich and markdown-it cost ~0.2 s of start-up


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"rocov2-fast {version('rocov2-fast')}")
        raise typer.Exit()


@app.callback()
def top(version: Annotated[Optional[bool], typer.Option("--version", callback=version_callback, is_eager=True,
                                                        help="Print the version and exit.")] = None) -> None:
    """rocov2-fast: PMC Open Access → a curated radiology image-caption dataset (ROCOv2)."""


@app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Argument(help="Folder to write the corpus into.")],
    articles: Annotated[int, typer.Option(help="Number of articles.", min=1)] = 20,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 0,
    profile: Annotated[str, typer.Option(help="'pmc' (PMC-like sizes, ~1-4 MB per package) or 'tiny' (fast tests).")] = "pmc",
    layout: Annotated[str, typer.Option(help="'legacy' PMCxxxx.tar.gz packages or 'cloud' per-article folders.")] = "legacy",
    faults: Annotated[bool, typer.Option(help="Also write truncated, non-gzip and non-tar packages.")] = False,
    figures: Annotated[str, typer.Option(help="'smooth' (charts, drawings), 'textured' (photo/microscopy-like, noisy; 15 % progressive JPEGs) or 'mixed'.")] = "smooth",
) -> None:
    """Write a deterministic synthetic PMC OA corpus with oa_file_list.csv and truth.csv."""
    from . import synth

    if profile not in synth.corpus.PROFILES or layout not in ("legacy", "cloud"):
        raise typer.BadParameter("profile must be pmc|tiny and layout legacy|cloud")
    summary = synth.generate(out, synth.Options(articles=articles, seed=seed, profile=profile, layout=layout, faults=faults, figures=figures))
    typer.echo(f"wrote {summary.articles} articles, {summary.figures} figures, {summary.images} images, "
               f"{summary.bytes / 1e6:.1f} MB to {out}" + (f"; faults: {', '.join(summary.faults)}" if summary.faults else ""))


@app.command("scan")
def scan_command(
    inputs: Annotated[list[Path], typer.Argument(help="Packages, folders (searched recursively), article folders or list files.")],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    workers: Annotated[int, typer.Option(help="Decode threads (0: one per core).", min=0)] = 0,
    file_list: Annotated[Optional[Path], typer.Option(help="oa_file_list.csv: licence and PMID per package.")] = None,
    size: Annotated[int, typer.Option(help="Model input side; JPEGs are decoded at no less than this.", min=8)] = 224,
    fit: Annotated[str, typer.Option(help="'pad' (keep aspect) or 'stretch'.")] = "pad",
    exact_hash: Annotated[bool, typer.Option(help="Hash full-resolution images (bit-exact imagehash; slower).")] = False,
    max_pixels: Annotated[int, typer.Option(help="Largest width×height decoded.")] = 178_956_970,
    progress: Annotated[Optional[bool], typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal).")] = None,
) -> None:
    """One parquet row per figure graphic (and per package-level failure), with status."""
    try:
        from . import ingest

        summary = ingest.scan(inputs, out, workers=workers, file_list=file_list, show_progress=progress,
                              size=size, fit=fit, exact_hash=exact_hash, max_pixels=max_pixels)
    except (Rocov2Error, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"{out}: {summary.line()}")


# -- the stage options: each declared once, shared by its stage's command and by `build` ---------
# A command's parameters are put together from these groups (`takes`); its body gets them as one
# dict and turns them into the stage's options dataclass (`stage_options`).

P = inspect.Parameter


def option(name: str, annotation, default=P.empty) -> inspect.Parameter:
    return P(name, P.KEYWORD_ONLY, default=default, annotation=annotation)


def takes(*groups: list[inspect.Parameter]):
    """The command's parameters are these groups, in order (each option declared once, here)."""
    def wrap(func):
        func.__signature__ = inspect.Signature([p for group in groups for p in group])
        return func
    return wrap


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def parse_gpus(text: str) -> int:
    """`--gpus N` or `--gpus all` (-1: every visible CUDA device)."""
    if text.strip().lower() == "all":
        return -1
    try:
        gpus = int(text)
    except ValueError as e:
        raise typer.BadParameter(f"--gpus takes a number or 'all', not {text!r}") from e
    if gpus < 0:
        raise typer.BadParameter("--gpus must be 0 or more (or 'all')")
    return gpus


def parse_ratios(text: str) -> tuple[float, ...]:
    try:
        ratios = tuple(float(x) for x in text.split(","))
    except ValueError as e:
        raise typer.BadParameter(f"ratios must be numbers like {','.join(map(str, opt.RATIOS))}, not {text!r}") from e
    if len(ratios) != 3 or abs(sum(ratios) - 1) > 1e-6 or min(ratios) < 0:
        raise typer.BadParameter("ratios must be three non-negative numbers (train,valid,test) summing to 1")
    return ratios


#: option → its value as the stage's dataclass takes it (default: a path as a string, the rest as given)
CONVERT = {"gpus": parse_gpus, "licenses": comma_list, "formats": comma_list, "ratios": parse_ratios,
           "tuis": lambda text: comma_list(text) or None, "manual": lambda paths: tuple(str(p) for p in paths or ())}
#: option → the dataclass field it fills, where the names differ
FIELD = {"progress": "show_progress", "lang_threshold": "threshold"}
#: options with a closed set of values
CHOICES = {"lang_rule": opt.LANG_RULES, "group_by": opt.GROUPINGS, "decision": opt.DECISIONS, "executor": opt.EXECUTORS}


def stage_options(cls, params: dict, **fixed):
    """The stage options dataclass `cls` from a command's parameters (None: the dataclass's default)."""
    from dataclasses import fields

    names = {f.name for f in fields(cls)}
    values = {}
    for name, value in params.items():
        if FIELD.get(name, name) not in names or value is None:
            continue
        if name in CHOICES and value not in CHOICES[name]:
            raise typer.BadParameter(f"{name.replace('_', '-')} must be {' or '.join(CHOICES[name])}, not {value!r}")
        convert = CONVERT.get(name, lambda v: str(v) if isinstance(v, Path) else v)
        values[FIELD.get(name, name)] = convert(value)
    return cls(**{**values, **fixed})


Paths = Annotated[list[Path], typer.Argument(help="Packages, folders (searched recursively), article folders or list files.")]
ConfigOption = Annotated[Optional[Path], typer.Option("--config", callback=config_callback, is_eager=True, help="TOML file of option values (names as the flags; flags and ROCOV2_FAST_<OPTION> override it).")]
Progress = Annotated[Optional[bool], typer.Option("--progress/--no-progress", help="Progress display (default: a bar on a terminal, lines otherwise).")]
RunDirArg = Annotated[Path, typer.Argument(help="A run directory (the stage before this one has run in it).")]

FILTER_OPTIONS = [
    option("gpus", Annotated[str, typer.Option(help="GPUs, one shard worker each (CUDA); 'all' for every visible one; 0 runs on the CPU.")], "0"),
    option("workers", Annotated[int, typer.Option(help="Decode threads in total (0: one per core), split over the shard workers.", min=0)], 0),
    option("shard_workers", Annotated[int, typer.Option(help="Shard workers (processes, or Ray actors) (0: one per GPU, or one on the CPU).", min=0)], 0),
    option("file_list", Annotated[Optional[Path], typer.Option(help="oa_file_list.csv: packages whose licence is excluded are not even read.")], None),
    option("licenses", Annotated[str, typer.Option(help="Licences to keep, comma-separated.")], ",".join(opt.LICENSES)),
    option("compound_model", Annotated[Optional[Path], typer.Option(help="ONNX compound-figure model (default: the shipped one).")], None),
    option("radiology_model", Annotated[Optional[Path], typer.Option(help="ONNX radiology model (default: the shipped one).")], None),
    option("batch_size", Annotated[int, typer.Option(help="Images per inference batch.", min=1)], opt.BATCH_SIZE),
    option("dedup_distance", Annotated[int, typer.Option(help="pHash Hamming radius for near-duplicate candidates (see docs/filter.md).", min=0, max=32)], opt.DEDUP_DISTANCE),
    option("shard_size", Annotated[int, typer.Option(help="Packages per manifest shard (the unit of work and of resume).", min=1)], opt.SHARD_SIZE),
    option("shard_source_bytes", Annotated[int, typer.Option(help="A shard also ends before its packages' stored bytes pass this (0: by count only); bounds a worker's memory.", min=0)], opt.SHARD_SOURCE_BYTES),
    option("compound_threshold", Annotated[Optional[float], typer.Option(help="Drop as compound at score >= this (default: the model's).")], None),
    option("radiology_threshold", Annotated[Optional[float], typer.Option(help="Keep as radiology at score >= this (default: the model's).")], None),
    option("decision", Annotated[str, typer.Option(help="What the thresholds apply to: 'image' (the CNNs' scores) or 'image+caption' (moved by caption evidence; docs/caption-evidence.md).")], opt.DECISION),
    option("layout_threshold", Annotated[Optional[float], typer.Option(help=f"The layout detector alone calls a figure compound at this score with >= 2 panels (default {opt.LAYOUT_THRESHOLD}; above 1 turns it off; docs/ingest.md).")], None),
    option("executor", Annotated[str, typer.Option(help="'local' (this node) or 'ray' (a Ray cluster; pip install 'rocov2-fast[ray]').")], opt.EXECUTOR),
    option("ray_address", Annotated[Optional[str], typer.Option(help="Ray cluster to join (default: start a local Ray instance).")], None),
    option("force_unlock", Annotated[bool, typer.Option(help="Take RUN_DIR/lock even if another process seems to hold it.")], False),
    option("cpu_sessions", Annotated[bool, typer.Option(help="Run the models on the CPU even where workers hold GPUs.")], False),
    option("progress_interval", Annotated[float, typer.Option(help="Seconds between progress lines when stderr is not a terminal.", min=0.0)], opt.PROGRESS_INTERVAL),
    option("progress", Progress, None),
]
FILTER_ONLY = [
    option("fresh", Annotated[bool, typer.Option(help="Discard what RUN_DIR holds and start over (default: resume).")], False),
    option("rethreshold", Annotated[bool, typer.Option(help="Re-decide a finished run from its stored scores, without decoding (or: `rocov2-fast rethreshold`).")], False),
    option("num_nodes", Annotated[int, typer.Option(help="Without Ray: the number of nodes sharing the run (each runs with its --node-rank).", min=1)], 1),
    option("node_rank", Annotated[int, typer.Option(help="Without Ray: this node's shards are those with k % num_nodes == node_rank; it does not finish.", min=0)], 0),
    option("finish_only", Annotated[bool, typer.Option(help="Only finish (near-duplicates, manifest, summary) once every shard is done.")], False),
    option("dry_run", Annotated[bool, typer.Option(help="Show sources, what the file list excludes, shards to do and done; decode nothing.")], False),
    option("config", ConfigOption, None),
]
CAPTION_OPTIONS = [
    option("lang_rule", Annotated[str, typer.Option(help="'default' (fastText + evidence of another language) or 'paper' (ROCOv2's rule).")], opt.LANG_RULE),
    option("lang_threshold", Annotated[float, typer.Option("--lang-threshold", "--threshold", help="Drop non-English captions above this fastText probability.")], opt.LANG_THRESHOLD),
    option("min_letters", Annotated[int, typer.Option(help="Captions with fewer letters are minimal.", min=0)], opt.MIN_LETTERS),
]
CONCEPT_OPTIONS = [
    option("medcat_model", Annotated[Optional[Path], typer.Option(help="MedCAT model pack (folder or .zip); default: the shipped ROCOv2 pack.")], None),
    option("min_images", Annotated[int, typer.Option(help="Keep concepts occurring in more than this many images.", min=0)], opt.MIN_IMAGES),
    option("tuis", Annotated[str, typer.Option(help="Allowed semantic types, comma-separated ('' for all).")], ",".join(opt.TUIS)),
    option("blacklist", Annotated[Optional[Path], typer.Option(help="File of CUIs to drop, one per line.")], None),
    option("remap", Annotated[Optional[Path], typer.Option(help="CSV from,to: CUIs to replace.")], None),
    option("manual", Annotated[Optional[list[Path]], typer.Option(help="Annotator CSV(s) ID,CUIs of manual concepts (repeatable).")], None),
    option("processes", Annotated[int, typer.Option(help="MedCAT processes.", min=1)], opt.PROCESSES),
]
SUGGEST_OPTIONS = [
    option("min_confidence", Annotated[Optional[float], typer.Option(help="Suggest a modality only at this confidence or above (default: the shipped model's, set for 97.5 % precision).", min=0.0, max=1.0)], None),
]
SPLIT_OPTIONS = [
    option("ratios", Annotated[str, typer.Option(help="train,valid,test shares.")], ",".join(map(str, opt.RATIOS))),
    option("seed", Annotated[int, typer.Option(help="Same seed, same split.")], opt.SEED),
    option("group_by", Annotated[str, typer.Option(help="'article' (all figures of an article in one split) or 'none'.")], opt.GROUP_BY),
    option("suggested_manual", Annotated[bool, typer.Option("--suggested-manual/--annotated-only", help="Images without annotated manual concepts take the caption-based suggestions.")], True),
]
EXPORT_OPTIONS = [
    option("prefix", Annotated[str, typer.Option(help="Image ID prefix: <prefix>_<split>_NNNNNN.")], opt.PREFIX),
    option("shard_bytes", Annotated[Optional[int], typer.Option(help="Shard size cap in bytes (hf default 500 MB, wds 1 GB).", min=1)], None),
]


@app.command("filter", context_settings=CONFIG_SETTINGS)
@takes([option("inputs", Annotated[Optional[list[Path]], typer.Argument(help="Packages, folders, article folders or list files (as for scan).")], None),
        option("out", Annotated[Path, typer.Option("--out", help="Run directory (manifest, images, summary.json, logs/).")], ...)],
       FILTER_OPTIONS, FILTER_ONLY)
def filter_command(**p) -> None:
    """Licence-first filtering with the compound and radiology CNNs and near-duplicate removal; resumable."""
    with imports_without_collector():
        from .filter.run import FilterOptions, dry_run as dry_run_of, rethreshold as rethreshold_run, run_filter

    out = p["out"]
    if p["rethreshold"]:
        print_rethreshold(out, rethreshold_run(out, p["compound_threshold"], p["radiology_threshold"], p["dedup_distance"],
                                               p["layout_threshold"]))
        return
    if not p["inputs"] and not p["finish_only"]:
        raise typer.BadParameter("give at least one INPUT (or --finish-only)")
    opts = stage_options(FilterOptions, p, inputs=[str(x) for x in p["inputs"] or []], out=out)
    if p["dry_run"]:
        print_dry_run(dry_run_of(opts))
        return
    summary = run_filter(opts)
    if not summary.get("funnel_text"):
        typer.echo(f"{out}: {summary['shards_processed_this_run']} shards processed on this node "
                   f"({summary['seconds']} s); finish with --finish-only once every node is done")
        return
    typer.echo("\n".join(summary["funnel_text"]))
    typer.echo(f"{out}: manifest.parquet, images/ ({summary['funnel']['kept']} kept), summary.json "
               f"[{summary['shards_processed_this_run']} of {summary['shards']} shards processed this run, {summary['seconds']} s]")


def print_rethreshold(out: Path, summary: dict) -> None:
    typer.echo("\n".join(summary["funnel_text"]))
    typer.echo(f"{out}: re-decided with thresholds {summary['rethreshold']['new']} "
               f"({summary['rethreshold']['unscored_images']} images lack a radiology score)")


@app.command("rethreshold")
def rethreshold_command(
    run_dir: Annotated[Path, typer.Argument(help="A finished filter run directory.")],
    compound_threshold: Annotated[Optional[float], typer.Option(help="New compound threshold (default: the run's).")] = None,
    radiology_threshold: Annotated[Optional[float], typer.Option(help="New radiology threshold (default: the run's).")] = None,
    layout_threshold: Annotated[Optional[float], typer.Option(help="New layout threshold (default: the run's).")] = None,
    dedup_distance: Annotated[Optional[int], typer.Option(help="pHash radius (default: the run's).", min=0, max=32)] = None,
) -> None:
    """Re-decide a finished filter run from its stored scores, without decoding (everything else from run.json)."""
    from .filter.run import rethreshold as rethreshold_run

    print_rethreshold(run_dir, rethreshold_run(run_dir, compound_threshold, radiology_threshold, dedup_distance, layout_threshold))


def print_dry_run(plan: dict) -> None:
    bound = f" and {plan['shard_source_bytes'] / 2**20:g} MiB" if plan["shard_source_bytes"] else ""
    typer.echo(f"sources: {plan['sources']} ({plan['bytes'] / 1e9:.2f} GB); shards of {plan['shard_size']}{bound} at most: "
               f"{plan['shards']} ({plan['shards_done']} done, {plan['shards_to_do']} to do)")
    for lic, entry in plan["excluded_by_file_list"].items():
        typer.echo(f"  excluded by the file list, licence {lic!r}: {entry['packages']} packages, {entry['bytes'] / 1e9:.3f} GB (never read)")
    if plan["not_in_file_list"]:
        typer.echo(f"  not in the file list: {plan['not_in_file_list']} sources (their XML licence decides)")
    typer.echo(f"licences kept: {', '.join(plan['licenses'])}; nothing decoded (--dry-run)")


@app.command("status")
def status_command(
    run_dir: Annotated[Path, typer.Argument(help="A filter run directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """How far a running or stopped filter run got: shards, funnel so far, running or not, last log line."""
    from .status import run_status

    state = run_status(run_dir)
    if as_json:
        typer.echo(json.dumps(state, indent=2))
        return
    from .status import status_lines

    typer.echo("\n".join(status_lines(state)))


@app.command("inspect")
def inspect_command(
    run_dir: Annotated[Path, typer.Argument(help="A filter run directory (reads manifest.parquet and run.json).")],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write (one self-contained page).")] = Path("gallery.html"),
    stage: Annotated[str, typer.Option(help="all (every decoded image), compound, radiology, duplicate or kept.")] = "all",
    near_threshold: Annotated[bool, typer.Option(help="Only images whose deciding score is within --margin of its threshold.")] = False,
    margin: Annotated[float, typer.Option(help="Distance from a threshold that counts as near.", min=0.0)] = 0.15,
    sample: Annotated[Optional[int], typer.Option(help="A deterministic random sample of this many of the selected images.", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Seed of --sample.")] = 0,
    max_cards: Annotated[int, typer.Option(help="Sample down to this many cards when more are selected.", min=1)] = 2000,
    thumb_size: Annotated[int, typer.Option(help="Thumbnail side in pixels.", min=16)] = 160,
    workers: Annotated[int, typer.Option(help="Threads re-reading packages and making thumbnails.", min=1)] = 4,
) -> None:
    """A page of thumbnails with scores, caption, fate and PMC link, sorted by score: check the filter by eye."""
    from .gallery import GalleryOptions, build_gallery

    try:
        result = build_gallery(GalleryOptions(run_dir=run_dir, out=out, stage=stage, near_threshold=near_threshold, margin=margin,
                                              sample=sample, seed=seed, max_cards=max_cards, thumb_size=thumb_size, workers=workers))
    except (Rocov2Error, ValueError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    sampled = f" (a sample of {result['sampled_from']})" if result["sampled_from"] else ""
    missing = f", {result['unreadable']} without a thumbnail" if result["unreadable"] else ""
    typer.echo(f"{out}: {result['cards']} images{sampled}{missing}")


@app.command("train-filter")
def train_filter_command(
    kind: Annotated[str, typer.Option(help="'compound' or 'radiology'.")],
    data: Annotated[Path, typer.Option(help="A folder of class sub-folders, or a synth corpus's truth.csv.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the ONNX model.")],
    size: Annotated[int, typer.Option(help="Input side in pixels.", min=32)] = 128,
    epochs: Annotated[int, typer.Option(min=1)] = 8,
    seed: Annotated[int, typer.Option()] = 0,
    weights: Annotated[Optional[Path], typer.Option(help="Pretrained torchvision MobileNetV3-Small state dict, by path.")] = None,
    threshold: Annotated[float, typer.Option(help="Decision threshold stored in the model.")] = 0.5,
) -> None:
    """Train a small CNN (torch, optional extra `train`) and export it to ONNX with its metadata."""
    if kind not in ("compound", "radiology"):
        raise typer.BadParameter("kind must be compound or radiology")
    try:
        from .modeldev.train import train
    except ImportError as e:  # pragma: no cover - depends on the optional extra
        typer.echo(f"error: train-filter needs torch: pip install 'rocov2-fast[train]' ({e})", err=True)
        raise typer.Exit(2) from e
    meta = train(data, kind, out, size=size, epochs=epochs, seed=seed, weights=weights, threshold=threshold)
    typer.echo(f"{out}: held-out {meta['held_out_metrics']}")


@app.command("captions")
@takes([option("run_dir", Annotated[Path, typer.Argument(help="A filter run directory (reads manifest.parquet).")])], CAPTION_OPTIONS)
def captions_command(**p) -> None:
    """Clean the kept images' captions; writes RUN_DIR/captions.parquet (keep, reason, lang, lang_prob)."""
    from . import captions

    run_dir = p["run_dir"]
    result = captions.run(run_dir, stage_options(captions.CleanOptions, p))
    counts = dict(result.group_by("reason").len().rows())
    kept = counts.pop(None, 0)
    typer.echo(f"{run_dir / 'captions.parquet'}: {kept} captions kept, dropped: "
               + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))


@app.command("concepts")
@takes([option("run_dir", Annotated[Path, typer.Argument(help="A run directory with captions.parquet (from `captions`).")])], CONCEPT_OPTIONS)
def concepts_command(**p) -> None:
    """MedCAT concept extraction with the ROCOv2 filters and manual concepts merged with priority."""
    from .build import run_concepts_stage
    from .concepts.run import ConceptsOptions

    run_dir = p["run_dir"]
    summary = run_concepts_stage(run_dir, stage_options(ConceptsOptions, p), False)
    typer.echo(f"{run_dir / 'concepts.parquet'}, {run_dir / 'cui_mapping.csv'}: {summary}")


@app.command("suggest-manual")
@takes([option("run_dir", Annotated[Path, typer.Argument(help="A run directory with captions.parquet.")])], SUGGEST_OPTIONS)
def suggest_manual_command(**p) -> None:
    """Propose a modality (with its confidence) and the X-ray region/projection for annotators."""
    from .concepts.run import SuggestOptions, suggest

    out = suggest(p["run_dir"], stage_options(SuggestOptions, p))
    typer.echo(f"{p['run_dir'] / 'manual_suggestions.parquet'}: {out['modality'].is_not_null().sum()} of {out.height} captions "
               "get a modality suggestion")


@app.command("build-concept-model")
def build_concept_model_command(
    out: Annotated[Path, typer.Option("--out", help="Folder of the model pack.")] = Path("models/concepts/medcat_rocov2"),
) -> None:
    """Build the default MedCAT pack from models/concepts/ (ROCOv2 concepts, synonyms, types)."""
    from .concepts.pack import build_pack

    typer.echo(f"built {build_pack(out)}")


@app.command("split")
@takes([option("run_dir", Annotated[Path, typer.Argument(help="A run directory after `captions` and `concepts` (and `suggest-manual`).")])],
       SPLIT_OPTIONS)
def split_command(**p) -> None:
    """Stratified train/valid/test split on the manual concepts → RUN_DIR/dataset.parquet."""
    from .dataset import split

    run_dir = p["run_dir"]
    summary = split.run(run_dir, stage_options(split.SplitOptions, p))
    q = summary["quality"]
    typer.echo(f"{run_dir / 'dataset.parquet'}: {summary['sizes']}; label distribution LD {q['LD']:.4f}, "
               f"largest label gap {q['max_label_gap_points']:.1f} points; unseen concepts removed {summary['unseen_concepts_removed']}")


@app.command("export")
@takes([option("run_dir", Annotated[Path, typer.Argument(help="A run directory with dataset.parquet (from `split` or `import-rocov2`).")]),
        option("out", Annotated[Path, typer.Option("--out", help="Folder to write the dataset into.")]),
        option("format", Annotated[str, typer.Option("--format", help="'rocov2' (the release files), 'hf' (Hugging Face parquet) or 'wds' (WebDataset tar shards).")], "rocov2")],
       EXPORT_OPTIONS)
def export_command(**p) -> None:
    """Write the split dataset as the ROCOv2 release files, Hugging Face parquet shards or WebDataset tars."""
    from .dataset.export import WRITERS, ExportOptions, export

    fmt = p["format"]
    if fmt not in WRITERS:
        raise typer.BadParameter(f"format must be one of {', '.join(WRITERS)}")
    o = stage_options(ExportOptions, p)
    typer.echo(str(export(p["run_dir"], p["out"], fmt, **o.writer_options(fmt))))


@app.command("import-rocov2")
def import_rocov2_command(
    release: Annotated[Path, typer.Argument(help="Folder of an official ROCOv2 release (or a `--format rocov2` export).")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to create (dataset.parquet, images/).")],
    images: Annotated[bool, typer.Option("--images/--no-images", help="Extract the images from the zips.")] = True,
) -> None:
    """Read a ROCOv2 release into the pipeline's tables, to re-split, re-export, report or train on."""
    from .dataset.importer import import_rocov2

    try:
        typer.echo(str(import_rocov2(release, out, with_images=images)))
    except FileNotFoundError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


@app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with dataset.parquet.")],
) -> None:
    """The paper's dataset analysis → RUN_DIR/report.html (with PNG plots) and RUN_DIR/report.json."""
    from .dataset import report

    stats = report.run(run_dir)
    typer.echo(f"{run_dir / 'report.html'}: {stats['images']} images, {stats['articles']} articles, "
               f"{stats['distinct_concepts']} concepts, splits {stats['splits']}")


BUILD_ONLY = [
    option("formats", Annotated[str, typer.Option(help="Export formats, comma-separated (into RUN_DIR/export/<format>).")], ",".join(opt.FORMATS)),
    option("redo", Annotated[Optional[list[str]], typer.Option(help="Rerun this stage (and the ones after it) even if done (repeatable).")], None),
    option("config", ConfigOption, None),
]


@app.command("build", context_settings=CONFIG_SETTINGS)
@takes([P("ctx", P.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        option("inputs", Annotated[list[Path], typer.Argument(help="Packages, folders, article folders or list files (as for filter).")]),
        option("out", Annotated[Path, typer.Option("--out", help="Run directory: everything lands here (export/ and report.html too).")])],
       FILTER_OPTIONS, CAPTION_OPTIONS, CONCEPT_OPTIONS, SUGGEST_OPTIONS, SPLIT_OPTIONS, EXPORT_OPTIONS, BUILD_ONLY)
def build_command(ctx: typer.Context, **p) -> None:
    """filter → captions → concepts → suggest-manual → split → export → report, resumable stage by stage
    (a stage reruns when what it reads or its options changed); RUN_DIR/config.toml records the options
    (`build --config RUN_DIR/config.toml` repeats the run)."""
    with imports_without_collector():
        from .build import STAGE_OPTIONS, BuildOptions, build
    from .config import CONFIG_FILE, write_config

    out = p["out"]
    stages = {name: stage_options(cls, p) for name, cls in STAGE_OPTIONS.items() if name != "filter"}
    from .filter.run import FilterOptions

    opts = BuildOptions(stage_options(FilterOptions, p, inputs=[str(x) for x in p["inputs"]], out=out),
                        redo=tuple(p["redo"] or ()), **stages)
    write_config(out / CONFIG_FILE, ctx.params)
    try:
        state = build(opts, log=typer.echo)
    except ValueError as e:  # an unknown stage or format (the rest: ExpectedErrors)
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    exports = ", ".join(str(out / "export" / f) for f in opts.export.formats)
    typer.echo(f"dataset: {exports}; report: {out / 'report.html'} ({state['report']['result']['images']} images)")


@app.command("fetch")
def fetch_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to download into (the layout `scan` reads).")],
    base_url: Annotated[Optional[str], typer.Option(help="Server root (default: NCBI's for the layout).")] = None,
    file_list: Annotated[Optional[str], typer.Option(help="oa_file_list.csv path or URL (legacy; default: the base URL's).")] = None,
    licenses: Annotated[str, typer.Option(help="Licences to fetch, comma-separated.")] = ",".join(opt.LICENSES),
    layout: Annotated[str, typer.Option(help="'legacy' packages or 'cloud' per-article files.")] = "legacy",
    only: Annotated[str, typer.Option(help="'xml,figures' (cloud: the XML and the images it references) or 'all'.")] = "xml,figures",
    jobs: Annotated[int, typer.Option(help="Concurrent downloads.", min=1)] = 8,
    timeout: Annotated[float, typer.Option(help="Seconds without data before a retry.")] = 60.0,
    retries: Annotated[int, typer.Option(help="Retries per file (timeouts, dropped connections, 5xx).", min=0)] = 5,
    backoff: Annotated[float, typer.Option(help="First retry delay in seconds (doubles each time).", min=0)] = 1.0,
    progress: Annotated[Optional[bool], typer.Option("--progress/--no-progress")] = None,
) -> None:
    """Download the licence-allowed part of the PMC OA subset; resumable, verified, idempotent."""
    from .fetch import FetchOptions, fetch

    opts = FetchOptions(out=out, base_url=base_url, file_list=file_list, licenses=tuple(x.strip() for x in licenses.split(",") if x.strip()),
                        layout=layout, only=only, jobs=jobs, timeout=timeout, retries=retries, backoff=backoff, show_progress=progress)
    try:
        summary = fetch(opts)
    except (ValueError, ConnectionError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(json.dumps(summary))
    if summary.get("failed") or summary.get("incomplete"):
        typer.echo(f"some files failed after retries: see {summary['failure_log']}; rerun the same command to continue", err=True)
        raise typer.Exit(1)


trainset_app = typer.Typer(help="Labelled image folders for train-filter, from lists of package members.", no_args_is_help=True)
app.add_typer(trainset_app, name="trainset")


def run_trainset(rows, out: Path, base_url: str, keep_packages: bool) -> None:
    from .fetch.http import Downloader
    from .fetch.run import FAILURE_LOG, LEGACY_BASE, with_slash
    from urllib.parse import urlsplit

    base = with_slash(base_url or LEGACY_BASE)
    out.mkdir(parents=True, exist_ok=True)
    dl = Downloader(allowed_hosts={urlsplit(base).netloc}, failure_log=out / FAILURE_LOG)
    from .fetch.trainset import build_trainset

    summary = build_trainset(rows, out, dl, base, keep_packages=keep_packages)
    typer.echo(json.dumps(summary))


TrainsetBaseUrl = Annotated[Optional[str], typer.Option(help="Server root holding oa_package/ (default: NCBI's).")]
TrainsetKeepPackages = Annotated[bool, typer.Option(help="Keep the fetched packages under OUT/packages/.")]


@trainset_app.command("roco")
def trainset_roco_command(
    lists: Annotated[Path, typer.Option(help="Folder with radiology/dlinks.txt and non-radiology/dlinks.txt (ROCO v1 lists).")],
    out: Annotated[Path, typer.Option("--out", help="Folder to create radiology/ and non-radiology/ in.")],
    base_url: TrainsetBaseUrl = None,
    keep_packages: TrainsetKeepPackages = False,
) -> None:
    """ROCO's radiology / non-radiology lists → class folders for `train-filter --kind radiology`."""
    from .fetch.trainset import read_roco_lists

    run_trainset(read_roco_lists(lists), out, base_url, keep_packages)


@trainset_app.command("list")
def trainset_list_command(
    rows: Annotated[Path, typer.Option(help="CSV with header package,member,label.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to create one sub-folder per label in.")],
    base_url: TrainsetBaseUrl = None,
    keep_packages: TrainsetKeepPackages = False,
) -> None:
    """Any (package, member, label) list → class folders (e.g. a compound-figure training set)."""
    from .fetch.trainset import read_rows

    run_trainset(read_rows(rows), out, base_url, keep_packages)


evaluate_app = typer.Typer(help="ImageCLEFmedical Caption evaluation (the official 2023 rules).", no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")


@evaluate_app.command("concepts")
def evaluate_concepts_command(
    gold: Annotated[Path, typer.Argument(help="Gold concepts CSV (ID,CUIs), e.g. test_concepts.csv.")],
    predictions: Annotated[Path, typer.Argument(help="Submission CSV (ID,CUIs).")],
    manual: Annotated[Optional[Path], typer.Option(help="Gold manual concepts CSV for the secondary F1 (e.g. test_concepts_manual.csv).")] = None,
    year: Annotated[int, typer.Option(help="Manual CUI list of this year (2025 adds C0920367).")] = 2023,
    strict_empty: Annotated[bool, typer.Option(help="Read 'img,' as no concepts and leave such images out (the official evaluator reads it as {''}).")] = False,
) -> None:
    """Primary (and secondary) F1 exactly as the official evaluator computes them."""
    from .evaluate import SubmissionError, evaluate_concepts

    try:
        typer.echo(json.dumps(evaluate_concepts(gold, predictions, manual, year=year, strict_empty=strict_empty), indent=2))
    except (SubmissionError, ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


@evaluate_app.command("captions")
def evaluate_captions_command(
    gold: Annotated[Path, typer.Argument(help="Gold captions CSV (ID,Caption).")],
    predictions: Annotated[Path, typer.Argument(help="Submission CSV (ID,Caption).")],
    bertscore_model: Annotated[Optional[str], typer.Option(help="Folder of microsoft/deberta-xlarge-mnli (BERTScore, layer 40).")] = None,
    bleurt_model: Annotated[Optional[str], typer.Option(help="Folder of a BLEURT checkpoint (transformers format).")] = None,
    clip_model: Annotated[Optional[str], typer.Option(help="Folder of a CLIP model (CLIPScore).")] = None,
    images: Annotated[Optional[Path], typer.Option(help="Folder of <ID>.jpg images (CLIPScore).")] = None,
) -> None:
    """ROUGE-1, BLEU-1, CIDEr, METEOR, and BERTScore/BLEURT/CLIPScore when their models are given."""
    from .evaluate import evaluate_captions

    try:
        typer.echo(json.dumps(evaluate_captions(gold, predictions, bertscore_model=bertscore_model, bleurt_model=bleurt_model,
                                                clip_model=clip_model, images=images), indent=2))
    except (ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


baseline_app = typer.Typer(help="The ROCOv2 paper's baselines (extra `baselines`: torch, timm, transformers).", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


def needs_baselines_extra(e: ImportError) -> typer.Exit:
    typer.echo(f"error: the baselines need torch, timm and transformers: pip install 'rocov2-fast[baselines]' ({e})", err=True)
    return typer.Exit(2)


@baseline_app.command("concepts")
def baseline_concepts_command(
    dataset: Annotated[Path, typer.Argument(help="A run directory with dataset.parquet (from `split`/`build` or `import-rocov2`).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for model.pt, submission_{valid,test}.csv, log.jsonl, summary.json.")],
    arch: Annotated[str, typer.Option(help="timm architecture: efficientnet_b0 (224 px, batch 256) or tf_efficientnetv2_s (300 px, batch 92).")] = "efficientnet_b0",
    weights: Annotated[Optional[str], typer.Option(help="Pretrained ImageNet weights file (never downloaded).")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 20,
    batch_size: Annotated[Optional[int], typer.Option(help="Default: the paper's for the architecture.")] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Default: the paper's for the architecture.")] = None,
    lr: Annotated[float, typer.Option()] = 1e-3,
    optimizer: Annotated[str, typer.Option(help="adam, sgd or rmsprop.")] = "adam",
    grid_search: Annotated[bool, typer.Option(help="Search lr 1e-1..1e-5 × adam/sgd/rmsprop on valid, then train on train+valid.")] = False,
    workers: Annotated[int, typer.Option(help="Data loading processes.", min=0)] = 4,
    device: Annotated[Optional[str], typer.Option(help="cuda, cuda:1, cpu (default: cuda when available).")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop each epoch after this many steps (smoke runs).")] = None,
) -> None:
    """Multi-label concept detection (EfficientNet) as in the ROCOv2 paper; writes an ImageCLEF submission."""
    try:
        from .baselines.concepts import ConceptOptions, run_concepts
    except ImportError as e:
        raise needs_baselines_extra(e) from e
    result = run_concepts(ConceptOptions(dataset=dataset, out=out, arch=arch, weights=weights, epochs=epochs, batch_size=batch_size,
                                         image_size=image_size, lr=lr, optimizer=optimizer, grid_search=grid_search,
                                         workers=workers, device=device, max_steps=max_steps))
    typer.echo(f"{out}: valid F1 {result.get('valid_f1')}, test F1 {result.get('test_f1')} ({result['labels']} concepts)")


@baseline_app.command("captions")
def baseline_captions_command(
    dataset: Annotated[Path, typer.Argument(help="A run directory with dataset.parquet.")],
    out: Annotated[Path, typer.Option("--out")],
    encoder: Annotated[str, typer.Option(help="ViT encoder folder (e.g. google/vit-base-patch16-224-in21k, downloaded by you).")],
    decoder: Annotated[str, typer.Option(help="Causal LM folder (GPT-2 style, e.g. BioMedLM).")],
    epochs: Annotated[int, typer.Option(min=1)] = 2,
    batch_size: Annotated[int, typer.Option(min=1)] = 2,
    grad_accum: Annotated[int, typer.Option(min=1)] = 2,
    max_length: Annotated[int, typer.Option(min=8)] = 128,
    beams: Annotated[int, typer.Option(min=1)] = 4,
    device: Annotated[Optional[str], typer.Option()] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop each epoch after this many steps (smoke runs).")] = None,
) -> None:
    """ViT + GPT-2-style caption prediction as in the ROCOv2 paper; writes an ImageCLEF submission."""
    try:
        from .baselines.captions import CaptionOptions, run_captions
    except ImportError as e:
        raise needs_baselines_extra(e) from e
    result = run_captions(CaptionOptions(dataset=dataset, out=out, encoder=encoder, decoder=decoder, epochs=epochs,
                                         batch_size=batch_size, grad_accum=grad_accum, max_length=max_length, beams=beams,
                                         device=device, max_steps=max_steps))
    typer.echo(f"{out}: {result}")


def main() -> None:
    """The console script: `rocov2-fast` (and `python -m rocov2_fast.cli`)."""
    import signal
    import sys

    # The modules imported so far live for the whole run: frozen, the garbage collector stops
    # re-walking them each time a stage's many small objects trigger a collection.
    gc.freeze()
    fewer_malloc_arenas()
    # SIGTERM (Slurm's scancel, kill) unwinds like Ctrl-C: locks are released, temporaries removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    app()


if __name__ == "__main__":
    main()

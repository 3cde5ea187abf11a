"""`rocov2-fast`: the pipeline from the command line, one thin function per command.

Data flow: archive → records (scan) → batches → decisions → manifest → dataset.
Today: `synth` (a synthetic PMC OA corpus) and `scan` (archives → records).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import ingest, synth
from .errors import Rocov2Error

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Argument(help="Folder to write the corpus into.")],
    articles: Annotated[int, typer.Option(help="Number of articles.", min=1)] = 20,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 0,
    profile: Annotated[str, typer.Option(help="'pmc' (PMC-like sizes, ~1-4 MB per package) or 'tiny' (fast tests).")] = "pmc",
    layout: Annotated[str, typer.Option(help="'legacy' PMCxxxx.tar.gz packages or 'cloud' per-article folders.")] = "legacy",
    faults: Annotated[bool, typer.Option(help="Also write truncated, non-gzip and non-tar packages.")] = False,
) -> None:
    """Write a deterministic synthetic PMC OA corpus with oa_file_list.csv and truth.csv."""
    if profile not in synth.corpus.PROFILES or layout not in ("legacy", "cloud"):
        raise typer.BadParameter("profile must be pmc|tiny and layout legacy|cloud")
    summary = synth.generate(out, synth.Options(articles=articles, seed=seed, profile=profile, layout=layout, faults=faults))
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
        summary = ingest.scan(inputs, out, workers=workers, file_list=file_list, show_progress=progress,
                              size=size, fit=fit, exact_hash=exact_hash, max_pixels=max_pixels)
    except (Rocov2Error, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"{out}: {summary.line()}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

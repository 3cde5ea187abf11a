"""The filtering funnel as a picture and as text, written by `filter` as soon as a run finishes:
RUN_DIR/funnel.png (the plot `report` shows, paper Fig. 1) and RUN_DIR/funnel.txt (the lines
`filter` prints). matplotlib draws with the Agg backend and, where MPLCONFIGDIR is unset, keeps
its cache in a temporary folder (never in $HOME)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .rundir import RunDir, write_atomic

FUNNEL_DPI = 100


def pyplot():
    """matplotlib.pyplot on the Agg backend, its config and cache outside $HOME unless MPLCONFIGDIR says otherwise."""
    if not os.environ.get("MPLCONFIGDIR"):
        folder = Path(tempfile.gettempdir()) / f"rocov2-fast-matplotlib-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        folder.mkdir(mode=0o700, exist_ok=True)
        os.environ["MPLCONFIGDIR"] = str(folder)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def funnel_figure(filter_funnel: dict):
    """The funnel (summary.json's `funnel`: images, removed per stage, kept) as a bar chart."""
    plt = pyplot()
    labels = ["images"] + [f"− {k}" for k in filter_funnel["removed"]] + ["kept"]
    values = [filter_funnel["images"]] + list(filter_funnel["removed"].values()) + [filter_funnel["kept"]]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(labels, values, color=["#4477aa"] + ["#cc6677"] * len(filter_funnel["removed"]) + ["#66aa55"])
    ax.set(ylabel="images", title="Filtering funnel (paper Fig. 1)")
    ax.tick_params(axis="x", labelrotation=30)
    return fig


def save_figure(fig, path: Path) -> Path:
    import io

    plt = pyplot()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FUNNEL_DPI)
    plt.close(fig)
    write_atomic(Path(path), buf.getvalue())
    return Path(path)


def write_funnel(run: RunDir, summary: dict) -> tuple[Path, Path]:
    """RUN_DIR/funnel.png and RUN_DIR/funnel.txt from a finished run's summary."""
    write_atomic(run.funnel_txt, ("\n".join(summary["funnel_text"]) + "\n").encode())
    save_figure(funnel_figure(summary["funnel"]), run.funnel_png)
    return run.funnel_png, run.funnel_txt

"""A few real images for checking filter models: the sample data matplotlib (a core
dependency) ships, plus figures matplotlib renders from it. Nothing is downloaded.

The default models are trained on synthetic figures only; these images are the cheapest honest
look at how they behave on real pixels (models/README.md reports the scores)."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RealImage:
    name: str
    data: bytes
    #: what a correct filter says: compound figure? radiology image?
    compound: bool
    radiology: bool
    source: str


def _png(gray_or_rgb: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(gray_or_rgb).save(out, "PNG")
    return out.getvalue()


def mri_slice() -> np.ndarray:
    """matplotlib's `s1045.ima.gz`: a real 256×256 16-bit MR slice of a head, windowed to 8 bits."""
    from matplotlib import cbook

    with cbook.get_sample_data("s1045.ima.gz") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # older matplotlib versions hand over the gzip bytes
        raw = gzip.decompress(raw)
    values = np.frombuffer(raw, np.uint16).astype(np.float64).reshape(256, 256)
    return (np.clip(values / np.percentile(values, 99.5), 0, 1) * 255).astype(np.uint8)


def _sample(name: str) -> bytes:
    from matplotlib import cbook

    with cbook.get_sample_data(name) as f:
        return f.read()


def _rendered(draw, panels: tuple[int, int] = (1, 1)) -> bytes:
    """A figure as a journal would print it: matplotlib's Agg canvas, 150 dpi, PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(*panels, figsize=(3.2 * panels[1], 3.0 * panels[0]), squeeze=False)
    draw(axes)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=150)
    plt.close(fig)
    return out.getvalue()


def _stock_chart(axes) -> None:
    from matplotlib import cbook

    prices = np.genfromtxt(cbook.get_sample_data("msft.csv"), delimiter=",", names=True, dtype=None, encoding="utf-8")
    ax = axes[0][0]
    ax.plot(prices["Close"][::-1], color="tab:blue")
    ax.set_xlabel("trading day")
    ax.set_ylabel("close (USD)")


def _mri_panels(axes) -> None:
    mri = mri_slice()
    views = (mri, mri[:, ::-1], mri[40:216, 40:216], np.rot90(mri))
    for ax, view, letter in zip(axes.flat, views, "ABCD"):
        ax.imshow(view, cmap="gray")
        ax.set_title(letter, loc="left")
        ax.axis("off")


def real_images() -> list[RealImage]:
    mri = mri_slice()
    return [
        RealImage("mri_slice.png", _png(mri), False, True, "matplotlib sample_data/s1045.ima.gz"),
        RealImage("photo_grace_hopper.jpg", _sample("grace_hopper.jpg"), False, False, "matplotlib sample_data/grace_hopper.jpg"),
        RealImage("cartoon_minduka.png", _sample("Minduka_Present_Blue_Pack.png"), False, False,
                  "matplotlib sample_data/Minduka_Present_Blue_Pack.png"),
        RealImage("logo_matplotlib.png", _sample("logo2.png"), False, False, "matplotlib sample_data/logo2.png"),
        RealImage("line_chart.png", _rendered(_stock_chart), False, False, "msft.csv rendered by matplotlib"),
        RealImage("mri_four_panels.png", _rendered(_mri_panels, (2, 2)), True, True,
                  "s1045 slice as a 2×2 panel figure rendered by matplotlib"),
    ]


def score(compound_model: str | None = None, radiology_model: str | None = None) -> list[dict]:
    """Both models' scores and decisions on `real_images()` (default models when no path)."""
    from .._core import model_input
    from ..filter.models import FilterModel, default_model_path, providers_for

    providers = providers_for(0)
    compound = FilterModel.load(compound_model or default_model_path("compound"), providers)
    radiology = FilterModel.load(radiology_model or default_model_path("radiology"), providers)
    rows = []
    for image in real_images():
        pixels = model_input(image.data, size=compound.input_size)[None]
        c, r = float(compound.predict(pixels)[0]), float(radiology.predict(pixels)[0])
        rows.append({"name": image.name, "source": image.source, "compound_score": c, "radiology_score": r,
                     "compound_right": (c >= compound.threshold) == image.compound,
                     # the filter runs the radiology model on non-compound figures only
                     "radiology_right": None if image.compound else (r >= radiology.threshold) == image.radiology})
    return rows


if __name__ == "__main__":
    import sys

    print("| image | source | compound score | right? | radiology score | right? |\n|---|---|---|---|---|---|")
    for row in score(*sys.argv[1:3]):
        right = {True: "yes", False: "**no**", None: "(not run: compound)"}
        print(f"| {row['name']} | {row['source']} | {row['compound_score']:.4f} | {right[row['compound_right']]} "
              f"| {row['radiology_score']:.4f} | {right[row['radiology_right']]} |")

"""The training-free compound layout detector (rust/layout.rs) alone and combined with the CNN.

Figures are built from REAL images: the CC-BY chest radiographs in ../shared/data/real-figures/
(when present), matplotlib's sample data (an MR slice, a photo), scikit-image's bundled data
(photos, micrographs, IHC, a fundus photo, text pages; when installed) and charts matplotlib
renders. Compound figures are grids of 2-9 of them (equal or unequal sizes, white / black / grey
gutters of 1-16 px, optional panel letters, outer margins); single figures are the same images
alone, some with black borders, white margins or a lone panel letter. Every figure goes through
what the scan does: encoded (JPEG q85 or PNG), decoded by the core at the scan's reduced size,
then `_core.layout`. Gutterless mosaics are reported separately: the detector looks for gutters.

    .venv/bin/python benches/bench_layout.py [--n 400] [--seed 0] [--cnn]

Prints recall / false-positive rate / AUC per family, ms per image against the decode time, and
(with --cnn) the CNN alone and the rule of python/rocov2_fast/filter/layout_rule.py.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
RADIOGRAPHS = ROOT.parent / "shared" / "data" / "real-figures" / "chest-xray-cc-by"
#: Real compound figures in that folder (a Radiopaedia strip of six radiographs side by side).
REAL_COMPOUND = ("pneumocystis-pneumonia-1.jpg",)


@dataclass
class Figure:
    name: str
    family: str
    compound: bool
    data: bytes
    panels: int = 1


# --------------------------------------------------------------------------- real sources

def radiographs(limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    if not RADIOGRAPHS.is_dir():
        return []
    files = sorted(p for p in RADIOGRAPHS.glob("*.jpg") if p.name not in REAL_COMPOUND)
    out = []
    for p in files[:limit]:
        with Image.open(p) as im:
            out.append((f"xray:{p.name}", np.asarray(im.convert("L"))))
    return out


def matplotlib_images() -> list[tuple[str, np.ndarray]]:
    from matplotlib import cbook

    from rocov2_fast.modeldev.real_images import mri_slice

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"))
    return [("mpl:mri_slice", mri_slice()), ("mpl:grace_hopper", hopper)]


SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "horse", "camera", "motorcycle_left", "gravel", "brick", "grass")
SKIMAGE_MICRO = ("cell", "immunohistochemistry", "retina", "microaneurysms", "coins", "moon", "hubble_deep_field")
SKIMAGE_TEXT = ("text", "page")


def skimage_images(names=SKIMAGE_PHOTOS + SKIMAGE_MICRO + SKIMAGE_TEXT) -> list[tuple[str, np.ndarray]]:
    try:
        import skimage.data as data
    except ImportError:
        return []
    out = []
    for name in names:
        try:
            img = getattr(data, name)()
        except Exception:  # noqa: BLE001 - some need a download; nothing is downloaded here
            continue
        if img.dtype != np.uint8:
            img = img.astype(np.float64)
            img = (255 * (img - img.min()) / max(1e-9, float(img.max() - img.min()))).astype(np.uint8)
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]
        out.append((f"skimage:{name}", img))
    return out


def charts(rng: np.random.Generator, n: int) -> list[tuple[str, np.ndarray]]:
    """Real matplotlib renders of varied chart types (white backgrounds, axis gaps, titles,
    legends outside the axes, text under the plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    for i in range(n):
        kind = ["line", "bar", "scatter", "hist", "legend_out", "text_below", "box", "heatmap"][i % 8]
        fig, ax = plt.subplots(figsize=(rng.uniform(3, 5), rng.uniform(2.5, 4)))
        x = np.arange(30)
        if kind == "line":
            for k in range(3):
                ax.plot(x, np.cumsum(rng.normal(size=30)), label=f"s{k}")
            ax.set_title("Survival over time")
        elif kind == "bar":
            ax.bar(range(6), rng.uniform(1, 10, 6), color="tab:gray")
            ax.spines[["top", "right"]].set_visible(False)
        elif kind == "scatter":
            ax.scatter(rng.normal(size=80), rng.normal(size=80), s=8)
            ax.set_xlabel("dose (mGy)")
            ax.set_ylabel("SNR")
        elif kind == "hist":
            ax.hist(rng.normal(size=500), bins=20, color="tab:blue")
        elif kind == "legend_out":
            for k in range(3):
                ax.plot(x, rng.normal(size=30) + k, label=f"group {k}")
            ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
        elif kind == "text_below":
            ax.plot(x, np.sin(x / 4))
            fig.text(0.1, 0.02, "Note: values are means of three runs.\nError bars omitted for clarity.", fontsize=8)
            fig.subplots_adjust(bottom=0.3)
        elif kind == "box":
            ax.boxplot([rng.normal(size=40) + k for k in range(4)])
        else:
            ax.imshow(rng.uniform(size=(10, 10)), cmap="viridis")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight" if i % 2 else None)
        plt.close(fig)
        out.append((f"chart:{kind}", np.asarray(Image.open(buf).convert("RGB"))))
    return out


# --------------------------------------------------------------------------- composition

def _rgb(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img).convert("RGB")


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _letter(draw: ImageDraw.ImageDraw, xy: tuple[int, int], letter: str, size: int, on_dark: bool) -> None:
    draw.text(xy, letter, fill=(255, 255, 255) if on_dark else (0, 0, 0), font=_font(size))


def compose(panels: list[np.ndarray], rows: int, cols: int, rng: np.random.Generator, *, gutter: int,
            colour: tuple[int, int, int], letters: bool, unequal: bool, margin: int, side: int) -> Image.Image:
    """A rows×cols figure; panels of one row share a height, widths follow their aspect (unequal)
    or are all the same (equal: panels are resized to squares-ish cells)."""
    ims = [_rgb(p) for p in panels]
    row_images = []
    k = 0
    for _ in range(rows):
        h = int(side * (rng.uniform(0.7, 1.2) if unequal else 1.0))
        cells = []
        for _ in range(cols):
            im = ims[k % len(ims)]
            k += 1
            w = int(h * im.width / im.height) if unequal else side
            cells.append(im.resize((max(8, w), h), Image.BILINEAR))
        row_images.append(cells)
    width = max(sum(c.width for c in cells) + gutter * (cols - 1) for cells in row_images) + 2 * margin
    height = sum(cells[0].height for cells in row_images) + gutter * (rows - 1) + 2 * margin
    canvas = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(canvas)
    y = margin
    n = 0
    for cells in row_images:
        x = margin
        for c in cells:
            canvas.paste(c, (x, y))
            if letters:
                size = max(12, c.height // 10)
                corner = np.asarray(c.convert("L"))[: size + 6, : size + 6].mean()
                _letter(draw, (x + 6, y + 4), "ABCDEFGHI"[n], size, on_dark=corner < 128)
            n += 1
            x += c.width + gutter
        y += cells[0].height + gutter
    return canvas


def encode(im: Image.Image, rng: np.random.Generator) -> bytes:
    out = io.BytesIO()
    if rng.uniform() < 0.7:
        im.convert("RGB").save(out, "JPEG", quality=85)
    else:
        im.save(out, "PNG")
    return out.getvalue()


LAYOUTS = {2: [(1, 2), (2, 1)], 3: [(1, 3), (3, 1)], 4: [(2, 2), (1, 4)], 6: [(2, 3), (3, 2)], 8: [(2, 4)], 9: [(3, 3)]}
GUTTER_COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "lightgrey": (235, 235, 235)}


def build(n: int = 400, seed: int = 0, *, xray_limit: int | None = None) -> list[Figure]:
    """n compound figures + the singles (every source image, a share with borders/margins)."""
    rng = np.random.default_rng(seed)
    xrays = radiographs(xray_limit)
    sources = {"xray": xrays, "mpl": matplotlib_images(), "skimage": skimage_images(), "chart": charts(rng, 24)}
    pool = [img for group in sources.values() for img in group]
    figures: list[Figure] = []
    for i in range(n):
        count = int(rng.choice(list(LAYOUTS)))
        rows, cols = LAYOUTS[count][int(rng.integers(len(LAYOUTS[count])))]
        family = str(rng.choice(["xray", "mixed", "chart"], p=[0.5, 0.3, 0.2])) if xrays else str(rng.choice(["mixed", "chart"]))
        group = xrays if family == "xray" else sources["chart"] if family == "chart" else pool
        picks = [group[int(j)][1] for j in rng.integers(len(group), size=count)]
        gutterless = i % 10 == 9
        gutter = 0 if gutterless else int(rng.choice([1, 2, 4, 8, 16]))
        colour_name = "white" if family == "chart" else str(rng.choice(list(GUTTER_COLOURS)))
        im = compose(picks, rows, cols, rng, gutter=gutter, colour=GUTTER_COLOURS[colour_name],
                     letters=rng.uniform() < 0.5, unequal=rng.uniform() < 0.4,
                     margin=int(rng.choice([0, 0, 5, 20])), side=int(rng.integers(200, 480)))
        fam = "gutterless" if gutterless else f"{family}/{colour_name}"
        figures.append(Figure(f"compound{i}_{rows}x{cols}_{fam}_g{gutter}", fam, True, encode(im, rng), rows * cols))
    for name in REAL_COMPOUND:
        path = RADIOGRAPHS / name
        if path.exists():
            figures.append(Figure(f"real:{name}", "real-compound", True, path.read_bytes(), 6))
    from rocov2_fast.modeldev.real_images import real_images

    for r in real_images():
        figures.append(Figure(f"real:{r.name}", "real-compound" if r.compound else f"single/{r.name.split('_')[0]}", r.compound, r.data,
                              4 if r.compound else 1))
    for name, img in pool:
        family = "single/" + name.split(":")[0]
        if name.startswith("skimage:"):
            short = name.split(":")[1]
            family += "/text" if short in SKIMAGE_TEXT else "/micro" if short in SKIMAGE_MICRO else "/photo"
        im = _rgb(img)
        variant = rng.uniform()
        if variant < 0.25:  # black border, as radiographs often have
            b = int(rng.integers(4, 40))
            framed = Image.new("RGB", (im.width + 2 * b, im.height + 2 * b), (0, 0, 0))
            framed.paste(im, (b, b))
            im, name = framed, name + "+border"
        elif variant < 0.5:  # white margin and a lone panel letter: a panel cropped from a compound
            b = int(rng.integers(4, 30))
            framed = Image.new("RGB", (im.width + 2 * b, im.height + 2 * b), (255, 255, 255))
            framed.paste(im, (b, b))
            _letter(ImageDraw.Draw(framed), (b + 6, b + 4), "B", max(12, im.height // 10), True)
            im, name = framed, name + "+margin+letter"
        figures.append(Figure(f"single:{name}", family, False, encode(im, rng)))
    return figures


# --------------------------------------------------------------------------- measurement

def run_layout(figures: list[Figure], reduce_to: int = 224) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Scores and panel counts as the scan computes them; mean ms of decode and of layout."""
    from rocov2_fast import _core

    scores, counts, t_dec, t_lay = [], [], 0.0, 0.0
    for f in figures:
        t0 = time.perf_counter()
        pixels = _core.decode_image(f.data, reduce_to=reduce_to)["pixels"]
        t1 = time.perf_counter()
        score, count, _, _ = _core.layout(pixels)
        t2 = time.perf_counter()
        t_dec += t1 - t0
        t_lay += t2 - t1
        scores.append(score)
        counts.append(count)
    n = max(1, len(figures))
    return np.array(scores), np.array(counts), 1000 * t_dec / n, 1000 * t_lay / n


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels], scores[~labels]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def report(figures: list[Figure], decided: np.ndarray, title: str) -> None:
    labels = np.array([f.compound for f in figures])
    tp, fn = int((decided & labels).sum()), int((~decided & labels).sum())
    fp, tn = int((decided & ~labels).sum()), int((~decided & ~labels).sum())
    print(f"\n{title}: recall {tp}/{tp + fn} = {tp / max(1, tp + fn):.3f}, FPR {fp}/{fp + tn} = {fp / max(1, fp + tn):.3f}")
    families = sorted({f.family for f in figures})
    for fam in families:
        idx = np.array([f.family == fam for f in figures])
        lab = labels[idx][0]
        hit = int(decided[idx].sum())
        what = "called compound" if lab else "false positives"
        print(f"  {fam:<28} {what}: {hit}/{int(idx.sum())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="compound figures to build")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cnn", action="store_true", help="also score with the default compound CNN and the combined rule")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()

    from rocov2_fast.filter.layout_rule import DEFAULT_LAYOUT_THRESHOLD, is_compound

    figures = build(args.n, args.seed)
    labels = np.array([f.compound for f in figures])
    scores, counts, ms_dec, ms_lay = run_layout(figures)
    print(f"{len(figures)} figures: {int(labels.sum())} compound ({sum(f.family == 'gutterless' for f in figures)} gutterless), "
          f"{int((~labels).sum())} single; radiographs from {RADIOGRAPHS if RADIOGRAPHS.is_dir() else 'nowhere (absent)'}")
    print(f"cost: decode (as the scan: reduced to >= 224 px) {ms_dec:.2f} ms/image, layout {ms_lay:.2f} ms/image "
          f"({100 * ms_lay / max(1e-9, ms_dec):.0f} % of decode); {os.cpu_count()} CPUs, shared")
    gutter = np.array([f.family != "gutterless" for f in figures])
    print(f"AUC layout score: all {auc(scores, labels):.3f}, without gutterless mosaics {auc(scores[gutter], labels[gutter]):.3f}")
    layout_says = (scores >= DEFAULT_LAYOUT_THRESHOLD) & (counts >= 2)
    report(figures, layout_says, f"layout alone (score >= {DEFAULT_LAYOUT_THRESHOLD}, panels >= 2)")
    widths = sorted({int(f.name.rsplit("_g", 1)[1]) for f in figures if f.compound and "_g" in f.name})
    by_width = []
    for g in widths:
        idx = np.array([f.compound and f.name.endswith(f"_g{g}") for f in figures])
        by_width.append(f"{g} px {int(layout_says[idx].sum())}/{int(idx.sum())}")
    print("  recall by gutter width (in the figure as built, before the scan's reduced decode): " + ", ".join(by_width))
    with_panels = np.array([f.panels for f in figures])
    ok = labels & gutter & layout_says
    print(f"  panel count exact on {int((counts[ok] == with_panels[ok]).sum())}/{int(ok.sum())} detected gutter compounds")
    if args.show_errors:
        for f, s, c, d in zip(figures, scores, counts, layout_says):
            if d != f.compound:
                print(f"    wrong: {f.name} score {s:.3f} panels {c}")
    if args.cnn:
        from rocov2_fast._core import model_input
        from rocov2_fast.filter.models import FilterModel, default_model_path, providers_for

        model = FilterModel.load(default_model_path("compound"), providers_for(0))
        pixels = np.stack([model_input(f.data, size=model.input_size) for f in figures])
        cnn = model.predict(pixels)
        print(f"\nCNN ({default_model_path('compound').name}, threshold {model.threshold:.3f}): AUC {auc(cnn, labels):.3f}")
        report(figures, cnn >= model.threshold, "CNN alone")
        combined = np.array([is_compound(c, s, k, model.threshold) for c, s, k in zip(cnn, scores, counts)])
        report(figures, combined, "combined (layout_rule.is_compound)")


if __name__ == "__main__":
    main()

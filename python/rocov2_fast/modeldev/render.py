"""Figures made with the libraries that make the real thing, as uint8 RGB arrays.

Charts in journal styles (matplotlib, seaborn when installed), flow diagrams (graphviz when the
`dot` program and the python package are there, else matplotlib boxes and arrows), chemical
structures (RDKit when installed), tables and text blocks, gel / blot strips, and radiology slices
annotated the way journals annotate them (arrows, letters, scale bars). Every function takes a
`numpy.random.Generator`; the same generator state gives the same picture.
"""

from __future__ import annotations

import io
import shutil

import numpy as np

WORDS = ("control", "treated", "baseline", "week 4", "week 12", "placebo", "dose", "CRP", "IL-6", "TNF-α",
         "survival", "age", "BMI", "HbA1c", "eGFR", "tumour size", "SUVmax", "ADC", "LVEF", "FEV1",
         "sensitivity", "specificity", "responders", "non-responders", "wild type", "knockout", "mRNA",
         "expression", "cohort A", "cohort B", "pre-op", "post-op", "month", "years", "score", "volume (mL)")
GROUPS = ("Control", "Sham", "Low dose", "High dose", "WT", "KO", "Vehicle", "Drug", "Group 1", "Group 2",
          "Group 3", "Healthy", "Patients", "Stage I", "Stage II", "Stage III", "Male", "Female")
FONTS = ("DejaVu Sans", "DejaVu Serif", "Liberation Sans", "Liberation Serif", "Liberation Sans Narrow")
PALETTES = (["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"], ["#000000", "#7f7f7f", "#bfbfbf", "#404040"],
            ["#E64B35", "#4DBBD5", "#00A087", "#3C5488"], ["#0072B2", "#D55E00", "#009E73", "#CC79A7"],
            ["#374E55", "#DF8F44", "#00A1D5", "#B24745"])


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _label(rng) -> str:
    return _pick(rng, WORDS)


def figure(rng, width_in: float | None = None, height_in: float | None = None, nrows: int = 1, ncols: int = 1):
    """A matplotlib Figure (Agg, no pyplot state) in a random journal style."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    width_in = width_in or float(rng.uniform(3.0, 5.5)) * ncols ** 0.7
    height_in = height_in or float(rng.uniform(2.4, 4.2)) * nrows ** 0.7
    rc = {"font.family": _pick(rng, FONTS), "font.size": float(rng.uniform(7, 12)),
          "axes.spines.top": bool(rng.random() < 0.3), "axes.spines.right": bool(rng.random() < 0.3),
          "axes.grid": bool(rng.random() < 0.25), "axes.linewidth": float(rng.uniform(0.6, 1.5))}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(width_in, height_in), dpi=int(rng.integers(90, 160)))
        axes = fig.subplots(nrows, ncols, squeeze=False)
    fig._rocov2_rc = rc  # noqa: SLF001 - the drawing functions re-enter the same style
    return fig, axes


def to_array(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    try:
        fig.tight_layout()
    except Exception:  # noqa: BLE001 - a crowded layout is still a figure
        pass
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


# ---------------------------------------------------------------- charts
def _bar(rng, ax, pal):
    n = int(rng.integers(2, 7))
    groups = [_pick(rng, GROUPS) for _ in range(n)]
    series = int(rng.integers(1, 4))
    width = 0.8 / series
    for s in range(series):
        h = rng.gamma(3, 10, n)
        x = np.arange(n) + s * width
        ax.bar(x, h, width, yerr=h * rng.uniform(0.05, 0.3, n), capsize=3, color=pal[s % len(pal)],
               edgecolor="black" if rng.random() < 0.5 else None, label=_label(rng))
    ax.set_xticks(np.arange(n) + width * (series - 1) / 2, groups, rotation=int(rng.choice([0, 30, 45])))
    if rng.random() < 0.5:
        ax.text(0.5, 0.92, "*" * int(rng.integers(1, 4)), transform=ax.transAxes, ha="center")
    if series > 1:
        ax.legend(frameon=bool(rng.random() < 0.5), fontsize="small")


def _line(rng, ax, pal):
    x = np.sort(rng.choice(np.arange(0, 60), int(rng.integers(5, 15)), replace=False))
    for s in range(int(rng.integers(1, 5))):
        y = np.cumsum(rng.normal(rng.normal(0, 1), 1, len(x))) + 10
        ax.errorbar(x, y, yerr=rng.uniform(0.3, 1.5, len(x)), marker=_pick(rng, "osv^D"), color=pal[s % len(pal)],
                    capsize=2, label=_pick(rng, GROUPS), linestyle=_pick(rng, ["-", "--", ":"]))
    ax.legend(fontsize="small", frameon=bool(rng.random() < 0.5))


def _scatter(rng, ax, pal):
    n = int(rng.integers(20, 300))
    x = rng.normal(50, 15, n)
    y = x * rng.normal(0.5, 0.4) + rng.normal(0, 10, n)
    ax.scatter(x, y, s=float(rng.uniform(4, 30)), color=pal[0], alpha=float(rng.uniform(0.4, 1)),
               edgecolors="black" if rng.random() < 0.3 else "none")
    k, b = np.polyfit(x, y, 1)
    ax.plot(np.sort(x), k * np.sort(x) + b, color="black", lw=1)
    ax.text(0.05, 0.92, f"r = {np.corrcoef(x, y)[0, 1]:.2f}, p < 0.001", transform=ax.transAxes, fontsize="small")


def _box(rng, ax, pal):
    n = int(rng.integers(2, 6))
    data = [rng.normal(rng.uniform(10, 40), rng.uniform(2, 8), int(rng.integers(15, 80))) for _ in range(n)]
    try:
        import seaborn as sns

        if rng.random() < 0.6:
            import pandas as pd

            frame = pd.DataFrame({"g": np.repeat(np.arange(n), [len(d) for d in data]), "v": np.concatenate(data)})
            draw = _pick(rng, [sns.boxplot, sns.violinplot, sns.stripplot, sns.swarmplot if n < 4 else sns.boxplot])
            draw(data=frame, x="g", y="v", ax=ax, color=pal[0])
            ax.set_xticks(range(n), [_pick(rng, GROUPS) for _ in range(n)])
            return
    except ImportError:
        pass
    ax.boxplot(data, patch_artist=bool(rng.random() < 0.5))
    ax.set_xticks(range(1, n + 1), [_pick(rng, GROUPS) for _ in range(n)])


def _km(rng, ax, pal):
    for s in range(int(rng.integers(2, 4))):
        n = int(rng.integers(30, 150))
        t = np.sort(rng.exponential(rng.uniform(20, 80), n))
        censored = rng.random(n) < 0.3
        surv = np.cumprod(1 - (~censored) / np.arange(n, 0, -1))
        ax.step(np.r_[0, t], np.r_[1, surv], where="post", color=pal[s % len(pal)], label=_pick(rng, GROUPS))
        ax.plot(t[censored], surv[censored], "|", color=pal[s % len(pal)], markersize=6)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(_pick(rng, ["Months", "Time (days)", "Years since diagnosis"]))
    ax.set_ylabel(_pick(rng, ["Overall survival", "Progression-free survival", "Survival probability"]))
    ax.legend(fontsize="small", frameon=False)
    ax.text(0.6, 0.6, f"log-rank p = {rng.uniform(0.001, 0.2):.3f}", transform=ax.transAxes, fontsize="small")


def _forest(rng, ax, pal):
    n = int(rng.integers(5, 16))
    est = rng.normal(0, 0.4, n)
    err = rng.uniform(0.1, 0.6, n)
    y = np.arange(n)[::-1]
    ax.errorbar(np.exp(est), y, xerr=[np.exp(est) - np.exp(est - err), np.exp(est + err) - np.exp(est)],
                fmt="s", color="black", markersize=4, capsize=0)
    ax.axvline(1, color="grey", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, [f"{_pick(rng, GROUPS)} {i + 2005}" for i in range(n)], fontsize="small")
    ax.set_xlabel(_pick(rng, ["Hazard ratio (95% CI)", "Odds ratio", "Risk ratio"]))


def _heatmap(rng, ax, pal):
    rows, cols = int(rng.integers(5, 30)), int(rng.integers(4, 20))
    data = rng.normal(0, 1, (rows, cols)) + np.outer(rng.normal(0, 1, rows), rng.normal(0, 1, cols))
    cmap = _pick(rng, ["RdBu_r", "viridis", "coolwarm", "magma", "YlOrRd", "bwr"])
    image = ax.imshow(data, cmap=cmap, aspect="auto")
    ax.figure.colorbar(image, ax=ax, fraction=0.05)
    ax.set_yticks(range(rows), [f"gene{int(rng.integers(1, 999))}" for _ in range(rows)], fontsize=5)
    ax.set_xticks([])


def _hist(rng, ax, pal):
    for s in range(int(rng.integers(1, 3))):
        ax.hist(rng.normal(rng.uniform(0, 5), rng.uniform(0.5, 2), 500), bins=int(rng.integers(10, 40)),
                alpha=0.6, color=pal[s], edgecolor="black" if rng.random() < 0.5 else None)


def _roc(rng, ax, pal):
    for s in range(int(rng.integers(1, 4))):
        a = rng.uniform(1.5, 6)
        x = np.linspace(0, 1, 100)
        ax.plot(x, 1 - (1 - x) ** a, color=pal[s], label=f"AUC = {1 - 1 / (a + 1):.2f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set_xlabel("1 − specificity")
    ax.set_ylabel("Sensitivity")
    ax.legend(fontsize="small", loc="lower right")


def _pie(rng, ax, pal):
    n = int(rng.integers(2, 6))
    ax.pie(rng.uniform(1, 5, n), labels=[_pick(rng, GROUPS) for _ in range(n)], colors=(pal * 2)[:n],
           autopct="%1.0f%%")


def _signal(rng, ax, pal):
    """ECG / EEG-like traces (real data where matplotlib ships it)."""
    t = np.linspace(0, 10, 2000)
    for k in range(int(rng.integers(1, 6))):
        y = np.sin(2 * np.pi * rng.uniform(0.5, 2) * t) * (rng.random(2000) < 0.02).cumsum() % 3 + rng.normal(0, 0.2, 2000)
        ax.plot(t, y + 4 * k, lw=0.6, color="black" if rng.random() < 0.6 else pal[k % len(pal)])
    ax.set_yticks([])
    ax.set_xlabel("Time (s)")


CHARTS = {"bar": _bar, "line": _line, "scatter": _scatter, "box": _box, "kaplan-meier": _km, "forest": _forest,
          "heatmap": _heatmap, "histogram": _hist, "roc": _roc, "pie": _pie, "signal": _signal}


def draw_chart(rng, ax, kind: str | None = None) -> str:
    import matplotlib

    kind = kind or _pick(rng, list(CHARTS))
    pal = list(_pick(rng, PALETTES))
    rc = getattr(ax.figure, "_rocov2_rc", {})
    with matplotlib.rc_context(rc):
        if rng.random() < 0.15:
            try:
                import seaborn as sns

                sns.set_style(_pick(rng, ["white", "ticks", "whitegrid"]), rc)
            except ImportError:
                pass
        CHARTS[kind](rng, ax, pal)
        if kind not in ("kaplan-meier", "forest", "roc", "pie", "heatmap"):
            ax.set_xlabel(ax.get_xlabel() or _label(rng))
            ax.set_ylabel(_label(rng))
        if rng.random() < 0.3:
            ax.set_title(_label(rng).capitalize(), fontsize="medium")
    return kind


def chart(rng, kind: str | None = None) -> tuple[np.ndarray, str]:
    fig, axes = figure(rng)
    kind = draw_chart(rng, axes[0][0], kind)
    return to_array(fig), kind


def chart_panels(rng) -> np.ndarray:
    """A multi-panel chart figure drawn by matplotlib's subplots: a compound figure."""
    import matplotlib

    n = int(rng.integers(2, 7))
    rows = 1 if n <= 3 and rng.random() < 0.6 else int(np.ceil(n / int(rng.integers(2, 4))))
    cols = int(np.ceil(n / rows))
    fig, axes = figure(rng, nrows=rows, ncols=cols)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        draw_chart(rng, ax)
        with matplotlib.rc_context(fig._rocov2_rc):  # noqa: SLF001
            ax.set_title(_pick(rng, ["{}", "({})", "{}."]).format("ABCDEFGHI"[i] if rng.random() < 0.6 else "abcdefghi"[i]),
                         loc="left", fontweight="bold")
    return to_array(fig)


# ---------------------------------------------------------------- diagrams, structures, text
STEPS = ("Patients screened (n = {})", "Excluded (n = {})", "Randomised (n = {})", "Allocated to intervention (n = {})",
         "Allocated to control (n = {})", "Lost to follow-up (n = {})", "Analysed (n = {})", "Eligible studies (n = {})",
         "Records identified (n = {})", "Full-text assessed (n = {})", "CT performed (n = {})", "MRI (n = {})",
         "Biopsy", "Surgery", "Follow-up 12 months", "Inclusion criteria", "Data extraction")


def flow_diagram(rng) -> np.ndarray:
    if shutil.which("dot") and rng.random() < 0.7:
        try:
            return _graphviz_flow(rng)
        except Exception:  # noqa: BLE001 - fall back to matplotlib
            pass
    return _matplotlib_flow(rng)


def _graphviz_flow(rng) -> np.ndarray:
    import graphviz
    from PIL import Image

    g = graphviz.Digraph(format="png")
    g.attr(rankdir=_pick(rng, ["TB", "TB", "LR"]), dpi=str(int(rng.integers(72, 130))),
           fontname=_pick(rng, ["Helvetica", "Times", "Arial"]))
    g.attr("node", shape=_pick(rng, ["box", "box", "rect", "ellipse", "box3d"]), style=_pick(rng, ["", "rounded", "filled"]),
           fillcolor=_pick(rng, ["white", "lightgrey", "lightblue", "#fde0c5"]), fontname="Helvetica")
    n = int(rng.integers(4, 12))
    for i in range(n):
        g.node(str(i), _pick(rng, STEPS).format(int(rng.integers(10, 3000))))
    for i in range(1, n):
        g.edge(str(int(rng.integers(max(0, i - 3), i))), str(i))
    return np.asarray(Image.open(io.BytesIO(g.pipe())).convert("RGB"))


def _matplotlib_flow(rng) -> np.ndarray:
    fig, axes = figure(rng, float(rng.uniform(4, 7)), float(rng.uniform(4, 7)))
    ax = axes[0][0]
    ax.axis("off")
    levels = int(rng.integers(3, 6))
    boxes = []
    for level in range(levels):
        width = int(rng.integers(1, 3))
        for k in range(width):
            x, y = (k + 0.5) / width, 1 - (level + 0.5) / levels
            ax.text(x, y, _pick(rng, STEPS).format(int(rng.integers(10, 3000))), ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": _pick(rng, ["square", "round"]), "fc": _pick(rng, ["white", "#e8e8e8", "#dbe9f6"]),
                          "ec": "black"})
            boxes.append((level, x, y))
    for level, x, y in boxes:
        for level2, x2, y2 in boxes:
            if level2 == level + 1:
                ax.annotate("", (x2, y2 + 0.06), (x, y - 0.06), arrowprops={"arrowstyle": "->"})
    return to_array(fig)


SMILES = ("CC(=O)OC1=CC=CC=C1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O",
          "CC(=O)NC1=CC=C(C=C1)O", "CN(C)C(=N)N=C(N)N", "C1=CC(=CC=C1C(=O)O)N", "OC(=O)CCC(=O)O",
          "CC1(C)SC2C(NC(=O)CC3=CC=CC=C3)C(=O)N2C1C(=O)O", "COC1=CC=C2C(=C1)C(=CN2)CCNC(C)=O",
          "C1CCC(CC1)NC(=O)NS(=O)(=O)C2=CC=C(C=C2)CCNC(=O)C3=NC=C(N=C3)C", "CCN(CC)CCNC(=O)C1=CC=C(N)C=C1",
          "O=C(O)C1=CC=CC=C1O", "C1=CC=C2C(=C1)C=CC=C2", "CC12CCC3C(C1CCC2O)CCC4=CC(=O)CCC34C",
          "NC1=NC(=O)N(C=C1)C1OC(CO)C(O)C1O", "CC(C)NCC(O)COC1=CC=CC2=CC=CC=C12", "ClC1=CC=C(C=C1)C(C1=CC=CC=C1)N1C=CN=C1",
          "CN1CCC23C4C1CC5=C2C(=C(C=C5)O)OC3C(C=C4)O", "C[C@H](N)C(=O)O", "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
          "CCOC(=O)C1=C(C)NC(C)=C(C1C1=CC=CC=C1[N+]([O-])=O)C(=O)OC", "FC(F)(F)C1=CC=C(OC(CCNC)C2=CC=CC=C2)C=C1")


def chemical_structure(rng) -> np.ndarray | None:
    try:
        from rdkit import Chem
        from rdkit.Chem import Draw
    except ImportError:
        return None
    mol = Chem.MolFromSmiles(_pick(rng, SMILES))
    size = (int(rng.integers(250, 600)), int(rng.integers(200, 500)))
    options = Draw.MolDrawOptions()
    options.bondLineWidth = int(rng.integers(1, 4))
    if rng.random() < 0.3:
        options.useBWAtomPalette()
    return np.asarray(Draw.MolToImage(mol, size=size, options=options).convert("RGB"))


def table(rng) -> np.ndarray:
    fig, axes = figure(rng, float(rng.uniform(4, 8)), float(rng.uniform(2, 5)))
    ax = axes[0][0]
    ax.axis("off")
    rows, cols = int(rng.integers(3, 14)), int(rng.integers(2, 7))
    cells = [[f"{rng.normal(50, 20):.1f} ± {rng.uniform(1, 9):.1f}" if c else _pick(rng, WORDS) for c in range(cols)]
             for _ in range(rows)]
    t = ax.table(cells, colLabels=[_pick(rng, GROUPS) for _ in range(cols)], loc="center",
                 edges=_pick(rng, ["closed", "horizontal", "open"]))
    t.auto_set_font_size(False)
    t.set_fontsize(float(rng.uniform(6, 10)))
    return to_array(fig)


LOREM = ("The patient presented with progressive dyspnoea and was referred for imaging. Laboratory findings were "
         "unremarkable except for raised inflammatory markers. Written informed consent was obtained. The study was "
         "approved by the institutional review board. Statistical analysis was performed with R version 4.2. Values "
         "are given as mean and standard deviation. Differences were considered significant at p < 0.05.").split()


def text_block(rng) -> np.ndarray:
    fig, axes = figure(rng, float(rng.uniform(3, 7)), float(rng.uniform(2, 6)))
    ax = axes[0][0]
    ax.axis("off")
    lines = []
    for _ in range(int(rng.integers(4, 20))):
        lines.append(("• " if rng.random() < 0.3 else "") + " ".join(_pick(rng, LOREM) for _ in range(int(rng.integers(4, 11)))))
    ax.text(0, 1, "\n".join(lines), va="top", fontsize=float(rng.uniform(6, 11)), family=_pick(rng, FONTS))
    return to_array(fig)


def gel(rng) -> np.ndarray:
    """A gel or western blot strip: lanes of bands, marker labels, dark-on-light or light-on-dark."""
    lanes = int(rng.integers(3, 16))
    rows = int(rng.integers(1, 5))
    strip_h = int(rng.integers(25, 60))
    lane_w = int(rng.integers(14, 30))
    height = rows * strip_h if rng.random() < 0.6 else int(rng.integers(150, 350))
    img = np.zeros((height, lanes * lane_w), np.float64)
    yy = np.arange(height)[:, None]
    for lane in range(lanes):
        xs = slice(lane * lane_w + 2, (lane + 1) * lane_w - 2)
        for _ in range(int(rng.integers(1, 6))):
            centre, sigma = rng.uniform(5, height - 5), rng.uniform(1, 4)
            img[:, xs] += rng.uniform(0.2, 1.0) * np.exp(-((yy - centre) ** 2) / (2 * sigma ** 2))
    img += rng.normal(0, 0.03, img.shape) + rng.uniform(0, 0.15)
    img = np.clip(img / img.max(), 0, 1)
    if rng.random() < 0.6:
        img = 1 - img  # western blot: dark bands on light film
    fig, axes = figure(rng, float(rng.uniform(3, 6)), float(rng.uniform(1.5, 4)))
    ax = axes[0][0]
    ax.imshow(img, cmap="gray", aspect="auto", vmin=0, vmax=1)
    ax.set_xticks(np.arange(lanes) * lane_w + lane_w / 2, [_pick(rng, ["+", "−", "1", "2", "3", "M", "C", "T"]) for _ in range(lanes)])
    ax.set_yticks(np.linspace(5, height - 5, int(rng.integers(2, 6))),
                  [f"{k} kDa" for k in sorted(rng.choice([15, 25, 35, 55, 70, 100, 130, 250], int(rng.integers(2, 6)), replace=False))][::-1][: int(rng.integers(2, 6))]
                  if False else None)
    ax.set_yticks([])
    for s in ("top", "right", "left", "bottom"):
        ax.spines[s].set_visible(rng.random() < 0.5)
    ax.set_ylabel(_pick(rng, ["β-actin", "GAPDH", "p-ERK", "Bcl-2", "cleaved caspase-3", "PCR product"]), rotation=0, ha="right")
    return to_array(fig)


def annotate(rng, image: np.ndarray) -> np.ndarray:
    """What journals add to a single image: arrows, arrowheads, a panel-free letter or side marker, a scale bar, a
    crop. Still one image (not compound)."""
    from PIL import Image, ImageDraw, ImageFont

    pil = Image.fromarray(image if image.ndim == 3 else np.stack([image] * 3, -1))
    w, h = pil.size
    if rng.random() < 0.5:  # crop
        cw, ch = int(w * rng.uniform(0.6, 1)), int(h * rng.uniform(0.6, 1))
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        pil = pil.crop((x0, y0, x0 + cw, y0 + ch))
        w, h = pil.size
    draw = ImageDraw.Draw(pil)
    colour = tuple(int(c) for c in _pick(rng, [(255, 255, 255), (255, 255, 0), (255, 0, 0), (0, 255, 0), (0, 0, 0)]))
    for _ in range(int(rng.integers(0, 4))):
        x, y = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        angle = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.06, 0.15) * min(w, h)
        tail = (x + length * np.cos(angle), y + length * np.sin(angle))
        lw = max(1, int(min(w, h) / 150))
        draw.line([tail, (x, y)], fill=colour, width=lw)
        for side in (-0.5, 0.5):
            head = (x + length * 0.35 * np.cos(angle + side), y + length * 0.35 * np.sin(angle + side))
            draw.line([(x, y), head], fill=colour, width=lw)
    size = max(10, int(min(w, h) * rng.uniform(0.05, 0.1)))
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        font = ImageFont.load_default()
    if rng.random() < 0.4:
        draw.text((w * 0.04, h * 0.03), _pick(rng, ["R", "L", "A", "a", "*", "T2", "T1", "DWI", "FLAIR"]), fill=colour, font=font)
    if rng.random() < 0.3:
        draw.line([(w * 0.7, h * 0.93), (w * 0.9, h * 0.93)], fill=colour, width=max(2, h // 100))
    return np.asarray(pil)

"""The filtering funnel as a picture and as text, written by `filter` as soon as a run finishes:
RUN_DIR/funnel.png (the plot `report` shows, paper Fig. 1) and RUN_DIR/funnel.txt (the lines
`filter` prints).

The picture is drawn with Pillow (a 600 × 320 bar chart: title, y axis with ticks, one bar per
step with its count above it, rotated step names), not matplotlib: importing pyplot and drawing
with it cost `filter` about 0.45 s of serial wall time per run (benches/RESULTS.md). `pyplot()`
stays for the report's other plots: matplotlib draws there with the Agg backend and, where
MPLCONFIGDIR is unset, keeps its cache in a temporary folder (never in $HOME)."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from .rundir import RunDir, write_atomic

#: the picture's size in pixels (what matplotlib made of figsize (6, 3.2) at 100 dpi)
FUNNEL_SIZE = (600, 320)
#: plot area inside the picture: left, top, right, bottom margins in pixels
MARGINS = (72, 34, 14, 74)
COLOURS = {"images": "#4477aa", "removed": "#cc6677", "kept": "#66aa55"}
INK, GRID = "#222222", "#dddddd"


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


def _font_file() -> str | None:
    """DejaVu Sans as matplotlib ships it (the report's other plots use it), found without importing matplotlib."""
    from importlib.util import find_spec

    spec = find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.is_file():
            return str(path)
    return None


def _font(size: int):
    """DejaVu Sans, else Pillow's own scalable font, else its bitmap font where FreeType is missing."""
    from PIL import ImageFont

    try:
        path = _font_file()
        return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def nice_ticks(top: int, most: int = 6) -> list[int]:
    """0, step, 2·step, … up to the first multiple ≥ `top`, step 1, 2 or 5 × 10^k (at most `most` + 1 ticks)."""
    top = max(int(top), 1)
    for exponent in range(20):
        for base in (1, 2, 5):
            step = base * 10 ** exponent
            if math.ceil(top / step) <= most:
                return list(range(0, step * math.ceil(top / step) + 1, step))
    return [0, top]  # unreachable for any realistic count


def _text(draw, xy, text: str, font, anchor: str, fill: str = INK) -> None:
    draw.text(xy, text, font=font, fill=fill, anchor=anchor)


def _rotated(image, text: str, font, angle: float, anchor_xy: tuple[float, float], corner: str) -> None:
    """`text` rotated by `angle` degrees (counter-clockwise), pasted so that its `corner`
    ('top-right' or 'centre') lies at `anchor_xy`."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(text)
    mask = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(mask).text((1 - left, 1 - top), text, font=font, fill=255)
    mask = mask.rotate(angle, resample=Image.BICUBIC, expand=True)
    x, y = anchor_xy
    if corner == "top-right":
        x -= mask.width
    else:
        x, y = x - mask.width / 2, y - mask.height / 2
    image.paste(Image.new("RGB", mask.size, INK), (round(x), round(y)), mask)


def funnel_png(filter_funnel: dict) -> bytes:
    """The funnel (summary.json's `funnel`: images, removed per stage, kept) as a PNG bar chart."""
    from PIL import Image, ImageDraw

    font, small, title = _font(12), _font(10), _font(14)
    minus = "−" if _font_file() else "-"  # Pillow's own fonts have no U+2212
    labels = ["images"] + [f"{minus} {k}" for k in filter_funnel["removed"]] + ["kept"]
    values = [filter_funnel["images"]] + list(filter_funnel["removed"].values()) + [filter_funnel["kept"]]
    colours = [COLOURS["images"]] + [COLOURS["removed"]] * len(filter_funnel["removed"]) + [COLOURS["kept"]]
    ticks = nice_ticks(max(values) * 1.08 if max(values) else 1)
    width, height = FUNNEL_SIZE
    widest = max(font.getlength(f"{tick:,}") for tick in ticks)  # room for the tick labels and the axis name
    left, top, right, bottom = max(MARGINS[0], round(widest) + 34), MARGINS[1], width - MARGINS[2], height - MARGINS[3]
    image = Image.new("RGB", FUNNEL_SIZE, "white")
    draw = ImageDraw.Draw(image)
    scale = (bottom - top) / ticks[-1]

    def y_of(value: float) -> float:
        return bottom - value * scale

    for tick in ticks:  # grid lines and tick labels
        y = round(y_of(tick))
        if tick:
            draw.line([(left + 1, y), (right - 1, y)], fill=GRID)
        draw.line([(left - 4, y), (left, y)], fill=INK)
        _text(draw, (left - 7, y), f"{tick:,}", font, "rm")
    slot = (right - left) / len(values)
    for k, (label, value, colour) in enumerate(zip(labels, values, colours)):
        centre = left + slot * (k + 0.5)
        x0, x1 = round(centre - 0.4 * slot), round(centre + 0.4 * slot)
        if value:
            draw.rectangle([x0, round(y_of(value)), x1, bottom], fill=colour)
        _text(draw, (centre, round(y_of(value)) - 3), f"{value:,}", small, "mb")
        draw.line([(round(centre), bottom), (round(centre), bottom + 4)], fill=INK)
        _rotated(image, label, font, 30, (centre + 6, bottom + 8), "top-right")
    draw.rectangle([left, top, right, bottom], outline=INK)
    _text(draw, ((left + right) / 2, top - 10), "Filtering funnel (paper Fig. 1)", title, "ms")
    _rotated(image, "images", font, 90, (left - widest - 20, (top + bottom) / 2), "centre")
    return png_bytes(image)


def png_bytes(image) -> bytes:
    """An RGB image as PNG (8-bit RGB, no row filters, zlib level 6), written here: Pillow's PNG
    writer first imports its other format plugins (`Image.preinit`, 20–40 ms)."""
    import struct
    import zlib

    width, height = image.size
    raw, stride = image.tobytes(), 3 * width
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def write_funnel_png(filter_funnel: dict, path: Path) -> Path:
    """The funnel picture at `path` (written atomically): `filter`'s RUN_DIR/funnel.png, the report's copy."""
    write_atomic(Path(path), funnel_png(filter_funnel))
    return Path(path)


def write_funnel(run: RunDir, summary: dict) -> tuple[Path, Path]:
    """RUN_DIR/funnel.png and RUN_DIR/funnel.txt from a finished run's summary."""
    write_atomic(run.funnel_txt, ("\n".join(summary["funnel_text"]) + "\n").encode())
    write_funnel_png(summary["funnel"], run.funnel_png)
    return run.funnel_png, run.funnel_txt

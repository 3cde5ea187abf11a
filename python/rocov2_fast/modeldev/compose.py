"""Compound figures the way journals build them: 2–9 panels on a grid, in a row or a column, one
big panel with small ones beside it, gutterless mosaics and insets; gutters of varying width and
colour (white, black, grey, none); panel letters in the usual styles."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

LETTER_STYLES = ("{}", "({})", "{}.", "{})")


def _rgb(a: np.ndarray) -> np.ndarray:
    return a if a.ndim == 3 else np.stack([a] * 3, -1)


def _fit(panel: np.ndarray, w: int, h: int, fill: bool, bg) -> Image.Image:
    im = Image.fromarray(_rgb(panel))
    pw, ph = im.size
    if fill:  # crop to the cell's aspect, then scale: panels that touch their neighbours
        target = w / h
        if pw / ph > target:
            nw = int(ph * target)
            im = im.crop(((pw - nw) // 2, 0, (pw - nw) // 2 + nw, ph))
        else:
            nh = int(pw / target)
            im = im.crop((0, (ph - nh) // 2, pw, (ph - nh) // 2 + nh))
        return im.resize((w, h), Image.BILINEAR)
    scale = min(w / pw, h / ph)
    im = im.resize((max(1, int(pw * scale)), max(1, int(ph * scale))), Image.BILINEAR)
    cell = Image.new("RGB", (w, h), bg)
    cell.paste(im, ((w - im.size[0]) // 2, (h - im.size[1]) // 2))
    return cell


def _font(size: int):
    for name in ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "DejaVuSerif-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def _letter(rng, draw: ImageDraw.ImageDraw, box, i: int, style: str, upper: bool, size: int, colour, boxed: bool):
    text = style.format(("ABCDEFGHI" if upper else "abcdefghi")[i])
    x, y = box[0] + max(2, size // 4), box[1] + max(2, size // 6)
    if boxed:
        draw.rectangle([x - 2, y - 1, x + size * len(text) * 0.7, y + size * 1.1], fill=tuple(255 - c for c in colour))
    draw.text((x, y), text, fill=colour, font=_font(size))


def layout(rng, n: int, width: int, height: int, gutter: int) -> list[tuple[int, int, int, int]]:
    """Cell boxes (x0, y0, x1, y1) for n panels."""
    style = rng.choice(["grid", "grid", "row", "column", "big"]) if n > 2 else rng.choice(["row", "row", "column"])
    if style == "row" and n > 4:
        style = "grid"
    if style == "column" and n > 3:
        style = "grid"
    if style == "big" and n >= 3:
        big_w = int(width * rng.uniform(0.45, 0.65))
        boxes = [(0, 0, big_w, height)]
        rest = n - 1
        cols = 1 if rest <= 3 else 2
        rows = int(np.ceil(rest / cols))
        cw, ch = (width - big_w - gutter * cols) // cols, (height - gutter * (rows - 1)) // rows
        for k in range(rest):
            r, c = divmod(k, cols)
            x0 = big_w + gutter + c * (cw + gutter)
            boxes.append((x0, r * (ch + gutter), x0 + cw, r * (ch + gutter) + ch))
        return boxes
    if style == "row":
        rows, cols = 1, n
    elif style == "column":
        rows, cols = n, 1
    else:
        cols = int(rng.choice([c for c in (2, 3, 4) if c < n] or [2]))
        rows = int(np.ceil(n / cols))
    cw, ch = (width - gutter * (cols - 1)) // cols, (height - gutter * (rows - 1)) // rows
    boxes = []
    for k in range(n):
        r, c = divmod(k, cols)
        boxes.append((c * (cw + gutter), r * (ch + gutter), c * (cw + gutter) + cw, r * (ch + gutter) + ch))
    return boxes


def compound(rng, panels: list[np.ndarray]) -> tuple[np.ndarray, str]:
    """A compound figure of the given panels; returns the picture and its layout kind."""
    n = len(panels)
    if n >= 2 and rng.random() < 0.12:
        return inset(rng, panels[0], panels[1]), "inset"
    gutter = int(rng.choice([0, 0, 1, 2, 3, 5, 8, 12, 20, 30]))
    bg = [(255, 255, 255), (255, 255, 255), (0, 0, 0), (128, 128, 128), (235, 235, 235)][int(rng.integers(5))]
    aspect = np.mean([p.shape[1] / p.shape[0] for p in panels])
    width = int(rng.integers(700, 1800))
    boxes_try = layout(rng, n, width, 1000, gutter)
    # height so the cells roughly keep the panels' aspect
    cols_guess = max(1, round(width / max(1, boxes_try[-1][2] - boxes_try[-1][0] + gutter)))
    rows_guess = int(np.ceil(n / cols_guess))
    height = int(np.clip(width / cols_guess / aspect * rows_guess * rng.uniform(0.8, 1.2), 250, 2400))
    boxes = layout(rng, n, width, height, gutter)
    canvas = Image.new("RGB", (width, height), bg)
    fill = gutter == 0 or rng.random() < 0.5
    for panel, box in zip(panels, boxes):
        w, h = box[2] - box[0], box[3] - box[1]
        if w < 8 or h < 8:
            continue
        canvas.paste(_fit(panel, w, h, fill, bg), box[:2])
    kind = "mosaic" if gutter == 0 else "grid"
    if rng.random() < 0.8:
        draw = ImageDraw.Draw(canvas)
        style, upper = LETTER_STYLES[int(rng.integers(4))], bool(rng.random() < 0.7)
        size = max(10, int(min(width, height) * rng.uniform(0.03, 0.06)))
        colour = tuple(int(c) for c in [(255, 255, 255), (0, 0, 0), (255, 255, 0)][int(rng.integers(3))])
        boxed = bool(rng.random() < 0.2)
        for i, box in enumerate(boxes):
            _letter(rng, draw, box, i, style, upper, size, colour, boxed)
    return np.asarray(canvas), kind


def inset(rng, main: np.ndarray, small: np.ndarray) -> np.ndarray:
    """One image with a smaller panel set into a corner (framed), as journals do for magnified views."""
    base = Image.fromarray(_rgb(main)).copy()
    w, h = base.size
    sw = int(w * rng.uniform(0.25, 0.4))
    sh = max(8, int(sw * small.shape[0] / small.shape[1]))
    sh = min(sh, int(h * 0.5))
    piece = _fit(small, sw, sh, True, (0, 0, 0))
    border = int(rng.integers(1, 5))
    framed = Image.new("RGB", (sw + 2 * border, sh + 2 * border), (255, 255, 255) if rng.random() < 0.6 else (255, 255, 0))
    framed.paste(piece, (border, border))
    corner = int(rng.integers(4))
    x = 4 if corner in (0, 2) else w - framed.size[0] - 4
    y = 4 if corner in (0, 1) else h - framed.size[1] - 4
    base.paste(framed, (x, y))
    return np.asarray(base)

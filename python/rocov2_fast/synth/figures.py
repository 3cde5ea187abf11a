"""Figure images of the kinds the filters must tell apart, rendered with numpy + Pillow.

Kinds: radiology-like (ct, mri, xray, ultrasound, angiography; mostly grayscale), chart,
photo, microscopy, and compound figures (grids of 2-9 panels with gutters and panel letters).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

RADIOLOGY_KINDS = ("ct", "mri", "xray", "ultrasound", "angiography")
OTHER_KINDS = ("chart", "photo", "microscopy")
SINGLE_KINDS = RADIOLOGY_KINDS + OTHER_KINDS


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return y / h, x / w


def _ellipse(y: np.ndarray, x: np.ndarray, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def _cross_section(rng: np.random.Generator, h: int, w: int, bright_bone: bool) -> np.ndarray:
    """CT/MRI-like slice: body ellipse, organs, a bright or dark rim, noise."""
    y, x = _grid(h, w)
    img = np.zeros((h, w), np.float32)
    # Patients are never exactly centred or symmetric.
    cy, cx = rng.uniform(0.42, 0.58), rng.uniform(0.42, 0.58)
    body = _ellipse(y, x, cy, cx, rng.uniform(0.3, 0.45), rng.uniform(0.35, 0.48))
    img[body] = rng.uniform(90, 130)
    for _ in range(rng.integers(3, 8)):
        organ = _ellipse(y, x, rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.04, 0.15), rng.uniform(0.04, 0.15))
        img[organ & body] = rng.uniform(40, 200)
    spine = _ellipse(y, x, cy + rng.uniform(0.15, 0.25), cx + rng.uniform(-0.03, 0.03), 0.05, 0.04)
    img[spine] = 240 if bright_bone else 30
    return img


def _xray(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    cx = rng.uniform(0.44, 0.56)
    img = 30 + 60 * np.exp(-(((x - cx) / 0.35) ** 2)) * np.ones_like(y)
    lungs = (_ellipse(y, x, rng.uniform(0.4, 0.5), cx - 0.17, 0.3, rng.uniform(0.11, 0.15))
             | _ellipse(y, x, rng.uniform(0.4, 0.5), cx + 0.17, 0.3, rng.uniform(0.11, 0.15)))
    img = np.where(lungs, 25.0, img + 80)
    for k in range(rng.integers(6, 11)):  # ribs
        band = np.abs(y - (0.2 + 0.06 * k) - 0.05 * np.cos((x - cx) * 6)) < 0.008
        img[band] += 70
    return img


def _ultrasound(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    apex = rng.uniform(0.45, 0.55)
    angle = np.arctan2(x - apex, y + 0.05)
    radius = np.hypot(x - apex, y + 0.05)
    fan = (np.abs(angle) < rng.uniform(0.5, 0.75)) & (radius < 0.95) & (radius > 0.1)
    speckle = rng.gamma(2.0, 40.0, (h, w)).astype(np.float32)
    img = np.where(fan, speckle * (1.2 - radius), 0)
    cyst = _ellipse(y, x, rng.uniform(0.4, 0.7), rng.uniform(0.4, 0.6), 0.08, 0.1)
    img[cyst & fan] = 10
    return img


def _angiography(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = Image.new("L", (w, h), int(rng.integers(150, 200)))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(3, 6)):
        px, py = float(rng.uniform(0.3, 0.7) * w), 0.0
        width = max(2, int(w / 60))
        while py < h and width > 0:
            nx, ny = px + rng.normal(0, w / 25), py + h / 20
            draw.line([(px, py), (nx, ny)], fill=int(rng.integers(20, 60)), width=width)
            if rng.random() < 0.25:
                draw.line([(nx, ny), (nx + rng.normal(0, w / 8), ny + h / 8)], fill=40, width=max(1, width // 2))
            px, py = nx, ny
            width -= rng.integers(0, 2)
    return np.asarray(img, np.float32)


def _chart(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    m = int(0.1 * min(w, h))
    draw.line([(m, m), (m, h - m), (w - m, h - m)], fill="black", width=max(2, w // 300))
    n = int(rng.integers(3, 9))
    colors = [tuple(int(c) for c in rng.integers(0, 220, 3)) for _ in range(3)]
    if rng.random() < 0.5:
        bw = (w - 2 * m) / (n * 1.5)
        for i in range(n):
            top = h - m - rng.uniform(0.1, 0.9) * (h - 2 * m)
            x0 = m + bw * (0.5 + 1.5 * i)
            draw.rectangle([x0, top, x0 + bw, h - m], fill=colors[i % 3], outline="black")
    else:
        for c in colors:
            pts = [(m + i * (w - 2 * m) / (n - 1), h - m - rng.uniform(0.1, 0.9) * (h - 2 * m)) for i in range(n)]
            draw.line(pts, fill=c, width=max(2, w // 250))
    font = ImageFont.load_default(size=max(10, h // 30))
    for i in range(5):
        draw.text((m // 4, m + i * (h - 2 * m) / 5), f"{(5 - i) * 20}", fill="black", font=font)
    return img


def _photo(rng: np.random.Generator, h: int, w: int, microscopy: bool) -> Image.Image:
    y, x = _grid(h, w)
    base = np.array([235, 200, 225] if microscopy else rng.integers(60, 200, 3), np.float32)
    img = np.ones((h, w, 3), np.float32) * base
    img += (y[..., None] * rng.uniform(-60, 60, 3)).astype(np.float32)
    for _ in range(rng.integers(20 if microscopy else 4, 60 if microscopy else 10)):
        r = rng.uniform(0.01, 0.05) if microscopy else rng.uniform(0.05, 0.25)
        blob = _ellipse(y, x, rng.uniform(0, 1), rng.uniform(0, 1), r, r * rng.uniform(0.6, 1.4))
        color = np.array([120, 40, 150] if microscopy else rng.integers(0, 255, 3), np.float32)
        img[blob] = img[blob] * 0.3 + color * 0.7
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def render_single(kind: str, rng: np.random.Generator, h: int, w: int, textured: bool = False) -> Image.Image:
    """Renders at a quarter of the size (cheap), upsamples, then adds full-size grain; with
    `textured`, a photo/microscopy/scan-like figure of the same kind (textures.py)."""
    if textured:
        from .textures import render_textured

        return render_textured(kind, rng, h, w)
    sh, sw = max(32, h // 4), max(32, w // 4)
    if kind in ("ct", "mri"):
        small = _cross_section(rng, sh, sw, bright_bone=kind == "ct")
    elif kind == "xray":
        small = _xray(rng, sh, sw)
    elif kind == "ultrasound":
        small = _ultrasound(rng, sh, sw)
    elif kind == "angiography":
        small = _angiography(rng, sh, sw)
    elif kind == "chart":
        return _chart(rng, h, w)
    elif kind in ("photo", "microscopy"):
        small_img = _photo(rng, sh, sw, microscopy=kind == "microscopy")
        return small_img.resize((w, h), Image.BICUBIC).filter(ImageFilter.GaussianBlur(1))
    else:
        raise ValueError(f"unknown figure kind {kind!r}")
    gray = Image.fromarray(np.clip(small, 0, 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
    grain = rng.normal(0, 6, (h, w)).astype(np.float32)
    out = np.clip(np.asarray(gray, np.float32) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(out, "L")


def render_compound(rng: np.random.Generator, h: int, w: int, textured: bool = False) -> tuple[Image.Image, list[str]]:
    """A grid of 2-9 panels with white gutters and panel letters (textured panels with `textured`)."""
    rows, cols = [(1, 2), (2, 1), (2, 2), (1, 3), (2, 3), (3, 3), (3, 2)][int(rng.integers(0, 7))]
    gutter = max(4, min(w, h) // 60)
    canvas = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(12, h // (12 * rows)))
    ph, pw = (h - gutter * (rows + 1)) // rows, (w - gutter * (cols + 1)) // cols
    kinds = []
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        kind = SINGLE_KINDS[int(rng.integers(0, len(SINGLE_KINDS)))]
        kinds.append(kind)
        panel = render_single(kind, rng, max(16, ph), max(16, pw), textured).convert("RGB")
        x0, y0 = gutter + c * (pw + gutter), gutter + r * (ph + gutter)
        canvas.paste(panel, (x0, y0))
        draw.text((x0 + gutter, y0 + gutter), "ABCDEFGHI"[i], fill="yellow", font=font, stroke_width=1, stroke_fill="black")
    return canvas, kinds

"""Textured figures for `synth --figures textured|mixed`: photo-, microscopy- and scan-like
images whose JPEGs cost what PMC's photographs, micrographs and radiographs cost to decode.

The smooth figures of figures.py are flat regions and soft edges: their JPEGs are mostly zero
AC coefficients. Real photographs, micrographs and many radiographs are texture and sensor noise
all the way down to the pixel. The textures here come from:

- real images shipped with matplotlib (a core dependency, so every install has them and the
  output stays the same bytes for the same seed): a photograph (grace_hopper.jpg), an MRI slice
  of a head (s1045.ima.gz) and a terrain elevation model (jacksboro_fault_dem.npz, as a hillshade);
- generated textures: fractal (1/f^beta) noise summed over octaves, and cell-like blobs;
- full-resolution sensor noise (Gaussian, and multiplicative speckle for ultrasound).

Kinds stay what truth.csv says they are (the shapes of figures.py underneath), so a textured
corpus trains and tests the filters like a smooth one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import figures


@lru_cache(maxsize=1)
def real_sources() -> dict[str, np.ndarray]:
    """The real images, as float32 in 0..1: 'photo' (H, W, 3), 'mri' and 'terrain' (H, W)."""
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        photo = np.asarray(im.convert("RGB"), np.float32) / 255
    with cbook.get_sample_data("s1045.ima.gz") as f:
        mri = np.frombuffer(f.read(), "<u2").reshape(256, 256).astype(np.float32)
    dem = cbook.get_sample_data("jacksboro_fault_dem.npz")["elevation"].astype(np.float32)
    gy, gx = np.gradient(dem)
    shade = np.cos(np.arctan(np.hypot(gx, gy) / 10)) + 0.5 * np.sin(np.arctan2(gy, gx))  # a hillshade
    return {"photo": photo, "mri": _unit(mri), "terrain": _unit(shade)}


def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(a, [1, 99])
    return np.clip((a - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32)


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """A float32 array (H, W) resized bicubically to (h, w)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(a, np.float32), "F").resize((w, h), Image.BICUBIC))


def _crop(rng: np.random.Generator, a: np.ndarray, h: int, w: int) -> np.ndarray:
    """A random crop (40-100 % of each side, flipped and turned at random) of a real image,
    resized to (h, w)."""
    if rng.random() < 0.5:
        a = np.rot90(a)
    if rng.random() < 0.5:
        a = a[:, ::-1]
    ah, aw = a.shape[:2]
    ch, cw = int(ah * rng.uniform(0.4, 1.0)), int(aw * rng.uniform(0.4, 1.0))
    y0, x0 = int(rng.integers(0, ah - ch + 1)), int(rng.integers(0, aw - cw + 1))
    a = a[y0:y0 + ch, x0:x0 + cw]
    if a.ndim == 2:
        return _resize(a, h, w)
    return np.stack([_resize(a[..., c], h, w) for c in range(a.shape[2])], axis=-1)


def fractal(rng: np.random.Generator, h: int, w: int, beta: float = 2.0) -> np.ndarray:
    """1/f^beta noise (mean 0, standard deviation 1): random grids from 4 cells to one per pixel,
    each octave upsampled bicubically and weighted by 2^(-beta/2) per doubling."""
    out = np.zeros((h, w), np.float32)
    cells, amp, long_side = 4, 1.0, max(h, w)
    while True:
        gh, gw = max(2, min(h, round(cells * h / long_side))), max(2, min(w, round(cells * w / long_side)))
        grid = rng.standard_normal((gh, gw), dtype=np.float32)
        out += amp * (grid if (gh, gw) == (h, w) else _resize(grid, h, w))
        if cells >= long_side:
            break
        cells, amp = cells * 2, amp * 2 ** (-beta / 2)
    return out / max(float(out.std()), 1e-6)


def cell_mask(rng: np.random.Generator, h: int, w: int, count: int, radius: float) -> np.ndarray:
    """Cell-like blobs (0..1, soft, irregular edges): ellipses drawn at a quarter of the size,
    blurred, upsampled, roughened with fractal noise and squashed."""
    sh, sw = max(8, h // 4), max(8, w // 4)
    small = Image.new("L", (sw, sh), 0)
    draw = ImageDraw.Draw(small)
    r0 = radius * min(sh, sw)
    for _ in range(count):
        cx, cy = rng.uniform(0, sw), rng.uniform(0, sh)
        rx = r0 * rng.uniform(0.5, 1.6)
        ry = rx * rng.uniform(0.6, 1.4)
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    soft = np.asarray(small.filter(ImageFilter.GaussianBlur(max(1.0, r0 / 3))), np.float32) / 255
    field = _resize(soft, h, w) + 0.12 * fractal(rng, h, w, beta=1.6)
    return 1 / (1 + np.exp(-(field - 0.5) * 12))


def _noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    return sigma * rng.standard_normal(shape, dtype=np.float32)


def _to_image(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L" if a.ndim == 2 else "RGB")


def _gray(kind: str, rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """Radiology-like kinds: the shapes of figures.py carry tissue texture (fractal noise, the real
    MRI slice for MRI and CT, the terrain hillshade for bone and soft tissue) and sensor noise."""
    sh, sw = max(32, h // 4), max(32, w // 4)
    if kind in ("ct", "mri"):
        small = figures._cross_section(rng, sh, sw, bright_bone=kind == "ct")
    elif kind == "xray":
        small = figures._xray(rng, sh, sw)
    elif kind == "ultrasound":
        small = figures._ultrasound(rng, sh, sw)
    else:
        small = figures._angiography(rng, sh, sw)
    base = _resize(np.asarray(small, np.float32), h, w)
    sources = real_sources()
    tissue = 1 + rng.uniform(0.12, 0.3) * fractal(rng, h, w, beta=rng.uniform(1.6, 2.4))
    img = base * tissue
    if kind in ("ct", "mri"):
        img = img * rng.uniform(0.3, 0.6) + 255 * rng.uniform(0.4, 0.7) * _crop(rng, sources["mri"], h, w)
    else:
        img = img + 40 * (_crop(rng, sources["terrain"], h, w) - 0.5)
    if kind == "ultrasound":  # speckle is multiplicative and per pixel
        img = img * rng.gamma(4.0, 0.25, (h, w)).astype(np.float32)
    return _to_image(img + _noise(rng, (h, w), rng.uniform(7, 15)))


def _photo(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A crop of the real photograph, blended with a scene of blobs, recoloured, textured, noisy."""
    scene = np.asarray(figures._photo(rng, max(32, h // 4), max(32, w // 4), microscopy=False).resize((w, h), Image.BICUBIC),
                       np.float32)
    crop = 255 * _crop(rng, real_sources()["photo"], h, w)
    mix = rng.uniform(0.55, 0.85)
    img = (mix * crop + (1 - mix) * scene) * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    img = img * (1 + 0.1 * fractal(rng, h, w, beta=rng.uniform(1.2, 2.0)))[..., None]
    return _to_image(img + _noise(rng, (h, w, 3), rng.uniform(6, 12)))


def _microscopy(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A stained section (pink stroma, purple nuclei) or, one time in three, a fluorescence image
    (bright nuclei on black), with fine texture and noise."""
    nuclei = cell_mask(rng, h, w, count=int(rng.integers(60, 400)), radius=rng.uniform(0.012, 0.03))[..., None]
    stroma_tex = fractal(rng, h, w, beta=rng.uniform(1.0, 1.6))[..., None]
    nucleus_tex = fractal(rng, h, w, beta=1.2)[..., None]
    if rng.random() < 1 / 3:
        stroma = np.array([8, 10, 12], np.float32) + 6 * stroma_tex
        nucleus = np.array([40, 90, 230] if rng.random() < 0.5 else [60, 220, 80], np.float32) * (1 + 0.25 * nucleus_tex)
    else:
        stroma = np.array([236, 180, 210], np.float32) * (1 + rng.uniform(0.06, 0.14) * stroma_tex)
        nucleus = np.array([95, 55, 150], np.float32) * (1 + 0.2 * nucleus_tex)
    img = stroma * (1 - nuclei) + nucleus * nuclei
    return _to_image(img + _noise(rng, (h, w, 3), rng.uniform(6, 12)))


def _chart(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A chart as printed and scanned: softened, on textured paper, with noise."""
    chart = np.asarray(figures._chart(rng, h, w).filter(ImageFilter.GaussianBlur(0.7)), np.float32)
    paper = 1 + 0.03 * fractal(rng, h, w, beta=1.8)
    return _to_image(chart * paper[..., None] + _noise(rng, (h, w, 3), rng.uniform(2, 5)))


def render_textured(kind: str, rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """One textured figure of `kind` (figures.SINGLE_KINDS), h x w pixels."""
    if kind in figures.RADIOLOGY_KINDS:
        return _gray(kind, rng, h, w)
    if kind == "photo":
        return _photo(rng, h, w)
    if kind == "microscopy":
        return _microscopy(rng, h, w)
    if kind == "chart":
        return _chart(rng, h, w)
    raise ValueError(f"unknown figure kind {kind!r}")

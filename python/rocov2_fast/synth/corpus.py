"""A deterministic synthetic PMC OA corpus: packages (or per-article folders), oa_file_list.csv
and truth.csv. Same seed, same bytes.

Figures (`Options.figures`, `synth --figures`):
- `smooth` (the default, the corpus of every earlier release, byte for byte): flat shapes and
  soft edges, cheap to decode, like PMC's charts and drawings; 6 % PNG/TIFF/GIF, 4 % progressive
  and 2 % CMYK JPEGs, 2 % truncated images.
- `textured`: photo-, microscopy- and scan-like figures (textures.py: real images shipped with
  matplotlib, fractal noise, cell-like blobs, sensor noise), like PMC's photographs, micrographs
  and radiographs; with profile `pmc` 500-2000 px and about 2.4 MB per package; every graphic a
  JPEG that decodes, 15 % of them progressive (the share seen in PMC), so that `benches/floor.py`
  (gunzip + libjpeg-turbo) measures the same work as a scan.
- `mixed`: as `textured`, but charts stay smooth and half of the other figures are textured.

The option is `--figures`, not `--profile`: `--profile` already chooses the sizes (pmc|tiny), and
the two combine (`--profile tiny --figures textured` is a fast textured corpus for tests).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

from ..errors import Rocov2Error
from .figures import RADIOLOGY_KINDS, SINGLE_KINDS, render_compound, render_single

FILE_LIST_HEADER = ["File", "Article Citation", "Accession ID", "Last Updated (YYYY-MM-DD HH:MM:SS)", "PMID", "License"]
TRUTH_HEADER = ["pmcid", "graphic", "member", "kind", "compound", "radiology", "duplicate_of", "format", "variant"]

# (file-list value, how the NXML states it)
LICENSES = [
    ("CC BY", "href"), ("CC BY", "ali"), ("CC BY", "words"), ("CC BY-NC", "href"), ("CC BY-NC", "type"),
    ("CC BY-NC-SA", "href"), ("CC BY-NC-ND", "words"), ("CC BY-ND", "href"), ("CC BY-SA", "ali"),
    ("CC0", "href"), ("NO-CC CODE", "none"),
]
LICENSE_CODES = {"CC BY": "by", "CC BY-NC": "by-nc", "CC BY-NC-SA": "by-nc-sa", "CC BY-NC-ND": "by-nc-nd",
                 "CC BY-ND": "by-nd", "CC BY-SA": "by-sa"}
LICENSE_WORDS = {"CC BY": "Creative Commons Attribution License",
                 "CC BY-NC-ND": "Creative Commons Attribution-NonCommercial-NoDerivatives License"}

PROFILES = {
    # long side of figures (px), PDF blob bytes
    "pmc": {"side": (500, 3000), "pdf": (1_000_000, 3_000_000), "supp": (50_000, 300_000), "quality": (75, 95)},
    "tiny": {"side": (240, 640), "pdf": (2_000, 8_000), "supp": (500, 2_000), "quality": (75, 95)},
}
# What textured figures change in a profile (the package sizes follow PMC's: about 2.4 MB).
TEXTURED_PROFILES = {
    "pmc": {"side": (500, 2000), "pdf": (200_000, 1_200_000), "supp": (20_000, 200_000), "quality": (88, 97)},
    "tiny": {"quality": (88, 97)},
}
FIGURES = ("smooth", "textured", "mixed")
PROGRESSIVE_SHARE = 0.15  # of the JPEGs of a textured or mixed corpus


@dataclass
class Options:
    articles: int
    seed: int = 0
    profile: str = "pmc"
    layout: str = "legacy"  # legacy packages or 2026 per-article folders ("cloud")
    faults: bool = False
    figures: str = "smooth"  # smooth | textured | mixed (see the module's docstring)


@dataclass
class Summary:
    articles: int = 0
    figures: int = 0
    images: int = 0
    bytes: int = 0
    faults: list[str] = field(default_factory=list)


def license_xml(value: str, style: str) -> str:
    url = ("http://creativecommons.org/publicdomain/zero/1.0/" if value == "CC0"
           else f"https://creativecommons.org/licenses/{LICENSE_CODES.get(value, 'by')}/4.0/")
    words = LICENSE_WORDS.get(value, f"Distributed under the terms of the {value} licence.")
    if style == "none":
        return ""
    if style == "href":
        return f'<license xlink:href="{url}"><license-p>{escape(words)}</license-p></license>'
    if style == "ali":
        return (f'<license><ali:license_ref xmlns:ali="http://www.niso.org/schemas/ali/1.0/">{url}</ali:license_ref>'
                f"<license-p>Open access.</license-p></license>")
    if style == "type":
        return f'<license license-type="cc-{LICENSE_CODES[value]}"><license-p>Open access.</license-p></license>'
    return f"<license><license-p>This article is distributed under the {escape(words)}.</license-p></license>"


CAPTION_BODIES = [
    "Axial <italic>CT</italic> image of the chest showing a nodule in the right upper lobe (<xref ref-type=\"fig\" rid=\"f1\">arrow</xref>).",
    "T2-weighted MRI of the brain with a hyperintense lesion; see <ext-link ext-link-type=\"uri\" xlink:href=\"https://example.org\">https://example.org/case</ext-link>.",
    "Chest radiograph, posteroanterior view, with SpO<sub>2</sub> of 91% and a mass of 3 cm<sup>2</sup>.",
    "Ultrasound of the liver; the lesion measures <inline-formula><alternatives><tex-math id=\"M1\">\\documentclass[12pt]{minimal}\\usepackage{amsmath}\\begin{document}$$4\\times 5$$\\end{document}</tex-math><mml:math><mml:mn>4</mml:mn><mml:mo>x</mml:mo><mml:mn>5</mml:mn></mml:math></alternatives></inline-formula> mm.",
    "Bar chart of <bold>mean</bold> scores per group.",
    "Histological section (H&amp;E, ×40) of the resected specimen.",
    "Digital subtraction angiography of the left internal carotid artery.",
]


def caption_xml(rng: np.random.Generator, kind: str) -> str:
    style = int(rng.integers(0, 5))
    body = CAPTION_BODIES[int(rng.integers(0, len(CAPTION_BODIES)))]
    if style == 0:
        return ""  # missing caption
    if style == 1:
        return f"<caption><title>{kind.upper()} findings.</title><p>{body}</p></caption>"
    if style == 2:
        return f"<caption><p>{body}</p><p>Second paragraph of the legend.</p></caption>"
    return f"<caption><p>{body}</p></caption>"


def fig_xml(fig_id: str, label: str, caption: str, hrefs: list[str]) -> str:
    graphics = "".join(f'<graphic xlink:href="{h}"/>' for h in hrefs)
    return f'<fig id="{fig_id}" position="float"><label>{label}</label>{caption}{graphics}</fig>'


def article_xml(pmcid: str, pmid: str, year: int, license_markup: str, body_figs: list[str], float_figs: list[str]) -> str:
    digits = pmcid[3:]
    grouped = ""
    if len(body_figs) > 1:
        grouped = f"<fig-group id=\"fg1\"><caption><p>Group.</p></caption>{body_figs.pop()}</fig-group>"
    floats = f"<floats-group>{''.join(float_figs)}</floats-group>" if float_figs else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.2 20190208//EN" '
        '"JATS-archivearticle1.dtd">\n'
        '<article xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML" '
        'article-type="case-report"><front><journal-meta><journal-id journal-id-type="nlm-ta">Synth Radiol</journal-id>'
        "<journal-title-group><journal-title>Synthetic Radiology Reports</journal-title></journal-title-group>"
        "</journal-meta><article-meta>"
        f'<article-id pub-id-type="pmid">{pmid}</article-id><article-id pub-id-type="pmc">{digits}</article-id>'
        f'<article-id pub-id-type="doi">10.9999/synth.{digits}</article-id>'
        f"<title-group><article-title>Synthetic case {digits}</article-title></title-group>"
        '<contrib-group><contrib contrib-type="author"><name><surname>Doe</surname><given-names>Jane A.</given-names></name>'
        f'</contrib><contrib contrib-type="author"><name><surname>Roe{int(digits) % 7}</surname><given-names>Richard</given-names>'
        "</name></contrib></contrib-group>"
        f'<pub-date pub-type="epub"><day>1</day><month>3</month><year>{year}</year></pub-date>'
        f"<permissions>{license_markup}</permissions></article-meta></front>"
        "<body><sec><title>Case</title><p>A patient presented with symptoms.</p>"
        f"{''.join(body_figs)}{grouped}</sec></body>{floats}</article>"
    )


def encode(img: Image.Image, fmt: str, rng: np.random.Generator, variant: str = "", quality: tuple[int, int] = (75, 95)) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpg":
        if variant == "cmyk":
            img.convert("CMYK").save(buf, "JPEG", quality=90)
        else:
            img.save(buf, "JPEG", quality=int(rng.integers(*quality)), progressive=variant == "progressive")
    elif fmt == "gif":
        img.convert("P", palette=Image.ADAPTIVE).save(buf, "GIF")
    elif fmt == "png":
        img.save(buf, "PNG")
    elif fmt == "tif":
        img.save(buf, "TIFF", compression="tiff_lzw")
    return buf.getvalue()


def near_duplicate(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Resized, slightly cropped copy: re-encoding happens when it is saved."""
    w, h = img.size
    cx, cy = int(w * rng.uniform(0, 0.03)), int(h * rng.uniform(0, 0.03))
    cropped = img.crop((cx, cy, w - cx, h - cy))
    scale = rng.uniform(0.7, 1.0)
    return cropped.resize((max(32, int(cropped.width * scale)), max(32, int(cropped.height * scale))), Image.BICUBIC)


class CorpusWriter:
    def __init__(self, out: Path, opts: Options):
        self.out, self.opts = out, opts
        if opts.profile not in PROFILES:
            raise Rocov2Error(f"unknown synth profile {opts.profile!r}: expected one of {', '.join(PROFILES)}")
        if opts.figures not in FIGURES:
            raise Rocov2Error(f"unknown synth figures {opts.figures!r}: expected one of {', '.join(FIGURES)}")
        self.textured = opts.figures != "smooth"
        self.profile = {**PROFILES[opts.profile], **(TEXTURED_PROFILES[opts.profile] if self.textured else {})}
        # Earlier images kept for planted near-duplicates: fewer of the large textured ones.
        self.pool_size = 16 if self.textured else 64
        self.summary = Summary()
        self.truth: list[list[str]] = []
        self.file_list: list[list[str]] = []
        self.pool: list[tuple[str, Image.Image, dict]] = []  # earlier images, for planted near-duplicates

    def write(self) -> Summary:
        self.out.mkdir(parents=True, exist_ok=True)
        for i in range(self.opts.articles):
            self.write_article(i)
        if self.opts.faults:
            self.write_faults()
        self._write_csv(self.out / "oa_file_list.csv", FILE_LIST_HEADER, self.file_list)
        self._write_csv(self.out / "truth.csv", TRUTH_HEADER, self.truth)
        return self.summary

    @staticmethod
    def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)

    def figure_image(self, rng: np.random.Generator, pmcid: str, graphic: str) -> tuple[Image.Image, dict]:
        if self.pool and rng.random() < 0.06:
            source, img, facts = self.pool[int(rng.integers(0, len(self.pool)))]
            return near_duplicate(img, rng), {**facts, "duplicate_of": source}
        lo, hi = self.profile["side"]
        long_side = int(rng.integers(lo, hi))
        aspect = rng.uniform(0.6, 1.0)
        w, h = (long_side, int(long_side * aspect)) if rng.random() < 0.6 else (int(long_side * aspect), long_side)
        if rng.random() < 0.3:
            img, _ = render_compound(rng, h, w, *self.texture(rng, "compound"))
            facts = {"kind": "compound", "compound": "1", "radiology": "0"}
        else:
            kind = SINGLE_KINDS[int(rng.integers(0, len(SINGLE_KINDS)))]
            img = render_single(kind, rng, h, w, *self.texture(rng, kind))
            facts = {"kind": kind, "compound": "0", "radiology": "1" if kind in RADIOLOGY_KINDS else "0"}
        if len(self.pool) < self.pool_size:
            self.pool.append((f"{pmcid}/{graphic}", img, facts))
        return img, {**facts, "duplicate_of": ""}

    def texture(self, rng: np.random.Generator, kind: str) -> tuple[bool, ...]:
        """Extra arguments of the renderers: none for smooth figures (their random draws stay
        those of every earlier release), else whether this figure is textured."""
        if not self.textured:
            return ()
        if self.opts.figures == "mixed":
            return (kind != "chart" and rng.random() < 0.5,)
        return (True,)

    def figure_format(self, rng: np.random.Generator) -> tuple[str, str]:
        """(format, variant) of a figure's file."""
        if self.textured:
            return "jpg", "progressive" if rng.random() < PROGRESSIVE_SHARE else ""
        fmt, variant = "jpg", ""
        roll = rng.random()
        if roll < 0.06:
            fmt = ["png", "tif", "gif"][int(rng.integers(0, 3))]
        elif roll < 0.10:
            variant = "progressive"
        elif roll < 0.12:
            variant = "cmyk"
        return fmt, variant

    def write_article(self, i: int) -> None:
        rng = np.random.default_rng([self.opts.seed, i])
        pmcid = f"PMC{1_000_000 + 37 * i}"
        pmid = str(20_000_000 + 11 * i)
        stem = f"synth-{i:05d}"
        license_value, style = LICENSES[i % len(LICENSES)]
        files: dict[str, bytes] = {}
        body, floats = [], []
        n_figs = int(rng.integers(1, 6))
        for f in range(n_figs):
            fig_id, graphic = f"f{f + 1}", f"{stem}-g00{f + 1}"
            if rng.random() < 0.05:  # a fig without any graphic
                body.append(fig_xml(fig_id, f"Figure {f + 1}", caption_xml(rng, "none"), []))
                self.summary.figures += 1
                continue
            img, facts = self.figure_image(rng, pmcid, graphic)
            fmt, variant = self.figure_format(rng)
            data = encode(img, fmt, rng, variant, self.profile["quality"])
            if not self.textured and rng.random() < 0.02:  # a corrupt image: cut in the middle of the scan data
                data, variant = data[: len(data) // 2], "truncated"
            member = f"{graphic}.{fmt}"
            files[member] = data
            if fmt == "jpg":  # PMC ships a small .gif thumbnail beside every .jpg
                thumb = img.copy()
                thumb.thumbnail((120, 120))
                files[f"{graphic}.gif"] = encode(thumb, "gif", rng)
            self.truth.append([pmcid, graphic, member, facts["kind"], facts["compound"], facts["radiology"],
                               facts["duplicate_of"], fmt, variant])
            fig = fig_xml(fig_id, f"Figure {f + 1}", caption_xml(rng, facts["kind"]), [graphic])
            (floats if rng.random() < 0.2 else body).append(fig)
            self.summary.figures += 1
            self.summary.images += 1
        xml = article_xml(pmcid, pmid, 2010 + i % 15, license_xml(license_value, style), body, floats)
        files[f"{stem}.nxml"] = xml.encode()
        lo, hi = self.profile["pdf"]
        files[f"{stem}.pdf"] = b"%PDF-1.4\n" + rng.bytes(int(rng.integers(lo, hi)))
        lo, hi = self.profile["supp"]
        files[f"{stem}-s001.docx"] = rng.bytes(int(rng.integers(lo, hi)))
        rel = self.write_files(pmcid, files, license_value)
        self.file_list.append([rel, f"Synth Radiol. {2010 + i % 15}; {i % 40}:e{i}", pmcid,
                               "2024-01-01 00:00:00", pmid, license_value])
        self.summary.articles += 1

    def write_files(self, pmcid: str, files: dict[str, bytes], license_value: str) -> str:
        if self.opts.layout == "cloud":
            folder = self.out / f"{pmcid}.1"
            folder.mkdir(parents=True, exist_ok=True)
            names = [f"{pmcid}.1.xml" if name.endswith(".nxml") else name for name in files]
            for target, data in zip(names, files.values()):
                (folder / target).write_bytes(data)
                self.summary.bytes += len(data)
            self.write_cloud_metadata(pmcid, names, license_value)
            return f"{pmcid}.1"
        digits = pmcid[3:]
        rel = f"oa_package/{digits[-2:]}/{digits[-4:-2]}/{pmcid}.tar.gz"
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tar_gz({f"{pmcid}/{name}": data for name, data in files.items()}))
        self.summary.bytes += path.stat().st_size
        return rel

    def write_cloud_metadata(self, pmcid: str, names: list[str], license_value: str) -> None:
        """metadata/PMCnnnn.1.json as the PMC Cloud Service lists it: licence code, XML and media URLs."""
        bucket = "s3://pmc-oa-opendata"
        meta = {"pmcid": pmcid, "version": 1, "license_code": license_value,
                "xml_url": f"{bucket}/{pmcid}.1/{pmcid}.1.xml",
                "media_urls": [f"{bucket}/{pmcid}.1/{n}" for n in names if not n.endswith(".xml")]}
        (self.out / "metadata").mkdir(exist_ok=True)
        (self.out / "metadata" / f"{pmcid}.1.json").write_text(json.dumps(meta, indent=1))

    def write_faults(self) -> None:
        """Broken packages that a scan must survive (opt-in)."""
        faults = self.out / "oa_package" / "faults"
        faults.mkdir(parents=True, exist_ok=True)
        good = tar_gz({"PMC9000001/a.nxml": b"<article/>", "PMC9000001/a.pdf": bytes(20_000)})
        (faults / "PMC9000001.tar.gz").write_bytes(good[: len(good) // 2])  # truncated
        (faults / "PMC9000002.tar.gz").write_bytes(b"PK\x03\x04 this is a zip, not gzip")
        (faults / "PMC9000003.tar.gz").write_bytes(gzip.compress(b"plain text, not a tar", mtime=0))
        self.summary.faults = ["PMC9000001 truncated", "PMC9000002 not gzip", "PMC9000003 gzip of non-tar"]


def tar_gz(files: dict[str, bytes]) -> bytes:
    """Deterministic .tar.gz (fixed mtimes and owners)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def generate(out: Path, opts: Options) -> Summary:
    return CorpusWriter(Path(out), opts).write()

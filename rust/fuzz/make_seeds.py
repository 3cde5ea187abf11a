"""Builds the fuzz seed corpora (rust/fuzz/seeds/<target>/) from the test fixtures and the real
data in ../shared/data: small, reproducible, never committed. Run by scripts/fuzz.sh.

jats:    the fixture articles + small hand-written ones (encodings, DOCTYPE, nesting, tex-math).
archive: real .tar.gz packages (single- and multi-member gzip) of a fixture article with real
         images, plus the same tars uncompressed (the target sends non-gzip input to the tar reader).
decode:  one real figure and one real radiograph re-encoded small in each format and colour model
         the decoders handle (JPEG baseline/progressive/gray/CMYK, PNG 8/16-bit/palette/alpha,
         GIF, TIFF raw/LZW/deflate/16-bit).
"""
import gzip
import io
import pathlib
import sys
import tarfile

from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent / "seeds"

SMALL_ARTICLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.2 20190208//EN" "JATS-archivearticle1.dtd">
<article xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML" article-type="case-report">
<front><journal-meta><journal-title-group><journal-title>Radiol Case Rep</journal-title></journal-title-group></journal-meta>
<article-meta><article-id pub-id-type="pmc">1234567</article-id><article-id pub-id-type="pmid">7654321</article-id>
<article-id pub-id-type="doi">10.1000/xyz</article-id><title-group><article-title>Chest <italic>X</italic>-ray</article-title></title-group>
<contrib-group><contrib contrib-type="author"><name><surname>Doe</surname><given-names>J</given-names></name></contrib></contrib-group>
<pub-date pub-type="epub"><year>2020</year></pub-date>
<permissions><license license-type="open-access" xlink:href="http://creativecommons.org/licenses/by/4.0/"><license-p>CC BY</license-p></license></permissions>
</article-meta></front>
<body><sec><title>Case</title><p>See <xref ref-type="fig" rid="f1">Fig. 1</xref>.</p>
<fig id="f1" position="float"><label>Figure 1</label><caption><title>PA view.</title><p>Consolidation, CO<sub>2</sub> &amp; <inline-formula><tex-math>$\\alpha$</tex-math></inline-formula> <bold>(A)</bold> <italic>right</italic>.</p></caption><graphic xlink:href="f1"/></fig>
<fig id="f2"><label>Figure 2</label><caption><p>CT &#x3b1; &#945; &lt;x&gt;</p></caption><graphic xlink:href="f2.png"/><graphic xlink:href="f2b"/></fig>
<fig-group id="g1"><fig id="f3"><caption><p>group</p></caption><graphic xlink:href="f3"/></fig></fig-group>
</sec></body></article>
"""


def jats_seeds():
    seeds = {p.name: p.read_bytes() for p in sorted((ROOT / "tests/fixtures/jats").glob("*.nxml"))}
    for p in sorted((SHARED / "jats").glob("*.nxml")):
        seeds.setdefault(p.name, p.read_bytes())
    text = SMALL_ARTICLE.decode()
    seeds["small.nxml"] = SMALL_ARTICLE
    seeds["latin1.nxml"] = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace("Consolidation", "Consolidaci\u00f3n").encode("latin-1", "replace")
    seeds["utf16.nxml"] = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    seeds["bom.nxml"] = b"\xef\xbb\xbf" + SMALL_ARTICLE
    seeds["entities.nxml"] = SMALL_ARTICLE.replace(b'"JATS-archivearticle1.dtd">', b'"x.dtd" [<!ENTITY ent "e&#x26;">]>').replace(b"PA view.", b"&ent; &nbsp; &unknown;")
    seeds["nested.nxml"] = SMALL_ARTICLE.replace(b"<italic>right</italic>", b"<italic>" * 200 + b"deep" + b"</italic>" * 200)
    seeds["nofig.nxml"] = b'<article><front><article-meta><permissions><license-p>This is an open-access article distributed under the terms of the Creative Commons Attribution-NonCommercial License</license-p></permissions></article-meta></front><body><p>x</p></body></article>'
    return seeds


def images():
    figure = Image.open(ROOT / "tests/fixtures/real_images_test/0000.jpg").convert("RGB")
    xray = Image.open(sorted((SHARED / "real-figures/chest-xray-cc-by").glob("*.jpg"))[0]).convert("L")
    return figure, xray


def encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def decode_seeds():
    figure, xray = images()
    rgb = figure.resize((96, 72))
    gray = xray.resize((64, 80))
    seeds = {
        "baseline.jpg": encode(rgb, "JPEG", quality=80),
        "progressive.jpg": encode(rgb, "JPEG", quality=70, progressive=True),
        "gray.jpg": encode(gray, "JPEG", quality=85),
        "cmyk.jpg": encode(rgb.convert("CMYK"), "JPEG", quality=80),
        "subsampled444.jpg": encode(rgb, "JPEG", quality=90, subsampling=0),
        "rgb.png": encode(rgb, "PNG"),
        "rgba.png": encode(rgb.convert("RGBA"), "PNG"),
        "gray.png": encode(gray, "PNG"),
        "gray16.png": encode(gray.convert("I;16"), "PNG"),
        "palette.png": encode(rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG"),
        "gray_alpha.png": encode(gray.convert("LA"), "PNG"),
        "anim.gif": encode(rgb.convert("P"), "GIF", save_all=True, append_images=[gray.convert("P").resize(rgb.size)]),
        "gray.gif": encode(gray.convert("P"), "GIF"),
        "raw.tif": encode(rgb, "TIFF"),
        "lzw.tif": encode(gray, "TIFF", compression="tiff_lzw"),
        "deflate.tif": encode(rgb, "TIFF", compression="tiff_adobe_deflate"),
        "gray16.tif": encode(gray.convert("I;16"), "TIFF"),
        "cmyk.tif": encode(rgb.convert("CMYK"), "TIFF"),
        "big_flat.png": encode(Image.new("L", (2000, 1500), 200), "PNG"),
    }
    seeds["real.jpg"] = (ROOT / "tests/fixtures/real_images_test/0000.jpg").read_bytes()
    return seeds


def archive_seeds():
    imgs = decode_seeds()
    members = [
        ("PMC1234567", None),
        ("PMC1234567/article.nxml", SMALL_ARTICLE),
        ("PMC1234567/f1.jpg", imgs["baseline.jpg"]),
        ("PMC1234567/f1.gif", imgs["gray.gif"]),
        ("PMC1234567/f2.png", imgs["rgb.png"]),
        ("PMC1234567/f3.tif", imgs["lzw.tif"]),
        ("PMC1234567/supplement.pdf", b"%PDF-1.4 not really"),
    ]
    tar = tar_of(members, tarfile.GNU_FORMAT)
    long = tar_of([("PMC1234567/" + "x" * 150 + ".nxml", SMALL_ARTICLE), ("PMC1234567/f1.jpg", imgs["gray.jpg"])], tarfile.GNU_FORMAT)
    half = len(tar) // 2
    return {
        "package.tar.gz": gzip.compress(tar, compresslevel=6, mtime=0),
        "multimember.tar.gz": gzip.compress(tar[:half], mtime=0) + gzip.compress(tar[half:], mtime=0),
        "longname.tar.gz": gzip.compress(long, mtime=0),
        "truncated.tar.gz": gzip.compress(tar, mtime=0)[:-200],
        "package.tar": tar,
        "longname.tar": long,
        "ustar.tar": tar_of(members, tarfile.USTAR_FORMAT),
        "pax.tar": tar_of(members[:3], tarfile.PAX_FORMAT),
    }


def tar_of(members, fmt):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main():
    for target, seeds in (("jats", jats_seeds()), ("archive", archive_seeds()), ("decode", decode_seeds())):
        folder = OUT / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes in {folder}")


if __name__ == "__main__":
    main()

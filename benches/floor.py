"""The C floor of a scan: what the same bytes cost in plain C tools, as CPU-s (user + sys).

- gunzip of every package: `zcat` (gzip's inflate) over all packages in one process; also
  `libdeflate-gunzip` (apt libdeflate-tools), the inflate that `scan` itself uses, when installed;
- libjpeg-turbo's scaled decode of every figure JPEG: `djpeg -scale n/8 -nosmooth` (apt
  libjpeg-turbo-progs), n/8 chosen as `scan` chooses it (the smallest scale that keeps both
  sides >= 224 px) and with its fast chroma upsampling, one process per image.

Process start-up is subtracted: an empty run of each tool (gzip of nothing; djpeg of an 8x8
JPEG) is measured many times and its mean CPU is taken off once per process the floor started.
The figure JPEGs are taken out of the packages beforehand (not timed): truth.csv's JPEG graphics
when the corpus has one (a synth corpus), else every .jpg/.jpeg member but PMC's .gif thumbnails.
Figures in other formats (PNG, TIFF, GIF: 6 % of a smooth synth corpus, none of a textured one)
are not in the floor. Each part is measured `--repeat` times and the least CPU kept.

    .venv/bin/python benches/floor.py benches/out/corpus-textured-100-s0
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
MIN_SIDE = 224  # records.rs HASH_MIN_SIDE and scan's default --size


def packages(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*.tar.gz") if "faults" not in p.parts)


def scale_eighths(width: int, height: int, min_side: int = MIN_SIDE) -> int:
    """decode.rs `jpeg_scale`: the smallest n/8 whose output (sides rounded up) keeps both sides >= min_side."""
    for n in range(1, 9):
        if min(-(-width * n // 8), -(-height * n // 8)) >= min_side:
            return n
    return 8


def extract_jpegs(corpus: Path, into: Path) -> list[tuple[Path, int]]:
    """The figure JPEGs, written to `into`, each with the scale (eighths) a scan decodes it at."""
    wanted = None
    if (corpus / "truth.csv").exists():
        wanted = {(r["pmcid"], r["member"]) for r in csv.DictReader((corpus / "truth.csv").open()) if r["format"] == "jpg"}
    out = []
    for pkg in packages(corpus):
        with tarfile.open(pkg) as tar:
            for m in tar:
                pmcid, _, name = m.name.partition("/")
                if not m.isfile() or not name.lower().endswith((".jpg", ".jpeg")):
                    continue
                if wanted is not None and (pmcid, name) not in wanted:
                    continue
                data = tar.extractfile(m).read()
                path = into / f"{len(out):06d}.jpg"
                path.write_bytes(data)
                try:
                    with Image.open(io.BytesIO(data)) as im:
                        n = scale_eighths(*im.size)
                except OSError:
                    n = 8
                out.append((path, n))
    return out


def cpu_of(commands: list[list[str]]) -> float:
    """CPU-s (user + sys) of running the commands one after another, output to /dev/null."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for cmd in commands:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(commands: list[list[str]], repeat: int) -> float:
    return min(cpu_of(commands) for _ in range(repeat))


def djpeg_command(path: Path, eighths: int) -> list[str]:
    return ["djpeg", "-scale", f"{eighths}/8", "-nosmooth", "-outfile", "/dev/null", str(path)]


def measure(corpus: Path, repeat: int = 3, empty_runs: int = 200) -> dict:
    """The floor of `corpus` (see the module's docstring) as a dict of CPU-s."""
    for tool in ("zcat", "djpeg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"error: {tool} not found (apt install gzip libjpeg-turbo-progs)")
    pkgs = packages(corpus)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jpegs = extract_jpegs(corpus, tmp)
        empty_gz = tmp / "empty.gz"
        subprocess.run(["gzip", "-c"], input=b"", stdout=empty_gz.open("wb"), check=True)
        tiny = tmp / "tiny.jpg"
        Image.new("L", (8, 8)).save(tiny, "JPEG")
        result = {"corpus": str(corpus), "packages": len(pkgs), "package_mb": sum(p.stat().st_size for p in pkgs) / 1e6,
                  "jpegs": len(jpegs), "progressive": sum(Image.open(p).info.get("progressive", 0) != 0 for p, _ in jpegs),
                  "scales": {f"{n}/8": sum(1 for _, m in jpegs if m == n) for n in sorted({m for _, m in jpegs})}}
        gunzips = {"zcat": ["zcat"]}
        if shutil.which("libdeflate-gunzip"):
            gunzips["libdeflate"] = ["libdeflate-gunzip", "-c"]
        for name, cmd in gunzips.items():
            start = best([cmd + [str(empty_gz)]] * 20, repeat) / 20
            result[f"gunzip_{name}_cpu_s"] = best([cmd + [str(p) for p in pkgs]], repeat) - start
            result[f"gunzip_{name}_startup_cpu_s"] = start
        start = best([djpeg_command(tiny, 8)] * empty_runs, repeat) / empty_runs
        result["djpeg_startup_cpu_s"] = start
        result["djpeg_cpu_s"] = best([djpeg_command(p, n) for p, n in jpegs], repeat) - start * len(jpegs)
    result["floor_cpu_s"] = result["gunzip_zcat_cpu_s"] + result["djpeg_cpu_s"]
    if "gunzip_libdeflate_cpu_s" in result:
        result["floor_libdeflate_cpu_s"] = result["gunzip_libdeflate_cpu_s"] + result["djpeg_cpu_s"]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each part; the least CPU is kept")
    args = ap.parse_args()
    r = measure(args.corpus, args.repeat)
    print(json.dumps(r, indent=1))
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / f"floor-{args.corpus.name}.json").write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()

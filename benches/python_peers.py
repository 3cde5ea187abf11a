"""The Python ways of doing what `rocov2-fast scan` does, for the benchmark.

careful: multiprocessing over packages, `tarfile` streaming, lxml (no DTD, no entities, no
network), Pillow with `draft` to >= 224 px, resize to 224x224, imagehash pHash + dHash.
naive:   the same with a full decode (no `draft`).
"""

from __future__ import annotations

import io
import tarfile
from multiprocessing import Pool

import imagehash
from lxml import etree
from PIL import Image

XLINK = "{http://www.w3.org/1999/xlink}href"
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif")
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def figures(xml: bytes) -> list[tuple[str, str, str]]:
    root = etree.fromstring(xml, PARSER)
    out = []
    for fig in root.iter("fig"):
        caption = fig.find("caption")
        text = " ".join(" ".join(caption.itertext()).split()) if caption is not None else ""
        for g in fig.iter("graphic"):
            out.append((fig.get("id"), text, g.get(XLINK)))
    return out


def member_for(href: str, members: dict[str, bytes]) -> str | None:
    for ext in ("", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif"):
        if href + ext in members:
            return href + ext
    return None


def process_image(data: bytes, draft: bool) -> tuple:
    img = Image.open(io.BytesIO(data))
    if draft and img.format == "JPEG":
        img.draft("RGB", (224, 224))
    img = img.convert("RGB")
    pixels = img.resize((224, 224), Image.BILINEAR).tobytes()
    return str(imagehash.phash(img)), str(imagehash.dhash(img)), img.size, len(pixels)


def scan_package(args: tuple[str, bool]) -> list[tuple]:
    path, draft = args
    rows, members, xml = [], {}, None
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                name = m.name.rsplit("/", 1)[-1]
                if name.endswith(".nxml"):
                    xml = tar.extractfile(m).read()
                elif name.lower().endswith(IMAGE_EXT):
                    members[name] = tar.extractfile(m).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        return [(path, None, "bad_archive", str(e))]
    if xml is None:
        return [(path, None, "no_xml", "")]
    for fig_id, caption, href in figures(xml):
        name = member_for(href or "", members)
        if name is None:
            rows.append((path, href, "missing_image", ""))
            continue
        try:
            rows.append((path, href, "ok", process_image(members[name], draft)))
        except Exception as e:  # noqa: BLE001 - a per-image status, like the core
            rows.append((path, href, "decode_error", str(e)))
    return rows


def scan(paths: list[str], workers: int, draft: bool) -> list[tuple]:
    with Pool(workers) as pool:
        return [row for rows in pool.imap_unordered(scan_package, [(p, draft) for p in paths], chunksize=1) for row in rows]


def run_measured(command: list[str], env: dict | None = None) -> dict:
    """Runs `command` as a fresh process (as a user would run it, start-up and imports
    included): wall s, CPU-s (user + sys of the process and every descendant it waited for:
    pool workers included), peak RSS (the sampled sum over the process tree, MB) and stdout."""
    import resource
    import subprocess
    import threading
    import time

    import psutil

    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = psutil.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    stdout, _ = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(command[:4])} … exited {proc.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak / 1e6, "stdout": stdout}


def environment() -> dict:
    """What a benchmark ran on: the commit, whether the core's sources differ from it, when the
    core extension was built, and the machine's load (others' jobs change wall times)."""
    import datetime
    import os
    import subprocess
    from pathlib import Path

    import rocov2_fast

    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False).stdout.strip()

    core = next(Path(rocov2_fast.__file__).parent.glob("_core*.so"), None)
    return {"commit": git("rev-parse", "--short", "HEAD"), "rust_changed_since_commit": bool(git("status", "--porcelain", "rust")),
            "core_built": datetime.datetime.fromtimestamp(core.stat().st_mtime, datetime.UTC).isoformat(timespec="seconds") if core else None,
            "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "load_average": os.getloadavg(),
            "cpus": os.cpu_count()}

"""`rocov2-fast trainset roco --lists DIR --out DIR`: labelled figure folders for `train-filter`
from lists of (package, member, label) rows, fetching each package once and keeping only the
named members.

ROCO v1 lists (`radiology/dlinks.txt`, `non-radiology/dlinks.txt`) hold per image
`ROCO_ID<TAB>wget ... oa_package/xx/yy/PMCnnnn.tar.gz ...<TAB>member name`."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .._core import read_members
from .http import Downloader
from .legacy import PrefixMemory, check_package, fetch_from_either

PACKAGE = re.compile(r"(oa_package/[0-9a-f]{2}/[0-9a-f]{2}/PMC\d+\.tar\.gz)")
ROCO_CLASSES = {"radiology": "radiology", "non-radiology": "non-radiology"}


@dataclass(frozen=True)
class Row:
    package: str  # relative path: oa_package/xx/yy/PMCnnnn.tar.gz
    member: str  # file name inside the package
    label: str
    name: str  # the file name in the class folder


def read_roco_lists(lists: Path) -> list[Row]:
    rows = []
    for folder, label in ROCO_CLASSES.items():
        path = Path(lists) / folder / "dlinks.txt"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            m = PACKAGE.search(line)
            if len(parts) < 3 or not m:
                continue
            member = parts[2].strip()
            rows.append(Row(m.group(1), member, label, f"{parts[0].strip()}_{member}"))
    if not rows:
        raise FileNotFoundError(f"{lists}: no radiology/dlinks.txt or non-radiology/dlinks.txt rows")
    return rows


def extract_members(package: Path, wanted: dict[str, list[Row]], out: Path) -> set[str]:
    """Writes the wanted members (matched by file name) into their class folders."""
    found = read_members(package, wanted, file_names=True)
    for name, data in found.items():
        for row in wanted[name]:
            target = out / row.label / row.name
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
    return set(found)


def read_rows(path: Path) -> list[Row]:
    """A CSV `package,member,label` (header required): any labelled list, e.g. compound figures."""
    import csv

    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = [Row(r["package"].strip(), r["member"].strip(), r["label"].strip(),
                    f"{PurePosixPath(r['package']).name.split('.')[0]}_{r['member'].strip()}") for r in csv.DictReader(f)]
    bad = [r for r in rows if not PACKAGE.fullmatch(r.package) or not r.label or "/" in r.label]
    if bad:
        raise ValueError(f"{path}: rows need package oa_package/xx/yy/PMCnnnn.tar.gz and a label without '/': {bad[0]}")
    return rows


def build_trainset(rows: list[Row], out: Path, dl: Downloader, base_url: str, keep_packages: bool = False) -> dict:
    """Each package once: fetched to a temporary file (or OUT/packages/ with keep_packages),
    members extracted, package removed. Rows whose image already exists are skipped."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    by_package: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if not (out / row.label / row.name).exists():
            by_package[row.package][row.member].append(row)
    memory, missing, failed = PrefixMemory(), [], []
    for package, wanted in sorted(by_package.items()):
        folder = out / "packages" if keep_packages else Path(tempfile.mkdtemp(dir=out, prefix=".fetching-"))
        path = folder / package
        outcome = fetch_from_either(dl, base_url, package, path, memory, check=check_package)
        if outcome.status in ("done", "skipped"):
            found = extract_members(path, wanted, out)
            missing += [f"{package}:{m}" for m in wanted if m not in found]
        else:
            failed.append(package)
        if not keep_packages:
            shutil.rmtree(folder, ignore_errors=True)
    for member in missing:
        dl.record_failure(member, "missing", "member not in package", 1)
    counts = {label: len(list((out / label).glob("*"))) if (out / label).exists() else 0 for label in {r.label for r in rows}}
    return {"rows": len(rows), "packages_fetched": len(by_package), "images": counts,
            "members_missing": len(missing), "packages_failed": failed}

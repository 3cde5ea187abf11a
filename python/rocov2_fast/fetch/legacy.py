"""The legacy layout: `oa_file_list.csv` + `oa_package/xx/yy/PMCnnnn.tar.gz`, licence-filtered.

Since April 2026 NCBI serves these under `deprecated/` until they are removed: every file is
tried at the path that worked last (the old one first), then at the other.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

from .._core import read_members
from .http import Downloader, Outcome

FILE_LIST = "oa_file_list.csv"
PREFIXES = ("", "deprecated/")


def check_package(path: Path) -> None:
    """Reads the whole gzip stream and tar index (the core's reader): a truncated or corrupt
    package raises InputError."""
    read_members(path, ())


class PrefixMemory:
    """Which of the two locations answered last; that one is tried first."""

    def __init__(self) -> None:
        self.first = 0
        self._lock = threading.Lock()

    def order(self) -> list[str]:
        return [PREFIXES[self.first], PREFIXES[1 - self.first]]

    def worked(self, prefix: str) -> None:
        with self._lock:
            self.first = PREFIXES.index(prefix)


def fetch_from_either(dl: Downloader, base_url: str, rel: str, dest: Path, memory: PrefixMemory, check=None) -> Outcome:
    outcome = Outcome("missing", base_url + rel)
    for prefix in memory.order():
        outcome = dl.download(base_url + prefix + rel, dest, check=check, log_missing=False)
        if outcome.status != "missing":
            if outcome.status == "done":
                memory.worked(prefix)
            return outcome
    dl.record_failure(base_url + rel, "missing", f"HTTP 404 at {' and '.join(p or 'the old path' for p in PREFIXES)}", 2)
    return outcome


def read_file_list(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def allowed_rows(rows: list[dict], licenses: tuple[str, ...]) -> list[dict]:
    """Rows whose licence is allowed, both sides normalised as the XML's licences are (`CC-BY`,
    `cc by 4.0`, `CC BY 4.0 International` → `CC BY`); a value naming no known licence is compared
    as written, case-insensitively."""
    from .._core import normalize_license

    def norm(text: str) -> str:
        return normalize_license(text) or text.strip().upper()

    allowed = {norm(x) for x in licenses}
    return [r for r in rows if norm(r.get("License") or "") in allowed]


def obtain_file_list(dl: Downloader, base_url: str, out: Path, given: str | None, memory: PrefixMemory) -> Path:
    """The file list: a local path as is; a URL, or nothing (the base URL's), downloaded to OUT."""
    if given and not given.startswith(("http://", "https://")):
        return Path(given)
    dest = out / FILE_LIST
    dest.unlink(missing_ok=True)  # the list changes daily: always take a fresh one
    outcome = dl.download(given, dest) if given else fetch_from_either(dl, base_url, FILE_LIST, dest, memory)
    if outcome.status != "done":
        raise ConnectionError(f"could not get {given or base_url + FILE_LIST}: {outcome.error or outcome.status}")
    return dest

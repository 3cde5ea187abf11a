"""Resumable, verified downloads over HTTP(S) with the standard library.

A file is downloaded to `<name>.part`, continued with `Range: bytes=N-` after a dropped
connection or a killed run, checked (size against the server's length, plus an optional check
such as gzip/tar integrity) and only then renamed to its final name: a final name always means a
complete file, so a rerun skips it. Timeouts, dropped connections, 429 and 5xx are retried with
exponential backoff; 404 is recorded and not retried. Every failure goes to a JSON-lines log.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import Rocov2Error

CHUNK = 1 << 20
TRANSIENT = (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException, OSError)
USER_AGENT = "rocov2-fast-fetch/0.1 (+https://github.com/)"


class NotAllowed(Rocov2Error):
    """A URL on a host the user did not give."""


@dataclass
class Outcome:
    status: str  # done | skipped | missing | failed
    url: str
    bytes: int = 0
    error: str | None = None


@dataclass
class Downloader:
    allowed_hosts: set[str]
    failure_log: Path
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    on_bytes: Callable[[int], None] = lambda n: None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check_allowed(self, url: str) -> None:
        host = urlsplit(url).netloc
        if host not in self.allowed_hosts:
            raise NotAllowed(f"{url}: host {host} is not one the user gave ({', '.join(sorted(self.allowed_hosts))})")

    def record_failure(self, url: str, status: str, error: str, attempts: int) -> None:
        entry = {"url": url, "status": status, "error": error, "attempts": attempts, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        with self._lock, self.failure_log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def wait(self, attempt: int) -> None:
        time.sleep(self.backoff * (2 ** attempt))

    def get_bytes(self, url: str) -> bytes | None:
        """A small document (list, JSON, listing page) in memory; None on 404. Raises after retries."""
        self.check_allowed(url)
        last = ""
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(self.request(url), timeout=self.timeout) as resp:
                    return resp.read()
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    return None
                if not retryable(e.code):
                    raise
                last = f"HTTP {e.code}"
            except TRANSIENT as e:
                last = describe(e)
            if attempt < self.retries:
                self.wait(attempt)
        self.record_failure(url, "failed", last, self.retries + 1)
        raise ConnectionError(f"{url}: {last} after {self.retries + 1} attempts")

    def request(self, url: str, offset: int = 0) -> urllib.request.Request:
        headers = {"User-Agent": USER_AGENT}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        return urllib.request.Request(url, headers=headers)

    def download(self, url: str, dest: Path, check: Callable[[Path], None] | None = None, log_missing: bool = True) -> Outcome:
        if dest.exists():
            return Outcome("skipped", url)
        try:
            self.check_allowed(url)
        except NotAllowed as e:
            self.record_failure(url, "failed", str(e), 0)
            return Outcome("failed", url, error=str(e))
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        last, received = "", 0
        for attempt in range(self.retries + 1):
            try:
                received += self.transfer(url, part)
                if check:
                    try:
                        check(part)
                    except Exception as e:  # a corrupt file: start it over
                        part.unlink(missing_ok=True)
                        raise ValueError(f"integrity check failed: {e}") from e
                os.replace(part, dest)
                return Outcome("done", url, received)
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    if log_missing:
                        self.record_failure(url, "missing", "HTTP 404", attempt + 1)
                    return Outcome("missing", url, received, "HTTP 404")
                if e.code == 416:  # our offset is past the end: the part is bad, start over
                    part.unlink(missing_ok=True)
                elif not retryable(e.code):
                    self.record_failure(url, "failed", f"HTTP {e.code}", attempt + 1)
                    return Outcome("failed", url, received, f"HTTP {e.code}")
                last = f"HTTP {e.code}"
            except (ValueError, *TRANSIENT) as e:
                last = describe(e)
            if attempt < self.retries:
                self.wait(attempt)
        self.record_failure(url, "failed", last, self.retries + 1)
        return Outcome("failed", url, received, last)

    def transfer(self, url: str, part: Path) -> int:
        """One request: appends to `part` from where it ends; raises on a short body."""
        offset = part.stat().st_size if part.exists() else 0
        received = 0
        with urllib.request.urlopen(self.request(url, offset), timeout=self.timeout) as resp:
            if offset and resp.status != 206:
                offset = 0  # the server ignored the range: take the whole body again
            total = total_length(resp, offset)
            with part.open("ab" if offset else "wb") as f:
                while chunk := resp.read1(CHUNK):  # what has arrived, so a drop loses little
                    f.write(chunk)
                    received += len(chunk)
                    self.on_bytes(len(chunk))
        size = part.stat().st_size
        if total is not None and size != total:
            raise http.client.IncompleteRead(b"", total - size)
        return received


def total_length(resp, offset: int) -> int | None:
    content_range = resp.headers.get("Content-Range")
    if content_range:
        m = re.match(r"bytes \d+-\d+/(\d+)", content_range)
        if m:
            return int(m.group(1))
    length = resp.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def retryable(code: int) -> bool:
    return code == 429 or 500 <= code < 600


def describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"

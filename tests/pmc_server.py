"""A real HTTP server on loopback that serves synthetic corpora the way NCBI does, with faults.

Legacy: `/pub/pmc/oa_file_list.csv` and `/pub/pmc/oa_package/...` (optionally only under
`/pub/pmc/deprecated/`). Cloud: `/bucket/<key>` with the S3 listing `?list-type=2&prefix=`
(paginated by `max_keys`). Range requests are honoured. Faults are queued per path and consumed
one per request: `drop` (half the body, then the connection closes), `timeout` (no answer for
`stall` seconds), `500`, `404`, `slow` (the body trickles out).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape


class PmcServer:
    def __init__(self, legacy_root: Path | None = None, cloud_root: Path | None = None, *, only_deprecated: bool = False,
                 max_keys: int = 1000, stall: float = 2.0):
        self.legacy_root, self.cloud_root = legacy_root, cloud_root
        self.only_deprecated, self.max_keys, self.stall = only_deprecated, max_keys, stall
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.log: list[tuple[str, str | None, int]] = []  # (path, Range header, status)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> PmcServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fault(self, path: str, *kinds: str) -> None:
        self.faults[path].extend(kinds)

    def requests_for(self, path: str) -> list[tuple[str | None, int]]:
        return [(r, s) for p, r, s in self.log if p == path]

    def resolve(self, path: str) -> Path | None:
        if path.startswith("/pub/pmc/") and self.legacy_root:
            rel = path[len("/pub/pmc/"):]
            if rel.startswith("deprecated/"):
                rel = rel[len("deprecated/"):]
            elif self.only_deprecated:
                return None
            return self.legacy_root / rel
        if path.startswith("/bucket/") and self.cloud_root:
            return self.cloud_root / path[len("/bucket/"):]
        return None

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        with self.lock:
            fault = self.faults[path].pop(0) if self.faults[path] else None
        status = self.answer(h, path, query, fault)
        with self.lock:
            self.log.append((path, h.headers.get("Range"), status))

    def answer(self, h, path: str, query: dict, fault: str | None) -> int:
        if fault == "timeout":
            time.sleep(self.stall)
            h.close_connection = True
            return 0
        if fault in ("500", "404"):
            self.send(h, int(fault), b"fault")
            return int(fault)
        if path == "/bucket/" and "list-type" in query:
            body = self.listing(query.get("prefix", [""])[0], query.get("continuation-token", [None])[0])
            self.send(h, 200, body, "application/xml")
            return 200
        file = self.resolve(path)
        if file is None or not file.is_file():
            self.send(h, 404, b"not found")
            return 404
        data = file.read_bytes()
        start = 0
        range_header = h.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            start = int(range_header[6:].split("-")[0])
            if start >= len(data):
                self.send(h, 416, b"")
                return 416
        body = data[start:]
        h.send_response(206 if start else 200)
        h.send_header("Content-Length", str(len(body)))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Accept-Ranges", "bytes")
        h.end_headers()
        if fault == "drop":
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)
            return 206 if start else 200
        if fault == "slow":
            for i in range(0, len(body), 4096):
                h.wfile.write(body[i:i + 4096])
                h.wfile.flush()
                time.sleep(0.05)
            return 206 if start else 200
        h.wfile.write(body)
        return 206 if start else 200

    def send(self, h, code: int, body: bytes, ctype: str = "text/plain") -> None:
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def listing(self, prefix: str, token: str | None) -> bytes:
        keys = sorted(str(p.relative_to(self.cloud_root)).replace("\\", "/") for p in self.cloud_root.rglob("*") if p.is_file())
        keys = [k for k in keys if k.startswith(prefix)]
        start = int(token) if token else 0
        page = keys[start:start + self.max_keys]
        more = start + self.max_keys < len(keys)
        contents = "".join(f"<Contents><Key>{escape(k)}</Key><Size>{(self.cloud_root / k).stat().st_size}</Size></Contents>" for k in page)
        tail = f"<IsTruncated>true</IsTruncated><NextContinuationToken>{start + self.max_keys}</NextContinuationToken>" if more \
            else "<IsTruncated>false</IsTruncated>"
        return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Name>bucket</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(page)}</KeyCount>{contents}{tail}</ListBucketResult>").encode()

"""`rocov2-fast fetch --out DIR ...`: only what the pipeline will read, licence-filtered before
anything large is downloaded; rerunning skips what is complete and continues what is not."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..options import LICENSES
from ..progress import TransferProgress
from . import cloud, legacy
from .http import Downloader

LEGACY_BASE = "https://ftp.ncbi.nlm.nih.gov/pub/pmc/"
CLOUD_BASE = "https://pmc-oa-opendata.s3.amazonaws.com/"
FAILURE_LOG = "fetch_failures.jsonl"


@dataclass
class FetchOptions:
    out: Path
    base_url: str | None = None
    file_list: str | None = None
    licenses: tuple[str, ...] = LICENSES
    layout: str = "legacy"
    only: str = "xml,figures"
    jobs: int = 8
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    show_progress: bool | None = None


def with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def make_downloader(opts: FetchOptions, base_url: str) -> Downloader:
    hosts = {urlsplit(base_url).netloc}
    if opts.file_list and opts.file_list.startswith(("http://", "https://")):
        hosts.add(urlsplit(opts.file_list).netloc)
    return Downloader(allowed_hosts=hosts, failure_log=Path(opts.out) / FAILURE_LOG, timeout=opts.timeout,
                      retries=opts.retries, backoff=opts.backoff)


def fetch(opts: FetchOptions) -> dict:
    if opts.layout not in ("legacy", "cloud"):
        raise ValueError(f"layout must be legacy or cloud, not {opts.layout!r}")
    if opts.only not in ("xml,figures", "all"):
        raise ValueError(f"only must be 'xml,figures' or 'all', not {opts.only!r}")
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    base_url = with_slash(opts.base_url or (LEGACY_BASE if opts.layout == "legacy" else CLOUD_BASE))
    dl = make_downloader(opts, base_url)
    started = time.perf_counter()
    summary = fetch_legacy(opts, dl, base_url, out) if opts.layout == "legacy" else fetch_cloud(opts, dl, base_url, out)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["failure_log"] = str(out / FAILURE_LOG)
    (out / "fetch_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_jobs(opts: FetchOptions, dl: Downloader, work: list, label: str, one) -> list:
    """Runs `one(item)` for every item on `jobs` threads with a progress display."""
    with TransferProgress(len(work), opts.show_progress, label) as progress:
        dl.on_bytes = progress.add_bytes
        with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
            results = []
            for result in pool.map(one, work):
                progress.advance()
                results.append(result)
    return results


def fetch_legacy(opts: FetchOptions, dl: Downloader, base_url: str, out: Path) -> dict:
    memory = legacy.PrefixMemory()
    file_list = legacy.obtain_file_list(dl, base_url, out, opts.file_list, memory)
    rows = legacy.read_file_list(file_list)
    keep = legacy.allowed_rows(rows, opts.licenses)
    outcomes = run_jobs(opts, dl, keep, "packages", lambda row: legacy.fetch_from_either(
        dl, base_url, row["File"], out / row["File"], memory, check=legacy.check_package))
    counts = count([o.status for o in outcomes])
    return {"layout": "legacy", "listed": len(rows), "allowed": len(keep), "licence_excluded": len(rows) - len(keep),
            **counts, "bytes_downloaded": sum(o.bytes for o in outcomes), "served_from": memory.order()[0] or "old path",
            "file_list": str(file_list)}


def fetch_cloud(opts: FetchOptions, dl: Downloader, base_url: str, out: Path) -> dict:
    keys = cloud.list_keys(dl, base_url, "metadata/")
    latest = cloud.latest_versions(keys)
    allowed = {cloud.normalise_license(x) for x in opts.licenses}
    work = sorted((pmcid, version, key) for pmcid, (version, key) in latest.items())
    results = run_jobs(opts, dl, work, "articles", lambda item: cloud.fetch_article(
        dl, base_url, out, *item, licenses=allowed, only=opts.only))
    return {"layout": "cloud", "articles_listed": len(latest), "metadata_keys": len(keys),
            **count([r["status"] for r in results]), "media_fetched": sum(r.get("media", 0) for r in results),
            "media_available": sum(r.get("media_available", 0) for r in results),
            "bytes_on_disk": bytes_on_disk(out)}


def count(statuses: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return counts


def bytes_on_disk(out: Path) -> int:
    """Bytes now under OUT (what the cloud layout keeps, this run's and earlier runs')."""
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())

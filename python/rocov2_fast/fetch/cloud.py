"""The 2026 per-article layout (PMC Cloud Service): `metadata/PMCnnnn.<v>.json` listed with an
S3-style `?list-type=2&prefix=` request, the highest version per article, licence pre-filtered
on `license_code`, then the XML and (by default) only the figure images its `<graphic>`
elements reference, into `PMCnnnn.<v>/` folders that `scan` reads."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

from .. import _core
from .http import Downloader, NotAllowed

METADATA_KEY = re.compile(r"(?:^|/)metadata/(PMC\d+)\.(\d+)\.json$")
IMAGE_PREFERENCE = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff")


def list_keys(dl: Downloader, base_url: str, prefix: str) -> list[str]:
    """Every key under `prefix`, following continuation tokens."""
    keys, token = [], None
    while True:
        url = f"{base_url}?list-type=2&prefix={quote(prefix)}" + (f"&continuation-token={quote(token)}" if token else "")
        body = dl.get_bytes(url)
        if body is None:
            raise ConnectionError(f"{url}: listing not found (HTTP 404)")
        root = ET.fromstring(body)
        ns = {"s3": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
        find = (lambda el, tag: el.findall(f"s3:{tag}", ns)) if ns else (lambda el, tag: el.findall(tag))
        keys += [c[0].text for c in ([k for k in find(x, "Key")] for x in find(root, "Contents")) if c]
        truncated = [t.text for t in find(root, "IsTruncated")]
        tokens = [t.text for t in find(root, "NextContinuationToken")]
        if truncated and truncated[0] == "true" and tokens:
            token = tokens[0]
        else:
            return keys


def latest_versions(keys: list[str]) -> dict[str, tuple[int, str]]:
    """PMCID → (highest version, its metadata key)."""
    latest: dict[str, tuple[int, str]] = {}
    for key in keys:
        m = METADATA_KEY.search(key)
        if m:
            version = int(m.group(2))
            if m.group(1) not in latest or version > latest[m.group(1)][0]:
                latest[m.group(1)] = (version, key)
    return latest


def normalise_license(code: str | None) -> str:
    """`cc-by-nc`, `CC BY-NC`, `CC_BY_NC` → `CC BY-NC`; `CC0`; anything else upper-cased."""
    text = re.sub(r"[\s_-]+", " ", (code or "").strip().upper())
    if text.startswith("CC BY"):
        return "CC BY" + "".join("-" + p for p in text[5:].split())
    return text.replace("CC 0", "CC0")


def resolve(url: str, base_url: str) -> str:
    """s3://bucket/key and relative keys → the base URL; absolute URLs are kept (and checked)."""
    if url.startswith("s3://"):
        return base_url + urlsplit(url).path.lstrip("/")
    if not urlsplit(url).scheme:
        return base_url + url.lstrip("/")
    return url


def referenced_media(xml: bytes, media_urls: list[str]) -> list[str]:
    """The media URLs that the article's `<graphic xlink:href>` values name (with or without an
    extension); one file per graphic, preferring JPEG as `scan` does."""
    article = _core.parse_jats(xml)
    hrefs = {g for fig in article["figures"] for g in fig["graphics"]}
    by_name: dict[str, list[str]] = {}
    for url in media_urls:
        name = PurePosixPath(urlsplit(url).path).name
        by_name.setdefault(name, []).append(url)
        by_name.setdefault(PurePosixPath(name).stem, []).append(url)
    chosen = []
    for href in sorted(hrefs):
        candidates = by_name.get(href) or by_name.get(PurePosixPath(href).name) or []
        if candidates:
            chosen.append(min(candidates, key=lambda u: rank(u)))
    return list(dict.fromkeys(chosen))


def rank(url: str) -> int:
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    return IMAGE_PREFERENCE.index(suffix) if suffix in IMAGE_PREFERENCE else len(IMAGE_PREFERENCE)


def fetch_article(dl: Downloader, base_url: str, out: Path, pmcid: str, version: int, key: str,
                  licenses: set[str], only: str) -> dict:
    """One article: metadata → licence → XML → media. Returns counts for the summary."""
    meta_path = out / "metadata" / PurePosixPath(key).name
    outcome = dl.download(base_url + key, meta_path)
    if outcome.status not in ("done", "skipped"):
        return {"status": "failed"}
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if normalise_license(meta.get("license_code")) not in licenses:
        return {"status": "licence_excluded"}
    folder = out / f"{pmcid}.{version}"
    try:
        xml_url = resolve(meta["xml_url"], base_url)
        media = [resolve(u, base_url) for u in meta.get("media_urls") or []]
    except KeyError as e:
        dl.record_failure(base_url + key, "failed", f"metadata lacks {e}", 1)
        return {"status": "failed"}
    xml_path = folder / f"{pmcid}.{version}.xml"
    if dl.download(xml_url, xml_path).status not in ("done", "skipped"):
        return {"status": "failed"}
    wanted = media if only == "all" else referenced_media(xml_path.read_bytes(), media)
    statuses = [dl.download(u, folder / PurePosixPath(urlsplit(u).path).name).status for u in wanted]
    return {"status": "ok" if all(s in ("done", "skipped") for s in statuses) else "incomplete",
            "media": len(wanted), "media_available": len(media)}


__all__ = ["NotAllowed", "fetch_article", "latest_versions", "list_keys", "normalise_license", "referenced_media", "resolve"]

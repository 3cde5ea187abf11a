"""The manifest's row schema and image identity. The files that hold it live in the run
directory (`rocov2_fast.rundir`).

Identity rule (docs/filter.md, "Image identity"): `image_id = <source key>_<name>`.

- *source key*: the accession in the source's file name (`PMC13900` from `PMC13900.tar.gz` or
  `PMC13900.2/`), else the file name up to its first dot with every character outside
  `[A-Za-z0-9-]` made `-` (at most 80 characters). When several sources of the run share a key
  (case-insensitively: a copied package in another folder, `PMC1.tar.gz` beside `PMC1.tgz`),
  each of them gets
  `~` + 10 hex digits of SHA-256 of its path relative to the deepest folder holding all of them.
  Keys never contain `_`, so the first `_` of an id ends the key.
- *name*: the `xlink:href` as written when it is already safe (`[A-Za-z0-9._-]`) and it is the
  first graphic of its source with that name (case-insensitively), at most 120 characters; any
  other graphic gets the safe spelling (unsafe characters → `_`) + `~` + 10 hex digits of SHA-256
  of (the raw graphic, how many earlier rows of the source carry the same raw graphic). Rows
  without a graphic are `~fig<figure_index>` or `~source`. Plain names never contain `~`.

So ids are unique over a run by construction (keys unique over the plan, names unique within a
source, the key/name border fixed), case-insensitively too (one file per id on any filesystem),
and depend only on the plan's source list and each source's own XML: not on shards, workers,
completion order or resume. A final check within each source appends `~r<row>` should two names
still agree (a digest collision), so uniqueness never rests on the digest alone.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from .. import _core
from ..errors import Rocov2Error
from ..ingest import SCAN_SCHEMA

MANIFEST_SCHEMA = pa.schema(
    [field for field in SCAN_SCHEMA]
    + [
        ("shard", pa.int32()),
        ("image_id", pa.string()),
        ("fate", pa.string()),  # kept | dropped
        ("stage", pa.string()),  # license | ingest | compound | radiology | duplicate (null when kept)
        ("reason", pa.string()),
        ("compound_score", pa.float32()),
        ("radiology_score", pa.float32()),
        ("caption_compound", pa.float32()),  # panel references in the caption (filter/caption_evidence.py)
        ("caption_radiology", pa.float32()),  # P(radiology | caption)
        ("duplicate_of", pa.string()),
        ("image_path", pa.string()),
        ("thumb32", pa.binary()),
    ]
)

#: recorded in run.json: a run directory made by another rule is not resumed
IMAGE_ID_RULE = 2
#: what marks a name or key as not plain: never produced by the safe spellings
MARK = "~"
#: the key/name border: never inside a key
BORDER = "_"
DIGEST_HEX = 10
#: a safe graphic name longer than this is shortened (and digested), a source key cut: ids become
#: file names, which must stay under 255 bytes (key ≤ 91, name ≤ 131 + `~r<row>`, extension ≤ 16)
MAX_PLAIN = 120
MAX_KEY = 80
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_UNSAFE_KEY = re.compile(r"[^A-Za-z0-9-]")


def digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_HEX]


def _file_name(path: str) -> str:
    return os.path.basename(path.rstrip("/"))  # as Path(path).name, at a tenth of the cost (millions of sources)


def accession(path: str) -> str | None:
    """`PMC13900` from `.../PMC13900.tar.gz` or `.../PMC13900.2/`, else None: the core's rule
    (rust/schema.rs), the one the scan's `pmcid` and the file list use."""
    return _core.accession(path)


def plain_source_key(source: str) -> str:
    """The readable key of a source: its file name's accession, else its safe stem."""
    return accession(source) or _UNSAFE_KEY.sub("-", _file_name(source).split(".", 1)[0])[:MAX_KEY] or "source"


def source_keys(sources: Sequence[str]) -> dict[str, str]:
    """The sources whose plain key another source of the run shares → their disambiguated key
    (only those: every other source's key is `plain_source_key`). Deterministic in the list."""
    groups: dict[str, list[str]] = defaultdict(list)
    for source in sources:
        groups[plain_source_key(source).casefold()].append(source)
    keys: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        paths = [os.path.abspath(m) for m in members]
        root = os.path.commonpath(paths)
        for member, path in zip(members, paths):
            keys[member] = f"{plain_source_key(member)}{MARK}{digest(os.path.relpath(path, root))}"
    taken = [keys.get(s) or plain_source_key(s) for s in sources]
    if len({k.casefold() for k in taken}) != len(taken):  # distinct paths, one digest: never seen
        raise Rocov2Error("internal error: two sources got one image-id key; please report this with the input paths")
    return keys


def _safe_name(graphic: str) -> str:
    safe = _UNSAFE_NAME.sub("_", graphic)
    return safe if len(safe) <= MAX_PLAIN else safe[:MAX_PLAIN]


def source_names(graphics: Sequence[str | None], figure_indexes: Sequence[int | None]) -> list[str]:
    """The name part of each row of one source (rows in the core's order, i.e. document order)."""
    names: list[str] = []
    claimed: set[str] = set()  # casefolded plain names already given
    seen: Counter = Counter()  # raw graphic → rows so far
    for graphic, index in zip(graphics, figure_indexes):
        if graphic is None:
            name = f"{MARK}fig{index}" if index is not None else f"{MARK}source"
        else:
            safe = _safe_name(graphic)
            if safe == graphic and graphic.casefold() not in claimed:
                name = graphic
            else:
                name = f"{safe}{MARK}{digest(graphic, str(seen[graphic]))}"
            seen[graphic] += 1
        if MARK not in name:
            claimed.add(name.casefold())
        names.append(name)
    # plain names are unique by the check above; a digested or synthetic name that still repeats
    # (two rows without graphic in one figure, a digest collision) gets its row number
    folded = Counter(n.casefold() for n in names)
    if any(c > 1 for c in folded.values()):
        first: set[str] = set()
        for row, name in enumerate(names):
            key = name.casefold()
            if folded[key] > 1:
                if key in first:
                    names[row] = f"{name}{MARK}r{row}"
                first.add(key)
    return names


def sources_image_ids(sources: Sequence[str], graphics: Sequence[str | None], figure_indexes: Sequence[int | None],
                      keys: dict[str, str]) -> list[str]:
    """The image id of every row. Rows of one source may be anywhere in the lists (in order)."""
    rows_of: dict[str, list[int]] = defaultdict(list)
    for row, source in enumerate(sources):
        rows_of[source].append(row)
    ids: list[str] = [""] * len(sources)
    for source, rows in rows_of.items():
        key = keys.get(source) or plain_source_key(source)
        for row, name in zip(rows, source_names([graphics[r] for r in rows], [figure_indexes[r] for r in rows])):
            ids[row] = f"{key}{BORDER}{name}"
    return ids


def image_file_name(image_id: str, member: str | None) -> str:
    """`<image_id>.<ext>`: the member's extension, lower-cased and made safe (`.img` without one)."""
    ext = _UNSAFE_NAME.sub("_", Path(member or "").suffix.lower())[:16]
    return image_id + (ext if len(ext) > 1 else ".img")


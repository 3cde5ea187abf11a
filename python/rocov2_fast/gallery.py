"""`rocov2-fast inspect`: a filter run as one self-contained HTML page of thumbnails, to check
the filter by eye and set thresholds before trusting a long run.

Each card shows an image (from the kept bytes in RUN_DIR/images, or re-read from its package for
dropped ones), its fate, stage and reason, the compound and radiology scores against the run's
thresholds, the caption and the PMC link. Cards are grouped by the model that decided them and
sorted by that model's score, with a rule where the score crosses the threshold. Thumbnails are
small JPEGs embedded as data URIs, so the page is a single file that can be mailed or archived.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import rundir
from .errors import InputError, Rocov2Error
from .filter.decide import NOT_READ, OK
from .filter.finish import FUNNEL_STAGES

#: --stage values: every decoded image, or the ones one stage dropped, or the kept ones
STAGE_CHOICES = ("all", "compound", "radiology", "duplicate", "kept")
#: columns other parts of the pipeline may add to the manifest: shown on the card when present
OPTIONAL_COLUMNS = (
    ("compound_layout_score", "layout score"),
    ("panel_count", "panels"),
    ("caption_radiology", "caption says radiology"),
    ("caption_compound", "caption says compound"),
)
CAPTION_CHARS = 280


@dataclass
class GalleryOptions:
    run_dir: Path
    out: Path
    stage: str = "all"
    #: only images whose deciding score lies within `margin` of its threshold
    near_threshold: bool = False
    margin: float = 0.15
    #: a deterministic random sample of this many of the selected images
    sample: int | None = None
    seed: int = 0
    #: more selected images than this are sampled down to it (a page of millions of cards is no use)
    max_cards: int = 2000
    thumb_size: int = 160
    #: threads reading packages and making thumbnails
    workers: int = 4


@dataclass
class Card:
    row: dict
    decision: str  # the model whose score placed the card: compound | radiology
    score: float | None
    threshold: float | None
    thumb: str | None = None  # data URI
    note: str | None = None  # why there is no thumbnail


def build_gallery(opts: GalleryOptions) -> dict:
    """Writes the page; returns counts (cards, selected, unreadable) for the command's one line."""
    if opts.stage not in STAGE_CHOICES:
        raise InputError(f"--stage must be one of {', '.join(STAGE_CHOICES)}, not {opts.stage!r}")
    if opts.margin < 0:
        raise InputError(f"--margin must be >= 0, not {opts.margin}")
    run = Path(opts.run_dir)
    path = run / rundir.MANIFEST
    if not path.is_file():
        raise InputError(f"{run} holds no manifest.parquet: give the --out folder of a finished `rocov2-fast filter` run")
    manifest = pl.read_parquet(path)
    missing = {"image_id", "status", "fate", "stage", "compound_score", "radiology_score"} - set(manifest.columns)
    if missing:
        raise InputError(f"{path} lacks the columns {', '.join(sorted(missing))}: not a filter manifest")
    thresholds = read_thresholds(run)
    if opts.near_threshold and None in thresholds.values():
        raise InputError(f"{run / 'run.json'} gives no thresholds: --near-threshold cannot be used")

    rows = select(manifest, opts.stage)
    selected = len(rows)
    if opts.near_threshold:
        rows = [r for r in rows if near(r, thresholds, opts.margin)]
    near_count = len(rows)
    sampled_from = None
    limit = min(x for x in (opts.sample, opts.max_cards) if x is not None)
    if len(rows) > limit:
        sampled_from = len(rows)
        rows = random.Random(opts.seed).sample(sorted(rows, key=lambda r: r["image_id"]), limit)
    cards = sort_cards([card_of(r, thresholds) for r in rows])
    make_thumbnails(cards, run, opts.thumb_size, opts.workers)

    page = render(run, manifest, thresholds, cards, opts, selected, near_count, sampled_from)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    rundir.write_atomic(opts.out, page.encode("utf-8"))
    return {"cards": len(cards), "selected": selected, "near": near_count, "sampled_from": sampled_from,
            "unreadable": sum(c.thumb is None for c in cards)}


def read_thresholds(run: Path) -> dict[str, float | None]:
    try:
        found = json.loads((run / rundir.RUN_JSON).read_text()).get("thresholds") or {}
    except (OSError, ValueError):
        found = {}
    return {k: float(found[k]) if found.get(k) is not None else None for k in ("compound", "radiology")}


def select(manifest: pl.DataFrame, stage: str) -> list[dict]:
    decoded = manifest.filter((pl.col("status") == OK) & pl.col("compound_score").is_not_null())
    if stage == "kept":
        decoded = decoded.filter(pl.col("fate") == "kept")
    elif stage != "all":
        decoded = decoded.filter(pl.col("stage") == stage)
    return decoded.drop([c for c in ("thumb32", "phash", "dhash") if c in decoded.columns]).to_dicts()


def deciding(row: dict) -> str:
    """The model whose decision placed the image: compound for compound drops, radiology for the
    rest (kept images and duplicates passed the radiology model last)."""
    return "compound" if row["stage"] == "compound" else "radiology"


def near(row: dict, thresholds: dict, margin: float) -> bool:
    """Whether a small change of a threshold could change the image's fate: the compound score of
    a compound drop, the radiology score of a radiology drop, either score of a kept image."""
    names = ("compound", "radiology") if row["stage"] in (None, "duplicate") else (row["stage"],)
    return any(row[f"{n}_score"] is not None and abs(row[f"{n}_score"] - thresholds[n]) <= margin + 1e-9 for n in names)


def card_of(row: dict, thresholds: dict) -> Card:
    decision = deciding(row)
    return Card(row=row, decision=decision, score=row[f"{decision}_score"], threshold=thresholds[decision])


def sort_cards(cards: list[Card]) -> list[Card]:
    """Compound decisions first, then radiology; each by score, highest first (unscored last)."""
    order = {"compound": 0, "radiology": 1}
    return sorted(cards, key=lambda c: (order[c.decision], c.score is None, -(c.score or 0.0), c.row["image_id"]))


# --- thumbnails -------------------------------------------------------------------------------


def make_thumbnails(cards: list[Card], run: Path, size: int, workers: int) -> None:
    """Kept images from RUN_DIR/images; the others re-read from their packages, each package
    opened once. Whatever cannot be read gets a note instead of a thumbnail."""
    from .filter.run import (
        read_members,  # imported here, not in the threads (a concurrent import sees a half-made module)
    )

    from_run: list[Card] = []
    by_package: dict[str, list[Card]] = defaultdict(list)
    for card in cards:
        path = card.row.get("image_path")
        if path and (run / path).is_file():
            from_run.append(card)
        elif card.row.get("archive") and card.row.get("member"):
            by_package[card.row["archive"]].append(card)
        else:
            card.note = "no package member recorded"

    def kept(chunk: list[Card]) -> None:
        for card in chunk:
            set_thumb(card, (run / card.row["image_path"]).read_bytes(), size)

    def package(source: str, group: list[Card]) -> None:
        found, failure = read_package(read_members, source, {c.row["member"] for c in group})
        for card in group:
            if card.row["member"] in found:
                set_thumb(card, found[card.row["member"]], size)
            else:
                card.note = failure.get(card.row["member"]) or f"{Path(card.row['member']).name} is not in {Path(source).name}"

    chunks = [from_run[i:i + 64] for i in range(0, len(from_run), 64)]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        jobs = [pool.submit(kept, c) for c in chunks] + [pool.submit(package, a, g) for a, g in by_package.items()]
        for job in jobs:
            job.result()


def read_package(read_members, source: str, names: set[str]) -> tuple[dict[str, bytes], dict[str, str]]:
    """(bytes by member, reason by member that could not be read) with the core's read_members:
    never raises for a package that is gone, truncated or not a tar.gz."""
    path = Path(source)
    if not path.exists():
        return {}, {n: f"package gone: {source}" for n in names}
    if path.is_dir():  # article folders: one missing file does not hide the others
        found, failed = {}, {}
        for name in names:
            try:
                found.update(read_members(source, {name}))
            except Rocov2Error as e:
                failed[name] = str(e)
        return found, failed
    try:
        return read_members(source, names), {}
    except Rocov2Error as e:
        return {}, {n: f"cannot read package {path.name}: {e}" for n in names}


def set_thumb(card: Card, data: bytes, size: int) -> None:
    try:
        card.thumb = thumbnail(data, size)
    except Exception as e:  # noqa: BLE001 - any undecodable image becomes a placeholder, never a crash
        card.note = f"cannot decode: {type(e).__name__}: {e}"[:200]


def thumbnail(data: bytes, size: int) -> str:
    """A JPEG at most size × size pixels, as a data URI."""
    from PIL import Image, ImageOps

    img = Image.open(io.BytesIO(data))
    if img.format == "JPEG":
        img.draft("RGB", (2 * size, 2 * size))  # decode at 1/2, 1/4, 1/8 scale: big JPEGs cost little
    img.load()
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit and float greyscale: stretch to 8 bits
        lo, hi = img.getextrema()
        img = img.point(lambda v: (v - lo) * 255.0 / ((hi - lo) or 1)).convert("L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
    elif img.mode != "L":
        img = img.convert("RGB")
    img.thumbnail((size, size), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=82, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --- the page ---------------------------------------------------------------------------------


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def pmc_link(pmcid: str | None) -> str | None:
    if not pmcid:
        return None
    digits = "".join(c for c in str(pmcid) if c.isdigit())
    return f"https://pmc.ncbi.nlm.nih.gov/articles/PMC{digits}/" if digits else None


def fmt(score: float | None) -> str:
    return "–" if score is None or (isinstance(score, float) and math.isnan(score)) else f"{score:.3f}"


def score_bar(name: str, score: float | None, threshold: float | None, decided: bool, margin: float) -> str:
    """A 0–1 bar with a tick at the threshold; the score the card is sorted by is in bold."""
    if score is None:
        return (f'<div class="score none"><span class="name">{name}</span><span class="track"></span>'
                f'<span class="value">not scored</span></div>')
    classes = ["score"]
    if decided:
        classes.append("decided")
    if threshold is not None:
        classes.append("over" if score >= threshold else "under")
        if abs(score - threshold) <= margin + 1e-9:
            classes.append("near")
    tick = f'<i class="tick" style="left:{100 * threshold:.1f}%"></i>' if threshold is not None else ""
    rel = "" if threshold is None else ("≥" if score >= threshold else "&lt;")
    return (f'<div class="{" ".join(classes)}" title="{name} score {score:.4f} (threshold {threshold})">'
            f'<span class="name">{name}</span><span class="track"><b style="width:{100 * min(max(score, 0.0), 1.0):.1f}%"></b>{tick}</span>'
            f'<span class="value">{fmt(score)} <small>{rel} {"" if threshold is None else f"{threshold:g}"}</small></span></div>')


def render_card(card: Card, thresholds: dict, margin: float) -> str:
    r = card.row
    fate = r["fate"]
    label = "kept" if fate == "kept" else r["stage"] or "dropped"
    link = pmc_link(r.get("pmcid"))
    ident = esc(r["image_id"])
    if card.thumb:
        img = f'<img src="{card.thumb}" alt="{ident}">'
    else:
        img = f'<span class="placeholder">no image<small>{esc(card.note)}</small></span>'
    thumb = f'<a class="thumb" href="{esc(link)}" target="_blank" rel="noopener">{img}</a>' if link else f'<div class="thumb">{img}</div>'
    scores = "".join(score_bar(n, r.get(f"{n}_score"), thresholds.get(n), card.decision == n, margin) for n in ("compound", "radiology"))
    extra = []
    for column, name in OPTIONAL_COLUMNS:
        value = r.get(column)
        if value is not None:
            shown = fmt(value) if isinstance(value, float) else ("yes" if value is True else "no" if value is False else value)
            extra.append(f"<span>{esc(name)}: <b>{esc(shown)}</b></span>")
    reason = r.get("reason") or ""
    if r.get("duplicate_of"):
        reason = (f'near-duplicate of <a href="#img-{esc(r["duplicate_of"])}">{esc(r["duplicate_of"])}</a>')
    else:
        reason = esc(reason)
    caption = (r.get("caption") or "").strip()
    short = caption if len(caption) <= CAPTION_CHARS else caption[:CAPTION_CHARS].rstrip() + "…"
    caption_html = (f'<p class="caption" title="{esc(caption)}">{esc(short)}</p>' if caption
                    else '<p class="caption empty">(no caption)</p>')
    size = f"{r['width']}×{r['height']}" if r.get("width") and r.get("height") else ""
    where = " · ".join(x for x in (
        f'<a href="{esc(link)}" target="_blank" rel="noopener">{esc(r.get("pmcid"))}</a>' if link else esc(r.get("pmcid") or ""),
        esc(Path(r["member"]).name) if r.get("member") else "", size) if x)
    return (f'<figure class="card {esc(fate)} {esc(label)}" id="img-{ident}" data-score="{"" if card.score is None else f"{card.score:.6f}"}" '
            f'data-decision="{card.decision}" data-fate="{esc(fate)}">{thumb}<figcaption>'
            f'<div class="head"><span class="badge {esc(label)}">{esc(label)}</span><span class="id" title="{ident}">{ident}</span></div>'
            f'{scores}' + (f'<div class="extra">{"".join(extra)}</div>' if extra else "")
            + (f'<p class="reason">{reason}</p>' if reason else "")
            + f'{caption_html}<p class="where">{where}</p></figcaption></figure>')


def histogram(name: str, scores: list[float], threshold: float | None, bins: int = 20) -> str:
    """Score distribution over all decoded images (square-root heights: the ends dominate)."""
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s * bins)))] += 1
    w, h, top = 300, 64, max(counts) or 1
    bar = w / bins
    rects = []
    for i, n in enumerate(counts):
        height = 0 if n == 0 else max(1.5, h * math.sqrt(n / top))
        side = "over" if threshold is not None and (i + 0.5) / bins >= threshold else "under"
        rects.append(f'<rect class="{side}" x="{i * bar + 0.5:.1f}" y="{h - height:.1f}" width="{bar - 1:.1f}" height="{height:.1f}">'
                     f'<title>{i / bins:.2f}–{(i + 1) / bins:.2f}: {n}</title></rect>')
    line = (f'<line x1="{w * threshold:.1f}" x2="{w * threshold:.1f}" y1="0" y2="{h}"/>'
            f'<text x="{min(w * threshold + 3, w - 40):.1f}" y="10">{threshold:g}</text>') if threshold is not None else ""
    return (f'<figure class="hist"><svg viewBox="0 0 {w} {h + 12}" width="{w}" height="{h + 12}" role="img" '
            f'aria-label="{name} score histogram">{"".join(rects)}{line}'
            f'<text x="0" y="{h + 11}">0</text><text x="{w - 6}" y="{h + 11}">1</text></svg>'
            f'<figcaption>{name} scores of {len(scores)} images</figcaption></figure>')


def render(run: Path, manifest: pl.DataFrame, thresholds: dict, cards: list[Card], opts: GalleryOptions,
           selected: int, near_count: int, sampled_from: int | None) -> str:
    images = manifest.filter(pl.col("graphic").is_not_null() | (pl.col("status") == NOT_READ)) if "graphic" in manifest.columns else manifest
    dropped = Counter(images.filter(pl.col("fate") == "dropped")["stage"].to_list())
    kept = int((manifest["fate"] == "kept").sum())
    funnel = [("figure images", images.height, "")] + [(f"{s}", dropped.get(s, 0), "drop") for s in FUNNEL_STAGES] + [("kept", kept, "kept")]
    funnel_html = "".join(f'<div class="stat {cls}"><b>{"−" if cls == "drop" and n else ""}{n}</b><span>{esc(name)}</span></div>'
                          for name, n, cls in funnel)
    decoded = manifest.filter((pl.col("status") == OK) & pl.col("compound_score").is_not_null())
    hists = (histogram("compound", decoded["compound_score"].to_list(), thresholds["compound"])
             + histogram("radiology", decoded["radiology_score"].drop_nulls().to_list(), thresholds["radiology"]))
    chosen = [f"stage <b>{esc(opts.stage)}</b>: {selected} images"]
    if opts.near_threshold:
        chosen.append(f"within ±{opts.margin:g} of a threshold: {near_count}")
    if sampled_from is not None:
        chosen.append(f"a sample of {len(cards)} of {sampled_from} (seed {opts.seed})")
    unreadable = sum(c.thumb is None for c in cards)
    if unreadable:
        chosen.append(f'<span class="warn">{unreadable} without a thumbnail (each placeholder says why)</span>')
    th = " · ".join(f"{k} {'?' if v is None else f'{v:g}'}" for k, v in thresholds.items())

    body = []
    for decision, title in (("compound", "Decided by the compound model"), ("radiology", "Decided by the radiology model")):
        group = [c for c in cards if c.decision == decision]
        if not group:
            continue
        t = thresholds[decision]
        rule = ("score ≥ threshold → dropped as compound" if decision == "compound"
                else "score ≥ threshold → kept (unless a near-duplicate), below → dropped as not radiology")
        body.append(f'<h2>{title} <small>{len(group)} images · threshold {"?" if t is None else f"{t:g}"} · {rule}</small></h2><div class="grid">')
        crossed = False
        for i, c in enumerate(group):
            if t is not None and not crossed and c.score is not None and c.score < t:
                if i > 0:
                    body.append(f'<div class="rule"><span>{decision} threshold {t:g}: above, the model says yes; below, no</span></div>')
                crossed = True
            body.append(render_card(c, thresholds, opts.margin))
        body.append("</div>")
    if not cards:
        body.append('<p class="empty-page">No image matches this selection.</p>')

    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>rocov2-fast inspect: {esc(run.name)}</title>
<style>{CSS}</style></head>
<body><header>
<h1>rocov2-fast inspect <small>{esc(run)}</small></h1>
<div class="funnel">{funnel_html}</div>
<div class="summary"><div class="hists">{hists}</div><div class="text">
<p>Thresholds: <b>{esc(th)}</b>. Showing <b>{len(cards)}</b> cards; {" · ".join(chosen)}.</p>
<p class="legend"><span class="badge kept">kept</span> <span class="badge compound">compound</span>
<span class="badge radiology">radiology</span> <span class="badge duplicate">duplicate</span>
Bars run from 0 to 1 with a tick at the threshold; the score a card is sorted by is in bold; a score within {opts.margin:g} of its threshold is <span class="near-mark">highlighted</span>.
Thumbnails link to the article on PMC; hover a caption for its full text.</p></div></div>
</header>
<main>{"".join(body)}</main>
<footer>Made by <code>rocov2-fast inspect</code>. Change the thresholds with <code>rocov2-fast filter INPUT... --out RUN_DIR --rethreshold --compound-threshold X --radiology-threshold Y</code> (no decoding: the scores are stored).</footer>
</body></html>
"""


CSS = """
:root { --kept: #1a7f37; --compound: #b35900; --radiology: #c62828; --duplicate: #6f42c1; --ink: #1f2328; --mute: #656d76;
        --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 14px 20px 10px; }
h1 { font-size: 19px; margin: 0 0 10px; } h1 small { font-weight: normal; color: var(--mute); font-size: 13px; margin-left: 8px; }
h2 { font-size: 15px; margin: 22px 20px 10px; } h2 small { font-weight: normal; color: var(--mute); margin-left: 8px; }
.funnel { display: flex; gap: 8px; flex-wrap: wrap; }
.stat { border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; min-width: 84px; background: var(--bg); }
.stat b { display: block; font-size: 17px; } .stat span { color: var(--mute); font-size: 12px; }
.stat.drop b { color: var(--radiology); } .stat.kept b { color: var(--kept); }
.summary { display: flex; flex-wrap: wrap; gap: 4px 28px; align-items: center; margin-top: 10px; }
.summary .text { flex: 1; min-width: 320px; } .summary p { margin: 4px 0; max-width: 620px; }
.hists { display: flex; gap: 20px; }
.hist { margin: 0; } .hist figcaption { color: var(--mute); font-size: 11px; }
.hist rect.under { fill: #8c959f; } .hist rect.over { fill: #0969da; }
.hist line { stroke: var(--radiology); stroke-width: 1.5; stroke-dasharray: 3 2; }
.hist text { font-size: 9px; fill: var(--mute); }
.legend { color: var(--mute); }
.warn { color: var(--radiology); font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; padding: 0 20px; }
.card { margin: 0; background: #fff; border: 1px solid var(--line); border-top: 4px solid var(--mute); border-radius: 6px; overflow: hidden;
        display: flex; flex-direction: column; }
.card.kept { border-top-color: var(--kept); } .card.compound { border-top-color: var(--compound); }
.card.radiology { border-top-color: var(--radiology); } .card.duplicate { border-top-color: var(--duplicate); }
.thumb { display: flex; align-items: center; justify-content: center; height: 168px; background: #e9ecef; }
.thumb img { max-width: 160px; max-height: 160px; box-shadow: 0 1px 3px rgba(0,0,0,.25); }
.placeholder { display: flex; flex-direction: column; align-items: center; gap: 4px; color: var(--mute); font-weight: 600; padding: 8px;
               text-align: center; border: 2px dashed #adb5bd; border-radius: 6px; width: 150px; }
.placeholder small { font-weight: normal; font-size: 10px; word-break: break-word; }
figcaption { padding: 7px 9px 8px; display: flex; flex-direction: column; gap: 3px; }
.head { display: flex; align-items: center; gap: 6px; min-width: 0; }
.id { color: var(--mute); font-size: 11px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.badge { color: #fff; border-radius: 10px; padding: 0 7px; font-size: 11px; font-weight: 600; background: var(--mute); white-space: nowrap; }
.badge.kept { background: var(--kept); } .badge.compound { background: var(--compound); }
.badge.radiology { background: var(--radiology); } .badge.duplicate { background: var(--duplicate); }
.score { display: grid; grid-template-columns: 60px 1fr 80px; align-items: center; gap: 6px; font-size: 11px; color: var(--mute); }
.score.decided { color: var(--ink); font-weight: 600; }
.score .track { position: relative; height: 7px; background: #eaeef2; border-radius: 4px; }
.score .track b { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 4px; background: #8c959f; }
.score.decided .track b { background: #0969da; }
.score .tick { position: absolute; top: -3px; bottom: -3px; width: 2px; margin-left: -1px; background: var(--ink); }
.score .value { font-variant-numeric: tabular-nums; white-space: nowrap; } .score small { color: var(--mute); font-weight: normal; }
.score.near .value, .near-mark { background: #fff8c5; box-shadow: 0 0 0 1px #d4a72c; border-radius: 3px; padding: 0 2px; }
.extra { display: flex; flex-wrap: wrap; gap: 2px 10px; font-size: 11px; color: var(--mute); }
.reason { margin: 0; font-size: 11px; color: var(--radiology); }
.caption { margin: 2px 0 0; font-size: 12px; } .caption.empty { color: var(--mute); font-style: italic; }
.where { margin: 0; font-size: 11px; color: var(--mute); margin-top: auto; overflow-wrap: anywhere; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
.rule { grid-column: 1 / -1; display: flex; align-items: center; gap: 10px; color: var(--radiology); font-size: 12px; font-weight: 600; }
.rule::before, .rule::after { content: ""; flex: 1; border-top: 2px dashed var(--radiology); }
.empty-page { padding: 20px; color: var(--mute); }
footer { padding: 24px 20px; color: var(--mute); font-size: 12px; }
"""

"""`rocov2-fast report RUN_DIR`: the ROCOv2 paper's dataset analysis for any run (or imported
release): caption lengths, images per article, concepts per image (paper Fig. 3), top concepts
and semantic types (Tables 5-6), modality mix per split, the filtering funnel (its plot is
funnel.py's, which `filter` writes as RUN_DIR/funnel.png), and how the dataset was made (package
version, filter models' digests and training data, thresholds, images removed per stage:
dataset/provenance.py).
Writes RUN_DIR/report.json, RUN_DIR/report.html and the plots under RUN_DIR/report/."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

import polars as pl

from .. import rundir
from ..concepts.manual import MODALITIES
from ..concepts.pack import SEMANTIC_TYPE_NAMES, canonical_names, semantic_types
from ..rundir import write_atomic
from .provenance import facts_markdown, run_facts
from .tables import SPLITS, read_dataset

TOP = 20


def spread(values: pl.Series) -> dict:
    if values.len() == 0:
        return {"mean": None, "min": None, "max": None}
    return {"mean": round(float(values.mean()), 2), "min": int(values.min()), "max": int(values.max())}


def modality_of(manual: list[str], concepts: list[str]) -> str:
    named = [MODALITIES[c] for c in manual if c in MODALITIES]
    if named:
        return named[0]
    automatic = [c for c in concepts if c in MODALITIES]
    return "combined" if len(automatic) > 1 else MODALITIES[automatic[0]] if automatic else "unlabelled"


def most_common(counts: Counter, n: int = TOP) -> list[tuple[str, int]]:
    """The n largest counts, ties by key: `Counter.most_common` keeps insertion order for ties,
    which follows set iteration and so changes from run to run (string hashing is salted)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def funnel(run_dir: Path) -> dict:
    """Counts per stage from the files each stage left (absent for an imported release)."""
    stages: dict = {}
    summary = read_json(run_dir / rundir.SUMMARY)
    if summary:
        stages["filter"] = summary["funnel"]
    captions = run_dir / rundir.CAPTIONS
    if captions.exists():
        reasons = dict(sorted(pl.read_parquet(captions)["reason"].fill_null("kept").value_counts().rows()))
        stages["captions"] = reasons
    concepts = read_json(run_dir / rundir.CONCEPTS_SUMMARY)
    if concepts:
        stages["concepts"] = concepts
    split = read_json(run_dir / rundir.SPLIT_SUMMARY)
    if split:
        stages["split"] = {"sizes": split["sizes"], "unseen_concepts_removed": split["unseen_concepts_removed"],
                           "group_by": split["group_by"], "label_distribution_LD": split["quality"]["LD"]}
    return stages


def analyse(df: pl.DataFrame, run_dir: Path) -> dict:
    words = df["caption"].fill_null("").str.split(" ").list.eval(pl.element().filter(pl.element() != "")).list.len()
    per_article = df.filter(pl.col("pmcid").is_not_null()).group_by("pmcid").len()["len"]
    per_image = df["concepts"].list.len()
    names, types = canonical_names(), semantic_types()
    if (run_dir / rundir.CUI_MAPPING).exists():
        names.update(dict(pl.read_csv(run_dir / rundir.CUI_MAPPING).iter_rows()))
    cui_counts = Counter(c for cuis in df["concepts"].to_list() for c in set(cuis))
    type_images, type_concepts = Counter(), Counter()
    for cuis in df["concepts"].to_list():
        type_images.update({types.get(c, "unknown") for c in cuis})
    for cui in cui_counts:
        type_concepts[types.get(cui, "unknown")] += 1
    n = max(df.height, 1)
    modality = [modality_of(m, c) for m, c in zip(df["concepts_manual"].to_list(), df["concepts"].to_list())]
    mix = Counter(zip(df["split"].to_list(), modality))
    return {
        "images": df.height,
        "articles": df["pmcid"].n_unique(),
        "splits": {s: int((df["split"] == s).sum()) for s in SPLITS},
        "caption_words": spread(words) | {"per_split": {s: spread(words.filter(df["split"] == s)) for s in SPLITS}},
        "images_per_article": spread(per_article),
        "concepts_per_image": spread(per_image) | {"histogram": {int(k): int(v) for k, v in sorted(Counter(per_image.to_list()).items())}},
        "distinct_concepts": len(cui_counts),
        "top_concepts": [{"cui": c, "name": names.get(c, ""), "images": k, "share": round(k / n, 4)}
                         for c, k in most_common(cui_counts)],
        "top_semantic_types": [{"tui": t, "name": SEMANTIC_TYPE_NAMES.get(t, t), "images": k, "concepts": type_concepts[t]}
                               for t, k in most_common(type_images)],
        "modality_mix": {s: {m: mix[(s, m)] for m in sorted(set(modality)) if mix[(s, m)]} for s in SPLITS},
        "funnel": funnel(run_dir),
        "provenance": run_facts(run_dir),  # version, models (digest, training data), thresholds, Table 1
    }


def plot(stats: dict, folder: Path) -> dict[str, str]:
    """The figures as PNG files; → {name: path relative to the run directory}."""
    from ..funnel import pyplot, write_funnel_png

    plt = pyplot()
    folder.mkdir(exist_ok=True)
    made = {}

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(folder / f"{name}.png", dpi=100)
        plt.close(fig)
        made[name] = f"{folder.name}/{name}.png"

    hist = stats["concepts_per_image"]["histogram"]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar([int(k) for k in hist], list(hist.values()), color="#4477aa")
    ax.set(xlabel="concepts per image", ylabel="images", title="Concepts per image (paper Fig. 3)")
    save(fig, "concepts_per_image")

    top = stats["top_concepts"][:15][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(top) + 1.2))
    ax.barh([f"{t['cui']} {t['name'][:28]}" for t in top], [t["images"] for t in top], color="#66aa55")
    ax.set(xlabel="images", title="Most frequent concepts")
    save(fig, "top_concepts")

    mix = stats["modality_mix"]
    modalities = sorted({m for split in mix.values() for m in split})
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bottom = [0.0] * len(SPLITS)
    for m in modalities:
        shares = [mix[s].get(m, 0) / max(stats["splits"][s], 1) for s in SPLITS]
        ax.bar(SPLITS, shares, bottom=bottom, label=m)
        bottom = [b + v for b, v in zip(bottom, shares)]
    ax.set(ylabel="share of images", title="Modality mix per split")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    save(fig, "modality_mix")

    filter_funnel = stats["funnel"].get("filter")
    if filter_funnel:
        write_funnel_png(filter_funnel, folder / "funnel.png")  # the picture `filter` writes as RUN_DIR/funnel.png
        made["funnel"] = f"{folder.name}/funnel.png"
    return made


def table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(stats: dict, plots: dict[str, str]) -> str:
    def figure(name: str) -> str:
        return f'<img src="{plots[name]}" alt="{name}">' if name in plots else ""

    summary_rows = [
        {"measure": "images", "value": stats["images"]}, {"measure": "articles", "value": stats["articles"]},
        *({"measure": f"{s} images", "value": v} for s, v in stats["splits"].items()),
        *({"measure": f"caption words ({k})", "value": stats["caption_words"][k]} for k in ("mean", "min", "max")),
        *({"measure": f"images per article ({k})", "value": stats["images_per_article"][k]} for k in ("mean", "min", "max")),
        *({"measure": f"concepts per image ({k})", "value": stats["concepts_per_image"][k]} for k in ("mean", "min", "max")),
        {"measure": "distinct concepts", "value": stats["distinct_concepts"]},
    ]
    mix_rows = [{"split": s, **{m: v for m, v in stats["modality_mix"][s].items()}} for s in SPLITS]
    mix_columns = ["split"] + sorted({m for s in SPLITS for m in stats["modality_mix"][s]})
    for row in mix_rows:
        for c in mix_columns:
            row.setdefault(c, 0)
    funnel_text = html.escape(json.dumps(stats["funnel"], indent=2)) or "not available"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rocov2-fast dataset report</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
img{{max-width:100%;display:block;margin:0.5em 0 1.5em}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head>
<body><h1>Dataset report</h1>
<h2>Summary</h2>{table(summary_rows, ["measure", "value"])}
<h2>How it was made</h2><pre>{html.escape(facts_markdown(stats["provenance"]))}</pre>
<h2>Filtering funnel</h2>{figure("funnel")}<pre>{funnel_text}</pre>
<h2>Concepts per image</h2>{figure("concepts_per_image")}
<h2>Top concepts (paper Table 5)</h2>{figure("top_concepts")}{table(stats["top_concepts"], ["cui", "name", "images", "share"])}
<h2>Top semantic types (paper Table 6)</h2>{table(stats["top_semantic_types"], ["tui", "name", "images", "concepts"])}
<h2>Modality mix per split</h2>{figure("modality_mix")}{table(mix_rows, mix_columns)}
</body></html>
"""


def run(run_dir: Path) -> dict:
    """`rocov2-fast report RUN_DIR`: → RUN_DIR/report.html (with report/*.png) and report.json."""
    run_dir = Path(run_dir)
    stats = analyse(read_dataset(run_dir), run_dir)
    plots = plot(stats, run_dir / "report")
    write_atomic(run_dir / rundir.REPORT_JSON, json.dumps(stats, indent=2).encode())
    write_atomic(run_dir / rundir.REPORT_HTML, render(stats, plots).encode())
    return stats

"""Measure `concepts.extract` and `concepts.suggest_manual` on ROCOv2's validation split as
released, with the scoring of `rocov2-fast evaluate concepts` (ImageCLEF primary F1; secondary F1
on the manual concepts) and the modality agreement per modality with a confusion table.

    .venv/bin/python scripts/measure_concepts.py [--valid ../shared/data/rocov2/valid]
                                                 [--json out.json] [--write-docs]

The split is cut by a hash of the image ID (rocov2_fast.concepts.validation.part_of) into a
develop part (~70 %: what the shipped modality classifier and the learned pack sources were
made from) and a measure part (~30 %: only measured). Numbers are reported for both; the
measure part is the one that counts. `--write-docs` replaces the generated block in
docs/concepts.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from rocov2_fast.concepts import extract, merge, suggest_manual  # noqa: E402
from rocov2_fast.concepts.manual import MODALITIES, PROJECTIONS, REGIONS, XRAY  # noqa: E402
from rocov2_fast.concepts.modality import load_models  # noqa: E402
from rocov2_fast.concepts.validation import DEFAULT_VALID, read_valid  # noqa: E402
from rocov2_fast.evaluate import evaluate_concepts  # noqa: E402

BEGIN, END = "<!-- measure_concepts: begin -->", "<!-- measure_concepts: end -->"
NAMES = {**MODALITIES, **REGIONS, **PROJECTIONS}


def write_csv(path: Path, ids, cuis) -> Path:
    with path.open("w", encoding="utf-8") as f:
        f.write("ID,CUIs\n")
        for i, c in zip(ids, cuis):
            f.write(f"{i},{';'.join(dict.fromkeys(c))}\n")
    return path


def score_concepts(part: pl.DataFrame, predicted: dict[str, list[str]], tmp: Path) -> dict:
    """The `rocov2-fast evaluate concepts` scores of `predicted` against this part's gold files."""
    ids = part["image_id"].to_list()
    gold = write_csv(tmp / "gold.csv", ids, part["cuis"].to_list())
    manual = write_csv(tmp / "manual.csv", ids, part["cuis_manual"].to_list())
    pred = write_csv(tmp / "pred.csv", ids, [predicted[i] for i in ids])
    return evaluate_concepts(gold, pred, manual, year=2023)


def one(cuis, table):
    found = [c for c in cuis if c in table]
    return found[0] if len(found) == 1 else None


def label_scores(gold: list, suggested: list, classes: dict) -> dict:
    """Agreement (over items with a gold label; no suggestion counts wrong), precision (over
    suggestions), per class, and the confusion table gold × suggested."""
    pairs = list(zip(gold, suggested))
    with_gold = [(g, s) for g, s in pairs if g]
    made = [(g, s) for g, s in pairs if s]
    out = {"images": len(with_gold), "agreement": sum(g == s for g, s in with_gold) / max(len(with_gold), 1),
           "suggested": len(made), "coverage": sum(1 for g, s in with_gold if s) / max(len(with_gold), 1),
           "precision": sum(g == s for g, s in made) / max(len(made), 1), "per_class": {}, "confusion": {}}
    for cui, name in classes.items():
        n = sum(1 for g, _ in with_gold if g == cui)
        m = sum(1 for _, s in made if s == cui)
        ok = sum(1 for g, s in with_gold if g == cui == s)
        out["per_class"][name] = {"images": n, "agreement": ok / n if n else None, "suggested": m,
                                  "precision": ok / m if m else None}
    confusion = Counter((NAMES.get(g, "none"), NAMES.get(s, "none")) for g, s in pairs)
    out["confusion"] = {f"{g} -> {s}": k for (g, s), k in sorted(confusion.items())}
    return out


def measure_part(part: pl.DataFrame, suggestions: pl.DataFrame, extracted: dict, tmp: Path) -> dict:
    sugg = {r["image_id"]: r for r in suggestions.iter_rows(named=True)}
    ids = part["image_id"].to_list()
    manual = part["cuis_manual"].to_list()
    gold_mod = [one(m, MODALITIES) for m in manual]
    keep = [i for i, g in enumerate(gold_mod) if g]
    result = {"images": len(ids)}
    result["modality"] = label_scores([gold_mod[i] for i in keep], [sugg[ids[i]]["modality"] for i in keep], MODALITIES)
    result["modality"]["argmax_accuracy"] = sum(gold_mod[i] == sugg[ids[i]]["modality_best"] for i in keep) / max(len(keep), 1)
    curve = []
    for t in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99):
        s = [sugg[ids[i]]["modality_best"] if sugg[ids[i]]["modality_confidence"] >= t else None for i in keep]
        sc = label_scores([gold_mod[i] for i in keep], s, MODALITIES)
        curve.append({"min_confidence": t, "agreement": sc["agreement"], "precision": sc["precision"], "coverage": sc["coverage"]})
    result["modality"]["curve"] = curve
    # X-ray region and projection, on the images whose manual modality is X-ray
    xray = [i for i in keep if gold_mod[i] == XRAY]
    for name, table in (("region", REGIONS), ("projection", PROJECTIONS)):
        result[name] = label_scores([one(manual[i], table) for i in xray], [sugg[ids[i]][name] for i in xray], table)
        result[name]["gold_none_but_suggested"] = sum(1 for i in xray if not one(manual[i], table) and sugg[ids[i]][name])
    # concepts: extract alone, and as the pipeline exports them (manual suggestions first, the
    # paper's priority rule applied by `merge`)
    auto = pl.DataFrame({"image_id": ids, "cuis": [extracted[i] for i in ids]},
                        schema={"image_id": pl.String, "cuis": pl.List(pl.String)})
    suggested_manual = pl.DataFrame(
        {"image_id": ids, "cuis_manual": [[c for c in (sugg[i]["modality"], sugg[i]["region"], sugg[i]["projection"]) if c]
                                          for i in ids]}, schema={"image_id": pl.String, "cuis_manual": pl.List(pl.String)})
    merged = merge(auto, suggested_manual)
    exported = {i: list(dict.fromkeys(m + c)) for i, m, c in merged.select("image_id", "cuis_manual", "cuis").iter_rows()}
    result["concepts_extract"] = score_concepts(part, extracted, tmp)
    result["concepts_exported"] = score_concepts(part, exported, tmp)
    return result


def fmt(x, digits=3):
    return "–" if x is None else f"{x:.{digits}f}"


def markdown(results: dict, meta: dict) -> str:
    m = results["measure"]
    d = results.get("develop", {"images": 0})
    lines = [BEGIN, "",
             f"Generated by `scripts/measure_concepts.py` ({meta['date']}) on ROCOv2's validation split as released "
             f"({meta['images']:,} images), split by a hash of the image ID into a develop part ({d['images']:,}) and a "
             f"measure-only part ({m['images']:,}). Modality: images with exactly one manual modality; no suggestion "
             "counts as wrong in the agreement. Concept scores: `rocov2-fast evaluate concepts` (ImageCLEF 2023 rules).", "",
             "| measured on | modality agreement | precision | coverage | best-guess accuracy | region agreement / precision "
             "| projection agreement / precision | concept F1, `extract` | concept F1, exported | secondary F1, exported |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in (("measure part", m), ("develop part", d)):
        if "modality" not in r:
            continue
        mo, re_, pr = r["modality"], r["region"], r["projection"]
        lines.append(f"| {name} ({mo['images']:,}) | **{fmt(mo['agreement'])}** | **{fmt(mo['precision'])}** | {fmt(mo['coverage'])} "
                     f"| {fmt(mo['argmax_accuracy'])} | {fmt(re_['agreement'])} / {fmt(re_['precision'])} "
                     f"| {fmt(pr['agreement'])} / {fmt(pr['precision'])} | {fmt(r['concepts_extract']['f1'])} "
                     f"| **{fmt(r['concepts_exported']['f1'])}** | {fmt(r['concepts_exported']['secondary_f1'])} |")
    lines += ["", "Per modality, measure part (default confidence):", "",
              "| modality | images | agreement | suggested | precision |", "|---|---|---|---|---|"]
    for name, s in m["modality"]["per_class"].items():
        lines.append(f"| {name} | {s['images']} | {fmt(s['agreement'])} | {s['suggested']} | {fmt(s['precision'])} |")
    labels = list(MODALITIES.values()) + ["none"]
    conf = m["modality"]["confusion"]
    lines += ["", "Confusion, measure part (rows: ROCOv2's manual modality; columns: suggested):", "",
              "| manual \\ suggested | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for g in labels[:-1]:
        lines.append(f"| {g} | " + " | ".join(str(conf.get(f"{g} -> {s}", "")) for s in labels) + " |")
    lines += ["", "Confidence threshold vs. agreement / precision / coverage, measure part (`min_confidence`):", "",
              "| min confidence | agreement | precision | coverage |", "|---|---|---|---|"]
    for c in m["modality"]["curve"]:
        lines.append(f"| {c['min_confidence']} | {fmt(c['agreement'])} | {fmt(c['precision'])} | {fmt(c['coverage'])} |")
    for name, table in (("region", REGIONS), ("projection", PROJECTIONS)):
        r = m[name]
        lines += ["", f"X-ray {name}, measure part ({r['images']} X-ray images where ROCOv2 gives one; "
                      f"{r['gold_none_but_suggested']} suggested where ROCOv2 gives none):", "",
                  f"| {name} | images | agreement | suggested | precision |", "|---|---|---|---|---|"]
        for label, s in r["per_class"].items():
            lines.append(f"| {label} | {s['images']} | {fmt(s['agreement'])} | {s['suggested']} | {fmt(s['precision'])} |")
    lines += ["", f"Timings: `extract` {meta['extract_s']:.1f} s, `suggest_manual` {meta['suggest_s']:.1f} s for "
                  f"{meta['images']:,} captions (2-core machine, shared).", "", END]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--valid", type=Path, default=DEFAULT_VALID)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--medcat-model", default=None)
    args = ap.parse_args()
    df = read_valid(args.valid)
    t = time.perf_counter()
    extracted = dict(extract(df.select("image_id", "caption"), args.medcat_model).iter_rows())
    extract_s = time.perf_counter() - t
    t = time.perf_counter()
    suggestions = suggest_manual(df.select("image_id", "caption"))
    suggest_s = time.perf_counter() - t
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("develop", "measure"):
            if df.filter(pl.col("part") == part).height:
                results[part] = measure_part(df.filter(pl.col("part") == part), suggestions, extracted, Path(tmp))
    meta = {"date": time.strftime("%Y-%m-%d"), "images": df.height, "extract_s": extract_s, "suggest_s": suggest_s,
            "modality_threshold": load_models()["modality"].threshold if load_models() else None,
            "modality_temperature": load_models()["modality"].temperature if load_models() else None}
    results["meta"] = meta
    for part in ("develop", "measure"):
        if part not in results:
            continue
        r = results[part]
        print(f"{part}: modality agreement {r['modality']['agreement']:.4f} precision {r['modality']['precision']:.4f} "
              f"coverage {r['modality']['coverage']:.4f} argmax {r['modality']['argmax_accuracy']:.4f} | "
              f"region {r['region']['agreement']:.3f}/{r['region']['precision']:.3f} "
              f"projection {r['projection']['agreement']:.3f}/{r['projection']['precision']:.3f} | "
              f"F1 extract {r['concepts_extract']['f1']:.4f} exported {r['concepts_exported']['f1']:.4f} "
              f"secondary {r['concepts_exported']['secondary_f1']:.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    text = markdown(results, meta)
    if args.write_docs:
        doc = ROOT / "docs" / "concepts.md"
        current = doc.read_text()
        if BEGIN in current:
            head, rest = current.split(BEGIN, 1)
            current = head + text + rest.split(END, 1)[1]
        else:
            current = current.rstrip() + "\n\n## Measured on ROCOv2's validation split\n\n" + text + "\n"
        doc.write_text(current)
    else:
        print(text)


if __name__ == "__main__":
    main()

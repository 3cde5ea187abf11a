"""Learn models/concepts/learned_names.csv from the develop part of ROCOv2's validation split
(rocov2_fast.concepts.validation.part_of; the measure part is never read), then rebuild the
default pack with it.

    .venv/bin/python scripts/learn_concept_names.py [--valid ../shared/data/rocov2/valid]

1. The pack without learned names (canonical ROCOv2 names + synonyms.csv) is run on the develop
   captions. A name whose links are mostly wrong against ROCOv2's concepts (precision below
   REMOVE_BELOW over at least MIN_WRONG wrong links) is removed; a concept whose links are almost
   never right is removed with all its names.
2. Caption phrases (1-4 words, not starting or ending with a function word) that predict a
   ROCOv2 concept the pack misses are added as names of it: in at least MIN_SUPPORT develop
   images with that concept, with precision (images with the phrase that have the concept) at
   least ADD_PRECISION, the phrase going to its most precise concept only.
The manual concepts (modality, X-ray region and projection) are left to `suggest_manual`.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from rocov2_fast.concepts.manual import MANUAL_CUIS  # noqa: E402
from rocov2_fast.concepts.pack import SOURCES, build_pack, canonical_names, concept_table, name_key  # noqa: E402
from rocov2_fast.concepts.validation import DEFAULT_VALID, read_valid  # noqa: E402

REMOVE_BELOW, MIN_WRONG, DROP_BELOW = 0.3, 4, 0.15
ADD_PRECISION, MIN_SUPPORT, MAX_WORDS = 0.5, 3, 4
STOP = set("""a an the of in on at to for from by with and or but is are was were be been being this that these those
it its as into onto over under than then there their which who whom whose what when where while after before
during showing shows shown show seen see note noted arrow arrows arrowhead arrowheads image images figure fig
panel case patient patients left right also both each one two three four five six seven eight nine ten
no not yes all any some more most less very well after red white black yellow blue green mm cm ml year years old
day days month months week weeks follow up""".split())


def entities(pack: Path, df) -> dict[str, list[tuple[str, str]]]:
    """image_id → [(CUI, detected name key)] from MedCAT with `pack`."""
    from rocov2_fast.concepts.extract import load

    cat = load(str(pack))
    texts = [(i, c or "") for i, c in zip(df["image_id"].to_list(), df["caption"].to_list())]
    out = {}
    for image_id, result in cat.get_entities_multi_texts(texts, only_cui=False, n_process=1):
        out[image_id] = [(e["cui"], name_key(str(e.get("detected_name") or e.get("source_value") or "").replace("~", " ")))
                         for e in result.get("entities", {}).values()]
    load.cache_clear()
    return out


def phrases(caption: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", (caption or "").lower())
    out = set()
    for n in range(1, MAX_WORDS + 1):
        for k in range(len(words) - n + 1):
            gram = words[k:k + n]
            if gram[0] in STOP or gram[-1] in STOP or gram[0].isdigit() or gram[-1].isdigit():
                continue
            if n == 1 and len(gram[0]) < 3:
                continue
            out.add(" ".join(gram))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--valid", type=Path, default=DEFAULT_VALID)
    ap.add_argument("--out", type=Path, default=SOURCES / "learned_names.csv")
    args = ap.parse_args()
    df = read_valid(args.valid, part="develop")
    gold = {i: set(c) - MANUAL_CUIS for i, c in zip(df["image_id"].to_list(), df["cuis"].to_list())}
    canonical = canonical_names()

    with tempfile.TemporaryDirectory() as tmp:
        found = entities(build_pack(Path(tmp) / "base", learned=False), df)

    # 1. removals: (CUI, name) links and whole CUIs that are mostly wrong
    by_name, by_cui = defaultdict(Counter), defaultdict(Counter)
    for image_id, links in found.items():
        for cui, name in set(links):
            if cui in MANUAL_CUIS:
                continue
            ok = cui in gold[image_id]
            by_name[(cui, name)]["ok" if ok else "wrong"] += 1
        for cui in {c for c, _ in links} - MANUAL_CUIS:
            by_cui[cui]["ok" if cui in gold[image_id] else "wrong"] += 1
    rows = []
    dropped = set()
    for cui, c in sorted(by_cui.items()):
        if c["wrong"] >= MIN_WRONG and c["ok"] / (c["ok"] + c["wrong"]) < DROP_BELOW:
            dropped.add(cui)
            rows.append({"cui": cui, "name": "*", "action": "remove", "images": c["ok"] + c["wrong"],
                         "precision": round(c["ok"] / (c["ok"] + c["wrong"]), 3)})
    for (cui, name), c in sorted(by_name.items()):
        if cui not in dropped and name and c["wrong"] >= MIN_WRONG and c["ok"] / (c["ok"] + c["wrong"]) < REMOVE_BELOW:
            rows.append({"cui": cui, "name": name, "action": "remove", "images": c["ok"] + c["wrong"],
                         "precision": round(c["ok"] / (c["ok"] + c["wrong"]), 3)})

    # 2. additions: phrases that predict a concept the pack misses there
    existing = {(r["cui"], name_key(r["name"])) for r in concept_table(learned=False)}
    image_phrases = {i: phrases(c) for i, c in zip(df["image_id"].to_list(), df["caption"].to_list())}
    phrase_images = Counter(p for ps in image_phrases.values() for p in ps)
    together, missed = Counter(), Counter()
    for image_id, ps in image_phrases.items():
        linked = {c for c, _ in found[image_id]}
        for cui in gold[image_id]:
            for p in ps:
                together[(p, cui)] += 1
                if cui not in linked:
                    missed[(p, cui)] += 1
    best: dict[str, tuple[float, str, int]] = {}
    for (p, cui), n in sorted(together.items()):  # sorted: ties go the same way in every run
        if missed[(p, cui)] < MIN_SUPPORT or n < MIN_SUPPORT or (cui, p) in existing:
            continue
        precision = n / phrase_images[p]
        if precision >= ADD_PRECISION and (p not in best or (precision, n) > (best[p][0], best[p][2])):
            best[p] = (precision, cui, n)
    # a longer phrase is only worth adding when it is more precise than a shorter one inside it
    # that already goes to the same concept
    for p, (precision, cui, n) in sorted(best.items()):
        words = p.split()
        inner = [" ".join(words[a:b]) for a in range(len(words)) for b in range(a + 1, len(words) + 1) if (a, b) != (0, len(words))]
        if any(q in best and best[q][1] == cui and best[q][0] >= precision for q in inner):
            continue
        rows.append({"cui": cui, "name": p, "action": "add", "images": n, "precision": round(precision, 3)})

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["cui", "name", "action", "images", "precision"])
        w.writeheader()
        w.writerows(sorted(rows, key=lambda r: (r["action"], r["cui"], r["name"])))
    counts = Counter(r["action"] if r["name"] != "*" else "drop concept" for r in rows)
    print(f"wrote {args.out}: {dict(counts)}")
    examples = [r for r in rows if r["action"] == "add"][:5]
    for r in examples:
        print(f"  add {r['name']!r} → {r['cui']} {canonical.get(r['cui'])} ({r['images']} images, precision {r['precision']})")
    if args.out.resolve() == (SOURCES / "learned_names.csv").resolve():
        print(f"built {build_pack()}")


if __name__ == "__main__":
    main()

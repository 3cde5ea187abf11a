"""Derives semantic types (TUIs) for the ROCOv2 concepts from ROCO's QuickUMLS annotations:
for each CUI, intersect the TUI sets of every ROCO image whose concepts include it; a CUI whose
intersection is a single TUI gets that TUI. Writes models/concepts/tuis.csv.

    .venv/bin/python scripts/derive_concept_types.py ../shared/data/roco-v1/validation
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def main(roco: Path, out: Path = Path("models/concepts/tuis.csv")) -> None:
    rocov2 = {r["CUI"] for r in csv.DictReader(open("models/concepts/rocov2_cui_mapping.csv"))}
    types: dict[str, set[str]] = {}
    support: dict[str, int] = {}
    for sub in ("radiology", "non-radiology"):
        semtypes = {}
        for line in (roco / sub / "semtypes.txt").read_text().splitlines():
            parts = line.split("\t")
            semtypes[parts[0]] = set(parts[2::2])
        for line in (roco / sub / "cuis.txt").read_text().splitlines():
            parts = line.split("\t")
            for cui in parts[2:]:
                image_types = semtypes.get(parts[0], set())
                types[cui] = types[cui] & image_types if cui in types else set(image_types)
                support[cui] = support.get(cui, 0) + 1
    rows = sorted((c, next(iter(t)), support[c]) for c, t in types.items() if c in rocov2 and len(t) == 1)
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cui", "tui", "roco_images"])
        w.writerows(rows)
    print(f"{out}: {len(rows)} of {len(rocov2)} ROCOv2 concepts typed")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

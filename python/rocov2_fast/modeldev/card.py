"""Markdown tables of models/real_test_report.json for the model card:
`python -m rocov2_fast.modeldev.card models/real_test_report.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def table(report: dict, key: str) -> str:
    lines = ["| group | n | recall | FPR | ROC AUC (vs the other class) |", "|---|---|---|---|---|"]
    for name, e in report[key].items():
        auc = e.get("auc", e.get("auc_vs_all_negatives", e.get("auc_vs_all_positives")))
        lines.append(f"| {name} | {e['n']} | {_fmt(e.get('recall'))} | {_fmt(e.get('fpr'))} | {_fmt(auc)} |")
    o = report["overall"]
    lines.append(f"| **all** | {o['n']} | {_fmt(o.get('recall'))} | {_fmt(o.get('fpr'))} | {_fmt(o.get('auc'))} |")
    return "\n".join(lines)


def card(path: Path) -> str:
    cards = json.loads(path.read_text())
    out = []
    for kind in ("radiology", "compound"):
        for split in ("test", "val"):
            r = cards[kind][split]
            out.append(f"#### {kind}.onnx on the {split} split (threshold {r['threshold']}), by source\n\n{table(r, 'by_source')}\n")
            if split == "test":
                out.append(f"#### {kind}.onnx on the test split, by kind\n\n{table(r, 'by_kind')}\n")
    return "\n".join(out)


if __name__ == "__main__":
    print(card(Path(sys.argv[1] if len(sys.argv) > 1 else "models/real_test_report.json")))

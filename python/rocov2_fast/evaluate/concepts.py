"""Concept detection scores exactly as the official ImageCLEFmedical Caption 2023 evaluator
computes them, edge cases included, with the same submission checks.

Reading (gold and predictions): CSV rows; a row whose first field contains `ID` is a header and
skipped; CUIs are `row[1].split(";")`, stripped (upper-cased when scoring). So a gold row `img,`
is the one-element set {""}: it scores 1 against a prediction `img,` and 0 against `img` (no
comma: the empty set) or any CUIs. `strict_empty=True` reads `img,` as the empty set instead and
leaves such images out of the mean, as the secondary score does.

Score per image: binary F1 (sklearn's definition) over the union of gold and predicted CUIs,
i.e. 2|G∩P| / (|G| + |P|), 0 when nothing matches; the mean over gold images.
Secondary: gold from the manual concepts file, both sides restricted to the manual CUIs of the
year; images whose restricted gold set is empty leave the mean.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import Rocov2Error

MAX_CONCEPTS = 100
MANUAL_CUIS_2023 = frozenset({
    "C0002978", "C0040405", "C0024485", "C0032743", "C0041618", "C1306645", "C1140618", "C0037949",
    "C0030797", "C0023216", "C0037303", "C0817096", "C0006141", "C0000726",
})
MANUAL_CUIS = {2023: MANUAL_CUIS_2023, 2024: MANUAL_CUIS_2023, 2025: MANUAL_CUIS_2023 | {"C0920367"}}


class SubmissionError(Rocov2Error, ValueError):
    """A submission the official evaluator would reject, with the line it failed at."""


def split_cuis(field: str, strict_empty: bool) -> tuple[str, ...]:
    cuis = tuple(c.strip() for c in field.split(";"))
    return tuple(c for c in cuis if c) if strict_empty else cuis


def data_rows(path: Path):
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if row and "ID" not in row[0]:  # the official header rule: "ID" anywhere in the first field
                yield row


def read_gold(path: Path, strict_empty: bool = False) -> dict[str, tuple[str, ...]]:
    gold = {}
    for n, row in enumerate(data_rows(path), 1):
        if len(row) < 2:
            raise SubmissionError(f"{path}: gold row {n} ({row[0]!r}) has no concepts field (expected 'ID,CUIs')")
        gold[row[0]] = split_cuis(row[1], strict_empty)
    return gold


def read_predictions(path: Path, gold: dict, strict_empty: bool = False) -> dict[str, tuple[str, ...]]:
    """The official submission checks, in its order, with its messages' content."""
    predictions: dict[str, tuple[str, ...]] = {}
    line = 0
    for line, row in enumerate(data_rows(path), 1):
        if not 1 <= len(row) <= 2:
            raise SubmissionError(f"line {line}: each line is an image ID, optionally followed by a comma and concepts "
                                  "separated by semicolons: <image_id>,<concept_1>;<concept_2>")
        image_id = row[0]
        if image_id not in gold:
            raise SubmissionError(f"line {line}: image ID '{image_id}' does not exist in the test set")
        if image_id in predictions:
            raise SubmissionError(f"line {line}: image ID '{image_id}' is given more than once")
        concepts = split_cuis(row[1], strict_empty) if len(row) > 1 else ()
        if len(concepts) > MAX_CONCEPTS:
            raise SubmissionError(f"line {line}: too many concepts; at most {MAX_CONCEPTS} per image")
        if len(concepts) != len(set(concepts)):
            raise SubmissionError(f"line {line}: the same concept is given more than once for image ID '{image_id}'")
        predictions[image_id] = concepts
    if len(predictions) != len(gold):
        raise SubmissionError(f"line {line}: the submission has {len(predictions)} image IDs, the test set {len(gold)}")
    return predictions


def f1(gold: tuple[str, ...], predicted: tuple[str, ...]) -> float:
    """sklearn's binary F1 over the union of both sets."""
    g, p = set(gold), set(predicted)
    matched = len(g & p)
    return 2 * matched / (len(g) + len(p)) if matched else 0.0


def mean_f1(gold: dict, predictions: dict, allowed: frozenset[str] | None = None) -> tuple[float | None, int]:
    """Mean F1 over gold images with a non-empty (restricted) gold set; (None, 0) when there is none."""
    total, counted = 0.0, 0
    for image_id, predicted in predictions.items():
        g = tuple(c.upper() for c in gold[image_id])
        p = tuple(c.upper() for c in predicted)
        if allowed is not None:
            g = tuple(c for c in g if c in allowed)
            p = tuple(c for c in p if c in allowed)
        if not g:
            continue  # the official rule: an empty gold set leaves the mean
        total += f1(g, p)
        counted += 1
    return (total / counted if counted else None), counted


def evaluate_concepts(gold_path: Path, predictions_path: Path, manual_path: Path | None = None, *,
                      year: int = 2023, strict_empty: bool = False) -> dict:
    gold = read_gold(Path(gold_path), strict_empty)
    predictions = read_predictions(Path(predictions_path), gold, strict_empty)
    primary, counted = mean_f1(gold, predictions)
    result = {"f1": primary, "images": len(gold), "images_scored": counted, "strict_empty": strict_empty}
    if manual_path is not None:
        if year not in MANUAL_CUIS:
            raise ValueError(f"year must be one of {sorted(MANUAL_CUIS)}")
        manual = read_gold(Path(manual_path), strict_empty)
        missing = set(predictions) - set(manual)
        if missing:
            raise SubmissionError(f"{manual_path}: no manual concepts row for {len(missing)} image(s), e.g. {sorted(missing)[0]}")
        secondary, scored = mean_f1(manual, predictions, MANUAL_CUIS[year])
        result.update({"secondary_f1": secondary, "secondary_images_scored": scored, "year": year})
        if secondary is None:
            result["secondary_f1_reason"] = "no image has a manual concept of the year's list (the official evaluator divides by zero)"
    return result

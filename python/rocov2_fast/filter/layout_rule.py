"""How the training-free layout detector (rust/layout.rs, manifest columns
`compound_layout_score` and `panel_count`) combines with the compound CNN.

Rule: a figure is compound when the CNN says so (`cnn_score >= cnn_threshold`) OR the layout
detector found at least two panels with `compound_layout_score >= layout_threshold`.

Why an OR: the detector is precise but blind to gutterless mosaics; where it finds clean
gutters with straight panel edges on both sides it is right far more often than the CNN
(trained on synthetic figures), so it can only add recall at a small false-positive cost.
It never vetoes the CNN. docs/ingest.md ("Compound layout detector") has the measurements
behind DEFAULT_LAYOUT_THRESHOLD.
"""

from __future__ import annotations

import math

#: Layout score at or above which (with >= 2 panels) a figure counts as compound on its own.
#: A cut's confidence is 0.35 + 0.45·straightness + 0.2·cleanliness; 0.7 asks for a flat gutter
#: with clearly straight panel edges on both sides (benches/bench_layout.py).
from ..options import LAYOUT_THRESHOLD as DEFAULT_LAYOUT_THRESHOLD  # noqa: E402


def is_compound(cnn_score: float | None, layout_score: float | None, panel_count: int | None,
                cnn_threshold: float, layout_threshold: float = DEFAULT_LAYOUT_THRESHOLD) -> bool:
    """True when the CNN or the layout detector calls the figure compound. Missing values
    (None/NaN: no CNN run, or a row scanned before the layout columns existed) count as "no"."""
    def present(v) -> bool:
        return v is not None and not (isinstance(v, float) and math.isnan(v))

    if present(cnn_score) and float(cnn_score) >= cnn_threshold:
        return True
    return present(layout_score) and present(panel_count) and int(panel_count) >= 2 and float(layout_score) >= layout_threshold

"""Every stage option's default, written once.

Each stage's options dataclass lives beside its stage and takes its defaults from here:

    FilterOptions    filter/run.py       (`filter`, and `build`'s filter stage)
    CleanOptions     captions.py         (`captions`)
    ConceptsOptions  concepts/run.py     (`concepts`)
    SuggestOptions   concepts/run.py     (`suggest-manual`)
    SplitOptions     dataset/split.py    (`split`)
    ExportOptions    dataset/export.py   (`export`)
    BuildOptions     build.py            (one of each of the above)

`cli.py` declares each option once (an `Annotated` type) with these defaults, shared by the stage's
own command and by `build`. This module imports nothing heavy, so the CLI's `--help` is built
without loading polars, numpy or onnxruntime (benches/RESULTS.md, start-up).
"""

from __future__ import annotations

from .semantic_types import DEFAULT_TUIS

# -- filter ------------------------------------------------------------------------------------
#: licences kept (filter) and fetched (fetch)
LICENSES = ("CC BY", "CC BY-NC")
BATCH_SIZE = 256
#: pHash radius for near-duplicate candidates; chosen on the synth corpus's planted near-duplicates (docs/filter.md)
DEDUP_DISTANCE = 6
#: packages per manifest shard (the unit of work and of resume)
SHARD_SIZE = 64
#: ... and at most this many stored bytes of the packages it reads (decided when the run is planned;
#: a worker holds two shards at most, so this bounds its memory; benches/RESULTS.md)
SHARD_SOURCE_BYTES = 32 << 20
#: layout score at or above which (with >= 2 panels) a figure counts as compound on its own (filter/layout_rule.py)
LAYOUT_THRESHOLD = 0.7
#: what the thresholds apply to (filter/caption_evidence.py says why `image` is the default)
DECISIONS = ("image", "image+caption")
DECISION = "image"
EXECUTORS = ("local", "ray")
EXECUTOR = "local"
#: seconds between plain progress lines off a terminal
PROGRESS_INTERVAL = 30.0

# -- captions ----------------------------------------------------------------------------------
LANG_RULES = ("default", "paper")
LANG_RULE = "default"
#: drop a non-English caption above this fastText probability
LANG_THRESHOLD = 0.45
#: fewer letters than this (after removing URLs and LaTeX) is a minimal caption
MIN_LETTERS = 3

# -- concepts ----------------------------------------------------------------------------------
#: keep concepts occurring in more than this many images
MIN_IMAGES = 10
TUIS = DEFAULT_TUIS
PROCESSES = 1

# -- split -------------------------------------------------------------------------------------
RATIOS = (0.75, 0.125, 0.125)
SEED = 0
GROUPINGS = ("article", "none")
GROUP_BY = "article"

# -- export ------------------------------------------------------------------------------------
#: image IDs are <prefix>_<split>_NNNNNN
PREFIX = "ROCOv2_2023"
FORMATS = ("rocov2", "hf")

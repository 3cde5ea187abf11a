"""Caption evidence for the filter: does the caption say *radiology*, does it say *compound*?

API (all vectorised; one call scores a whole shard):

    score_captions(captions) -> (caption_radiology, caption_compound)
        captions: a sequence of str | None (or a polars String Series).
        Returns two float32 arrays in [0, 1], NaN where the caption is missing or blank.
        caption_radiology: P(radiology | caption) from a small logistic model over counts of
            vocabulary groups (weights below, fitted on a development half of the real ROCO
            validation captions with balanced classes, i.e. at equal priors; see
            docs/caption-evidence.md for the measured held-out numbers).
        caption_compound: strength of the caption's panel references ("(A)", "(a–c)",
            "A and B", "left panel", "upper row", "Figure 2B"...), a documented hand-set rule
            (there are no labelled compound captions to fit it on).

    radiology_features(captions) -> np.ndarray (n, len(RADIOLOGY_FEATURES)), float32
    compound_features(captions) -> np.ndarray (n, len(COMPOUND_FEATURES)), float32
        The raw evidence (log1p counts / distinct panel letters) behind the scores.

    combine_radiology(image_score, caption_score, *, caption_weight, image_threshold,
                      caption_veto) -> float32 array
    combine_compound(image_score, caption_score, *, caption_weight, image_threshold)
        -> float32 array
        The `image+caption` decision: a score on the image model's scale, to compare with the
        same threshold as the image score (>= threshold: radiology / compound). Where the
        caption is NaN the image score is returned unchanged; where the image score is NaN
        (image not scored) the result is NaN.

    DECISIONS = ("image", "image+caption"); DEFAULT_DECISION (see its comment).

Regexes run in polars (Rust `regex`, ASCII word boundaries, groups in parallel): 41k-70k
captions/s on a shared 2-core machine (benches/bench_caption_evidence.py measures it).
Measured (docs/caption-evidence.md): caption_radiology on held-out ROCO captions ROC AUC 0.886,
precision 0.986 / recall 0.799 / FPR 0.146 at 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from ..options import DECISION as DEFAULT_DECISION, DECISIONS  # noqa: E402,F401

#: DEFAULT_DECISION `image`: the combined rule has not been measured on real (image, caption) pairs (none are
#: available to this project yet), so the decision that changes nothing stays the default; the
#: caption classifier alone measures ROC AUC 0.886 on held-out ROCO captions (docs/caption-evidence.md).

# --- radiology vocabulary ---------------------------------------------------------------------
# Word-boundary, case-insensitive alternations; `(?-i:...)` marks case-sensitive short forms
# (US, PA, AP) so that "us" and "pa" in running text do not count. The modality words extend
# `concepts/manual.py`'s PATTERNS (suggest-manual's vocabulary).
_W = r"(?i)(?-u:\b)(?:{})(?-u:\b)"
RADIOLOGY_GROUPS: dict[str, str] = {
    # imaging modalities (manual.py's CT, MRI, ultrasound, angiography, PET, X-ray words and more)
    "modality": "|".join([
        r"ct|cect|hrct|mdct|cta|ctpa|nect|computed tomograph\w*|computeri[sz]ed tomograph\w*|tomogra(?:m|ms|phy|phic)",
        r"mri|mr|mra|mrv|mrcp|fmri|magnetic resonance",
        r"x-?rays?|radiograph\w*|roentgenogra\w*|roentgen\w*|plain films?|mammogra\w*|tomosynthesis|dbt|cbct|cone[- ]beam|orthopantomogra\w*|opg",
        r"ultrasound\w*|ultrasonogra\w*|sonogra\w*|echogra\w*|doppler|(?-i:US|USG|CEUS)",
        r"angiogra\w*|arteriogra\w*|venogra\w*|dsa|digital subtraction|cholangiogra\w*|urogra\w*|pyelogra\w*|cystogra\w*|myelogra\w*|hysterosalpingogra\w*|sialogra\w*|fistulogra\w*|lymphogra\w*|esophagogra\w*|barium",
        r"fluoroscop\w*|pet|pet/ct|pet-ct|spect|scintigra\w*|bone scan|radionuclide|nuclear medicine|fdg|tc-?99m?\w*",
        r"cephalogra\w*|cephalometric|panoramic|periapical|bitewing|ercp|eus|kub|ivu|ivp|hsg|cxr|perfusion|tractography|dti",
        # French, Spanish, Portuguese captions (ROCO has some)
        r"tdm|scanner|scannograph\w*|tomodensitom\w*|irm|angio-?irm|angioscanner|radiographie|radiograf[ií]as?|tomograf[ií]as?|resonancia|resson[aâ]ncia|ecograf[ií]as?",
    ]),
    # echocardiography is ultrasound, but ROCO files much of it under non-radiology
    "echo": r"echocardiogra\w*|transthoracic|transo?esophageal|tte|tee|m-mode|2d echo|four[- ]chamber|parasternal|apical|long[- ]axis|short[- ]axis|tissue doppler",
    # MR sequences and contrast
    "sequence": r"t1|t2|t1-?weighted|t2-?weighted|t1wi|t2wi|t1w|t2w|flair|dwi|adc|diffusion[- ]weighted|apparent diffusion|stir|swi|gadolinium|gd|gd-dtpa|contrast[- ]enhanced|post-?contrast|non-?contrast|unenhanced|fat[- ]sat\w*|fat[- ]suppress\w*|arterial phase|venous phase|portal venous|delayed phase",
    # planes, views, projections
    "view": r"axial|coronal|sagittal|transverse (?:section|image|plane|view|scan)|anteroposterior|antero-posterior|posteroanterior|postero-anterior|lateral (?:view|radiograph|projection|film)|oblique (?:view|projection|radiograph)|frontal (?:view|radiograph|projection)|scout|(?-i:AP|PA)|reformat\w*|mip|multiplanar|3d reconstruction|volume render\w*",
    # words of image findings that only imaging uses
    "imaging_finding": r"hypodens\w*|hyperdens\w*|isodens\w*|hypoechoic|hyperechoic|anechoic|isoechoic|echogenic\w*|hyperintens\w*|hypointens\w*|isointens\w*|attenuation|enhanc\w*|opacit\w*|opacification|radiolucen\w*|radio-?opaque|radiopaque|lucen\w*|ground[- ]glass|consolidation|air[- ]fluid|hounsfield|(?-i:HU)|signal intensity|signal void|filling defect|uptake|cardiothoracic ratio|pneumothorax|pleural effusion",
    # anatomy/lesion words (imaging and pathology both use them)
    "lesion": r"lesions?|mass(?:es)?|nodules?|fractures?|effusions?|cysts?|tumou?rs?|abscess\w*|stenosis|occlusion|aneurysms?|dilat\w*|thicken\w*",
    "arrow": r"arrows?|arrowheads?|asterisks?",
    # devices seen on imaging (and in photos of operations)
    "device": r"stents?|catheters?|guide-?wires?|wires?|needles?|coils?|emboli[sz]ation|implants?|prosthes[ie]s|screws?|plates?|drains?|shunts?|pacemakers?|clips?|sheaths?|balloons?|tubes?",
    "anatomy": "|".join([
        r"lungs?|pulmonary|liver|hepatic|kidneys?|renal|spleen|splenic|brain|cerebr\w*|ventric\w*|aort\w*|arter\w*|veins?|venous|bones?|femur|femoral|tibia\w*|spine|spinal|vertebr\w*|pelvi\w*|chest|thora\w*|abdom\w*|skull|sinus\w*",
        r"pancrea\w*|gallbladder|bladder|uter\w*|ovar\w*|prostat\w*|heart|cardiac|joints?|knee|hip|shoulder|ankle|wrist|mediastin\w*|pleura\w*|lobes?|hilar|intracranial|cervical|lumbar|sacr\w*|colon|bowel|intestin\w*|stomach|oesophag\w*|esophag\w*|duoden\w*|trachea\w*|bronch\w*|thyroid|orbit\w*|mandib\w*|maxill\w*|teeth|tooth|sinuses",
    ]),
    # case-report language
    "case": r"year-old|years? old|patients?|man|woman|boy|girl|male|female|postoperative|post-operative|preoperative|follow-up|admission|months? (?:after|later)|days? (?:after|later)|weeks? (?:after|later)",
    "scan": r"scans?|scanning|imaging|images?|views?|slices?|sections?",
}
# negative evidence: other figure kinds PMC is full of
NEGATIVE_GROUPS: dict[str, str] = {
    "microscopy": "|".join([
        r"microscop\w*|micrographs?|photomicrograph\w*|histolog\w*|histopatholog\w*|patholog\w* (?:specimen|section|slide)s?|cytolog\w*",
        r"h\s?&\s?e|h and e|hematoxylin|haematoxylin|eosin|stain\w*|immunohistochem\w*|ihc|immunostain\w*|immunofluorescen\w*|confocal|dapi|gfp",
        r"magnification|magnified|original magnification|scale bars?|bars? =|\d+\s?[μµu]m|×\s?\d+|x\s?\d{2,4}|hpf|cells?|tissues?|biops(?:y|ies)",
    ]),
    "chart": "|".join([
        r"graphs?|plots?|plotted|bar charts?|charts?|histograms?|curves?|kaplan|survival|flow ?charts?|flow diagram|diagrams?|schematic\w*|algorithm|illustration|drawing|cartoon",
        r"western blots?|immunoblot\w*|blots?|gels?|electrophoresis|pcr|rt-pcr|mrna|expression|protein|genes?|sequences? alignment|phylogen\w*|dendrogram",
        r"mean|means|sd|s\.d\.|standard deviation|sem|error bars?|p\s?[<=>]|p-value|significan\w*|correlation|regression|distribution|percentages?|proportion|odds ratio|confidence interval|ci|rates?|incidence|prevalence|model|network|pathway|maps?|questionnaire",
        r"ecg|ekg|electrocardiogra\w*|eeg|electroencephalogra\w*|spectr(?:um|a|al)|axis|trial|cohort|group|groups|versus|vs",
    ]),
    "lab": r"mice|mouse|murine|rats?|animals?|in vitro|in vivo|cultur\w*|samples?|assays?|treated|controls?|wild[- ]type|knockout|strains?|bacteri\w*|plants?|leaves|species|larvae|zebrafish|dogs?|cats?|horses?|pigs?|sheep|cattle|embryos?",
    "photo": "|".join([
        r"photo\w*|clinical (?:picture|image|appearance|photo\w*)|intra-?operative|operative (?:view|field|finding\w*)|gross|macroscop\w*|specimens?|resected",
        r"endoscop\w*|colonoscop\w*|gastroscop\w*|bronchoscop\w*|laparoscop\w*|arthroscop\w*|cystoscop\w*|hysteroscop\w*|otoscop\w*|capsule endoscopy",
        r"fundus|fundoscop\w*|optical coherence|oct|dermoscop\w*|dermatoscop\w*|slit[- ]lamp|fluorescein|indocyanine|retina\w*|cornea\w*",
        r"skin|rash|erythema\w*|ulcer\w*|swelling|face|facial|intraoral|clinical examination|patient's|photograph\w*",
    ]),
}
RADIOLOGY_FEATURES: tuple[str, ...] = (*RADIOLOGY_GROUPS, *NEGATIVE_GROUPS, "words")

# Logistic model over log1p(count) of each group and log1p(number of words); fitted by
# benches/bench_caption_evidence.py --fit (IRLS, L2 1.0, balanced classes) on the development half
# of the ROCO validation captions (ids whose blake2b hash is even); see docs/caption-evidence.md.
RADIOLOGY_INTERCEPT = 0.496
RADIOLOGY_WEIGHTS: dict[str, float] = {
    "modality": 2.607, "echo": 1.488, "sequence": 2.152, "view": 0.763, "imaging_finding": 1.555,
    "lesion": 0.874, "arrow": 1.304, "device": 0.336, "anatomy": 0.983, "case": 0.531, "scan": -0.102,
    "microscopy": -0.656, "chart": -0.489, "lab": -0.355, "photo": -1.134, "words": -0.762,
}

# --- compound vocabulary ----------------------------------------------------------------------
_B = r"(?-u:\b)"  # ASCII word boundary: Rust regex's lazy DFA cannot do Unicode \b on non-ASCII text
_L = r"[A-Ha-h]"
_SEP = r"\s*(?:,|;|&|and|to|–|—|-|−)\s*"
PANEL_PATTERNS: dict[str, str] = {
    # "(A)", "(a, b)", "(A and B)", "(a–c)", "(B,C)"
    "paren": rf"\(\s*{_L}(?:{_SEP}{_L})*\s*\)",
    # sentence-initial labels "A) ...", "A: ...", "A. Axial ..." (next word capitalised)
    "initial": r"(?:^|[.;:]\s+)(?-i:[A-H])(?:\)|:|\.\s+(?-i:[A-Z][A-Za-z]))",
    # "panel A", "panels A and B", "panels a–c"
    "panel_letter": rf"(?i){_B}panels?\s+\(?{_L}{_B}(?:{_SEP}{_L}{_B})*",
}
# the three as one alternation, for one extract_all pass
_PANEL_ANY = "|".join(f"(?:{p})" for p in PANEL_PATTERNS.values())
# left/right panel, upper row, bottom images, "(Left)", "(top)", "insets"
PANEL_WORDS = (rf"(?i){_B}(?:left|right|upper|lower|top|bottom|middle|centre|center)\s+(?:panels?|rows?|columns?|images?|insets?|figures?|pictures?|photographs?){_B}"
               rf"|\((?:left|right|top|bottom|upper|lower)(?: panels?)?\)|{_B}panels{_B}|{_B}insets?{_B}"
               r"|(?:^|[.;]\s+)(?:left|right|top|bottom|upper|lower)\s*:")
FIGURE_PANEL_REF = rf"(?i){_B}fig(?:ure)?s?\.?\s*\d+\s*\(?[A-Ha-h]{_B}"
# a panel label where panel descriptions start: caption start or after . ; : ("(A) Axial CT", "B) ...")
LEAD_LABEL = rf"(?:^|[.;:]\s+)(?:\(\s*{_L}(?:{_SEP}{_L})*\s*\)|(?-i:[A-H])[):])"
# single capital letters outside A–H in parentheses ("(L) liver", "(T) tympanic cavity", "(R)"):
# structures labelled inside one image, which makes "(A) ... (B)" in the same caption likelier labels too
# (I, V, X left out: roman panel numbers)
OTHER_LABEL = r"\((?-i:[J-UWYZ])\)"
COMPOUND_FEATURES = ("letters", "panel_words", "figure_panel_ref", "lead_label", "other_label")

# caption_compound = sigmoid(C0 + C_LETTER * min(letters, 3) + C_WORDS * min(panel_words, 2)
#                            + C_FIGREF * min(figure_panel_ref, 1) + C_LEAD * min(lead_label, 1)
#                            + C_OTHER * min(other_label, 1)), hand-set (no labels to fit on):
#   no evidence 0.05; one panel letter 0.31 (often an in-image label: "(A) venous drainage"), 0.45 when
#   it opens a sentence; two distinct letters 0.80 (0.88 with a lead label, 0.48 next to an "(L)"-style
#   label); three or more 0.97; a panel word alone 0.38 ("Inset shows", "sagittal (right)"), two 0.88; "Figure 2B" alone 0.12 (it may
#   point at another figure).
COMPOUND_INTERCEPT = -3.0
COMPOUND_LETTER = 2.2
COMPOUND_WORDS = 2.5
COMPOUND_FIGREF = 1.0
COMPOUND_LEAD = 0.6
COMPOUND_OTHER = -1.5
#: caption_compound >= this reads as "the caption describes several panels" (two distinct letters)
COMPOUND_CAPTION_THRESHOLD = 0.5


def _series(captions: Sequence[str | None] | pl.Series) -> pl.Series:
    s = captions if isinstance(captions, pl.Series) else pl.Series("caption", list(captions), dtype=pl.String)
    return s.cast(pl.String)


def _missing(s: pl.Series) -> np.ndarray:
    return (s.is_null() | ~s.str.contains(r"\S")).fill_null(True).to_numpy()


def radiology_features(captions: Sequence[str | None] | pl.Series) -> np.ndarray:
    """(n, len(RADIOLOGY_FEATURES)) float32: log1p of each vocabulary group's match count and of
    the number of words. Missing captions give zeros (score_captions masks them to NaN)."""
    s = _series(captions).fill_null("")
    cols = [s.str.count_matches(_W.format(p)) for p in (*RADIOLOGY_GROUPS.values(), *NEGATIVE_GROUPS.values())]
    cols.append(s.str.count_matches(r"\S+"))
    counts = np.stack([c.fill_null(0).to_numpy().astype(np.float32) for c in cols], axis=1)
    return np.log1p(counts)


def compound_features(captions: Sequence[str | None] | pl.Series) -> np.ndarray:
    """(n, 5) float32: distinct panel letters referenced, panel-word count, "Figure 2B" count,
    panel labels in lead position, other single-letter labels (COMPOUND_FEATURES)."""
    s = _series(captions).fill_null("")
    df = pl.DataFrame({"c": s})
    out = df.select(
        letters=pl.col("c").str.extract_all(_PANEL_ANY).list.join(" ").str.extract_all(rf"{_B}[A-Ha-h]{_B}")
        .list.eval(pl.element().str.to_lowercase()).list.n_unique(),
        panel_words=pl.col("c").str.count_matches(PANEL_WORDS),
        figure_panel_ref=pl.col("c").str.count_matches(FIGURE_PANEL_REF),
        lead_label=pl.col("c").str.count_matches(LEAD_LABEL),
        other_label=pl.col("c").str.count_matches(OTHER_LABEL),
    )
    return np.stack([out[c].fill_null(0).to_numpy().astype(np.float32) for c in COMPOUND_FEATURES], axis=1)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def _logit(p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def radiology_from_features(x: np.ndarray, weights: dict[str, float] | None = None, intercept: float | None = None) -> np.ndarray:
    w = np.array([(weights or RADIOLOGY_WEIGHTS)[f] for f in RADIOLOGY_FEATURES], np.float64)
    b = RADIOLOGY_INTERCEPT if intercept is None else intercept
    return _sigmoid(x.astype(np.float64) @ w + b)


def compound_from_features(x: np.ndarray) -> np.ndarray:
    z = (COMPOUND_INTERCEPT + COMPOUND_LETTER * np.minimum(x[:, 0], 3) + COMPOUND_WORDS * np.minimum(x[:, 1], 2)
         + COMPOUND_FIGREF * np.minimum(x[:, 2], 1) + COMPOUND_LEAD * np.minimum(x[:, 3], 1)
         + COMPOUND_OTHER * np.minimum(x[:, 4], 1))
    return _sigmoid(z)


def score_captions(captions: Sequence[str | None] | pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """→ (caption_radiology, caption_compound): float32 in [0, 1], NaN for a missing/blank caption."""
    s = _series(captions)
    if len(s) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    missing = _missing(s)
    radiology = radiology_from_features(radiology_features(s))
    compound = compound_from_features(compound_features(s))
    radiology[missing] = np.nan
    compound[missing] = np.nan
    return radiology, compound


# --- the `image+caption` decision ---------------------------------------------------------------
#: weight of the caption's log-odds next to the image's (1.0: equal say)
RADIOLOGY_CAPTION_WEIGHT = 0.5
#: caption_radiology below this vetoes radiology whatever the image says (caption names a
#: non-radiology kind clearly); measured false-veto rate on held-out ROCO radiology captions in the docs
RADIOLOGY_CAPTION_VETO = 0.02
COMPOUND_CAPTION_WEIGHT = 0.5


def _combine(image_score, caption_score, weight: float, image_threshold: float, caption_centre: float) -> np.ndarray:
    img = np.asarray(image_score, np.float32)
    cap = np.asarray(caption_score, np.float32)
    img, cap = np.broadcast_arrays(img, cap)
    # evidence relative to each side's own decision point, summed, mapped back onto the image's scale
    z = (_logit(img) - _logit(np.float64(image_threshold))) + weight * (_logit(cap) - _logit(np.float64(caption_centre)))
    out = _sigmoid(z + _logit(np.float64(image_threshold)))
    out = np.where(np.isnan(cap), img, out).astype(np.float32)
    return np.where(np.isnan(img), np.float32(np.nan), out).astype(np.float32)


def combine_radiology(image_score, caption_score, *, caption_weight: float = RADIOLOGY_CAPTION_WEIGHT,
                      image_threshold: float = 0.5, caption_veto: float = RADIOLOGY_CAPTION_VETO) -> np.ndarray:
    """The `image+caption` radiology score, on the image model's scale (compare with the same
    `image_threshold`): logit(out) - logit(t) = [logit(image) - logit(t)] + w * logit(caption)
    (the caption model is calibrated at equal priors, so its decision point is 0.5); a caption
    scoring below `caption_veto` forces the score to 0. NaN caption: the image score; NaN image: NaN."""
    out = _combine(image_score, caption_score, caption_weight, image_threshold, 0.5)
    cap = np.broadcast_to(np.asarray(caption_score, np.float32), out.shape)
    veto = ~np.isnan(cap) & (cap < caption_veto) & ~np.isnan(out)
    return np.where(veto, np.float32(0.0), out).astype(np.float32)


def combine_compound(image_score, caption_score, *, caption_weight: float = COMPOUND_CAPTION_WEIGHT,
                     image_threshold: float = 0.5) -> np.ndarray:
    """The `image+caption` compound score, on the image model's scale: the same log-odds sum,
    the caption's decision point being COMPOUND_CAPTION_THRESHOLD. A caption with no panel
    references (0.05) lowers the image's log-odds by w*2.9; two distinct panel letters (0.80)
    raise them by w*1.4. NaN caption: the image score; NaN image: NaN."""
    return _combine(image_score, caption_score, caption_weight, image_threshold, COMPOUND_CAPTION_THRESHOLD)

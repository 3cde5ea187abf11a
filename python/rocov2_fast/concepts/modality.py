"""Modality (and X-ray region / projection) from a caption: a wide vocabulary of the words that
name an imaging modality (procedures, sequences, tracers, views, devices) and a small linear text
classifier over the caption's words, word pairs and those vocabulary hits, with calibrated
probabilities.

The classifiers are multinomial logistic regressions learned from the develop part of ROCOv2's
validation split (`scripts/train_modality.py`; the measure-only part is never seen) and shipped as
`models/concepts/modality.npz`. Inference is numpy only: the sum of the weights of the caption's
features, a softmax with a fitted temperature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .pack import SOURCES

MODEL_PATH = SOURCES / "modality.npz"

MODALITIES = {
    "C0040405": "CT", "C0024485": "MRI", "C0041618": "ultrasound", "C0002978": "angiography",
    "C0032743": "PET", "C1306645": "X-ray",
}
XRAY = "C1306645"
REGIONS = {"C0817096": "chest", "C0000726": "abdomen", "C0030797": "pelvis", "C0037303": "cranium",
           "C0037949": "spine", "C1140618": "upper extremity", "C0023216": "lower extremity", "C0006141": "breast"}
PROJECTIONS = {"C1996865": "PA", "C1999039": "AP", "C0205129": "sagittal"}

# The words that name each manual concept (word-boundary, case-insensitive). Modalities: what
# the image was made with, including the procedures, sequences, tracers, views and devices that
# imply it (fluoroscopy → X-ray, echocardiogram → ultrasound, VIBE → MRI, portography →
# angiography, FDG → PET).
PATTERNS = {
    "C0040405": r"ct|cect|hrct|mdct|msct|cbct|ncct|nect|cta|ctpa|ctu|ccta|ct-?scans?|ct-?angiograph\w*|angio-?ct"
                r"|computed tomograph\w*|computeri[sz]ed tomograph\w*|computed axial tomograph\w*|tomodensitometr\w*"
                r"|cone[- ]beam|multi-?detector|multi-?slice|hounsfield",
    "C0024485": r"mri|mr|mra|mrv|mrcp|mrs|fmri|cmr|mr-?angiograph\w*|magnetic resonance|t1|t2|t1w|t2w|t1wi|t2wi"
                r"|t1-?weighted|t2-?weighted|t2\*|flair|stir|dwi|diffusion[- ]weighted|diffusion tensor|dti|tractograph\w*"
                r"|adc|apparent diffusion|swi|susceptibility[- ]weighted|gradient[- ]echo|gre|spin[- ]echo|tse|fse"
                r"|vibe|haste|fiesta|ssfp|true-?fisp|mp-?rage|space|dixon|proton density|pd-?weighted|pdw|tof"
                r"|time[- ]of[- ]flight|dce|cine|late gadolinium|lge|gadolinium|gd|gd-dtpa|gadoxetic|gadobutrol"
                r"|eovist|primovist|magnetic imaging resonance|fat[- ]sat\w*|fat[- ]suppress\w*|fat-?saturated|inversion recovery|signal intensity"
                r"|hyperintens\w*|hypointens\w*|isointens\w*|enhancement on t1",
    "C0041618": r"ultrasound|ultrasonograph\w*|ultrasonic|sonograph\w*|sonogram|echograph\w*|echogram|doppler"
                r"|echocardiogra\w*|echo|tte|tee|transthoracic|transoesophageal|transesophageal|transvaginal"
                r"|transabdominal|transrectal|transperineal|endosonograph\w*|eus|ivus|intravascular ultrasound|usg"
                r"|b-?mode|m-?mode|colou?r flow|colou?r doppler|power doppler|hypoechoic|hyperechoic|anechoic"
                r"|isoechoic|hypoechogenic|hyperechogenic|echogenic\w*|echogenicity|echotexture|elastograph\w*"
                r"|shear[- ]wave|ceus|parasternal|apical (?:two|three|four|five|2|3|4|5)[- ]chamber|four-chamber"
                r"|subcostal view|long[- ]axis view|short[- ]axis view|probe|transducer|sonoelastograph\w*|poc?us"
                r"|fast exam|speckle tracking|strain imaging|mhz|convex probe|linear probe|b-?lines?|a-?lines?|elastosonograph\w*|(?:2d|3d|two-dimensional|three-dimensional"
                r"|transthoracic|transoesophageal|transesophageal|fetal|stress|doppler) echo|four[- ]chamber view",
    "C0002978": r"angiograph\w*|angiogram\w*|dsa|arteriograph\w*|arteriogram\w*|venograph\w*|venogram\w*"
                r"|phlebograph\w*|portograph\w*|portogram\w*|aortograph\w*|aortogram\w*|cavogra\w*|digital subtraction"
                r"|ventriculogra\w*|cineangiogra\w*|coronarograph\w*|selective (?:catheteri[sz]ation|injection)"
                r"|microcatheter|embolization|embolisation|guide-?wire|guiding catheter|lymphangiogra\w*"
                r"|right anterior oblique|left anterior oblique|rao|lao|cranial view|caudal view|timi",
    "C0032743": r"pet|positron emission|pet-?ct|pet/ct|pet-?mri?|fdg|18f|f-18|18f-fdg|fluorodeoxyglucose|suv|suvmax"
                r"|psma|ga-?68|68ga|dotatate|dotatoc|choline|fluciclovine|florbetapir|florbetaben|amyloid|fdopa"
                r"|fluorine-18|mip|maximum intensity projection of pet|hypermetabol\w*|hypometabol\w*|avid\w*|uptake",
    "C1306645": r"x-?rays?|radiograph\w*|roentgen\w*|röntgen\w*|plain film\w*|plain films?|mammogra\w*|fluoroscop\w*"
                r"|fluorograph\w*|opg|orthopantomogra\w*|panoramic|periapical|bitewing|cephalogram|cephalometric"
                r"|barium|swallow|esophagogra\w*|oesophagogra\w*|urethrogra\w*|cystogra\w*|cystourethrogra\w*"
                r"|hysterosalpingogra\w*|myelogra\w*|tomosynthesis|dbt|kub|cxr|skiagram|sialogra\w*|fistulogra\w*"
                r"|cholangiogra\w*|ercp|pyelogra\w*|urogra\w*|ivu|ivp|dacryocystogra\w*|defecogra\w*|enema"
                r"|follow-through|contrast study|radiolucen\w*|radiopaque|radio-opaque|lucency|craniocaudal"
                r"|mediolateral|mlo|c-?arm|intraoperative image|postoperative film|weight-?bearing|skyline view"
                r"|mortise|waters view|towne|scout|scout film|orthopanto\w*|eos imaging|rx|pancreatograph\w*|portal imag\w*|scanogram|topogram|portable film|bursograph\w*",
}
REGION_PATTERNS = {
    "C0817096": r"chest|thorax|thoracic|lungs?|pulmonary|cardiac silhouette|mediastin\w*|pleura\w*|rib|ribs|cxr"
                r"|clavicle|heart",
    "C0000726": r"abdomen|abdominal|kub|bowel|colon|stomach|gastric|esophag\w*|oesophag\w*|barium|duoden\w*|liver"
                r"|biliary|cholangiogra\w*|ercp|gallbladder|small intestin\w*|follow-through|enema",
    "C0030797": r"pelvis|pelvic|hip|hips|sacroiliac|acetabul\w*|bladder|cystogra\w*|urethra\w*|hysterosalpingogra\w*"
                r"|ureter\w*|pubic|pubis|sacrum|iliac|femoral head|femoral neck|kidneys?|renal",
    "C0037303": r"skull|cranium|cranial|head|sinus\w*|mandib\w*|maxill\w*|teeth|tooth|dental|molar\w*|premolar"
                r"|incisor\w*|canine|opg|orthopantomogra\w*|panoramic|periapical|bitewing|cephalo\w*|jaw|facial"
                r"|orbit\w*|sella|implant\w*|root canal|endodontic|tmj|temporomandibular|zygoma\w*|nasal",
    "C0037949": r"spine|spinal|vertebra\w*|lumbar|cervical|thoracolumbar|lumbosacral|scoliosis|kyphosis|disc|l[1-5]"
                r"|c[1-7]|t1[0-2]|s1|odontoid|dens|atlas|axis|myelogra\w*|pedicle screw\w*|spondyl\w*",
    "C1140618": r"hand|hands|wrist|elbow|shoulder|forearm|humer\w*|finger\w*|thumb|radius|ulna\w*|radial|carpal"
                r"|metacarpal\w*|phalan\w*|scaphoid|clavicle|scapula\w*|glenoid|acromio\w*|olecranon|upper (?:limb|extremity)"
                r"|arm",
    "C0023216": r"knee|knees|ankle|ankles|foot|feet|femur|femoral|tibia\w*|fibula\w*|leg|legs|patell\w*|calcane\w*"
                r"|talus|talar|metatars\w*|toe|toes|hallux|tarsal|tibial plateau|lower (?:limb|extremity)|thigh",
    "C0006141": r"breast|breasts|mammogra\w*|craniocaudal|mediolateral|mlo|tomosynthesis|dbt",
}
PROJECTION_PATTERNS = {
    "C1996865": r"posteroanterior|postero-anterior|pa|p-a|pa view|pa chest|pa radiograph",
    "C1999039": r"anteroposterior|antero-posterior|ap|a-p|ap view|supine",
    "C0205129": r"lateral|sagittal|lat",
}
# The strict rule of the first version (one region / projection named in these words), the
# fallback where the X-ray region / projection classifier is not confident.
RULE_REGION_PATTERNS = {
    "C0817096": r"chest|thorax|thoracic",
    "C0000726": r"abdomen|abdominal",
    "C0030797": r"pelvis|pelvic|hip joint",
    "C0037303": r"skull|cranium|cranial",
    "C0037949": r"spine|spinal|vertebra\w*|lumbar|cervical spine",
    "C1140618": r"hand|wrist|elbow|shoulder|forearm|humer\w*|finger\w*|upper (?:limb|extremity)",
    "C0023216": r"knee|ankle|foot|feet|femur|femoral|tibia\w*|fibula\w*|leg|lower (?:limb|extremity)",
    "C0006141": r"breast|mammogra\w*",
}
RULE_PROJECTION_PATTERNS = {
    "C1996865": r"posteroanterior|postero-anterior",
    "C1999039": r"anteroposterior|antero-posterior",
    "C0205129": r"lateral view|lateral projection|sagittal|lateral radiograph",
}
# Short forms that are ordinary words in lower case: only their upper-case spelling counts.
CASE_SENSITIVE = {"C0041618": r"US|USG|TTE|TEE|EUS|POCUS", "C1996865": r"PA", "C1999039": r"AP",
                  "C0032743": r"PET", "C0024485": r"MR|SPACE|GRE|TSE|FSE|SWI|DWI|ADC"}
# Ordinary words a vocabulary alternative above matches in lower case too, kept out of the
# case-insensitive patterns (they are listed there only for the case-sensitive rule).
LOWER_AMBIGUOUS = {"us", "pa", "ap", "pet", "space", "gre", "echo", "probe", "gd", "lat", "dens", "atlas", "axis",
                   "canine", "mip", "avid", "uptake", "amyloid", "choline"}


def _compile(patterns: dict[str, str]) -> dict[str, re.Pattern]:
    return {cui: re.compile(rf"(?<!\w)(?:{p})(?!\w)", re.IGNORECASE) for cui, p in patterns.items()}


COMPILED = _compile(PATTERNS)
COMPILED_REGIONS = _compile(REGION_PATTERNS)
COMPILED_PROJECTIONS = _compile(PROJECTION_PATTERNS)
RULE_REGIONS = _compile(RULE_REGION_PATTERNS)
RULE_PROJECTIONS = {**_compile(RULE_PROJECTION_PATTERNS)}
RULE_CASE = {"C1996865": re.compile(r"\bPA\b"), "C1999039": re.compile(r"\bAP\b")}
COMPILED_CASE = {cui: re.compile(rf"(?<!\w)(?:{p})(?!\w)") for cui, p in CASE_SENSITIVE.items()}
_WORD = re.compile(r"[a-z0-9]+(?:\*)?")
_CAPS = re.compile(r"\b[A-Z][A-Z0-9]{1,5}\b")


def rule_hits(caption: str, compiled: dict[str, re.Pattern]) -> list[str]:
    """The first version's rule: the concepts of `compiled` the caption names (upper-case PA / AP)."""
    return [c for c, p in compiled.items() if p.search(caption) or (c in RULE_CASE and RULE_CASE[c].search(caption))]


def _strong(match: re.Match) -> bool:
    return match.group(0).lower() not in LOWER_AMBIGUOUS


def vocabulary_hits(caption: str, compiled: dict[str, re.Pattern] = COMPILED, case: bool = True) -> list[str]:
    """The manual concepts whose vocabulary the caption uses (in the order of `compiled`);
    ambiguous lower-case short forms ("us", "pa") count only in upper case."""
    hits = []
    caption = unglue(caption)
    for cui, pattern in compiled.items():
        if any(_strong(m) for m in pattern.finditer(caption)) or (case and cui in COMPILED_CASE and COMPILED_CASE[cui].search(caption)):
            hits.append(cui)
    return hits


_GLUED = re.compile(r"([A-Z]{2,})([A-Z][a-z])|([a-z])([A-Z]{2,}[a-z]?\b)")


def unglue(caption: str) -> str:
    """Split words that lost their space in extraction: "Contrast-enhanced CTThe" → "CT The",
    "breast MRIRight" → "MRI Right", "post-procedure)Contrast" stays."""
    caption = caption.replace("_", " ")
    return _GLUED.sub(lambda m: f"{m.group(1)} {m.group(2)}" if m.group(1) else f"{m.group(3)} {m.group(4)}", caption)


def features(caption: str) -> list[str]:
    """The caption's features: lower-case words and word pairs, upper-case short forms, and
    which vocabulary of each modality / region / projection it uses (and how many modalities)."""
    caption = unglue(caption or "")
    words = _WORD.findall(caption.lower())
    out = {"<bias>"}
    out.update(f"w:{w}" for w in words)
    out.update(f"b:{a}_{b}" for a, b in zip(words, words[1:]))
    out.update(f"c:{w}" for w in _CAPS.findall(caption))
    modalities = vocabulary_hits(caption)
    out.update(f"m:{c}" for c in modalities)
    out.add(f"m#{min(len(modalities), 3)}")
    if len(modalities) == 1:
        out.add(f"m1:{modalities[0]}")
    if modalities:
        out.add(f"mfirst:{_first(caption, modalities)}")
        out.update(f"mstart:{c}" for c in vocabulary_hits(caption[:60]))
        out.update(f"mlast:{c}" for c in vocabulary_hits(caption[-80:]) if len(caption) > 140)
    out.update(f"r:{c}" for c in vocabulary_hits(caption, COMPILED_REGIONS))
    out.update(f"p:{c}" for c in vocabulary_hits(caption, COMPILED_PROJECTIONS))
    return sorted(out)


def _first(caption: str, cuis: list[str]) -> str:
    """The modality named first in the caption (captions tend to start with what the image is)."""
    def position(cui):
        found = [m.start() for m in COMPILED[cui].finditer(caption) if _strong(m)]
        if cui in COMPILED_CASE:
            found += [m.start() for m in COMPILED_CASE[cui].finditer(caption)]
        return min(found) if found else len(caption)
    return min(cuis, key=position)


@dataclass
class LinearModel:
    """Multinomial logistic regression over named features; probabilities are softmax(z / T), T
    fitted separately for captions that use the vocabulary of no, one, several modalities."""
    vocabulary: dict[str, int]
    weights: np.ndarray  # (features, classes)
    labels: list[str]  # class labels; "" means "none"
    temperature: list[float]  # per group: 0, 1, several modalities named
    threshold: list[float]  # per group: the default confidence at which a suggestion is made

    def logits(self, captions: list[str]) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros((len(captions), len(self.labels)), dtype=np.float64)
        groups = np.zeros(len(captions), dtype=np.int64)
        for i, caption in enumerate(captions):
            feats = features(caption)
            groups[i] = next((min(int(f[2:]), 2) for f in feats if f.startswith("m#")), 0)
            idx = [self.vocabulary[f] for f in feats if f in self.vocabulary]
            if idx:
                out[i] = self.weights[idx].sum(axis=0)
        return out, groups

    def proba(self, captions: list[str], with_thresholds: bool = False):
        """Calibrated class probabilities (and, if asked, each caption's default confidence)."""
        z, groups = self.logits(captions)
        z = z / np.asarray(self.temperature)[groups][:, None]
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return (p, np.asarray(self.threshold)[groups]) if with_thresholds else p


def save_models(path: Path, models: dict[str, LinearModel]) -> None:
    arrays = {}
    for name, m in models.items():
        arrays[f"{name}.features"] = np.array(sorted(m.vocabulary, key=m.vocabulary.get))
        arrays[f"{name}.weights"] = m.weights.astype(np.float32)
        arrays[f"{name}.labels"] = np.array(m.labels)
        arrays[f"{name}.calibration"] = np.array([*m.threshold, *m.temperature])
    np.savez_compressed(path, **arrays)


@lru_cache(maxsize=2)
def load_models(path: str | None = None) -> dict[str, LinearModel]:
    path = Path(path) if path else MODEL_PATH
    if not path.exists():
        return {}
    data = np.load(path)
    names = sorted({k.split(".")[0] for k in data.files})
    models = {}
    for name in names:
        feats = data[f"{name}.features"].tolist()
        calibration = data[f"{name}.calibration"].tolist()
        threshold, temperature = calibration[:3], calibration[3:]
        models[name] = LinearModel({f: i for i, f in enumerate(feats)}, data[f"{name}.weights"].astype(np.float64),
                                   data[f"{name}.labels"].tolist(), temperature, threshold)
    return models

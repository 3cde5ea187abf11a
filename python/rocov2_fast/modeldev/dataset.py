"""The training mix and the FIXED real-image test split, deterministic from a seed.

Split: every real source image (a `group`: one chest radiograph, one DICOM image with its frames and
re-encodings, one nibabel volume, one sample photo) goes to exactly one of train / val / test by a
hash of its group name (per source, so each source is on every side). The test split does not
depend on the seed: it is fixed. Renders are generated from separate seed streams per split; a
compound figure is made only of panels of its own split. Train images get augmented variants
(crops, annotations, contrast, grey, re-encoding); val and test images are used as they are
(downscaled to at most 512 px and saved as JPEG, the way figures reach the pipeline).
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import compose, real, render

TEST_FRACTION, VAL_FRACTION = 0.35, 0.15
TEST_SEED = 9001  # the test split's renders: fixed, never a training seed
VAL_SEED = 9002


@dataclass
class Sample:
    name: str
    source: str
    kind: str
    group: str
    split: str
    compound: bool
    radiology: bool | None  # None for compound figures (the radiology model never sees them)
    data: bytes  # the encoded image, as a figure file would hold it
    credit: str = ""
    licence: str = ""


def split_of(groups_by_source: dict[str, list[str]]) -> dict[str, str]:
    """Group → split, by a hash of the group name, per split family (seed-independent: the test split is
    fixed; a family added later does not move another family's groups)."""
    out = {}
    for source, groups in groups_by_source.items():
        ordered = sorted(set(groups), key=lambda g: hashlib.sha1(g.encode()).hexdigest())
        n = len(ordered)
        n_test = math.ceil(n * TEST_FRACTION) if n > 1 else 0
        n_val = int(round(n * VAL_FRACTION)) if n > 4 else 0
        for i, g in enumerate(ordered):
            out[g] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def encode(rng, image: np.ndarray, max_side: int | None = None) -> bytes:
    im = Image.fromarray(image if image.ndim == 3 else image)
    if max_side and max(im.size) > max_side:
        scale = max_side / max(im.size)
        im = im.resize((max(1, int(im.size[0] * scale)), max(1, int(im.size[1] * scale))), Image.LANCZOS)
    out = io.BytesIO()
    if rng is None or rng.random() < 0.7:
        im.convert("RGB" if im.mode not in ("L", "RGB") else im.mode).save(out, "JPEG", quality=88 if rng is None else int(rng.integers(70, 96)))
    else:
        im.save(out, "PNG")
    return out.getvalue()


def augment(rng, image: np.ndarray, radiology: bool) -> np.ndarray:
    """A training variant: crop, journal annotations, contrast, grey, mirror, resize."""
    img = image
    if rng.random() < 0.5:
        img = render.annotate(rng, img)
    elif rng.random() < 0.5:
        h, w = img.shape[:2]
        ch, cw = int(h * rng.uniform(0.7, 1)), int(w * rng.uniform(0.7, 1))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        img = img[y:y + ch, x:x + cw]
    f = img.astype(np.float32)
    if rng.random() < 0.6:
        f = 255 * (f / 255) ** rng.uniform(0.7, 1.4)
        f = (f - 128) * rng.uniform(0.8, 1.25) + 128 + rng.uniform(-20, 20)
    if not radiology and img.ndim == 3 and rng.random() < 0.3:
        f = np.repeat(f.mean(-1, keepdims=True), 3, -1)  # greyscale photos and micrographs: hard negatives
    if rng.random() < 0.5:
        f = f[:, ::-1]
    out = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        scale = rng.uniform(0.4, 1.0)
        h, w = out.shape[:2]
        out = np.asarray(Image.fromarray(out).resize((max(32, int(w * scale)), max(32, int(h * scale))), Image.BILINEAR))
    return np.ascontiguousarray(out)


def render_single(rng) -> tuple[np.ndarray, str]:
    roll = rng.random()
    if roll < 0.45:
        image, kind = render.chart(rng)
        return image, f"chart-{kind}"
    if roll < 0.57:
        return render.flow_diagram(rng), "flow-diagram"
    if roll < 0.67:
        image = render.chemical_structure(rng)
        if image is not None:
            return image, "chemical-structure"
    if roll < 0.77:
        return render.table(rng), "table"
    if roll < 0.85:
        return render.text_block(rng), "text"
    return render.gel(rng), "gel-blot"


@dataclass
class Pools:
    """Per split: real radiology images, real non-radiology images, renders (each with its kind)."""
    radiology: list
    other: list
    renders: list


def _panel(rng, pools: Pools, augmenting: bool):
    roll = rng.random()
    pool = pools.radiology if roll < 0.45 else pools.other if roll < 0.7 else pools.renders
    item = pool[int(rng.integers(len(pool)))]
    image = item[0]
    if augmenting:
        image = augment(rng, image, roll < 0.45)
    return image, item[1]


def make_compound(rng, pools: Pools, augmenting: bool) -> tuple[np.ndarray, str]:
    roll = rng.random()
    if roll < 0.22:
        return render.chart_panels(rng), "chart-panels"
    n = int(rng.choice([2, 2, 2, 3, 3, 4, 4, 4, 5, 6, 6, 8, 9]))
    if roll < 0.6:  # one kind of image across the panels (CT series, several radiographs, micrographs)
        first, kind = _panel(rng, pools, augmenting)
        same = [first]
        src = pools.radiology if any(kind == i[1] for i in pools.radiology) else pools.other if any(kind == i[1] for i in pools.other) else pools.renders
        cands = [i for i in src if i[1] == kind] or src
        for _ in range(n - 1):
            image = cands[int(rng.integers(len(cands)))][0]
            same.append(augment(rng, image, True) if augmenting else image)
        panels, what = same, f"same-kind ({kind})"
    else:
        drawn = [_panel(rng, pools, augmenting) for _ in range(n)]
        panels, what = [d[0] for d in drawn], "mixed"
    image, layout = compose.compound(rng, panels)
    return image, f"{layout}, {what}"


# augmented variants per real train image, by split family (few source images: more variants)
VARIANTS = {"chest-xray": 3, "dicom": 8, "nibabel": 4, "matplotlib": 12, "scikit-image": 20, "dicom-codecs": 8, "dipy": 4,
            "nilearn": 4, "nibabel-dicom": 8, "pywavelets": 20, "scikit-learn": 20, "sunpy": 8, "astropy": 20,
            "deid-data": 8, "mahotas": 20, "ct-volumes": 4, "stardist": 20, "skan": 12, "dicompyler": 8}


def build(seed: int = 0, *, train_variants: float = 1.0, renders_train: int = 500, compounds_train: int = 1500,
          renders_eval: int = 120, compounds_eval: int = 160, extra_eval: int = 40, families: tuple[str, ...] | None = None,
          windows: bool = False, log=print) -> list[Sample]:
    """Every sample of the mix. Train samples depend on `seed`; val and test do not. `families` keeps only
    those real split families (`real.FIRST_ROUND`: what the stage-2 networks were fine-tuned on).
    `windows`: train CT slices also in the other windows of `real.CT_WINDOWS` (tried in the third round: it
    lowered the cross-validated AUC, models/README.md)."""
    images = real.all_real_images(families)
    by_source: dict[str, list[str]] = {}
    for im in images:
        by_source.setdefault(im.family, []).append(im.group)
    splits = split_of(by_source)
    samples: list[Sample] = []
    pools = {s: Pools([], [], []) for s in ("train", "val", "test")}
    # val / test compound figures: the first round's are composed from first-round panels only (so they
    # stay the same figures); `extra_eval` more per split come from every family's panels
    # (the third and fourth rounds' families join no val / test compound figure: those stay the second round's)
    first = {s: Pools([], [], []) for s in ("train", "val", "test")}
    earlier = {s: Pools([], [], []) for s in ("train", "val", "test")}
    for k, im in enumerate(images):
        split = splits[im.group]
        targets = [pools[split]] + ([earlier[split]] if im.family not in real.THIRD_ROUND + real.FOURTH_ROUND else [])
        targets += [first[split]] if im.family in real.FIRST_ROUND else []
        for pool in targets:
            (pool.radiology if im.radiology else pool.other).append((im.image, im.kind))
        rng = np.random.default_rng([seed if split == "train" else 0, k])
        common = dict(source=im.source, kind=im.kind, group=im.group, split=split, compound=False, radiology=im.radiology,
                      credit=im.credit, licence=im.licence)
        if split != "train":
            samples.append(Sample(im.name, data=encode(None, im.image, 512), **common))
            continue
        samples.append(Sample(im.name, data=encode(rng, im.image, int(rng.integers(400, 1400))), **common))
        for v in range(int(round(VARIANTS.get(im.family, 2) * train_variants))):
            samples.append(Sample(f"{im.name}~{v}", data=encode(rng, augment(rng, im.image, im.radiology), int(rng.integers(300, 1200))), **common))
        # a CT slice in other windows (lung, bone, brain, abdomen), each with its own variants; its own rng
        # stream, so the other samples stay as they were
        wrng = np.random.default_rng([seed, k, 7])
        for j, alt in enumerate(im.alternates if windows else []):
            for v in range(int(round(2 * train_variants))):
                image = alt if v == 0 else augment(wrng, alt, im.radiology)
                samples.append(Sample(f"{im.name}~w{j}.{v}", data=encode(wrng, image, int(wrng.integers(300, 1200))), **common))
    log(f"real: {sum(1 for s in samples if s.split == 'train')} train, {sum(1 for s in samples if s.split != 'train')} val/test samples")
    for split, n_renders, n_compounds, stream in (("train", renders_train, compounds_train, seed),
                                                   ("val", renders_eval // 2, compounds_eval // 2, VAL_SEED),
                                                   ("test", renders_eval, compounds_eval, TEST_SEED)):
        rng = np.random.default_rng([stream, 1])
        for i in range(n_renders):
            image, kind = render_single(rng)
            for p in (pools[split], first[split], earlier[split]):
                p.renders.append((image, kind))
            max_side = int(rng.integers(400, 1400)) if split == "train" else 512
            if split == "train" and rng.random() < 0.3:
                image = render.annotate(rng, image) if kind == "gel-blot" else image
            samples.append(Sample(f"render-{split}-{i}", "render", kind, f"render/{split}/{i}", split, False, False,
                                  encode(rng if split == "train" else None, image, max_side), "rendered by rocov2_fast.modeldev", "generated"))
        log(f"{split}: {n_renders} renders")
        rng = np.random.default_rng([stream, 2])
        newer = split != "train" and len(earlier[split].radiology) + len(earlier[split].other) > len(first[split].radiology) + len(first[split].other)
        extra = (extra_eval if split == "test" else extra_eval // 2) if newer else 0
        for i in range(n_compounds + extra):
            if i == n_compounds:
                rng = np.random.default_rng([stream, 3])
            pool = pools[split] if split == "train" else first[split] if i < n_compounds else earlier[split]
            image, kind = make_compound(rng, pool, split == "train")
            max_side = int(rng.integers(600, 1600)) if split == "train" else 768
            samples.append(Sample(f"compound-{split}-{i}", "compound", kind, f"compound/{split}/{i}", split, True, None,
                                  encode(rng if split == "train" else None, image, max_side),
                                  "composed by rocov2_fast.modeldev from the split's own panels", "as its panels"))
        log(f"{split}: {n_compounds + extra} compound figures")
    # the third round's val / test images after the earlier ones and the fourth round's last, so the earlier
    # fixture files keep their names
    later = {im.group: 1 + (im.family in real.FOURTH_ROUND) for im in images if im.family in real.THIRD_ROUND + real.FOURTH_ROUND}
    return sorted(samples, key=lambda s: later.get(s.group, 0) if s.split != "train" else 0)


# ---------------------------------------------------------------- metrics
def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    if len(pos) == 0 or len(neg) == 0:
        return None
    scores = np.concatenate([pos, neg])
    ranks = np.empty(len(scores))
    order = np.argsort(scores, kind="mergesort")
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # ties share their mean rank
        tie = scores == value
        ranks[tie] = ranks[tie].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def choose_threshold(prob: np.ndarray, labels: np.ndarray, *, min_recall: float | None = None, max_fpr: float | None = None) -> float:
    """The highest threshold keeping recall ≥ min_recall, or the lowest keeping FPR ≤ max_fpr."""
    pos, neg = np.sort(prob[labels == 1]), np.sort(prob[labels == 0])
    if min_recall is not None:
        k = int(math.floor(len(pos) * (1 - min_recall)))
        return float(max(min(pos[k] - 1e-6, 0.99), 0.01)) if len(pos) else 0.5
    allowed = int(math.floor(len(neg) * max_fpr))
    t = neg[len(neg) - allowed - 1] + 1e-6 if len(neg) > allowed else 0.0
    return float(min(max(t, 0.01), 0.99))


def report(rows: list[dict], prob: np.ndarray, threshold: float, positive: str) -> dict:
    """Per (source, kind) and per source: n, recall (positives) or FPR (negatives), AUC of that group
    against every sample of the other class. `rows` carry `source`, `kind`, `label`."""
    labels = np.array([r["label"] for r in rows])
    pred = prob >= threshold
    out = {"threshold": round(threshold, 4), "positive": positive, "overall": {}, "by_source": {}, "by_kind": {}}

    def block(mask):
        lab = labels[mask]
        entry = {"n": int(mask.sum())}
        if lab.all():
            entry["recall"] = round(float(pred[mask].mean()), 4)
            entry["auc_vs_all_negatives"] = _r(roc_auc(prob[mask], prob[labels == 0]))
        elif not lab.any():
            entry["fpr"] = round(float(pred[mask].mean()), 4)
            entry["auc_vs_all_positives"] = _r(roc_auc(prob[labels == 1], prob[mask]))
        else:
            entry["recall"] = round(float(pred[mask & (labels == 1)].mean()), 4)
            entry["fpr"] = round(float(pred[mask & (labels == 0)].mean()), 4)
            entry["auc"] = _r(roc_auc(prob[mask & (labels == 1)], prob[mask & (labels == 0)]))
        return entry

    out["overall"] = block(np.ones(len(rows), bool))
    for key, field in (("by_source", "source"), ("by_kind", "kind")):
        for value in sorted({(r["label"], r[field]) for r in rows}, key=lambda x: (-x[0], x[1])):
            mask = np.array([(r["label"], r[field]) == value for r in rows])
            out[key][f"{'+' if value[0] else '−'} {value[1]}"] = block(mask)
    return out


def _r(x):
    return None if x is None else round(x, 4)

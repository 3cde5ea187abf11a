"""The torch-free parts of `train-filter`: how training data is read and split (torch itself is an
optional extra; the shipped models in models/ were trained by scripts/train_default_models.sh)."""

from __future__ import annotations

import numpy as np
import pytest

from rocov2_fast.modeldev.train import load_folder, load_truth_csv, split
from helpers import jpeg_bytes


def test_truth_csv_gives_model_sized_pixels_and_labels(tiny_corpus):
    compound = load_truth_csv(tiny_corpus / "truth.csv", "compound", 64)
    radiology = load_truth_csv(tiny_corpus / "truth.csv", "radiology", 64)
    assert compound.pixels.shape[1:] == (64, 64, 3) and compound.pixels.dtype == np.uint8
    assert set(compound.labels) == {0, 1}
    assert len(radiology.labels) == int((compound.labels == 0).sum()), "radiology sees only non-compound figures"


def test_folder_of_class_subfolders(tmp_path):
    for name, n in (("radiology", 3), ("non-radiology", 2)):
        (tmp_path / name).mkdir()
        for i in range(n):
            (tmp_path / name / f"{i}.jpg").write_bytes(jpeg_bytes((300, 200), seed=i))
    (tmp_path / "radiology" / "notes.txt").write_text("not an image")
    data = load_folder(tmp_path, "radiology", 32)
    assert data.pixels.shape == (5, 32, 32, 3) and data.labels.tolist() == [1, 1, 1, 0, 0]


def test_split_is_stratified_disjoint_and_seeded():
    labels = np.array([0] * 80 + [1] * 20)
    train, test = split(len(labels), labels, seed=3)
    assert set(train).isdisjoint(test) and len(train) + len(test) == 100
    assert (labels[test] == 1).sum() == 4 and (labels[test] == 0).sum() == 16
    assert np.array_equal(split(len(labels), labels, seed=3)[1], test)


# ---------------------------------------------------------------- the model-development mix (rocov2_fast.modeldev)
def test_real_split_by_source_image_is_disjoint_fixed_and_covers_each_source():
    from rocov2_fast.modeldev.dataset import split_of

    groups = {"chest-xray": [f"chest-xray/{i}.jpg" for i in range(112)], "skimage": [f"skimage/{i}.png" for i in range(22)]}
    a = split_of(groups)
    assert a == split_of({k: v[::-1] for k, v in groups.items()})  # no seed, no order: a fixed split
    for names in groups.values():
        sides = [a[g] for g in names]
        assert {"train", "val", "test"} == set(sides)
        assert 0.3 <= sides.count("test") / len(sides) <= 0.4


def test_window_uses_voi_else_percentiles():
    from rocov2_fast.modeldev.real import window

    ramp = np.tile(np.arange(0, 4000, 4, dtype=np.uint16), (8, 1))

    class Ds(dict):
        __getattr__ = dict.__getitem__

    voi = window(ramp, Ds(WindowCenter=1000, WindowWidth=1000, Modality="MR"))
    assert voi[0, 0] == 0 and voi[0, -1] == 255 and voi[0, 125] == 0 and voi[0, 376] == 255  # 500..1500 mapped
    auto = window(ramp)
    assert auto.min() == 0 and auto.max() == 255 and 100 < auto[0, 500] < 160


def test_dicom_rendering_handles_multiframe_and_modalities():
    pytest = __import__("pytest")
    pytest.importorskip("pydicom")
    from rocov2_fast.modeldev.real import dicom_images

    images = dicom_images()
    if not images:
        pytest.skip("no decodable DICOM test files")
    assert all(i.image.dtype == np.uint8 and min(i.image.shape[:2]) >= 48 for i in images)
    assert len({i.group for i in images}) < len(images) or len(images) < 3  # frames share their file's group
    assert {"ct", "mri"} <= {i.kind for i in images}


def test_compound_composer_and_renders():
    from rocov2_fast.modeldev import compose, render
    from rocov2_fast.modeldev.dataset import choose_threshold, roc_auc

    rng = np.random.default_rng(0)
    chart, kind = render.chart(rng, "kaplan-meier")
    assert chart.dtype == np.uint8 and chart.ndim == 3 and kind == "kaplan-meier"
    assert (chart < 128).mean() > 0.005  # something was drawn
    panels = [np.full((100, 120), 40 * i, np.uint8) for i in range(1, 5)]
    figure, layout = compose.compound(rng, panels)
    assert figure.shape[0] >= 250 and figure.ndim == 3 and layout in ("grid", "mosaic", "inset")
    assert roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.85])) == 0.75
    prob, labels = np.linspace(0, 1, 100), (np.arange(100) >= 50).astype(int)
    t = choose_threshold(prob, labels, max_fpr=0.0)
    assert ((prob >= t) & (labels == 0)).sum() == 0
    t = choose_threshold(prob, labels, min_recall=1.0)
    assert ((prob >= t) & (labels == 1)).sum() == 50


def test_layout_features_see_gutters_and_repetition():
    """The stage-3 head's in-graph layout features (rocov2_fast.modeldev.head): a 2×2 grid of one noisy
    panel with white gutters has uniform inner rows and columns and repeats itself; one noisy image has
    neither."""
    torch = pytest.importorskip("torch")
    from rocov2_fast.modeldev.head import handcrafted

    rng = np.random.default_rng(0)
    panel = rng.uniform(0.2, 0.6, (60, 60))
    grid = np.ones((128, 128))
    for y in (2, 66):
        for x in (2, 66):
            grid[y:y + 60, x:x + 60] = panel
    single = rng.uniform(0.2, 0.6, (128, 128))
    g = torch.tensor(np.stack([grid, single]), dtype=torch.float32)
    f = handcrafted(g[:, None].repeat(1, 3, 1, 1), g).numpy()
    assert f.shape[0] == 2 and np.isfinite(f).all()
    uniform_rows, white_rows = f[:, 10], f[:, 12]  # share of uniform inner rows; of uniform white ones
    assert uniform_rows[0] > 0 and uniform_rows[1] == 0 and white_rows[0] > 0
    repetition = f[:, 34]  # correlation of the left and right halves (rows axis, k = 2)
    assert repetition[0] > 0.9 > 0.2 > abs(repetition[1])


def test_a_new_split_family_leaves_the_others_alone():
    """Second round: sources added later are split families of their own, so the first round's test split
    (and what the frozen stage-2 networks were fine-tuned on) does not move."""
    from rocov2_fast.modeldev.dataset import split_of

    first = {"chest-xray": [f"chest-xray/{i}.jpg" for i in range(112)], "dicom": [f"dicom/{i}" for i in range(23)]}
    more = dict(first, sunpy=[f"sunpy/{i}" for i in range(8)], dipy=[f"dipy/{i}" for i in range(4)])
    a, b = split_of(first), split_of(more)
    assert all(b[g] == side for g, side in a.items())
    assert {b[f"sunpy/{i}"] for i in range(8)} == {"train", "val", "test"}


def test_second_round_sources_are_real_labelled_and_credited():
    """The real images the registry packages ship (each source optional: a missing package gives none)."""
    pytest.importorskip("nibabel")
    from rocov2_fast.modeldev import real

    images = real.dipy_images() + real.nilearn_images() + real.photo_images() + real.astronomy_images()
    if not images:
        pytest.skip("none of dipy, nilearn, PyWavelets, scikit-learn, sunpy, astropy is installed")
    for im in images:
        assert im.image.dtype == np.uint8 and min(im.image.shape[:2]) >= 40 and im.credit and im.licence, im.name
        assert im.radiology == (im.kind == "mri"), im.name  # MR volumes in; photos and the sun out
        assert im.image.std() > 10, im.name  # windowed / stretched to a visible picture, not flat
    by_group = {}
    for im in images:
        by_group.setdefault(im.group, set()).add(im.source)
    assert all(len(s) == 1 for s in by_group.values())  # a group never spans two sources


def test_third_round_sources_are_real_labelled_and_credited():
    """deid-data (radiograph, ultrasound, echocardiogram; cookie photos) and mahotas (photos, a micrograph):
    labelled by what they show, credited, and deid-data's line drawings named `ctbrain` are not taken for CT."""
    pytest.importorskip("pydicom")
    from rocov2_fast.modeldev import real

    images = real.deid_images() + real.mahotas_images()
    if not images:
        pytest.skip("neither deid-data nor mahotas is installed")
    for im in images:
        assert im.image.dtype == np.uint8 and min(im.image.shape[:2]) >= 48 and im.credit and im.licence, im.name
        assert im.radiology == (im.kind in ("x-ray", "ultrasound")), im.name
        assert im.image.std() > 10, im.name
        assert "ctbrain" not in im.name and "lena" not in im.name
    kinds = {im.kind for im in images}
    if real.deid_images():
        assert {"x-ray", "ultrasound", "photo"} <= kinds
        assert len([im for im in images if im.group == "deid-data/dicom-cookies"]) == 2  # one scene: two of its shots
    assert set(real.THIRD_ROUND) >= {im.source for im in images}


def test_ct_windows_render_the_journal_windows_in_hounsfield_units():
    """A CT slice's other windows (real.CT_WINDOWS: lung, bone, brain, abdomen) map stored values through the
    file's rescale to HU; a window that leaves the slice black or white is skipped."""
    from rocov2_fast.modeldev.real import CT_WINDOWS, ct_windows

    class Ds(dict):
        __getattr__ = dict.__getitem__

    stored = np.tile(np.arange(824, 1624, dtype=np.uint16), (64, 1))  # HU -200..599 after the rescale
    images = ct_windows(stored, Ds(RescaleSlope=1, RescaleIntercept=-1024))
    assert len(images) == len(CT_WINDOWS) and all(i.dtype == np.uint8 and i.shape == stored.shape for i in images)
    lung, bone, brain, _ = images
    hu = stored[0].astype(int) - 1024
    assert lung[0, hu == 0][0] in range(225, 235)  # 0 HU in the lung window (-1350..150): light grey
    assert bone[0, hu == 400][0] in range(120, 136)  # the bone window's centre
    assert brain[0, hu < 0].max() == 0 and brain[0, hu > 80].min() == 255  # 40 +- 40 HU
    flat = np.full((64, 64), 3000, np.uint16)  # all bone: only the bone window shows anything, and not much
    assert len(ct_windows(flat, Ds(RescaleSlope=1, RescaleIntercept=-1024))) == 0


def test_mlp_head_learns_a_nonlinear_rule_and_scores_like_the_linear_one():
    """`head --mlp` (tried in the third round, models/README.md): the MLP head fits what a linear head cannot
    (an XOR of two features) and `apply_head` scores both kinds of head."""
    pytest.importorskip("torch")
    from rocov2_fast.modeldev.head import apply_head, fit_head, fit_mlp

    rng = np.random.default_rng(0)
    f = rng.normal(size=(600, 4))
    y = ((f[:, 0] > 0) ^ (f[:, 1] > 0)).astype(int)
    w = np.ones(len(y))
    mlp = apply_head(f, *fit_mlp(f, y, w, hidden=16, epochs=150, dropout=0.0))
    linear = apply_head(f, *fit_head(f, y, w, l2=0.001))
    assert mlp.shape == linear.shape == (600,) and ((mlp >= 0) & (mlp <= 1)).all()
    assert ((mlp >= 0.5) == y).mean() > 0.9 > 0.7 > ((linear >= 0.5) == y).mean()


def test_nrrd_reader_and_ct_plane_rendering(tmp_path):
    """archives.read_nrrd reads a gzip NRRD volume (x, y, z order, spacing from 'space directions');
    real._plane_image windows HU and makes the pixels square (5 mm slices stretched against 0.5 mm pixels)."""
    import gzip

    from rocov2_fast.modeldev.archives import read_nrrd
    from rocov2_fast.modeldev.real import _plane_image

    volume = np.arange(4 * 3 * 2, dtype="<i2").reshape(2, 3, 4)  # z, y, x in memory: x fastest
    header = ("NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nspace directions: (0.5,0,0) (0,0.5,0) (0,0,5)\n"
              "endian: little\nencoding: gzip\n\n")
    (tmp_path / "v.nrrd").write_bytes(header.encode() + gzip.compress(volume.tobytes()))
    got, spacing = read_nrrd(tmp_path / "v.nrrd")
    assert got.shape == (4, 3, 2) and spacing == [0.5, 0.5, 5.0]
    assert got[3, 2, 1] == volume[1, 2, 3]  # (x, y, z) indexing
    plane = np.tile(np.linspace(-1000, 1000, 64), (8, 1))  # 8 rows of 5 mm, 64 columns of 0.5 mm: 40 × 32 mm
    img = _plane_image(plane, (5.0, 0.5), 40.0, 400.0, min_side=100)
    assert img.dtype == np.uint8 and img.shape == (125, 100)  # square pixels: 40 mm tall, 32 mm wide, narrow side 100
    assert img[:, 0].max() == 0 and img[:, -1].min() == 255  # -1000 HU black, +1000 white in a soft-tissue window


def test_fourth_round_sources_are_real_ct_and_micrographs():
    """The CT volumes of TotalSegmentator's and pyradiomics' source distributions, StarDist's and skan's micrographs
    (archives.py; skipped where `python -m rocov2_fast.modeldev.archives` has not fetched them)."""
    from rocov2_fast.modeldev import archives, real

    if not all(archives.member(a, m) for a, (_, _, members) in archives.ARCHIVES.items() for m in members):
        pytest.skip("the package archives are not fetched (python -m rocov2_fast.modeldev.archives)")
    ct, micro = real.ct_volume_images(), real.stardist_images() + real.skan_images()
    assert {im.group for im in ct} == {g for _, _, g, *_ in real.CT_VOLUMES}  # every volume, one group each
    for im in ct + micro:
        assert im.image.dtype == np.uint8 and min(im.image.shape[:2]) >= 300 or im in micro, im.name
        assert im.image.std() > 10 and im.credit and im.licence, im.name
    assert all(im.kind == "ct" and im.radiology and im.family == "ct-volumes" for im in ct)
    slice_ = real.dicompyler_images()  # one real planning-CT slice: a single group, so train only
    assert [(im.kind, im.radiology, im.family) for im in slice_] == [("ct", True, "dicompyler")] and slice_[0].image.std() > 10
    assert {im.name.split(",")[-1].rstrip("]") for im in ct} == {"soft tissue", "mediastinum", "lung", "brain"}
    assert [im.kind for im in micro] == ["microscopy"] * 7 and not any(im.radiology for im in micro)
    assert len({im.group for im in micro if im.source == "skan"}) == 3  # two fields of one sample share a source
    # lung window: the lungs dark grey, soft tissue near white (-600 / 1500 HU)
    lung = next(im for im in ct if im.name.endswith("lung]"))
    assert np.percentile(lung.image, 95) > 200

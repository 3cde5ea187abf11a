"""The torch-free parts of `train-filter`: how training data is read and split (torch itself is an
optional extra; the shipped models in models/ were trained by scripts/train_default_models.sh)."""

from __future__ import annotations

import numpy as np

from rocov2_fast.filter.train import load_folder, load_truth_csv, split
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

#!/usr/bin/env bash
# Reproduces models/compound.onnx and models/radiology.onnx from seeds, in three stages:
#  1. synthetic: a synthetic corpus (seed 1000) and `rocov2-fast train-filter` for each model (seed 0);
#  2. real fine-tuning: `python -m rocov2_fast.modeldev` fine-tunes both on the FIRST round's real images
#     (real.FIRST_ROUND: chest radiographs, pydicom(-data), nibabel, scikit-image, matplotlib; train split
#     of source images, augmented), journal-style renders and compound figures built from them (seed 0,
#     4 epochs, BatchNorm frozen). Slow on a CPU; STAGE2_MODELS may name a folder that already holds the
#     stage-2 networks: any models of this pipeline will do, also the shipped models/*.onnx, whose
#     frozen backbone *is* the stage-2 network (modeldev/train.py from_onnx reads it out of the head);
#  3. head: `python -m rocov2_fast.modeldev.head` keeps each stage-2 network frozen as a feature
#     extractor, adds layout features (gutters, straight edges, repetition, intensity, colour) and fits a
#     logistic head on a twice-as-large mix (seed 0) + the stage-1 synthetic corpus; chooses the L2
#     strength by val AUC and the threshold on the val split. radiology: the second round's mix
#     (--families second-round: + dipy, nilearn, more DICOM, PyWavelets, scikit-learn, sunpy, astropy; a head
#     refitted on the third round's mix, --families all: + deid-data, mahotas, CT slices in lung / bone /
#     brain / abdomen windows, tied on val and cross-validation and was not shipped; models/README.md).
#     compound: the first round's mix (a head refitted on the second round's mix measured a lower val ROC
#     AUC, 0.886-0.890 vs 0.905 on the same val split; models/README.md);
#     then the FIXED test split of every family, with provenance, to tests/fixtures/real_images_test/
#     (seed-independent; --fixtures-only builds no training samples). The fourth round's families (CT volumes
#     of TotalSegmentator's and pyradiomics' source distributions, StarDist's and skan's micrographs) come from pinned
#     PyPI sdists that `python -m rocov2_fast.modeldev.archives` fetches first (sha256-checked; into
#     $ROCOV2_PACKAGE_ARCHIVES, default /tmp/rocov2-fast-package-archives); a head refitted with them
#     (--families all) was better on val but worse on cross-validation and was not shipped (models/README.md);
#  4. measure: `python -m rocov2_fast.modeldev.measure` scores both ONNX files on the fixture as the
#     filter runs them and writes the test numbers into models/real_test_report.json and the ONNX metadata.
# Needs the train extra (.venv/bin/pip install -e '.[train]'), apt `graphviz` for graphviz flow diagrams
# (else matplotlib draws them), and ../shared/data/real-figures (the CC BY chest radiographs).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${TRAIN_CORPUS:-/tmp/rocov2-fast-train-corpus}
stage1=${STAGE1_MODELS:-/tmp/rocov2-fast-synthetic-models}
stage2=${STAGE2_MODELS:-/tmp/rocov2-fast-real-finetuned-models}
cache=${HEAD_CACHE:-/tmp/rocov2-fast-head-cache}
mkdir -p "$stage1" "$stage2"
[ -f "$corpus/truth.csv" ] || .venv/bin/rocov2-fast synth "$corpus" --articles 300 --seed 1000 --profile tiny
for kind in compound radiology; do
  [ -f "$stage1/$kind.onnx" ] || .venv/bin/rocov2-fast train-filter --kind "$kind" --data "$corpus/truth.csv" \
    --out "$stage1/$kind.onnx" --size 128 --epochs 8 --seed 0 | tee "models/$kind.synthetic.train.log"
done
[ -f "$stage2/radiology.onnx" ] || .venv/bin/python -m rocov2_fast.modeldev --seed 0 --init "$stage1" --out "$stage2" \
  --epochs 4 | tee models/real.train.log
.venv/bin/python -m rocov2_fast.modeldev.archives
.venv/bin/python -m rocov2_fast.modeldev.head --seed 0 --init "$stage2" --out models --synthetic "$corpus/truth.csv" \
  --scale 2 --cache "$cache" --kinds compound --families first-round | tee models/head.train.log
.venv/bin/python -m rocov2_fast.modeldev.head --seed 0 --init "$stage2" --out models --synthetic "$corpus/truth.csv" \
  --scale 2 --cache "$cache" --kinds radiology --families second-round | tee models/head.radiology.train.log
.venv/bin/python -m rocov2_fast.modeldev.head --fixtures tests/fixtures/real_images_test --fixtures-only
.venv/bin/python -m rocov2_fast.modeldev.measure --models models --fixtures tests/fixtures/real_images_test

# The older anecdote table (matplotlib's sample data).
.venv/bin/python -m rocov2_fast.modeldev.real_images models/compound.onnx models/radiology.onnx

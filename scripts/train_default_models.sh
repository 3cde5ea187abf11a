#!/usr/bin/env bash
# Reproduces models/compound.onnx and models/radiology.onnx from seeds, in three stages:
#  1. synthetic: a synthetic corpus (seed 1000) and `rocov2-fast train-filter` for each model (seed 0);
#  2. real fine-tuning: `python -m rocov2_fast.modeldev` fine-tunes both on real images (train split of
#     source images, augmented), journal-style renders and compound figures built from them (seed 0,
#     4 epochs, BatchNorm frozen), and writes the FIXED test split with provenance to
#     tests/fixtures/real_images_test/ (the split does not depend on the seed);
#  3. head: `python -m rocov2_fast.modeldev.head` keeps each stage-2 network frozen as a feature
#     extractor, adds layout features (gutters, straight edges, repetition, intensity, colour) and fits a
#     logistic head on a twice-as-large mix (seed 0) + the stage-1 synthetic corpus; chooses the L2
#     strength by val AUC and the threshold on the val split; measures on the fixed test split; writes
#     models/*.onnx and models/real_test_report.json.
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
  --fixtures tests/fixtures/real_images_test --epochs 4 | tee models/real.train.log
.venv/bin/python -m rocov2_fast.modeldev.head --seed 0 --init "$stage2" --out models --synthetic "$corpus/truth.csv" \
  --scale 2 --cache "$cache" | tee models/head.train.log

# The older anecdote table (matplotlib's sample data).
.venv/bin/python -m rocov2_fast.filter.real_images models/compound.onnx models/radiology.onnx

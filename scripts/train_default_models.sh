#!/usr/bin/env bash
# Reproduces models/compound.onnx and models/radiology.onnx from seeds, in two stages:
#  1. synthetic: a synthetic corpus (seed 1000) and `rocov2-fast train-filter` for each model (seed 0);
#  2. real: `python -m rocov2_fast.modeldev` fine-tunes both on real images (train split of source images,
#     augmented), journal-style renders and compound figures built from them (seed 0), chooses each
#     threshold on the val split, measures on the FIXED test split, writes models/real_test_report.json and
#     the test split with provenance to tests/fixtures/real_images_test/.
# Needs the train extra (.venv/bin/pip install -e '.[train]'), apt `graphviz` for graphviz flow diagrams
# (else matplotlib draws them), and ../shared/data/real-figures (the CC BY chest radiographs).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${TRAIN_CORPUS:-/tmp/rocov2-fast-train-corpus}
stage1=${STAGE1_MODELS:-/tmp/rocov2-fast-synthetic-models}
mkdir -p "$stage1"
[ -f "$corpus/truth.csv" ] || .venv/bin/rocov2-fast synth "$corpus" --articles 300 --seed 1000 --profile tiny
for kind in compound radiology; do
  [ -f "$stage1/$kind.onnx" ] || .venv/bin/rocov2-fast train-filter --kind "$kind" --data "$corpus/truth.csv" \
    --out "$stage1/$kind.onnx" --size 128 --epochs 8 --seed 0 | tee "models/$kind.synthetic.train.log"
done
.venv/bin/python -m rocov2_fast.modeldev --seed 0 --init "$stage1" --out models \
  --fixtures tests/fixtures/real_images_test --epochs 4 | tee models/real.train.log

# The older anecdote table (matplotlib's sample data).
.venv/bin/python -m rocov2_fast.filter.real_images models/compound.onnx models/radiology.onnx

#!/usr/bin/env bash
# Reproduces models/compound.onnx and models/radiology.onnx from a seed: a synthetic training
# corpus (a different seed from any test corpus), then `rocov2-fast train-filter` for each model.
# Needs the train extra: .venv/bin/pip install -e '.[train]'
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${TRAIN_CORPUS:-/tmp/rocov2-fast-train-corpus}
[ -f "$corpus/truth.csv" ] || .venv/bin/rocov2-fast synth "$corpus" --articles 300 --seed 1000 --profile tiny
for kind in compound radiology; do
  .venv/bin/rocov2-fast train-filter --kind "$kind" --data "$corpus/truth.csv" --out "models/$kind.onnx" \
    --size 128 --epochs 8 --seed 0 | tee "models/$kind.train.log"
done

# The card's table of scores on real images (matplotlib's sample data; models/README.md).
.venv/bin/python -m rocov2_fast.filter.real_images models/compound.onnx models/radiology.onnx

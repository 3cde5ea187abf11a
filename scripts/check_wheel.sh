#!/usr/bin/env bash
# The wheel as users get it: built with maturin, installed (not editable) with the cpu extra into a
# fresh virtualenv, then synth + filter + build run from another directory, models and the MedCAT
# pack found inside the installed package. CI runs this after the tests (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# target/ as the editable install built it (WHEEL_TARGET_DIR: another, when a rebuild may run beside)
CARGO_TARGET_DIR=${WHEEL_TARGET_DIR:-$repo/target} .venv/bin/maturin build --release --quiet --out "$work/dist"
wheel=$(ls "$work"/dist/rocov2_fast-*.whl)
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "${wheel}[cpu]"
"$work/venv/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
needed = ["rocov2_fast/models/compound.onnx", "rocov2_fast/models/radiology.onnx"]
missing = [n for n in needed if n not in names] + ([] if any(n.startswith("rocov2_fast/models/concepts/medcat_rocov2/") for n in names) else ["the MedCAT pack"])
assert not missing, f"the wheel lacks {missing}"
PY
"$work/venv/bin/python" -c "import importlib.metadata as m; import sys; both = [d for d in ('onnxruntime', 'onnxruntime-gpu') if any(x.metadata['Name'] == d for x in m.distributions())]; sys.exit(f'onnxruntime distributions: {both}' if both != ['onnxruntime'] else 0)"
cd "$work"   # another directory: nothing may come from the checkout
bin="$work/venv/bin/rocov2-fast"
"$bin" --version
"$bin" synth corpus --articles 30 --seed 7 --profile tiny
"$bin" filter corpus --out run --file-list corpus/oa_file_list.csv --no-progress
"$bin" status run
"$bin" build corpus --out built --file-list corpus/oa_file_list.csv --min-images 1 --no-progress
test -f built/export/rocov2/train_captions.csv
echo "wheel check passed: $(basename "$wheel")"

#!/usr/bin/env bash
# The demo: set up, generate a small synthetic PMC OA corpus, scan it, filter it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/rocov2-fast synth demo/corpus --articles 24 --seed 7 --faults
.venv/bin/rocov2-fast scan demo/corpus --file-list demo/corpus/oa_file_list.csv --out demo/scan.parquet
.venv/bin/rocov2-fast filter demo/corpus --file-list demo/corpus/oa_file_list.csv --out demo/run
.venv/bin/python - <<'PY'
import polars as pl
m = pl.read_parquet("demo/run/manifest.parquet")
print(m.group_by("fate", "stage").len().sort("len", descending=True))
print(m.filter(pl.col("fate") == "kept").select("image_id", "license", "radiology_score", "caption").head(5))
PY
echo "demo output: demo/scan.parquet (records), demo/run/ (manifest.parquet, images/, summary.json)"

#!/usr/bin/env bash
# The demo: set up, generate a small synthetic PMC OA corpus, scan it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/rocov2-fast synth demo/corpus --articles 24 --seed 7 --faults
.venv/bin/rocov2-fast scan demo/corpus --file-list demo/corpus/oa_file_list.csv --out demo/scan.parquet
.venv/bin/python - <<'PY'
import polars as pl
df = pl.read_parquet("demo/scan.parquet")
print(df.group_by("status").len().sort("len", descending=True))
print(df.filter(pl.col("status") == "ok").select("pmcid", "graphic", "license", "width", "height", "phash", "caption").head(5))
PY
echo "demo output: demo/scan.parquet (corpus in demo/corpus)"

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

.venv/bin/rocov2-fast captions demo/run
.venv/bin/rocov2-fast concepts demo/run --min-images 1   # a 24-article demo: the corpus cutoff of 10 would remove everything
.venv/bin/rocov2-fast suggest-manual demo/run
.venv/bin/python - <<'PY'
# The same Python API on the real ROCO validation captions shipped as test fixtures.
import polars as pl
from rocov2_fast import captions, concepts
rows = [l.partition("\t")[::2] for l in open("tests/fixtures/roco/radiology_captions.txt", encoding="utf-8").read().splitlines()]
df = pl.DataFrame([(i, c.strip()) for i, c in rows], schema=["image_id", "caption"], orient="row")
cleaned = captions.clean(df)
print("ROCO captions:", dict(cleaned.group_by("reason").len().rows()))
found = concepts.extract(cleaned.filter(pl.col("keep")).select("image_id", "caption").head(500))
print("concepts per caption (first 500):", round(found["cuis"].list.len().mean(), 2))
PY
echo "demo output: demo/scan.parquet (records); demo/run/: manifest.parquet, images/, summary.json, captions.parquet, concepts.parquet, cui_mapping.csv, manual_suggestions.parquet"

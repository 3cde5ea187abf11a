#!/usr/bin/env bash
# The demo: set up, generate a synthetic PMC OA corpus, and build a dataset from it with the whole
# pipeline (filter → captions → concepts → suggest-manual → split → export → report).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/rocov2-fast synth demo/corpus --articles 80 --seed 7 --faults
.venv/bin/rocov2-fast scan demo/corpus --file-list demo/corpus/oa_file_list.csv --out demo/scan.parquet
# --min-images 1: an 80-article demo; the corpus-wide cutoff of 10 would remove most concepts
.venv/bin/rocov2-fast build demo/corpus --file-list demo/corpus/oa_file_list.csv --out demo/build --min-images 1
.venv/bin/rocov2-fast status demo/build                                      # how far the filter got (here: finished)
.venv/bin/rocov2-fast inspect demo/build --out demo/gallery.html --sample 60  # check the filter's decisions by eye
.venv/bin/python - <<'PY'
# The dataset as a researcher loads it: Hugging Face `datasets` (installed with the test extra) or polars.
import polars as pl
m = pl.read_parquet("demo/build/manifest.parquet")
print(m.group_by("fate", "stage").len().sort("len", descending=True))
try:
    import datasets
    ds = datasets.load_dataset("demo/build/export/hf")
    row = ds["train"][0]
    print(ds, "\nfirst train image:", row["image_id"], row["image"].size, row["cui"], row["caption"][:80])
except ImportError:
    print(pl.read_csv("demo/build/export/rocov2/train_captions.csv").head())
PY
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
# Score a submission with the official ImageCLEF rules: here the gold concepts themselves (F1 1.0).
R=demo/build/export/rocov2
.venv/bin/rocov2-fast evaluate concepts $R/test_concepts.csv $R/test_concepts.csv --manual $R/test_concepts_manual.csv
if .venv/bin/python -c "import torch, timm" 2>/dev/null; then  # the `baselines` extra is installed
  .venv/bin/rocov2-fast baseline concepts demo/build --out demo/baseline_concepts --epochs 2 --batch-size 16 --image-size 128 --workers 2
  .venv/bin/rocov2-fast evaluate concepts $R/test_concepts.csv demo/baseline_concepts/submission_test.csv --manual $R/test_concepts_manual.csv
fi
echo "demo output: demo/scan.parquet (records); demo/build/: manifest.parquet, images/, dataset.parquet,"
echo "  export/rocov2/ (the ROCOv2 release files), export/hf/ (Hugging Face parquet + card), report.html, logs/;"
echo "  demo/gallery.html (the filter's decisions as thumbnails)"

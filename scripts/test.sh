#!/usr/bin/env bash
# Every test: set up, the Rust unit tests, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --release --quiet
.venv/bin/python -m pytest -q

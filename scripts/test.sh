#!/usr/bin/env bash
# Every test: set up, the Rust unit tests, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# headless Chromium: tests/test_gallery.py screenshots the `inspect` page with it (skipped without it)
if ! command -v chromium >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo test --release --quiet
.venv/bin/python -m pytest -q

#!/usr/bin/env bash
# Sets up a fresh Debian machine (idempotent): build tools from apt, a local virtualenv in .venv,
# and rocov2-fast built in release mode with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v nasm >/dev/null || need_apt+=(nasm)   # libjpeg-turbo's SIMD; without it the JPEG path is slow
command -v cc >/dev/null || need_apt+=(build-essential)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "maturin>=1.7,<2"
# Builds the Rust core (release profile, see pyproject) and installs the package editable.
.venv/bin/python -m pip install -q -e ".[test]"
echo "setup done: $(.venv/bin/rocov2-fast --help >/dev/null && echo 'rocov2-fast installed in .venv')"

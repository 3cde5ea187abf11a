#!/usr/bin/env bash
# Coverage-guided fuzzing of the Rust core (issue 16; not part of CI): builds the libFuzzer targets
# in rust/fuzz (jats, archive, decode) with cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP=1,
# AddressSanitizer, debug assertions), seeds each from the fixtures and real data, runs them one at
# a time for SECONDS_PER_TARGET (default 600) and prints executions, coverage and crashes.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Env: FUZZ_SANITIZER (address|none, default address), FUZZ_JOBS (parallel libFuzzer jobs per
# target, default 1). Corpora grow in rust/fuzz/corpus/<target> (kept between runs), crashing inputs
# land in rust/fuzz/artifacts/<target>, logs in rust/fuzz/logs/<target>.log; all ignored by git.
# A crash: copy the input into tests/fixtures/fuzz_regressions/<target>/ (the normal test suite
# replays them, rust/fuzz_smoke.rs) and fix the core. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-600}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(jats archive decode)
SANITIZER="${FUZZ_SANITIZER:-address}"
JOBS="${FUZZ_JOBS:-1}"
FUZZ=rust/fuzz
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "error: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
    exit 2
fi
# cargo-fuzz passes -Z flags (sanitizer, coverage options); RUSTC_BOOTSTRAP lets stable rustc take them.
export RUSTC_BOOTSTRAP=1
BUILD=(--fuzz-dir "$FUZZ" -O --debug-assertions --sanitizer "$SANITIZER")
echo "== building ${TARGETS[*]} (sanitizer $SANITIZER, $(rustc --version))"
# All targets in one build (a build per target would rebuild the core whenever the tree changed
# in between).
cargo fuzz build "${BUILD[@]}" 2>&1 | tail -1

"$PYTHON" "$FUZZ/make_seeds.py" "$FUZZ/seeds"
mkdir -p "$FUZZ/logs"
summary=()
for t in "${TARGETS[@]}"; do
    mkdir -p "$FUZZ/corpus/$t" "$FUZZ/artifacts/$t"
    args=(-max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=30 -rss_limit_mb=2560
          -artifact_prefix="$FUZZ/artifacts/$t/")
    # -jobs (even 1) makes libFuzzer fork workers that log to ./fuzz-N.log: only when asked for.
    [ "$JOBS" -gt 1 ] && args+=(-jobs="$JOBS" -workers="$JOBS")
    [ -f "$FUZZ/$t.dict" ] && args+=(-dict="$FUZZ/$t.dict")
    before=$(ls "$FUZZ/artifacts/$t" | wc -l)
    echo "== $t: ${SECONDS_PER_TARGET}s"
    set +e
    # The binary built above, not `cargo fuzz run` (which would rebuild whenever the tree changed).
    "$FUZZ/target/$(rustc -vV | sed -n 's/^host: //p')/release/$t" "${args[@]}" "$FUZZ/corpus/$t" "$FUZZ/seeds/$t" > "$FUZZ/logs/$t.log" 2>&1
    rc=$?
    set -e
    if [ "$JOBS" -gt 1 ]; then cat fuzz-*.log >> "$FUZZ/logs/$t.log" 2>/dev/null; rm -f fuzz-*.log; fi
    log="$FUZZ/logs/$t.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
    last=$(grep -E '^#[0-9]+.*(cov|ft):' "$log" | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
    crashes=$(( $(ls "$FUZZ/artifacts/$t" | wc -l) - before ))
    line="$t: ${SECONDS_PER_TARGET}s, exit $rc, $execs executions ($rate exec/s), cov $cov, ft $ft, corpus $corp, new crash files $crashes"
    echo "$line"
    grep -E '^==[0-9]+==ERROR|panicked at|SUMMARY' "$log" | head -5 || true
    summary+=("$line")
done
echo "== summary"
printf '%s\n' "${summary[@]}"

#!/usr/bin/env bash
# Fuzz smoke run: each target for ${FUZZ_SECONDS:-10} s from its seed corpus
# (fuzz/corpus/<target>). cargo-fuzz needs nightly flags; the stable toolchain
# accepts them with RUSTC_BOOTSTRAP=1. A crash fails the run (exit non-zero)
# and leaves its input in fuzz/artifacts/<target>/.
#   FUZZ_SECONDS=600 fuzz/smoke.sh     # the long run documented in BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
seconds=${FUZZ_SECONDS:-10}
for target in stripe_signature event_json form_encode; do
  mkdir -p "corpus/$target"
  # A scratch copy: new inputs found on a run are not committed.
  scratch=$(mktemp -d)
  cp -r "corpus/$target/." "$scratch/"
  status=0
  cargo fuzz run --sanitizer none "$target" "$scratch" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$scratch.log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|Done|SUMMARY)|panicked|deadly signal' "$scratch.log" |
    sed "s/^/$target: /" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$scratch.log"
    echo "FAIL: fuzz target $target (exit $status)"
    exit 1
  fi
  rm -rf "$scratch" "$scratch.log"
done

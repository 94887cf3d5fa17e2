#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/) with clang++, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz, and runs each from its seed
# corpus (fuzz/corpus/<harness>/) for a short while: CI's smoke check.
#
# Usage: scripts/fuzz-smoke.sh [-runs=N] [harness ...]
#   -runs=N   executions per harness (default 20000; scripts/fuzz-long.sh uses 1000000)
#   harness   fuzz_idx, fuzz_safetensors, fuzz_json_config, fuzz_oracle_case, fuzz_model_config, fuzz_weights_h5 (only with -DSEPCONV_FUZZ_HDF5=ON) (default: all built)
# Environment: SEPCONV_FUZZ_BUILD (build directory, default build-fuzz),
#              JOBS (build parallelism, default: nproc).
# Prints, per harness, the executions done; exits non-zero if any harness
# found a crash, leak, timeout or sanitizer report. Reproducers are left in
# <build>/fuzz-artifacts/<harness>/, logs in <build>/fuzz-logs/, and the
# corpus grown during the run in <build>/fuzz-corpus/<harness>/ (the seeds in
# the repository are only read).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SEPCONV_FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
runs=20000
harnesses=()
for arg in "$@"; do
  case "$arg" in
    -runs=*) runs=${arg#-runs=} ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    *) harnesses+=("$arg") ;;
  esac
done

if ! command -v clang++ >/dev/null; then
  echo "clang++ is missing: run scripts/install-deps.sh --fuzz" >&2
  exit 1
fi
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEPCONV_FUZZ=ON \
  -DSEPCONV_BUILD_TESTS=OFF -DSEPCONV_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$jobs"

if [ ${#harnesses[@]} -eq 0 ]; then
  for f in "$build"/fuzz/fuzz_*; do [ -x "$f" ] && harnesses+=("$(basename "$f")"); done
fi

# OpenMP's runtime keeps its thread pool alive at exit: not a leak of ours.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_NUM_THREADS=1

status=0
summary=()
mkdir -p "$build/fuzz-logs"
for h in "${harnesses[@]}"; do
  bin="$build/fuzz/$h"
  [ -x "$bin" ] || { echo "no such harness: $bin" >&2; status=1; continue; }
  work="$build/fuzz-corpus/$h"
  artifacts="$build/fuzz-artifacts/$h"
  log="$build/fuzz-logs/$h.log"
  mkdir -p "$work" "$artifacts"
  seeds=()
  [ -d "fuzz/corpus/$h" ] && seeds+=("fuzz/corpus/$h")
  max_len=4096
  [ "$h" = fuzz_oracle_case ] && max_len=16384
  [ "$h" = fuzz_weights_h5 ] && max_len=32768  # the seeds are HDF5 files of 12-23 KB
  start=$(date +%s)
  echo "== $h: $runs runs"
  if "$bin" -runs="$runs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$artifacts/" "$work" "${seeds[@]}" >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (log: $log; reproducer in $artifacts/)"
    status=1
    tail -60 "$log"
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  summary+=("$(printf '%-18s %10s executions  %7s exec/s  %4ss  %s' "$h" "$execs" "$rate" "$(( $(date +%s) - start ))" "$result")")
done
echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit $status

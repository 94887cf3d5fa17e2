#!/usr/bin/env bash
# The project's whole test run, as the README's test command and CI run it:
#   1. install missing Debian packages (scripts/install-deps.sh)
#   2. Release build + the full ctest suite
#   3. AddressSanitizer + UndefinedBehaviorSanitizer build + the full suite again
#   4. a short libFuzzer smoke run of every harness
# Set SEPCONV_QUICK=1 to stop after step 2 (a developer's inner loop).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh --fuzz --test --interop

echo "== Release build and test suite"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j1

[ "${SEPCONV_QUICK:-0}" = 1 ] && exit 0

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and test suite"
# OpenMP's runtime keeps thread pools alive at exit: not leaks of ours.
# A finding exits the test at once with its report (no abort_on_error: Boost.Test
# traps SIGABRT, and the leak check that follows can then hang until ctest's timeout).
export ASAN_OPTIONS="detect_leaks=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEPCONV_SANITIZE=ON -DSEPCONV_BUILD_EXAMPLES=ON >/dev/null
cmake --build build-asan -j"$jobs"
# The kill test repeats the same checks; fewer kills keep the slower sanitized run short.
SEPCONV_KILLS=6 ctest --test-dir build-asan --output-on-failure -j1

echo "== Fuzz smoke run"
scripts/fuzz-smoke.sh

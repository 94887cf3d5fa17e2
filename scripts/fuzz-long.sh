#!/usr/bin/env bash
# The long fuzz run: every harness (or those named) for at least a million
# executions, printing the count each reached. Same build and options as
# scripts/fuzz-smoke.sh; expect tens of minutes on two cores.
# Usage: scripts/fuzz-long.sh [-runs=N] [harness ...]   (default -runs=1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=-runs=1000000
args=()
for arg in "$@"; do
  case "$arg" in
    -runs=*) runs=$arg ;;
    *) args+=("$arg") ;;
  esac
done
exec scripts/fuzz-smoke.sh "$runs" "${args[@]}"

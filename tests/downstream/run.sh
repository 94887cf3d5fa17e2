#!/usr/bin/env bash
# Installs the built library into a temporary prefix, then builds and runs a
# small downstream project against it twice: through find_package (CMake) and
# through pkg-config. Usage: run.sh <build-dir>
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/downstream" | tail -n 1
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
libdir=$(pkg-config --variable=libdir sepconv)
# shellcheck disable=SC2046
g++ "$here/main.cpp" -o "$work/downstream-pc" $(pkg-config --cflags --libs sepconv) -L"$libdir"
"$work/downstream-pc" | tail -n 1

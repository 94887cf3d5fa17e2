#!/usr/bin/env bash
# Installs the Debian 12 packages this project needs, if any is missing.
# Usage: scripts/install-deps.sh [--fuzz] [--test] [--bench] [--interop]
#   --fuzz   also clang and its runtimes (sanitizers, libFuzzer, LLVM OpenMP)
#   --test   also h5py, which the test suite uses as an independent reader and
#            writer of Keras weight files (scripts/test.sh passes it)
#   --bench  also PyTorch, for the peer benchmarks in ../shared/bench
#   --interop  also ONNX and protobuf (the ONNX export, onnx/), ONNX's Python
#            checker, and the npm package onnxruntime-node into .cache/interop
#            (the runtime the ONNX tests compare with); npm comes with node
#            (nodejs 20.x), which this script does not install
set -euo pipefail
interop=0
packages=(cmake g++ make pkg-config libopenblas-dev libboost-test-dev libfmt-dev nlohmann-json3-dev
          zlib1g-dev libcli11-dev libhdf5-dev libzip-dev dataset-fashion-mnist
          openmpi-bin libopenmpi-dev)
for arg in "$@"; do
  case "$arg" in
    --fuzz) packages+=(clang libclang-rt-14-dev libomp-14-dev) ;;
    --test) packages+=(python3-h5py python3-numpy) ;;
    --bench) packages+=(python3-torch python3-numpy) ;;
    --interop) packages+=(libprotobuf-dev protobuf-compiler libonnx-dev python3-onnx); interop=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$interop" = 1 ]; then
  cache="$(cd "$(dirname "$0")/.." && pwd)/.cache/interop"
  if [ -d "$cache/node_modules/onnxruntime-node" ]; then
    :
  elif ! command -v npm >/dev/null; then
    echo "install-deps: no npm (it comes with nodejs 20.x): onnxruntime-node not installed, the ONNX runtime tests will skip" >&2
  else
    echo "Installing onnxruntime-node into $cache"
    mkdir -p "$cache"
    [ -f "$cache/package.json" ] || echo '{"name": "sepconv-interop", "private": true}' > "$cache/package.json"
    # The CPU build only: its install script would otherwise fetch the CUDA libraries.
    (cd "$cache" && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install --no-audit --no-fund onnxruntime-node@1.31)
  fi
fi

#!/usr/bin/env bash
# ONNX export checked by two independent tools: ONNX's own checker (Debian's
# python3-onnx, full_check with shape inference) and a real runtime
# (onnxruntime-node, installed by scripts/install-deps.sh --interop into
# <interop dir>), whose outputs must match our predict() (tests/onnx_runtime.js
# states the comparison). Exits 77 (skipped, with the reason) when a tool is missing.
#   onnx_runtime.sh <driver> <interop dir>
set -euo pipefail
driver=$1 interop=$2
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "onnx_runtime skipped: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed (apt nodejs)"
[ -d "$interop/node_modules/onnxruntime-node" ] || skip "onnxruntime-node is not in $interop (scripts/install-deps.sh --interop)"
/usr/bin/python3 -c 'import onnx' 2>/dev/null || skip "python3-onnx is not installed (scripts/install-deps.sh --interop)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$driver" "$work"
/usr/bin/python3 - "$work" <<'PY'
import glob, sys, onnx
files = sorted(glob.glob(sys.argv[1] + "/*.onnx"))
for f in files:
    onnx.checker.check_model(onnx.load(f), full_check=True)
print(f"onnx {onnx.__version__} checker: {len(files)} models valid")
PY
node "$here/onnx_runtime.js" "$interop" "$work"
echo "onnx_runtime ok"

#!/usr/bin/env bash
# Runs our SeparableConv2D benchmark and the PyTorch peer script on the same
# shapes and thread count, one after the other, and prints a comparison table:
#   shape, mode, ours ms, torch ms, ratio (ours / torch: < 1 means we are
#   faster), our GFLOP/s, then the geometric mean of the ratios per mode.
# Goals (issue "Beat PyTorch on the CPU"): train geomean <= 0.62, forward
# geomean <= 0.8, no ratio above 1.
#
# usage: scripts/bench-vs-pytorch.sh [--threads N] [--shapes a,b,...] [--impl layer|op]
#                                     [--bin DIR] [--peer PATH/torch_sepconv.py]
# Defaults: 2 threads, every shape, the layer, build/bin, and the peer script
# at ../shared/bench/torch_sepconv.py (relative to the repository root).
# Timings are only comparable on a quiet machine: both programs use every
# thread they are given.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads=2
shapes=""
impl=layer
bin="$root/build/bin"
peer="$root/../shared/bench/torch_sepconv.py"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --shapes) shapes="$2"; shift 2 ;;
    --impl) impl="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --peer) peer="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

[[ -x "$bin/sepconv-bench" ]] || { echo "no $bin/sepconv-bench: build first (cmake --build build)" >&2; exit 1; }
[[ -f "$peer" ]] || { echo "no peer script at $peer (use --peer)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "/usr/bin/python3 cannot import torch" >&2; exit 1; }

ours="$(mktemp)"
theirs="$(mktemp)"
trap 'rm -f "$ours" "$theirs"' EXIT

our_args=(--threads "$threads" --impl "$impl")
peer_args=("$threads")
if [[ -n "$shapes" ]]; then
  our_args+=(--shapes "$shapes")
  IFS=',' read -r -a list <<< "$shapes"
  peer_args+=("${list[@]}")
fi

echo "running sepconv-bench ${our_args[*]} ..." >&2
OMP_NUM_THREADS="$threads" "$bin/sepconv-bench" "${our_args[@]}" > "$ours"
echo "running $(basename "$peer") ${peer_args[*]} ..." >&2
OMP_NUM_THREADS="$threads" /usr/bin/python3 "$peer" "${peer_args[@]}" > "$theirs"

/usr/bin/python3 - "$ours" "$theirs" "$threads" <<'PY'
import json, math, sys
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
theirs = {(r["shape"], r["mode"]): r for r in (json.loads(l) for l in open(sys.argv[2]) if l.strip().startswith("{"))}
peer = next(iter(theirs.values()), {}).get("peer", "pytorch")
print(f"threads: {sys.argv[3]}   peer: {peer}")
print(f"{'shape':26s} {'mode':8s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>7s} {'GFLOP/s':>8s}")
ratios = {"forward": [], "train": []}
for r in ours:
    t = theirs.get((r["shape"], r["mode"]))
    if t is None:
        continue
    ratio = r["ms"] / t["ms"]
    ratios.setdefault(r["mode"], []).append(ratio)
    flag = "  <-- slower" if ratio > 1 else ""
    print(f"{r['shape']:26s} {r['mode']:8s} {r['ms']:9.3f} {t['ms']:9.3f} {ratio:7.3f} {r['gflops']:8.1f}{flag}")
for mode, goal in (("forward", 0.8), ("train", 0.62)):
    v = ratios.get(mode, [])
    if v:
        g = math.exp(sum(math.log(x) for x in v) / len(v))
        print(f"geomean ratio {mode:8s}: {g:.3f} (goal <= {goal}), worst {max(v):.3f}")
PY

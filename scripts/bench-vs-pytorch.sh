#!/usr/bin/env bash
# Runs our SeparableConv2D benchmark and the PyTorch peer script on the same
# shapes and thread count, one after the other, and prints a comparison table:
#   shape, mode, ours ms, torch ms, ratio (ours / torch: < 1 means we are
#   faster), our GFLOP/s, then the geometric mean of the ratios per mode.
# Goals (issue "Beat PyTorch on the CPU"): train geomean <= 0.62, forward
# geomean <= 0.8, no ratio above 1.
#
# usage: scripts/bench-vs-pytorch.sh [--threads N] [--shapes a,b,...] [--impl layer|op]
#                                     [--bin DIR] [--peer PATH/torch_sepconv.py] [--repeat N]
#                                     [--data-format channels_last|channels_first]
# Defaults: 2 threads, every shape, the layer, build/bin, the peer script at
# ../shared/bench/torch_sepconv.py (relative to the repository root), 1 repeat.
# Timings are only comparable on a quiet machine: both programs use every
# thread they are given. Ours and the peer run shape by shape, alternately, so
# that both see the machine in the same state. On a shared machine whose
# neighbours come and go, --repeat N does that N times and compares, per shape
# and mode, the smallest of each side's N medians (the run least disturbed by
# others), and prints each repeat's geometric means too, so the spread between
# runs is visible, and the memory bandwidth one thread saw before each repeat.
# --data-format channels_first times our layer on NCHW input against PyTorch on
# NCHW (contiguous) tensors only (scripts/torch-sepconv-nchw.py runs the peer's
# own timing loop for that layout); by default, ours on NHWC against the
# faster of PyTorch's two layouts.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads=2
shapes=""
impl=layer
repeat=1
data_format=channels_last
bin="$root/build/bin"
peer="$root/../shared/bench/torch_sepconv.py"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --shapes) shapes="$2"; shift 2 ;;
    --impl) impl="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --peer) peer="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --data-format) data_format="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

[[ -x "$bin/sepconv-bench" ]] || { echo "no $bin/sepconv-bench: build first (cmake --build build)" >&2; exit 1; }
[[ -f "$peer" ]] || { echo "no peer script at $peer (use --peer)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "/usr/bin/python3 cannot import torch" >&2; exit 1; }

[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "--repeat must be a positive integer, received: $repeat" >&2; exit 2; }
case "$data_format" in
  channels_last) peer_cmd=(/usr/bin/python3 "$peer") ;;
  channels_first) peer_cmd=(/usr/bin/python3 "$root/scripts/torch-sepconv-nchw.py" "$peer") ;;
  *) echo "--data-format must be channels_last or channels_first, received: $data_format" >&2; exit 2 ;;
esac
ours="$(mktemp)"
theirs="$(mktemp)"
trap 'rm -f "$ours" "$theirs"' EXIT

if [[ -n "$shapes" ]]; then
  IFS=',' read -r -a list <<< "$shapes"
else
  mapfile -t list < <("$bin/sepconv-bench" --list-shapes)
fi

# The machine's state before each repeat: a 256 MB copy on one thread (GB/s
# read + written). The ratios of the small-channel shapes move with it: the
# peer writes and re-reads every intermediate, so it gains most when the
# neighbours leave memory bandwidth free.
bandwidth() {
  /usr/bin/python3 -c '
import time, numpy as np
a = np.ones(64 << 20, dtype=np.float32); b = np.empty_like(a); best = 1e9
for _ in range(6):
    t = time.perf_counter(); np.copyto(b, a); best = min(best, time.perf_counter() - t)
print(f"{2 * a.nbytes / best / 1e9:.1f}")' 2>/dev/null || echo "?"
}
copy_gbps=()

for ((i = 1; i <= repeat; i++)); do
  copy_gbps+=("$(bandwidth)")
  for shape in "${list[@]}"; do
    echo "[$i/$repeat] $shape: sepconv-bench, then $(basename "$peer") ..." >&2
    OMP_NUM_THREADS="$threads" "$bin/sepconv-bench" --threads "$threads" --impl "$impl" --data-format "$data_format" \
      --shapes "$shape" | sed "s/^{/{\"repeat\": $i, /" >> "$ours"
    OMP_NUM_THREADS="$threads" "${peer_cmd[@]}" "$threads" "$shape" | sed "s/^{/{\"repeat\": $i, /" >> "$theirs"
  done
done

/usr/bin/python3 - "$ours" "$theirs" "$threads" "$repeat" "${copy_gbps[*]}" "$data_format" <<'PY'
import json, math, sys
from collections import defaultdict
def load(path):
    runs = defaultdict(dict)  # repeat -> (shape, mode) -> record
    for line in open(path):
        if line.strip().startswith("{"):
            r = json.loads(line)
            runs[r["repeat"]][(r["shape"], r["mode"])] = r
    return runs
ours, theirs = load(sys.argv[1]), load(sys.argv[2])
repeat = int(sys.argv[4])
peer = next((r.get("peer") for run in theirs.values() for r in run.values()), "pytorch")
keys = [k for k in ours[1] if all(k in ours[i] and k in theirs[i] for i in range(1, repeat + 1))]
best = lambda runs, k: min(runs[i][k]["ms"] for i in range(1, repeat + 1))
print(f"threads: {sys.argv[3]}   ours: {sys.argv[6]}   peer: {peer}   repeats: {repeat}" +
      ("   (ms: the smallest of each side's medians)" if repeat > 1 else ""))
print(f"{'shape':26s} {'mode':8s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>7s} {'GFLOP/s':>8s}")
geo = lambda v: math.exp(sum(math.log(x) for x in v) / len(v))
ratios = defaultdict(list)
for k in keys:
    o, t = best(ours, k), best(theirs, k)
    gflops = ours[1][k]["gflops"] * ours[1][k]["ms"] / o
    ratios[k[1]].append(o / t)
    flag = "  <-- slower" if o > t else ""
    print(f"{k[0]:26s} {k[1]:8s} {o:9.3f} {t:9.3f} {o / t:7.3f} {gflops:8.1f}{flag}")
for mode, goal in (("forward", 0.8), ("train", 0.62)):
    v = ratios.get(mode, [])
    if not v:
        continue
    line = f"geomean ratio {mode:8s}: {geo(v):.3f} (goal <= {goal}), worst {max(v):.3f}"
    if repeat > 1:
        per = [geo([ours[i][k]["ms"] / theirs[i][k]["ms"] for k in keys if k[1] == mode]) for i in range(1, repeat + 1)]
        line += "   each repeat: " + " ".join(f"{g:.3f}" for g in per)
    print(line)
print("memory copy GB/s (one thread, before each repeat): " + sys.argv[5])
PY

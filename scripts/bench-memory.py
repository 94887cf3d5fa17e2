#!/usr/bin/python3
"""Peak memory of a SeparableConv2D training step, ours beside PyTorch's, per shape.

usage: scripts/bench-memory.py [--threads N] [--bin DIR] [--peer PATH/torch_sepconv.py] [shape ...]

Each measurement runs in a fresh process, so the process's peak resident memory
(getrusage ru_maxrss) belongs to that one shape:
  ours:    build/bin/sepconv-bench --shapes S --modes train; peak_rss_mb - start_rss_mb
           (the resident memory when main() began: code and shared libraries).
  PyTorch: the peer script's own run(S, fmt) for its two memory formats, each in
           its own process, peak minus the peak after `import torch`; the smaller
           of the two is kept, as the peer keeps the faster.
Both sides hold the input, the weights, their gradients and whatever the step
allocates; the difference is the step's working memory. PyTorch runs with the
glibc malloc tunables its script sets for itself (freed memory kept, not trimmed).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184"

TORCH_PROBE = r"""
import importlib.util, json, resource, sys
peer, name, fmt, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
spec = importlib.util.spec_from_file_location("torch_sepconv", peer)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)  # imports torch; GLIBC_TUNABLES is already set, so no re-exec
mod.torch.set_num_threads(threads)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mod.timeit.__defaults__ = (0.3, 3)  # shorter timing loops: memory, not time, is measured
mod.run(name, fmt)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mb": peak / 1024, "base_mb": base / 1024}))
"""


def ours(bin_dir, shape, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([os.path.join(bin_dir, "sepconv-bench"), "--threads", str(threads), "--shapes", shape,
                          "--modes", "train", "--min-time", "0.3"], env=env, check=True, capture_output=True,
                         text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["peak_rss_mb"] - r["start_rss_mb"]


def theirs(peer, shape, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), GLIBC_TUNABLES=TUNABLES)
    best = None
    for fmt in ("contiguous", "channels_last"):
        out = subprocess.run(["/usr/bin/python3", "-c", TORCH_PROBE, peer, shape, fmt, str(threads)], env=env,
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        mb = r["peak_mb"] - r["base_mb"]
        best = mb if best is None else min(best, mb)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--peer", default=os.path.join(ROOT, "..", "shared", "bench", "torch_sepconv.py"))
    ap.add_argument("shapes", nargs="*")
    args = ap.parse_args()
    shapes = args.shapes
    if not shapes:
        out = subprocess.run(["/usr/bin/python3", "-c",
                              "import ast,sys; t=ast.parse(open(sys.argv[1]).read());"
                              "print(' '.join(k.value for n in ast.walk(t) if isinstance(n, ast.Assign)"
                              " and getattr(n.targets[0], 'id', '') == 'SHAPES' for k in n.value.keys))",
                              args.peer], check=True, capture_output=True, text=True).stdout
        shapes = out.split()
    print(f"{'shape':26s} {'ours MB':>8s} {'torch MB':>9s} {'ratio':>6s}")
    for s in shapes:
        a, b = ours(args.bin, s, args.threads), theirs(args.peer, s, args.threads)
        flag = "  <-- more" if a > b else ""
        print(f"{s:26s} {a:8.1f} {b:9.1f} {a / b:6.2f}{flag}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

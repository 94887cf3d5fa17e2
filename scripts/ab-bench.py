#!/usr/bin/env python3
"""Interleaved A/B comparison of two or more sepconv-bench builds.

On a shared machine the same program's median moves by up to 2x between
minutes, so "run the old build, then the new one" compares two moments, not two
builds. This script alternates: for each repeat, for each shape, every build
runs once (a short run each), so the builds of one pair see the machine in
nearly the same state. It reports, per shape and mode, each build's median and
best time over the repeats and the median of the per-pair ratios (build / the
first build: below 1 is faster), then their geometric means per mode.

usage: scripts/ab-bench.py [--reps N] [--shapes a,b] [--modes forward,train]
                           [--threads N] [--min-time S] BUILD_A BUILD_B [BUILD_C ...]

A BUILD is the path of a sepconv-bench binary, optionally preceded by
environment settings for that run: VAR=value[,VAR2=value]:PATH (for example
OMP_WAIT_POLICY=active:build/bin/sepconv-bench, to compare one binary with
itself under two settings). Comparing a build with itself shows the noise
floor: paired ratios within a few percent of 1 are noise.

Typical use, the commit before against the working tree:
  git worktree add /tmp/base HEAD~1
  cmake -S /tmp/base -B /tmp/base/build -DCMAKE_BUILD_TYPE=Release
  cmake --build /tmp/base/build -j2 --target sepconv-bench
  scripts/ab-bench.py --reps 6 /tmp/base/build/bin/sepconv-bench build/bin/sepconv-bench
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys


def parse_build(spec):
    """'A=1,B=2:path' -> (path, {'A': '1', 'B': '2'}); 'path' -> (path, {})."""
    env = {}
    path = spec
    head, sep, tail = spec.partition(':')
    if sep and '=' in head and '/' not in head:
        path = tail
        for item in head.split(','):
            key, eq, value = item.partition('=')
            if not eq or not key:
                sys.exit(f"ab-bench: cannot read the environment setting '{item}' in build '{spec}'")
            env[key] = value
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit(f"ab-bench: build '{spec}': '{path}' is not an executable file")
    return path, env


def run_once(path, env, threads, mode_list, min_time, shape):
    cmd = [path, '--threads', str(threads), '--modes', mode_list, '--min-time', str(min_time), '--shapes', shape]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        sys.exit(f"ab-bench: '{' '.join(cmd)}' failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith('{'):
            record = json.loads(line)
            results[(record['shape'], record['mode'])] = record['ms']
    return results


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float('nan')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--reps', type=int, default=5, help='repeats (pairs per shape and mode); default 5')
    ap.add_argument('--shapes', default='', help='comma-separated shapes; default: every shape of the first build')
    ap.add_argument('--modes', default='forward,train', help="'forward', 'train' or both; default both")
    ap.add_argument('--threads', type=int, default=2, help='threads for every run; default 2')
    ap.add_argument('--min-time', type=float, default=0.4, help='seconds each run measures; default 0.4')
    ap.add_argument('builds', nargs='+', help='sepconv-bench binaries (see the usage above)')
    a = ap.parse_args()
    if len(a.builds) < 2:
        ap.error('give at least two builds to compare')
    if a.reps < 1:
        ap.error(f'--reps must be at least 1, received: {a.reps}')
    if a.threads < 1:
        ap.error(f'--threads must be at least 1, received: {a.threads}')
    if a.min_time <= 0:
        ap.error(f'--min-time must be positive, received: {a.min_time}')
    builds = [parse_build(spec) for spec in a.builds]
    modes = [m for m in a.modes.split(',') if m]
    if not modes or any(m not in ('forward', 'train') for m in modes):
        ap.error(f"--modes takes 'forward' and/or 'train', received: {a.modes}")
    if a.shapes:
        shapes = [s for s in a.shapes.split(',') if s]
    else:
        listing = subprocess.run([builds[0][0], '--list-shapes'], capture_output=True, text=True, check=True)
        shapes = listing.stdout.split()

    times = {}  # (shape, mode, build index) -> [ms per repeat]
    for rep in range(a.reps):
        print(f'repeat {rep + 1}/{a.reps} ...', file=sys.stderr)
        for shape in shapes:
            for i, (path, env) in enumerate(builds):
                got = run_once(path, env, a.threads, ','.join(modes), a.min_time, shape)
                for mode in modes:
                    if (shape, mode) not in got:
                        sys.exit(f"ab-bench: build '{a.builds[i]}' printed no result for {shape} {mode}")
                    times.setdefault((shape, mode, i), []).append(got[(shape, mode)])

    n = len(builds)
    print(f"{'shape':26s} {'mode':7s} " + ' '.join(f'{"build " + str(i):>17s}' for i in range(n)) +
          '   paired ratio to build 0')
    paired = {}  # (mode, i) -> [per-shape paired ratio]
    for mode in modes:
        for shape in shapes:
            base = times[(shape, mode, 0)]
            cells, ratios = [], []
            for i in range(n):
                t = times[(shape, mode, i)]
                cells.append(f'{statistics.median(t):8.3f} ({min(t):6.3f})')
                if i > 0:
                    r = statistics.median(b / a_ for a_, b in zip(base, t))
                    ratios.append(f'{r:.3f}')
                    paired.setdefault((mode, i), []).append(r)
            print(f'{shape:26s} {mode:7s} ' + ' '.join(cells) + '   ' + ' '.join(ratios))
    print('ms: median (best) over the repeats; paired ratio: median over repeats of build i / build 0, same repeat')
    for mode in modes:
        for i in range(1, n):
            print(f'geometric mean, {mode}, build {i} / build 0: {geomean(paired[(mode, i)]):.3f}')


if __name__ == '__main__':
    main()

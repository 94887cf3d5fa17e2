#!/usr/bin/env python3
"""Runs build/bin/sepconv-conformance on every reference case in both dtypes
and compares its output with the case's `expected` (tolerances from
tests/data/oracle/FORMAT.md). Usage:
    scripts/check_conformance.py [--bin BUILD/bin/sepconv-conformance] [--kinds layer,error] [CASE.json ...]
Exits 1 when any case fails."""
import argparse
import glob
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def flat(v):
    if isinstance(v, dict) and "data" in v:
        return v["shape"], v["data"]
    return None, v


def tolerance(case, dtype, kind):
    if case["name"].startswith("kerasjs"):
        return 1e-5, 2e-5  # 6 printed decimals
    if kind == "train":
        return (1e-9, 0) if dtype == "float64" else (1e-4, 0)
    return (1e-9, 0) if dtype == "float64" else (2e-5, 0)


def compare(name, exp, got, rel, abs_tol, errors):
    if isinstance(exp, list) and exp and isinstance(exp[0], dict):
        if not isinstance(got, list) or len(got) != len(exp):
            errors.append(f"{name}: expected a list of {len(exp)} tensors")
            return
        for i, (e, g) in enumerate(zip(exp, got)):
            compare(f"{name}[{i}]", e, g, rel, abs_tol, errors)
        return
    es, ed = flat(exp)
    gs, gd = flat(got)
    if es is not None and es != gs:
        errors.append(f"{name}: shape {gs} != expected {es}")
        return
    if not isinstance(ed, list):
        ed, gd = [ed], [gd]
    if len(ed) != len(gd):
        errors.append(f"{name}: {len(gd)} values != expected {len(ed)}")
        return
    scale = max([abs(x) for x in ed] + [1e-300])
    worst = 0.0
    for e, g in zip(ed, gd):
        if not isinstance(g, (int, float)) or math.isnan(g):
            errors.append(f"{name}: non-number {g}")
            return
        worst = max(worst, abs(e - g))
    if worst > rel * scale + abs_tol:
        errors.append(f"{name}: max abs diff {worst:.3g} > {rel:g} * {scale:.3g} + {abs_tol:g}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin", "sepconv-conformance"))
    ap.add_argument("--kinds", default="layer,error,optimizer,train")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    cases = args.cases or sorted(glob.glob(os.path.join(ROOT, "tests", "data", "oracle", "*.json")))
    kinds = set(args.kinds.split(","))
    failed = passed = 0
    for path in cases:
        case = json.load(open(path))
        if case.get("kind") not in kinds:
            continue
        for dtype in ("float64", "float32"):
            out = subprocess.run([args.bin, path, "--dtype", dtype], capture_output=True, text=True)
            errors = []
            try:
                got = json.loads(out.stdout)
            except ValueError:
                errors.append(f"unparsable output (rc {out.returncode}): {out.stdout[:200]!r} {out.stderr[:200]!r}")
                got = {}
            exp = case["expected"]
            if case["kind"] == "error":
                msg = got.get("error")
                if not isinstance(msg, str) or exp["error"].lower() not in msg.lower():
                    errors.append(f"error {msg!r} lacks {exp['error']!r}")
            else:
                if "error" in got:
                    errors.append(f"error: {got['error']}")
                rel, abs_tol = tolerance(case, dtype, case["kind"])
                for key, e in exp.items():
                    if key not in got:
                        errors.append(f"missing {key}")
                    else:
                        compare(key, e, got[key], rel, abs_tol, errors)
            name = f"{os.path.basename(path)} [{dtype}]"
            if errors:
                failed += 1
                print(f"FAIL {name}: " + "; ".join(errors[:4]))
            else:
                passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run every reference case through the conformance runner and compare.

Each case in tests/data/oracle (and tests/data/oracle/cases, if present) is run
through `sepconv-conformance CASE --dtype D` for D in float64 and float32, and
the runner's JSON output is compared with the case's `expected`, using the
tolerances of tests/data/oracle/FORMAT.md:

  float64, every kind ........ 1e-9 relative to the largest |value| of each
                               expected tensor or list (FORMAT: ~1e-10 holds)
  float32, layer / optimizer . 1e-5 relative
  float32, train, model_train  1e-4 relative (multi-step training)
  kerasjs_* (either dtype) ... 1e-5 relative + 5e-6 absolute (Keras printed
                               6 decimals)
  error cases ................ the output must be {"error": message}, and the
                               message must contain the gist's words, loosely
                               (case-insensitive, stop words and symbols
                               ignored, a plural/-ed/-ing ending may differ)

Usage:
  scripts/check-conformance.py [--runner PATH | --build-dir DIR] [--dtype float64,float32]
                               [--kinds layer,error,optimizer,train,model,model_train] [-j N] [-v] [CASE.json|DIR ...]

Exit status: 0 when every run passes, 1 when any fails, 2 when the runner or
the cases cannot be found.
"""
import argparse
import concurrent.futures
import glob
import json
import math
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORACLE = os.path.join(ROOT, "tests", "data", "oracle")
DTYPES = ("float64", "float32")
KINDS = ("layer", "error", "optimizer", "train", "model", "model_train")

STOP_WORDS = {
    "a", "an", "the", "be", "is", "are", "was", "were", "with", "and", "or", "of", "to", "in", "on",
    "for", "by", "as", "at", "it", "its", "must", "should", "would", "can", "cannot", "not", "no",
}


# ---- tolerances ---------------------------------------------------------------------------------

def tolerance(case, dtype):
    """(relative, absolute) tolerance for a case in a dtype."""
    if case.get("name", "").startswith("kerasjs") or os.path.basename(case.get("_path", "")).startswith("kerasjs"):
        return 1e-5, 5e-6
    if dtype == "float64":
        return 1e-9, 0.0
    if case.get("kind") in ("train", "model_train"):
        return 1e-4, 0.0
    return 1e-5, 0.0


# ---- comparing values ---------------------------------------------------------------------------

def to_number(v):
    """A JSON value as a float: the runner writes non-finite values as strings."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if v is None:
        return float("nan")
    if isinstance(v, str):
        return {"nan": float("nan"), "infinity": float("inf"), "inf": float("inf"),
                "-infinity": float("-inf"), "-inf": float("-inf")}.get(v.lower())
    return None


def is_tensor(v):
    return isinstance(v, dict) and "shape" in v and "data" in v


def compare_numbers(name, expected, got, rel, abs_tol, report):
    """Compares two flat lists of numbers, relative to the largest |expected|.
    Returns the worst error as a multiple of the allowed error (<= 1 passes)."""
    if len(expected) != len(got):
        report.append(f"{name}: {len(got)} values, expected {len(expected)}")
        return math.inf
    exp = [to_number(v) for v in expected]
    act = [to_number(v) for v in got]
    if any(v is None for v in exp):
        report.append(f"{name}: the case's expected values are not all numbers")
        return math.inf
    finite = [abs(v) for v in exp if math.isfinite(v)]
    scale = max(finite) if finite and max(finite) > 0 else 1.0
    allowed = rel * scale + abs_tol
    worst, worst_at = 0.0, None
    for i, (e, g) in enumerate(zip(exp, act)):
        if g is None:
            report.append(f"{name}[{i}]: not a number: {got[i]!r}")
            return math.inf
        if math.isnan(e) or math.isinf(e):
            same = (math.isnan(e) and math.isnan(g)) or e == g
            if not same:
                report.append(f"{name}[{i}]: {g!r}, expected {e!r}")
                return math.inf
            continue
        if not math.isfinite(g):
            report.append(f"{name}[{i}]: {g!r}, expected {e!r}")
            return math.inf
        ratio = abs(g - e) / allowed if allowed > 0 else (0.0 if g == e else math.inf)
        if ratio > worst:
            worst, worst_at = ratio, i
    if worst > 1:
        e, g = exp[worst_at], act[worst_at]
        report.append(f"{name}[{worst_at}]: {g!r} vs expected {e!r} (|diff| {abs(g - e):.3g} > "
                      f"{rel:g} * {scale:.3g} + {abs_tol:g})")
    return worst


def compare_value(name, expected, got, rel, abs_tol, report):
    """Compares one expected entry: a tensor, a list of tensors, a list of
    numbers or a number. Returns the worst error ratio."""
    if is_tensor(expected):
        if not is_tensor(got):
            report.append(f"{name}: expected a tensor {{shape, data}}, received {str(got)[:80]}")
            return math.inf
        if list(got["shape"]) != list(expected["shape"]):
            report.append(f"{name}: shape {got['shape']}, expected {expected['shape']}")
            return math.inf
        return compare_numbers(name, expected["data"], got["data"], rel, abs_tol, report)
    if isinstance(expected, dict):
        # {layer: {weight: tensor}} and the like: every expected key, recursively.
        if not isinstance(got, dict):
            report.append(f"{name}: expected an object, received {str(got)[:80]}")
            return math.inf
        worst = 0.0
        for k, e in expected.items():
            if k not in got:
                report.append(f"{name}/{k}: missing")
                worst = math.inf
                continue
            worst = max(worst, compare_value(f"{name}/{k}", e, got[k], rel, abs_tol, report))
        return worst
    if isinstance(expected, list) and expected and all(is_tensor(e) for e in expected):
        if not isinstance(got, list) or len(got) != len(expected):
            report.append(f"{name}: expected a list of {len(expected)} tensors, received "
                          f"{len(got) if isinstance(got, list) else type(got).__name__}")
            return math.inf
        return max(compare_value(f"{name}[{i}]", e, g, rel, abs_tol, report)
                   for i, (e, g) in enumerate(zip(expected, got)))
    if isinstance(expected, list):
        if not isinstance(got, list):
            report.append(f"{name}: expected a list, received {str(got)[:80]}")
            return math.inf
        return compare_numbers(name, expected, got, rel, abs_tol, report)
    if to_number(expected) is not None:
        if isinstance(got, list) and len(got) == 1:
            got = got[0]
        if is_tensor(got) and len(got["data"]) == 1:
            got = got["data"][0]
        return compare_numbers(name, [expected], [got], rel, abs_tol, report)
    if expected != got:
        report.append(f"{name}: {got!r}, expected {expected!r}")
        return math.inf
    return 0.0


# ---- error gists ----------------------------------------------------------------------------------

def stems(word):
    """The word and its forms without a plural/-ed/-ing ending."""
    out = {word}
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            out.add(word[: -len(suffix)])
    return out


def missing_gist_words(gist, message):
    """The gist's content words that the message lacks (loosely)."""
    text = message.lower()
    words = re.findall(r"[a-z_][a-z0-9_]*|\d+", gist.lower())
    missing = []
    for w in words:
        if w in STOP_WORDS or (len(w) < 2 and not w.isdigit()):
            continue
        if not any(s in text for s in stems(w)):
            missing.append(w)
    return missing


# ---- running ----------------------------------------------------------------------------------------

def run_case(runner, path, dtype, timeout):
    """Runs the runner; returns (parsed output or None, problem text or None)."""
    try:
        proc = subprocess.run([runner, path, "--dtype", dtype], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    if proc.returncode != 0:
        return None, f"runner exited {proc.returncode}: {proc.stderr.strip()[:300]}"
    if not lines:
        return None, f"runner printed nothing (stderr: {proc.stderr.strip()[:300]})"
    try:
        out = json.loads(lines[-1])
    except ValueError as e:
        return None, f"unparsable output ({e}): {lines[-1][:200]!r}"
    if not isinstance(out, dict):
        return None, f"output is not a JSON object: {lines[-1][:200]!r}"
    return out, None


def check(case, dtype, out, lenient_errors):
    """Returns (ok, worst ratio, [problems], [warnings])."""
    problems, warnings = [], []
    expected = case.get("expected", {})
    if case.get("kind") == "error":
        msg = out.get("error")
        if not isinstance(msg, str) or not msg:
            return False, math.inf, [f"expected an error ({expected.get('error')!r}), got {json.dumps(out)[:200]}"], []
        gist = expected.get("error", "")
        missing = missing_gist_words(gist, msg) if isinstance(gist, str) else []
        if missing:
            text = f"error message lacks {missing} of the gist {gist!r}: {msg[:200]!r}"
            (warnings if lenient_errors else problems).append(text)
        return not problems, 0.0, problems, warnings
    if "error" in out:
        return False, math.inf, [f"runner error: {out['error']}"], []
    rel, abs_tol = tolerance(case, dtype)
    worst = 0.0
    for key, exp in expected.items():
        if key not in out:
            problems.append(f"missing result `{key}`")
            worst = math.inf
            continue
        worst = max(worst, compare_value(key, exp, out[key], rel, abs_tol, problems))
    return not problems and worst <= 1, worst, problems, warnings


def find_cases(paths):
    files = []
    if not paths:
        paths = [ORACLE, os.path.join(ORACLE, "cases")]
    for p in paths:
        if os.path.isdir(p):
            files.extend(sorted(glob.glob(os.path.join(p, "*.json"))))
        elif os.path.isfile(p):
            files.append(p)
        elif p not in (os.path.join(ORACLE, "cases"),):
            print(f"check-conformance: no such case file or directory: {p}", file=sys.stderr)
            sys.exit(2)
    cases = []
    seen = set()
    for f in files:
        real = os.path.realpath(f)
        if real in seen:
            continue
        seen.add(real)
        try:
            with open(f) as fh:
                case = json.load(fh)
        except (OSError, ValueError) as e:
            print(f"check-conformance: cannot read {f}: {e}", file=sys.stderr)
            sys.exit(2)
        if not isinstance(case, dict) or "kind" not in case:
            continue  # not a case file
        case["_path"] = f
        cases.append(case)
    return cases


def default_runner(build_dir):
    candidates = []
    if os.environ.get("SEPCONV_CONFORMANCE"):
        candidates.append(os.environ["SEPCONV_CONFORMANCE"])
    if build_dir:
        candidates.append(os.path.join(build_dir, "bin", "sepconv-conformance"))
    candidates.append(os.path.join(ROOT, "build", "bin", "sepconv-conformance"))
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return candidates[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", help="case files or directories (default: tests/data/oracle)")
    ap.add_argument("--runner", help="path of sepconv-conformance (default: $SEPCONV_CONFORMANCE, "
                                     "BUILD_DIR/bin/sepconv-conformance, build/bin/sepconv-conformance)")
    ap.add_argument("--build-dir", help="a build directory whose bin/ holds the runner")
    ap.add_argument("--dtype", default=",".join(DTYPES), help="dtypes to run (default: float64,float32)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="case kinds to run (default: all)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run (default 300)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="runs in parallel (default 1)")
    ap.add_argument("--lenient-errors", action="store_true",
                    help="report error messages that lack gist words as warnings, not failures")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run with its worst error ratio")
    args = ap.parse_args()

    runner = args.runner or default_runner(args.build_dir)
    if not (os.path.isfile(runner) and os.access(runner, os.X_OK)):
        print(f"check-conformance: runner not found or not executable: {runner}\n"
              f"  build it (cmake --build BUILD --target sepconv-conformance) or pass --runner/--build-dir",
              file=sys.stderr)
        return 2
    dtypes = [d for d in args.dtype.split(",") if d]
    kinds = set(k for k in args.kinds.split(",") if k)
    for d in dtypes:
        if d not in DTYPES:
            print(f"check-conformance: unknown dtype {d!r} (float32, float64)", file=sys.stderr)
            return 2
    cases = [c for c in find_cases(args.cases) if c["kind"] in kinds]
    if not cases:
        print("check-conformance: no cases found", file=sys.stderr)
        return 2

    jobs = [(case, dtype) for case in cases for dtype in dtypes]

    def work(job):
        case, dtype = job
        out, problem = run_case(runner, case["_path"], dtype, args.timeout)
        if problem:
            return case, dtype, False, math.inf, [problem], []
        return (case, dtype) + check(case, dtype, out, args.lenient_errors)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(work, jobs))

    tally = {}
    failures, warnings_seen = 0, 0
    for case, dtype, ok, worst, problems, warnings in results:
        name = f"{os.path.basename(case['_path'])} [{dtype}]"
        key = (case["kind"], dtype)
        passed, total = tally.get(key, (0, 0))
        tally[key] = (passed + (1 if ok else 0), total + 1)
        if not ok:
            failures += 1
            print(f"FAIL {name}")
            for p in problems[:6]:
                print(f"     {p}")
            if len(problems) > 6:
                print(f"     ... and {len(problems) - 6} more")
        elif args.verbose:
            ratio = "" if case["kind"] == "error" else f"  (worst error {worst:.3g} of the tolerance)"
            print(f"ok   {name}{ratio}")
        for w in warnings:
            warnings_seen += 1
            print(f"WARN {name}: {w}")

    print()
    print(f"runner: {runner}")
    print(f"{'kind':<10} " + " ".join(f"{d:>12}" for d in dtypes))
    for kind in KINDS:
        if not any(k == kind for k, _ in tally):
            continue
        cells = []
        for d in dtypes:
            passed, total = tally.get((kind, d), (0, 0))
            cells.append(f"{passed}/{total}" if total else "-")
        print(f"{kind:<10} " + " ".join(f"{c:>12}" for c in cells))
    total = len(results)
    print(f"\n{total - failures} of {total} runs passed, {failures} failed"
          + (f", {warnings_seen} warnings" if warnings_seen else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

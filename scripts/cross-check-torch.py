#!/usr/bin/python3
"""Cross-checks the layer's geometry against PyTorch on random configurations.

usage: scripts/cross-check-torch.py [--count N] [--seed S] [--bin DIR] [--keep DIR]

Draws N random SeparableConv2D configurations (kernel sizes, strides or
dilations, depth multipliers, paddings, data formats, bias, every Keras activation the layer takes by name, regularizers and
constraints as string ids or configs with random factors and axes),
writes each as a `layer` case in the format of shared/oracle/FORMAT.md with
the expected output and gradients computed by PyTorch in float64 (TensorFlow's
"same" split written out: the odd pixel goes bottom/right), runs
build/bin/sepconv-conformance on it in float64 and float32 and compares. A
developer's tool beside the reference cases: it needs python3-torch
(scripts/install-deps.sh --bench), so the test suite does not run it.
Exits non-zero on the first disagreement, leaving the case in --keep.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
torch.set_default_dtype(torch.float64)


def same_split(size, k, s, d):
    eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def draw_regularizer(rng):
    r = rng.random()
    if r < 0.5:
        return None
    if r < 0.7:
        return rng.choice(["l1", "l2", "l1l2"])
    l1, l2 = rng.choice([0.0, rng.uniform(0, 0.1)]), rng.choice([0.0, rng.uniform(0, 0.1)])
    return rng.choice([{"class_name": "L1L2", "config": {"l1": l1, "l2": l2}},
                       {"class_name": "L1", "config": {"l1": l1}}, {"class_name": "L2", "config": {"l2": l2}}])


def draw_constraint(rng, rank):
    r = rng.random()
    if r < 0.5:
        return None
    if r < 0.7:
        return rng.choice(["max_norm", "non_neg", "unit_norm", "min_max_norm"])
    axes = sorted(rng.sample(range(rank), rng.randint(1, rank)))
    axis = axes[0] if len(axes) == 1 and rng.random() < 0.5 else axes
    return rng.choice([
        {"class_name": "MaxNorm", "config": {"max_value": rng.uniform(0.2, 3), "axis": axis}},
        {"class_name": "NonNeg", "config": {}},
        {"class_name": "UnitNorm", "config": {"axis": axis}},
        {"class_name": "MinMaxNorm", "config": {"min_value": rng.uniform(0, 0.5), "max_value": rng.uniform(0.5, 2),
                                                "rate": rng.uniform(0, 1), "axis": axis}}])


REG_DEFAULTS = {"l1": ("L1", {"l1": 0.01}), "l2": ("L2", {"l2": 0.01}), "l1l2": ("L1L2", {"l1": 0.0, "l2": 0.0})}


def penalty(ident, w):
    """keras.regularizers: l1 * sum|w| + l2 * sum(w^2)."""
    if ident is None:
        return torch.zeros(())
    name, cfg = REG_DEFAULTS[ident] if isinstance(ident, str) else (ident["class_name"], ident["config"])
    l1 = cfg.get("l1", 0.01 if name == "L1" else 0.0)
    l2 = cfg.get("l2", 0.01 if name == "L2" else 0.0)
    return l1 * w.abs().sum() + l2 * (w * w).sum()


def constrain(ident, w):
    """keras.constraints, epsilon 1e-7; `axis` over the weight's Keras shape."""
    if ident is None:
        return w
    name, cfg = ({"max_norm": "MaxNorm", "non_neg": "NonNeg", "unit_norm": "UnitNorm",
                  "min_max_norm": "MinMaxNorm"}[ident], {}) if isinstance(ident, str) else (ident["class_name"],
                                                                                            ident["config"])
    if name == "NonNeg":
        return w * (w >= 0)
    axis = cfg.get("axis", 0)
    axis = [axis] if isinstance(axis, int) else axis
    norms = torch.sqrt((w * w).sum(dim=axis, keepdim=True))
    if name == "UnitNorm":
        return w / (1e-7 + norms)
    if name == "MaxNorm":
        desired = norms.clamp(0, cfg.get("max_value", 2.0))
    else:
        rate = cfg.get("rate", 1.0)
        desired = rate * norms.clamp(cfg.get("min_value", 0.0), cfg.get("max_value", 1.0)) + (1 - rate) * norms
    return w * (desired / (1e-7 + norms))


def draw(rng):
    while True:
        kh, kw = rng.randint(1, 5), rng.randint(1, 5)
        sh = sw = dh = dw = 1
        if rng.random() < 0.5:
            sh, sw = rng.randint(1, 3), rng.randint(1, 3)
        else:
            dh, dw = rng.randint(1, 3), rng.randint(1, 3)
        cfg = {"filters": rng.randint(1, 6), "kernel_size": [kh, kw], "strides": [sh, sw],
               "padding": rng.choice(["valid", "same"]),
               "data_format": rng.choice(["channels_last", "channels_first"]), "dilation_rate": [dh, dw],
               "depth_multiplier": rng.randint(1, 3),
               "activation": rng.choice([None, "relu", rng.choice(sorted(k for k in ACTIVATIONS if k))]),
               "use_bias": rng.random() < 0.7}
        for key in ("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer", "activity_regularizer"):
            cfg[key] = draw_regularizer(rng)
        for key, rank in (("depthwise_constraint", 4), ("pointwise_constraint", 4), ("bias_constraint", 1)):
            cfg[key] = draw_constraint(rng, rank)
        n, h, w, c = rng.randint(1, 3), rng.randint(1, 11), rng.randint(1, 11), rng.randint(1, 5)
        if cfg["padding"] == "valid" and ((kh - 1) * dh + 1 > h or (kw - 1) * dw + 1 > w):
            continue
        return cfg, (n, h, w, c)


# keras.activations, written with PyTorch (FORMAT.md: gelu exact, hard_sigmoid =
# relu6(x + 3) / 6, leaky_relu slope 0.2).
ACTIVATIONS = {
    None: lambda y: y, "linear": lambda y: y, "relu": F.relu, "relu6": F.relu6,
    "leaky_relu": lambda y: F.leaky_relu(y, 0.2), "elu": F.elu, "selu": F.selu,
    "gelu": lambda y: F.gelu(y), "silu": F.silu, "swish": F.silu, "softplus": F.softplus,
    "softsign": F.softsign, "sigmoid": torch.sigmoid, "hard_sigmoid": lambda y: F.relu6(y + 3) / 6,
    "hard_silu": lambda y: y * F.relu6(y + 3) / 6, "tanh": torch.tanh, "exponential": torch.exp,
    "mish": lambda y: y * torch.tanh(F.softplus(y)), "softmax": lambda y: torch.softmax(y, -1),
    "log_softmax": lambda y: torch.log_softmax(y, -1),
}


def tensor(t):
    return {"shape": list(t.shape), "data": t.flatten().tolist()}


def make_case(name, cfg, dims, gen):
    n, h, w, c = dims
    (kh, kw), (sh, sw), (dh, dw) = cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"]
    dm, f = cfg["depth_multiplier"], cfg["filters"]
    x = torch.randn(n, h, w, c, generator=gen)  # NHWC
    dk = torch.randn(kh, kw, c, dm, generator=gen) * 0.5
    pk = torch.randn(1, 1, c * dm, f, generator=gen) * 0.5
    b = torch.randn(f, generator=gen)
    for t in (x, dk, pk, b):
        t.requires_grad_(True)
    xc = x.permute(0, 3, 1, 2)
    if cfg["padding"] == "same":
        pt, pb = same_split(h, kh, sh, dh)
        pl, pr = same_split(w, kw, sw, dw)
        xc = F.pad(xc, (pl, pr, pt, pb))
    # Keras depthwise (kh, kw, c, dm) -> torch (c*dm, 1, kh, kw): output channel c*dm + m.
    wd = dk.permute(2, 3, 0, 1).reshape(c * dm, 1, kh, kw)
    y = F.conv2d(xc, wd, stride=(sh, sw), dilation=(dh, dw), groups=c)
    wp = pk.reshape(c * dm, f).t().reshape(f, c * dm, 1, 1)
    y = F.conv2d(y, wp, b if cfg["use_bias"] else None)
    if cfg["data_format"] == "channels_last":
        y = y.permute(0, 2, 3, 1)
    # After the layout: softmax and log_softmax act on the last axis as laid out.
    y = ACTIVATIONS[cfg["activation"]](y)
    up = torch.randn(y.shape, generator=gen)
    (y * up).sum().backward(retain_graph=True)
    grads = [None if t.grad is None else t.grad.clone() for t in (x, dk, pk, b)]
    for t in (x, dk, pk, b):
        t.grad = None
    reg = (penalty(cfg["depthwise_regularizer"], dk) + penalty(cfg["pointwise_regularizer"], pk) +
           (penalty(cfg["bias_regularizer"], b) if cfg["use_bias"] else 0) +
           penalty(cfg["activity_regularizer"], y) / n)  # Keras 3.14+: activity penalty / batch size
    ((y * up).sum() + reg).backward()
    reg_grads = [t.grad for t in (x, dk, pk, b)]
    x.grad, dk.grad, pk.grad, b.grad = grads
    x_in = x.detach() if cfg["data_format"] == "channels_last" else x.detach().permute(0, 3, 1, 2)
    gx = x.grad if cfg["data_format"] == "channels_last" else x.grad.permute(0, 3, 1, 2)
    tensors = {"input": tensor(x_in), "depthwise_kernel": tensor(dk.detach()),
               "pointwise_kernel": tensor(pk.detach()), "upstream": tensor(up)}
    expected = {"output": tensor(y.detach()), "grad_input": tensor(gx), "grad_depthwise_kernel": tensor(dk.grad),
                "grad_pointwise_kernel": tensor(pk.grad)}
    rgx = reg_grads[0] if cfg["data_format"] == "channels_last" else reg_grads[0].permute(0, 3, 1, 2)
    expected.update({"regularization_loss": float(reg), "grad_with_regularization_input": tensor(rgx),
                     "grad_with_regularization_depthwise_kernel": tensor(reg_grads[1]),
                     "grad_with_regularization_pointwise_kernel": tensor(reg_grads[2]),
                     "constrained_depthwise_kernel": tensor(constrain(cfg["depthwise_constraint"], dk.detach())),
                     "constrained_pointwise_kernel": tensor(constrain(cfg["pointwise_constraint"], pk.detach()))})
    if cfg["use_bias"]:
        tensors["bias"] = tensor(b.detach())
        expected["grad_bias"] = tensor(b.grad)
        expected["grad_with_regularization_bias"] = tensor(reg_grads[3])
        expected["constrained_bias"] = tensor(constrain(cfg["bias_constraint"], b.detach()))
    return {"format": "sepconv-case/1", "kind": "layer", "name": name, "layer": cfg, "tensors": tensors,
            "expected": expected}


def worst_error(got, want):
    if not isinstance(want, dict):  # a number: the regularization loss
        return abs(float(got) - want) / max(abs(want), 1.0)
    g, w = got["data"], want["data"]
    if got["shape"] != want["shape"]:
        return float("inf")
    # Relative to the tensor's largest value, but at least 1 (the inputs are of
    # order 1): some gradients are exactly zero in theory (a bias under softmax
    # over an axis it is constant along) and both sides hold rounding noise.
    scale = max([abs(v) for v in w] + [1.0])
    return max([abs(a - b) for a, b in zip(g, w)] + [0.0]) / scale


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--keep", default=tempfile.mkdtemp(prefix="sepconv-cross-"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    runner = os.path.join(args.bin, "sepconv-conformance")
    worst = {"float64": 0.0, "float32": 0.0}
    for i in range(args.count):
        cfg, dims = draw(rng)
        case = make_case(f"cross_{args.seed}_{i}", cfg, dims, gen)
        path = os.path.join(args.keep, case["name"] + ".json")
        with open(path, "w") as fh:
            json.dump(case, fh)
        # float64 must agree to rounding. In float32 the inputs themselves are
        # rounded, and a gradient that sums few terms with cancellation (a bias
        # gradient of one filter over nine pixels) can lose several digits
        # relative to its own size; the bound there only catches real errors.
        for dtype, tol in (("float64", 1e-10), ("float32", 1e-3)):
            out = subprocess.run([runner, path, "--dtype", dtype], capture_output=True, text=True)
            got = json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else {"error": out.stderr}
            if "error" in got:
                print(f"FAIL {path} {dtype}: {got['error']}")
                return 1
            for key, want in case["expected"].items():
                err = worst_error(got[key], want)
                worst[dtype] = max(worst[dtype], err)
                if err > tol:
                    print(f"FAIL {path} {dtype} {key}: relative error {err:.3g} > {tol}; layer {json.dumps(cfg)} "
                          f"input (N, H, W, C) {dims}")
                    return 1
        os.remove(path)
    print(f"{args.count} random configurations agree with PyTorch: worst relative error "
          f"{worst['float64']:.2g} (float64), {worst['float32']:.2g} (float32)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

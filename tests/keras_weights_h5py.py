#!/usr/bin/env python3
"""h5py's view of our Keras weight files, and our view of h5py's.

Usage: keras_weights_h5py.py DRIVER   (tests/keras_weights_driver)

The layout expected here is written from Keras 3's saving rules
(keras/src/saving/saving_lib.py: a root "vars" group, "layers/<snake_case class
name>[_N]" in model.layers order, each with "vars/0", "vars/1", ... in the
layer's variable order, "optimizer/vars" = iteration, learning_rate, then the
slots created by build()), not from our writer. Exits 77 (ctest: skipped) when
h5py or numpy is missing.
"""
import json
import math
import os
import re
import ctypes
import ctypes.util
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"keras_weights_h5py skipped: {e} (scripts/install-deps.sh --test installs python3-h5py)")
    sys.exit(77)

# The functional model of tests/keras_weights_models.h, as Keras lists its layers
# (map_graph order, InputLayer included): (class name, our layer name, weight names).
FUNCTIONAL = [
    ("InputLayer", None, []),
    ("SeparableConv2D", "sep_a", ["depthwise_kernel", "pointwise_kernel", "bias"]),
    ("BatchNormalization", "bn", ["gamma", "beta", "moving_mean", "moving_variance"]),
    ("SeparableConv2D", "sep_b", ["depthwise_kernel", "pointwise_kernel", "bias"]),
    ("Add", None, []),
    ("DepthwiseConv2D", "dw", ["kernel", "bias"]),
    ("Conv2D", "conv", ["kernel", "bias"]),
    ("GlobalAveragePooling2D", None, []),
    ("Dense", "out", ["kernel", "bias"]),
]
# The Sequential one (Sequential.layers omits the InputLayer).
SEQUENTIAL = [
    ("SeparableConv2D", "s1", ["depthwise_kernel", "pointwise_kernel", "bias"]),
    ("BatchNormalization", "n1", ["gamma", "beta", "moving_mean", "moving_variance"]),
    ("SeparableConv2D", "s2", ["depthwise_kernel", "pointwise_kernel", "bias"]),
    ("Flatten", None, []),
    ("Dense", "d1", ["kernel", "bias"]),
]
NON_TRAINABLE = {"moving_mean", "moving_variance"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def to_snake_case(name):  # keras.src.utils.naming.to_snake_case
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def keras_keys(layers):  # saving_lib._save_container_state's de-duplication
    used, keys = {}, []
    for cls, _, _ in layers:
        key = to_snake_case(cls)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys.append(key)
    return keys


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}[e["dtype"]]
        b, en = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + en], dtype=dt).reshape(e["shape"])
    return out


def check_our_file(h5_path, st_path, layers, dtype, optimizer):
    st = read_safetensors(st_path)
    with h5py.File(h5_path, "r") as f:
        roots = sorted(f.keys())
        check(roots == sorted(["layers", "vars"] + (["optimizer"] if optimizer else [])), f"{h5_path}: root {roots}")
        check(len(f["vars"]) == 0, "root vars is empty")
        check(len(f.attrs) == 0, "no root attributes")
        keys = keras_keys(layers)
        check(sorted(f["layers"].keys()) == sorted(keys), f"layer groups {sorted(f['layers'].keys())} vs {keys}")
        trainable = []
        for key, (cls, name, weights) in zip(keys, layers):
            g = f["layers"][key]
            check(list(g.keys()) == ["vars"], f"{key} holds only vars")
            v = g["vars"]
            check(sorted(v.keys(), key=int) == [str(i) for i in range(len(weights))], f"{key}/vars names {list(v.keys())}")
            for i, w in enumerate(weights):
                ds = v[str(i)]
                ref = st[f"{key}/{w}"]  # our checkpoints key weights by place too
                check(ds.dtype == np.dtype(dtype), f"{key}/vars/{i} dtype {ds.dtype}")
                check(ds.shape == ref.shape, f"{key}/vars/{i} ({name}/{w}) shape {ds.shape} vs {ref.shape}")
                check(np.array_equal(ds[()], ref), f"{key}/vars/{i} ({name}/{w}) values")
                if w not in NON_TRAINABLE:
                    trainable.append(f"{key}/{w}")
        if optimizer:
            ov = f["optimizer"]["vars"]
            check(sorted(f["optimizer"].keys()) == ["vars"], "optimizer holds only vars")
            # iteration, learning_rate, then Adam's momentum and velocity interleaved per variable
            check(len(ov) == 2 + 2 * len(trainable), f"optimizer/vars count {len(ov)}")
            check(ov["0"].shape == () and ov["0"].dtype == np.int64, "iteration is an int64 scalar")
            check(int(ov["0"][()]) == int(st["optimizer/iteration"]), "iteration value")
            check(ov["1"].shape == () and ov["1"].dtype == np.float32, "learning_rate is a float32 scalar")
            check(ov["1"][()] == np.float32(optimizer["learning_rate"]), "learning_rate value")
            for i, w in enumerate(trainable):
                for s, slot in enumerate(["momentum", "velocity"]):
                    ds = ov[str(2 + 2 * i + s)]
                    ref = st[f"optimizer/{w}/{slot}"]
                    check(ds.shape == ref.shape and np.array_equal(ds[()], ref), f"optimizer/vars/{2 + 2 * i + s} = {w} {slot}")


def test_value(layer, weight, k, salt, positive):  # tests/keras_weights_models.h
    v = 0.5 * math.sin(0.37 * k + 1.3 * weight + 2.1 * layer + salt)
    return 1.0 + abs(v) if positive else v


def values(shape, layer, weight, salt, positive):
    n = int(np.prod(shape)) if shape else 1
    return np.array([test_value(layer, weight, k, salt, positive) for k in range(n)]).astype(np.float32).reshape(shape)


# Shapes of the functional model's weights, from Keras's build() of each layer
# for a (6, 6, 3) input: SeparableConv2D(4, 3, same), BatchNormalization,
# SeparableConv2D(4, 3, same), DepthwiseConv2D(3), Conv2D(5, 1), Dense(3).
SHAPES = {
    "sep_a": [(3, 3, 3, 1), (1, 1, 3, 4), (4,)],
    "bn": [(4,), (4,), (4,), (4,)],
    "sep_b": [(3, 3, 4, 1), (1, 1, 4, 4), (4,)],
    "dw": [(3, 3, 4, 1), (4,)],
    "conv": [(1, 1, 4, 5), (5,)],
    "out": [(5, 3), (3,)],
}


def write_keras_layout(path, mutate=None, libver=None, compact=False):
    """A file as Keras 3 writes it for the functional model compiled with Adam
    (h5py's default format unless libver is given; compact: new-style groups
    that keep up to 100 links in their object header)."""
    gcpl = None
    if compact:
        # h5py does not wrap H5Pset_link_phase_change: call the libhdf5 it runs on.
        gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        lib = ctypes.CDLL(ctypes.util.find_library("hdf5_serial") or "libhdf5_serial.so")
        check(lib.H5Pset_link_phase_change(ctypes.c_int64(gcpl.id), 100, 90) >= 0, "H5Pset_link_phase_change")

    def group(parent, name):
        if gcpl is None:
            return parent.create_group(name)
        return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))

    with h5py.File(path, "w", libver=libver) as f:
        group(f, "vars")
        layers = group(f, "layers")
        trainable_shapes = []
        for i, (key, (cls, name, weights)) in enumerate(zip(keras_keys(FUNCTIONAL), FUNCTIONAL)):
            v = group(group(layers, key), "vars")
            for j, w in enumerate(weights):
                shape = SHAPES[name][j]
                v[str(j)] = values(shape, i, j, 0.0, w == "moving_variance")
                if w not in NON_TRAINABLE:
                    trainable_shapes.append(shape)
        ov = group(group(f, "optimizer"), "vars")
        ov["0"] = np.int64(7)
        ov["1"] = np.float32(0.005)
        for w, shape in enumerate(trainable_shapes):
            ov[str(2 + 2 * w)] = values(shape, w, 0, 11.0, False)
            ov[str(3 + 2 * w)] = values(shape, w, 1, 12.0, True)
        if mutate:
            mutate(f)


def run(driver, *args):
    return subprocess.run([driver, *args], capture_output=True, text=True)


def main():
    driver = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        r = run(driver, "write", d)
        check(r.returncode == 0, f"driver write: {r.stdout}{r.stderr}")
        check_our_file(os.path.join(d, "functional32.weights.h5"), os.path.join(d, "functional32.safetensors"),
                       FUNCTIONAL, "float32", {"learning_rate": 0.01})
        check_our_file(os.path.join(d, "sequential64.weights.h5"), os.path.join(d, "sequential64.safetensors"),
                       SEQUENTIAL, "float64", None)

        ours = os.path.join(d, "keras.weights.h5")
        write_keras_layout(ours)
        r = run(driver, "read", ours)
        check(r.returncode == 0 and "read ok" in r.stdout, f"driver read of h5py's file: {r.stdout}{r.stderr}")

        # The newer format (libver="latest"): groups keep their links in the
        # object header (here up to 100) or, past 8 links by default, in dense
        # storage (a fractal heap); both are read.
        for compact in (True, False):
            latest = os.path.join(d, f"latest_{'compact' if compact else 'dense'}.weights.h5")
            write_keras_layout(latest, libver="latest", compact=compact)
            r = run(driver, "read", latest)
            check(r.returncode == 0 and "read ok" in r.stdout, f"{latest}: {r.stdout}{r.stderr}")

        # Files that h5py writes easily and our loader must refuse, naming the path.
        def external(f):
            del f["layers/dense/vars/0"]
            f["layers/dense/vars/0"] = h5py.ExternalLink("elsewhere.h5", "/kernel")

        def soft(f):
            del f["layers/dense/vars/0"]
            f["layers/dense/vars/0"] = h5py.SoftLink("/layers/conv2d/vars/0")

        def compressed(f):
            data = f["layers/dense/vars/0"][()]
            del f["layers/dense/vars/0"]
            f["layers/dense/vars"].create_dataset("0", data=data, compression="gzip", chunks=True)

        def virtual(f):
            del f["layers/dense/vars/0"]
            layout = h5py.VirtualLayout(shape=(5, 3), dtype="f4")
            layout[:] = h5py.VirtualSource("elsewhere.h5", "/kernel", shape=(5, 3))
            f["layers/dense/vars"].create_virtual_dataset("0", layout)

        def string(f):
            del f["layers/dense/vars/0"]
            f["layers/dense/vars/0"] = "a string"

        def big_endian(f):
            data = f["layers/dense/vars/0"][()]
            del f["layers/dense/vars/0"]
            f["layers/dense/vars"].create_dataset("0", data=data.astype(">f4"))

        for mutate, words in [(external, ["layers/dense/vars/0", "external link"]),
                              (soft, ["layers/dense/vars/0", "soft link"]),
                              (compressed, ["layers/dense/vars/0", "chunks"]),
                              (virtual, ["layers/dense/vars/0", "virtual"]),
                              (string, ["layers/dense/vars/0", "string"]),
                              (big_endian, ["layers/dense/vars/0", "little-endian"])]:
            bad = os.path.join(d, mutate.__name__ + ".weights.h5")
            write_keras_layout(bad, mutate)
            r = run(driver, "load", bad)
            check(r.returncode == 1 and all(w in r.stdout for w in words) and bad in r.stdout,
                  f"{mutate.__name__}: {r.stdout}{r.stderr}")
    if failures:
        print(f"keras_weights_h5py: {len(failures)} failed")
        sys.exit(1)
    print("keras_weights_h5py ok")


if __name__ == "__main__":
    main()

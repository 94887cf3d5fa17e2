#!/usr/bin/python3
"""sepconv-model summary|convert|predict on the whole-model oracle cases.

For each public `model` case of tests/data/oracle (a Keras 3 config with its
weights and float64 reference outputs, computed from Keras semantics, not by
us), this writes the config as .json and the weights as a Keras 3
.weights.h5 with h5py in saving_lib's layout (groups keyed by place), then:
  - summary names every layer of the config;
  - convert .weights.h5 -> .safetensors -> .weights.h5 gives back the same
    datasets bit for bit, and the checkpoint's keys are the places;
  - predict with the float32 reference input prints, for a model with 2-D
    output, the argmax of the reference output (samples whose two best scores
    are closer than 1e-3 are not compared: float32 may order them otherwise);
  - bad command lines and files are refused with the file named, exit 1 or 2.
"""
import json
import os
import subprocess
import sys
import tempfile
import zipfile

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"sepconv_model_cli skipped: {e} (scripts/install-deps.sh --test installs python3-h5py)")
    sys.exit(77)

try:
    import onnx  # python3-onnx (scripts/install-deps.sh --interop); tests/onnx_runtime.sh runs the graphs
except ImportError:
    onnx = None

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_weights_h5py import keras_keys, read_safetensors  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(tool, *args):
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def model_layers(config):
    """(class name, layer name) in model.layers order: Functional lists its
    InputLayers (config order is map_graph order); Sequential omits them."""
    layers = config["config"]["layers"]
    if config["class_name"] == "Sequential":
        layers = [l for l in layers if l["class_name"] != "InputLayer"]
    return [(l["class_name"], l["config"]["name"]) for l in layers]


def write_weights_h5(path, config, weights):
    layers = model_layers(config)
    keys = keras_keys([(cls, name, None) for cls, name in layers])
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        for key, (cls, name) in zip(keys, layers):
            vars_group = f.create_group(f"layers/{key}/vars")
            for i, (wname, w) in enumerate(weights.get(name, {}).items()):
                vars_group[str(i)] = np.asarray(w["data"], dtype=np.float32).reshape(w["shape"])
    return keys, layers


def write_idx_float32(path, array):
    a = np.ascontiguousarray(array, dtype=">f4")
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x0D, a.ndim]))
        for d in a.shape:
            f.write(int(d).to_bytes(4, "big"))
        f.write(a.tobytes())


def main():
    with tempfile.TemporaryDirectory(prefix="sepconv_model_cli_") as tmp:
        check_all(sys.argv[1], sys.argv[2], tmp)
    if failures:
        print(f"sepconv_model_cli FAILED: {len(failures)} checks")
        sys.exit(1)
    print("sepconv_model_cli ok")


def check_all(tool, data_dir, tmp):
    cases = sorted(n for n in os.listdir(data_dir) if n.endswith(".json"))
    compared = 0
    for name in cases:
        with open(os.path.join(data_dir, name)) as f:
            case = json.load(f)
        if case.get("kind") != "model":
            continue
        base = os.path.join(tmp, name[:-5])
        cfg, h5, st, back = base + ".json", base + ".weights.h5", base + ".safetensors", base + "_back.weights.h5"
        with open(cfg, "w") as f:
            json.dump(case["model"], f)
        keys, layers = write_weights_h5(h5, case["model"], case["weights"])

        r = run(tool, "summary", cfg)
        check(r.returncode == 0, f"{name}: summary exit {r.returncode}: {r.stderr}")
        for _, lname in layers:
            check(lname in r.stdout, f"{name}: summary names layer {lname}")

        r = run(tool, "convert", h5, st, "--config", cfg)
        check(r.returncode == 0, f"{name}: convert to safetensors exit {r.returncode}: {r.stderr}")
        r = run(tool, "convert", st, back, "--config", cfg)
        check(r.returncode == 0, f"{name}: convert back exit {r.returncode}: {r.stderr}")
        if r.returncode == 0:
            tensors = read_safetensors(st)
            with h5py.File(h5, "r") as a, h5py.File(back, "r") as b:
                for key, (_, lname) in zip(keys, layers):
                    ga, gb = a[f"layers/{key}/vars"], b[f"layers/{key}/vars"]
                    check(sorted(ga.keys()) == sorted(gb.keys()), f"{name}: {key} datasets {list(gb.keys())}")
                    for i, wname in enumerate(case["weights"].get(lname, {})):
                        va = ga[str(i)][()]
                        check(np.array_equal(va, gb[str(i)][()]), f"{name}: {key}/vars/{i} round trip")
                        check(np.array_equal(va, tensors.get(f"{key}/{wname}")),
                              f"{name}: checkpoint key {key}/{wname} holds {lname}'s {wname}")

        # .keras: config and weights in one archive; back to .weights.h5 bitwise
        archive, from_archive = base + ".keras", base + "_from_keras.weights.h5"
        r = run(tool, "convert", h5, archive, "--config", cfg)
        check(r.returncode == 0, f"{name}: convert to .keras exit {r.returncode}: {r.stderr}")
        r = run(tool, "convert", archive, from_archive)
        check(r.returncode == 0, f"{name}: .keras to .weights.h5 exit {r.returncode}: {r.stderr}")
        if r.returncode == 0:
            with h5py.File(h5, "r") as a, h5py.File(from_archive, "r") as b:
                for key in keys:
                    ga, gb = a[f"layers/{key}/vars"], b[f"layers/{key}/vars"]
                    check(all(np.array_equal(ga[k][()], gb[k][()]) for k in ga.keys()) and
                          sorted(ga.keys()) == sorted(gb.keys()), f"{name}: {key} through .keras")
            with zipfile.ZipFile(archive) as z:
                check(sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"],
                      f"{name}: .keras members {z.namelist()}")
                check(json.loads(z.read("config.json"))["config"]["name"] == case["model"]["config"]["name"],
                      f"{name}: .keras config names the model")
        r = run(tool, "summary", archive)
        check(r.returncode == 0 and all(l in r.stdout for _, l in layers), f"{name}: summary of .keras")

        onnx_path = base + ".onnx"
        r = run(tool, "convert", h5, onnx_path, "--config", cfg)
        if "not supported by this build" in r.stderr:
            print(f"{name}: .onnx not checked: {r.stderr.strip()}")
        else:
            check(r.returncode == 0 and os.path.getsize(onnx_path) > 0, f"{name}: convert to .onnx: {r.stderr}")
            if onnx is not None and r.returncode == 0:
                onnx.checker.check_model(onnx.load(onnx_path), full_check=True)

        out = case["expected"].get("output")
        x = case["tensors"].get("input")
        if out is not None and x is not None and len(out["shape"]) == 2:
            images = base + "_input.idx"
            write_idx_float32(images, np.asarray(x["data"]).reshape(x["shape"]))
            r = run(tool, "predict", h5, "--config", cfg, "--images", images)
            check(r.returncode == 0, f"{name}: predict exit {r.returncode}: {r.stderr}")
            r2 = run(tool, "predict", archive, "--images", images)
            check(r2.returncode == 0 and r2.stdout == r.stdout, f"{name}: predict from .keras: {r2.stderr}")
            # a .keras made by Python alone (zipfile + h5py, Keras's three members, deflated as zipfile may)
            py_archive = base + "_python.keras"
            with zipfile.ZipFile(py_archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
                z.writestr("metadata.json", json.dumps({"keras_version": "3.8.0", "date_saved": "2026-01-01@00:00:00"}))
                z.writestr("config.json", json.dumps(case["model"]))
                with open(h5, "rb") as f:
                    z.writestr("model.weights.h5", f.read())
            r3 = run(tool, "predict", py_archive, "--images", images)
            check(r3.returncode == 0 and r3.stdout == r.stdout, f"{name}: predict from Python's .keras: {r3.stderr}")
            got = [int(v) for v in r.stdout.split()]
            ref = np.asarray(out["data"]).reshape(out["shape"])
            check(len(got) == ref.shape[0], f"{name}: predict printed {len(got)} classes for {ref.shape[0]} inputs")
            for i, row in enumerate(ref[: len(got)]):
                top2 = np.sort(row)[-2:]
                if top2[1] - top2[0] >= 1e-3:
                    check(got[i] == int(np.argmax(row)), f"{name}: sample {i} class {got[i]} vs {np.argmax(row)}")
                    compared += 1

    check(compared > 0, "no prediction was compared with a reference")
    # bad input: named, non-zero exit, no crash
    r = run(tool, "convert", os.path.join(tmp, "absent.weights.h5"), os.path.join(tmp, "o.safetensors"),
            "--config", cfg)
    check(r.returncode == 1 and "absent.weights.h5" in r.stderr, f"absent input: {r.returncode} {r.stderr}")
    r = run(tool, "convert", h5, os.path.join(tmp, "o.safetensors"))
    check(r.returncode == 1 and "--config" in r.stderr, f"weights without --config: {r.returncode} {r.stderr}")
    r = run(tool, "convert", h5, os.path.join(tmp, "o.txt"), "--config", cfg)
    check(r.returncode == 1 and "o.txt" in r.stderr, f"unknown extension: {r.returncode} {r.stderr}")
    r = run(tool, "convert", cfg, os.path.join(tmp, "o.weights.h5"))
    check(r.returncode == 1 and "needs weights" in r.stderr, f"config to weights: {r.returncode} {r.stderr}")
    r = run(tool, "frobnicate")
    check(r.returncode == 2, f"unknown subcommand: exit {r.returncode}")
    r = run(tool, "predict", h5, "--config", cfg)
    check(r.returncode == 2 and "--images" in r.stderr, f"predict without --images: {r.returncode} {r.stderr}")
    for sub in ["summary", "convert", "predict"]:
        r = run(tool, sub, "--help")
        check(r.returncode == 0 and "Usage" in r.stdout, f"{sub} --help: {r.returncode}")

    print(f"{compared} predictions compared with the reference argmax")


if __name__ == "__main__":
    main()

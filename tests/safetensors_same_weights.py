#!/usr/bin/env python3
"""Compares the tensors of two safetensors files bit for bit (metadata aside).
Usage: safetensors_same_weights.py A B. Exit 0 and "same weights: N tensors" when every
tensor has the same name, dtype, shape and bytes; exit 1 naming the first difference."""
import json
import struct
import sys


def tensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    return {name: (t["dtype"], t["shape"], data[t["data_offsets"][0]:t["data_offsets"][1]])
            for name, t in header.items()}


def main():
    a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
    if sorted(a) != sorted(b):
        print(f"different tensor names: {sorted(set(a) ^ set(b))}")
        return 1
    for name in sorted(a):
        if a[name] != b[name]:
            da, db = a[name][2], b[name][2]
            first = next((i for i in range(min(len(da), len(db))) if da[i] != db[i]), None)
            print(f"tensor {name} differs ({a[name][0]} {a[name][1]} vs {b[name][0]} {b[name][1]}, first byte {first})")
            return 1
    print(f"same weights: {len(a)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Expected outputs of tests/test_random_translation.cpp, from numpy alone.

An independent implementation of what Keras's numpy backend does for
RandomTranslation (keras/src/backend/numpy/image.py, affine_transform with the
matrix [[1, 0, -dx], [0, 1, -dy]]): pad the image with np.pad in the fill mode
("reflect" is numpy's "symmetric": d c b a | a b c d; "nearest" is "edge"),
then sample the padded image at (y - dy, x - dx), bilinearly or at the
nearest pixel (rounded half away from zero). Prints the C++ initializers the
test holds; rerun it and paste them if the cases change.
"""
import numpy as np

H, W, C = 4, 5, 2
# image n, channel c: 1..20 row-major in channel 0, 100 + that in channel 1,
# the second image negated.
base = np.arange(1, H * W + 1, dtype=np.float64).reshape(H, W)
img0 = np.stack([base, 100 + base], axis=-1)
images = [img0, -img0]
# per image (dy, dx) in pixels; float32 values, as the layer's shifts are
shifts = [(np.float32(1.25), np.float32(-0.5)), (np.float32(-3.75), np.float32(4.6))]
nearest_shifts = [(np.float32(0.6), np.float32(-1.4)), (np.float32(-2.2), np.float32(6.3))]
FILL = -1.0
PAD = 32


def padded(img, mode):
    widths = ((PAD, PAD), (PAD, PAD), (0, 0))
    if mode == "constant":
        return np.pad(img, widths, mode="constant", constant_values=FILL)
    return np.pad(img, widths, mode={"reflect": "symmetric", "wrap": "wrap", "nearest": "edge"}[mode])


def round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def translate(img, dy, dx, mode, interpolation):
    p = padded(img, mode)
    out = np.zeros_like(img)
    for y in range(H):
        for x in range(W):
            cy, cx = y - float(dy) + PAD, x - float(dx) + PAD
            if interpolation == "nearest":
                out[y, x] = p[int(round_half_away(cy)), int(round_half_away(cx))]
            else:
                y0, x0 = int(np.floor(cy)), int(np.floor(cx))
                ty, tx = cy - y0, cx - x0
                out[y, x] = ((1 - ty) * (1 - tx) * p[y0, x0] + (1 - ty) * tx * p[y0, x0 + 1] +
                             ty * (1 - tx) * p[y0 + 1, x0] + ty * tx * p[y0 + 1, x0 + 1])
    return out


for interpolation, sh in (("bilinear", shifts), ("nearest", nearest_shifts)):
    for mode in ("reflect", "wrap", "constant", "nearest"):
        out = np.stack([translate(images[n], *sh[n], mode, interpolation) for n in range(2)])
        vals = ", ".join(repr(float(v)) for v in out.ravel())
        print(f'{{"{mode}", "{interpolation}", {{{vals}}}}},')

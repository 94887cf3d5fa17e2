#pragma once
// Ops that join, pad and reduce arrays, for the merge and reshaping layers.
// Each checks its inputs (ShapeError naming the op and the shapes), runs a
// kernel of core/kernels/layout.h and records its backward on the tape.
#include <array>
#include <cstdint>
#include <vector>

#include "sepconv/autograd/tape.h"

namespace sepconv {

// Joins xs along `axis` (negative counts from the end). All must have the same
// rank and the same sizes on every other axis. Backward: each input gets its
// slice of the output gradient.
template <typename T>
Variable<T> concatenate(const std::vector<Variable<T>>& xs, int64_t axis);

// Elementwise max / min of two same-shape tensors. Where a == b the whole
// gradient goes to a, as TensorFlow's Maximum/Minimum gradient (mask
// a >= b, resp. a <= b), Keras's default backend; JAX would split it in
// halves. Folded left over a list (Keras's Maximum layer), ties go to the
// earliest input.
template <typename T>
Variable<T> maximum(const Variable<T>& a, const Variable<T>& b);
template <typename T>
Variable<T> minimum(const Variable<T>& a, const Variable<T>& b);

// x NHWC -> (n, h + top + bottom, w + left + right, c) with zeros around the
// image; padding = {{top, bottom}, {left, right}}, all >= 0. Backward: the
// crop of the output gradient.
template <typename T>
Variable<T> zero_pad2d(const Variable<T>& x, std::array<std::array<int64_t, 2>, 2> padding);

// x NHWC -> (n, c), or (n, 1, 1, c) with keepdims: the max over the spatial
// positions (at least one). The gradient is shared equally among the
// positions that reach the max, as tf.reduce_max's and jax.numpy.max's.
template <typename T>
Variable<T> global_max_pool2d(const Variable<T>& x, bool keepdims);

}  // namespace sepconv

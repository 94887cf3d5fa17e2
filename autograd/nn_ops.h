#pragma once
// Differentiable ops of the non-convolution layers: dense, pooling, batch
// normalization, dropout. Same contract as autograd/ops.h: check the inputs,
// run the forward loops, and when a gradient is needed record a closure that
// captures only what backward needs. Every op is gradient-checked in double in
// tests/test_nn_ops_gradcheck.cpp.
//
// The loops are kernels of core/kernels/ (pooling.h, normalization.h,
// elementwise.h); every reduction across a batch there runs over fixed blocks
// of rows combined in block order, so results are bitwise the same whatever
// the thread count.
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "sepconv/autograd/tape.h"
#include "sepconv/core/geometry.h"
#include "sepconv/core/kernels/pooling.h"
#include "sepconv/core/kernels/translate.h"

namespace sepconv {

// ---- dense --------------------------------------------------------------------
// x: (..., in); kernel: (in, units) (Keras's Dense kernel); bias: (units) or none.
// Returns (..., units): x @ kernel + bias over the last axis.
template <typename T>
Variable<T> dense(const Variable<T>& x, const Variable<T>& kernel, const std::optional<Variable<T>>& bias);
// a: (m, k), b: (k, n) -> (m, n).
template <typename T>
Variable<T> matmul(const Variable<T>& a, const Variable<T>& b);

// ---- pooling (NHWC) -------------------------------------------------------------
// input: (batch, h, w, channels). Throws ValueError for a non-positive pool size
// or stride, or an empty output; ShapeError for an input that is not rank 4.
PoolGeometry make_pool_geometry(const Shape& input, std::array<int64_t, 2> pool_size, std::array<int64_t, 2> strides,
                                Padding padding, const char* op = "pooling");

// Max over each window; padded positions never win. The gradient goes to the
// first maximum of the window in row-major order.
template <typename T>
Variable<T> max_pool2d(const Variable<T>& x, std::array<int64_t, 2> pool_size, std::array<int64_t, 2> strides,
                       Padding padding);
// Mean over each window's positions inside the input (TensorFlow's "same"
// average pooling does not count the padding).
template <typename T>
Variable<T> avg_pool2d(const Variable<T>& x, std::array<int64_t, 2> pool_size, std::array<int64_t, 2> strides,
                       Padding padding);
// (batch, h, w, c) -> (batch, c), or (batch, 1, 1, c) with keepdims.
template <typename T>
Variable<T> global_average_pool2d(const Variable<T>& x, bool keepdims = false);

// ---- batch normalization (over every axis but the last) ---------------------------
template <typename T>
struct BatchNormOutput {
  Variable<T> y;
  Tensor<T> mean;      // (channels): the batch mean
  Tensor<T> variance;  // (channels): the biased batch variance, as Keras uses for the moving average
};
// Training mode: y = (x - mean) / sqrt(var + epsilon) * gamma + beta with the
// batch's statistics; the gradient flows through the statistics too.
// gamma/beta: (channels) or none (scale 1 / offset 0).
template <typename T>
BatchNormOutput<T> batch_norm_training(const Variable<T>& x, const std::optional<Variable<T>>& gamma,
                                       const std::optional<Variable<T>>& beta, double epsilon);
// Inference mode: the given statistics (constants, e.g. the moving averages).
template <typename T>
Variable<T> batch_norm_inference(const Variable<T>& x, const Tensor<T>& mean, const Tensor<T>& variance,
                                 const std::optional<Variable<T>>& gamma, const std::optional<Variable<T>>& beta,
                                 double epsilon);

// ---- dropout --------------------------------------------------------------------
// The inverted-dropout mask: each element independently 0 with probability
// `rate` (rounded to a multiple of 2^-16), else 1 / (1 - rate). A pure function of (seed, counter, shape), so a
// layer that advances `counter` per call is reproducible and resumable.
template <typename T>
Tensor<T> dropout_mask(const Shape& shape, double rate, uint64_t seed, uint64_t counter);
// y = x * mask (mask a constant of x's shape).
template <typename T>
Variable<T> apply_mask(const Variable<T>& x, const Tensor<T>& mask);
// apply_mask(x, dropout_mask(x.shape(), rate, seed, counter)); rate in [0, 1).
template <typename T>
Variable<T> dropout(const Variable<T>& x, double rate, uint64_t seed, uint64_t counter);

// ---- image flips ---------------------------------------------------------------------
// x: (batch, h, w, c). Image i is mirrored along its height when flip_h[i] and
// along its width when flip_w[i] (both: rotated by 180 degrees).
template <typename T>
Variable<T> flip_images(const Variable<T>& x, const std::vector<uint8_t>& flip_h, const std::vector<uint8_t>& flip_w);

// ---- image translations ------------------------------------------------------------
// x: (batch, h, w, c). Image i is shifted down by shift_h[i] and right by
// shift_w[i] pixels (fractions allowed; negative: up / left), resampled and
// filled as core/kernels/translate.h describes. The gradient flows to x
// through the transpose of the resampling (fill_value is a constant).
template <typename T>
Variable<T> translate_images(const Variable<T>& x, const std::vector<float>& shift_h, const std::vector<float>& shift_w,
                             kernels::Interpolation interpolation, kernels::FillMode fill_mode, double fill_value);

}  // namespace sepconv

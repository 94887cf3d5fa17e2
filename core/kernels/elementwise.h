#pragma once
// Element-wise loops of the regularization and augmentation ops: dropout's
// counter-based mask, products with a mask, and image flips. Each element's
// value depends only on its index, never on the thread that computes it.
#include <cstdint>
#include <vector>

namespace sepconv::kernels {

// mask[i] = 0 with probability `rate` (in [0, 1), rounded to a multiple of
// 2^-16), else keep; a pure function of (seed, counter, i).
template <typename T>
void dropout_mask(int64_t n, double rate, uint64_t seed, uint64_t counter, T keep, T* mask);

// out[i] = a[i] * b[i].
template <typename T>
void multiply(int64_t n, const T* a, const T* b, T* out);
// out[i] = (accumulate ? out[i] : 0) + a[i] * b[i]: a gradient added to, or
// into zeros (so a product of -0 is stored as +0, as by a zero-filled buffer).
template <typename T>
void multiply_add(int64_t n, const T* a, const T* b, T* out, bool accumulate);

// dst (N, H, W, C) = src with image n's rows reversed when flip_h[n] and its
// columns when flip_w[n] (+ dst with `accumulate`); its own inverse.
template <typename T>
void flip_images(const T* src, T* dst, int64_t N, int64_t H, int64_t W, int64_t C, const std::vector<uint8_t>& flip_h,
                 const std::vector<uint8_t>& flip_w, bool accumulate);

// y[i] = f(x[i]) and gx[i] = g[i] * df(x[i], y[i]): the loops of every
// activation (autograd/ops.h elementwise), templates so that f and df inline
// and vectorize. Each element is independent, so splitting the range over
// threads (past 2^15 elements, below which the fork costs more) changes no bit.
inline constexpr int64_t kMapParallelMin = int64_t{1} << 15;

template <typename T, typename F>
void map(int64_t n, const T* x, T* y, F f) {
#pragma omp parallel for simd schedule(static) if (n >= kMapParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <typename T, typename DF>
void map_gradient(int64_t n, const T* g, const T* x, const T* y, T* gx, DF df) {
#pragma omp parallel for simd schedule(static) if (n >= kMapParallelMin)
  for (int64_t i = 0; i < n; ++i) gx[i] = g[i] * df(x[i], y[i]);
}

}  // namespace sepconv::kernels

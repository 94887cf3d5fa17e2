#pragma once
// Copies that move blocks of a tensor about without arithmetic: the pieces of
// a concatenation, zero padding and its inverse crop (NHWC), and the global
// max over the spatial axes. The autograd ops of autograd/array_ops.h call
// these; they know nothing of gradients.
#include <cstdint>

namespace sepconv::kernels {

// dst[r * ld_dst + j] = src[r * ld_src + j] for r < rows, j < cols; rows are
// shared among the threads. src and dst must not overlap.
template <typename T>
void copy_rows(int64_t rows, int64_t cols, const T* src, int64_t ld_src, T* dst, int64_t ld_dst);

// dst (n, top + h + bottom, left + w + right, c) = src (n, h, w, c) with zeros around it.
template <typename T>
void zero_pad_nhwc(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t bottom, int64_t left,
                   int64_t right, const T* src, T* dst);
// The inverse: dst (n, h, w, c) = the interior of padded (n, top + h + bottom, left + w + right, c).
template <typename T>
void crop_nhwc(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t bottom, int64_t left, int64_t right,
               const T* padded, T* dst);

// y (n, c) = max over the hw positions of x (n, hw, c); hw >= 1.
template <typename T>
void global_max_nhwc(int64_t n, int64_t hw, int64_t c, const T* x, T* y);
// gx (n, hw, c) = gy shared equally among the positions where x equals the
// max y (tf.reduce_max's and jax's gradient), zero elsewhere. Overwrites gx.
template <typename T>
void global_max_nhwc_backward(int64_t n, int64_t hw, int64_t c, const T* x, const T* y, const T* gy, T* gx);

}  // namespace sepconv::kernels

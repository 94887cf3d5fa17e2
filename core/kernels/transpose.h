#pragma once
// Layout changes between NCHW and NHWC: each image is a matrix transposed,
// (C x H*W) to (H*W x C) or back.
#include <cstdint>

namespace sepconv::kernels {

// dst's `batch` planes (cols x rows) = src's planes (rows x cols) transposed:
// dst[b][j][i] = src[b][i][j]. src and dst must not overlap. Works tile by
// tile, so that every cache line read or written is used whole while it is
// in L1 (element by element, one side strides through memory: a new line per
// element), and splits the tiles among the threads.
template <typename T>
void transpose_planes(int64_t batch, int64_t rows, int64_t cols, const T* src, T* dst);

// The same with 16 x 16 blocks in AVX-512 registers; only call it when
// cpu::active_isa() is Avx512 (transpose_planes does).
void transpose_planes_avx512(int64_t batch, int64_t rows, int64_t cols, const float* src, float* dst);

// The plain loop, for tests.
template <typename T>
void transpose_planes_reference(int64_t batch, int64_t rows, int64_t cols, const T* src, T* dst);

}  // namespace sepconv::kernels

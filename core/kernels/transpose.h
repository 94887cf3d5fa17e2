#pragma once
// Layout changes between NCHW and NHWC: each image is a matrix transposed,
// (C x H*W) to (H*W x C) or back, whole or a band of rows at a time.
#include <cstdint>

namespace sepconv::kernels {

// dst (cols x rows, row stride ld_dst) = src (rows x cols, row stride ld_src)
// transposed: dst[j * ld_dst + i] = src[i * ld_src + j]. On the calling thread.
// src and dst must not overlap. Works block by block, so that every cache line
// read or written is used whole while it is in L1 (element by element, one
// side strides through memory: a new line per element). With `stream`, whole
// aligned 64-byte lines of dst are written with streaming stores (for a
// destination that will not be read again while it could be in cache; the
// stores are fenced before returning).
template <typename T>
void transpose(int64_t rows, int64_t cols, const T* src, int64_t ld_src, T* dst, int64_t ld_dst,
               bool stream = false);

// dst's `batch` planes (cols x rows) = src's planes (rows x cols) transposed,
// planes contiguous; the blocks are shared among the threads.
template <typename T>
void transpose_planes(int64_t batch, int64_t rows, int64_t cols, const T* src, T* dst);

// transpose() with 16 x 16 blocks in AVX-512 registers; only call it when
// cpu::active_isa() is Avx512 (transpose does).
void transpose_avx512(int64_t rows, int64_t cols, const float* src, int64_t ld_src, float* dst, int64_t ld_dst,
                      bool stream);

// The plain loop, for tests.
template <typename T>
void transpose_planes_reference(int64_t batch, int64_t rows, int64_t cols, const T* src, T* dst);

}  // namespace sepconv::kernels

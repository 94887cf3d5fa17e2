#pragma once
// Internal: the hand-written single-threaded GEMM building blocks behind gemm()
// and the fused separable op. Callers split work over threads themselves (by
// rows of C, or by fixed row chunks for the transposed product), so results do
// not depend on the thread count; the one exception, pack_b_parallel_avx512,
// only copies. Only call the *_avx512 functions when
// cpu::active_isa() is Avx512.
#include <cstddef>
#include <cstdint>

namespace sepconv::kernels {

constexpr int64_t kPackedPanel = 64;

// Right-hand operand B (k x n) packed for gemm_packed_avx512: column panels of
// kPackedPanel (the last one narrower, rounded up to 16), each stored k rows x width,
// zero padded. B(kk, j) = b[kk * row_stride + j * col_stride] with one of the
// strides 1, so B or B^T of a row-major matrix can be packed alike.
int64_t packed_b_floats_avx512(int64_t k, int64_t n);
void pack_b_avx512(int64_t k, int64_t n, const float* b, int64_t row_stride, int64_t col_stride, float* packed);
// The same, with the column panels shared among the threads when B is large
// (the packing would otherwise run on one thread while the others wait).
void pack_b_parallel_avx512(int64_t k, int64_t n, const float* b, int64_t row_stride, int64_t col_stride,
                            float* packed);

// C (m x n, row stride ldc) = A (m x k, row stride lda) * B, plus C's previous
// value when `accumulate`, plus bias[j] when bias is non-null, then max(0, .)
// when `relu`. With relu_bits, also records relu's derivative: bit j % 16 of
// relu_bits[i * bits_stride + j / 16] is set when C[i, j] > 0. With `stream`,
// whole aligned lines of C are written with streaming stores (no read of C's
// old contents, and C does not displace the cache): for large outputs that
// are not read again soon.
// Rows of C are independent: split m across threads freely.
void gemm_packed_avx512(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* packed_b,
                        float* c, int64_t ldc, bool accumulate, const float* bias, bool relu,
                        uint16_t* relu_bits = nullptr, int64_t bits_stride = 0, bool stream = false);

// C (k x n, row stride ldc) = A^T * B (+ C when `accumulate`) with A (m x k, lda),
// B (m x n, ldb): the reduction over m runs in a fixed order (blocks of rows
// in sequence), so a caller that splits m into fixed chunks and adds the
// chunks in order gets the same bits whatever the thread count.
void gemm_tn_avx512(int64_t m, int64_t k, int64_t n, const float* a, int64_t lda, const float* b, int64_t ldb,
                    float* c, int64_t ldc, bool accumulate);
// Whether gemm_tn_avx512 packs A's blocks of `rows` rows (at most 512) into
// column strips before the product (same sums in the same order either way).
bool tn_packs_a_avx512(int64_t rows, int64_t k, int64_t n);

// dz = dy where the bit recorded by gemm_packed_avx512 is set, 0 elsewhere
// (rows x n, contiguous); sums[j] += dz[i, j] row after row when sums is non-null.
void relu_backward_avx512(int64_t rows, int64_t n, const float* dy, const uint16_t* bits, int64_t bits_stride,
                          float* dz, float* sums);

}  // namespace sepconv::kernels

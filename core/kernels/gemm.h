#pragma once
// Row-major matrix products. gemm() goes to OpenBLAS (or a faster kernel where
// one measures faster); gemm_reference() is the plain triple loop kept for tests.
//   C = alpha * op(A) * op(B) + beta * C,  op(X) = X or X^T,
//   op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides.
#include <cstdint>

namespace sepconv {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc);

template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                    const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// Pointwise (1x1) convolution on NHWC data flattened to rows:
// input (rows, in_channels), kernel Keras's (1, 1, in_channels, filters) read
// as (in_channels, filters), output (rows, filters). Each overwrites its output.
template <typename T>
void pointwise_forward(int64_t rows, int64_t in_channels, int64_t filters, const T* input, const T* kernel, T* output);
template <typename T>
void pointwise_backward_input(int64_t rows, int64_t in_channels, int64_t filters, const T* grad_output,
                              const T* kernel, T* grad_input);
template <typename T>
void pointwise_backward_kernel(int64_t rows, int64_t in_channels, int64_t filters, const T* input,
                               const T* grad_output, T* grad_kernel);

}  // namespace sepconv

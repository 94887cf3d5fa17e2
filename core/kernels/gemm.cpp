#include "core/kernels/gemm.h"

#include <cblas.h>

#include <algorithm>

namespace sepconv {

namespace {
CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }
}  // namespace

template <>
void gemm<float>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), static_cast<blasint>(M), static_cast<blasint>(N),
              static_cast<blasint>(K), alpha, A, static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

template <>
void gemm<double>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                  const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), static_cast<blasint>(M), static_cast<blasint>(N),
              static_cast<blasint>(K), alpha, A, static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

template <typename T>
void gemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                    int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
      C[i * ldc + j] = alpha * acc + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
    }
}

template <typename T>
void pointwise_forward(int64_t rows, int64_t cin, int64_t f, const T* input, const T* kernel, T* output) {
  if (cin == 0) {
    std::fill(output, output + rows * f, T(0));
    return;
  }
  gemm<T>(false, false, rows, f, cin, T(1), input, cin, kernel, f, T(0), output, f);
}

template <typename T>
void pointwise_backward_input(int64_t rows, int64_t cin, int64_t f, const T* grad_output, const T* kernel,
                              T* grad_input) {
  gemm<T>(false, true, rows, cin, f, T(1), grad_output, f, kernel, f, T(0), grad_input, cin);
}

template <typename T>
void pointwise_backward_kernel(int64_t rows, int64_t cin, int64_t f, const T* input, const T* grad_output,
                               T* grad_kernel) {
  if (rows == 0) {
    std::fill(grad_kernel, grad_kernel + cin * f, T(0));
    return;
  }
  gemm<T>(true, false, cin, f, rows, T(1), input, cin, grad_output, f, T(0), grad_kernel, f);
}

#define SEPCONV_INSTANTIATE(T)                                                                                    \
  template void gemm_reference<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, \
                                  T, T*, int64_t);                                                                \
  template void pointwise_forward<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);                          \
  template void pointwise_backward_input<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);                   \
  template void pointwise_backward_kernel<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

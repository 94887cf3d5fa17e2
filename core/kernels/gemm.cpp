#include "sepconv/core/kernels/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <type_traits>

#include "sepconv/core/cpu.h"
#include "sepconv/core/kernels/gemm_kernels.h"
#include "sepconv/core/parallel.h"
#include "sepconv/core/tensor.h"

extern "C" void openblas_set_num_threads(int);

// Determinism: every path below splits the work into pieces fixed by the shape
// alone (never by the thread count), computes each piece on one thread, and
// adds pieces of a reduction in a fixed order. OpenBLAS's own threading does
// not promise that (its results change with the thread count), so it is only
// ever called single-threaded, on one piece, from our OpenMP loops.
namespace sepconv {

namespace {
CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

void blas(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), static_cast<blasint>(M), static_cast<blasint>(N),
              static_cast<blasint>(K), alpha, A, static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}
void blas(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), static_cast<blasint>(M), static_cast<blasint>(N),
              static_cast<blasint>(K), alpha, A, static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

// Keeps OpenBLAS to one thread while our OpenMP threads each call it.
struct SingleThreadedBlas {
  SingleThreadedBlas() { openblas_set_num_threads(1); }
  ~SingleThreadedBlas() { openblas_set_num_threads(num_threads()); }
};

// Whether `work` (floating-point operations, or the like) is worth sharing among threads.
bool parallel_ok(double work) { return work > 1e6 && num_threads() > 1 && !omp_in_parallel(); }

// C = A^T B (+ C when accumulate), A (K x M, lda), B (K x N, ldb): the reduction
// over K is cut into chunks fixed by the shape, each summed into its own buffer
// (one piece of work per chunk and block of C rows), and the buffers are added
// in chunk order.
template <typename T, typename Piece>
void reduce_in_chunks(int64_t M, int64_t N, int64_t K, bool accumulate, T* C, int64_t ldc, const Piece& piece) {
  int64_t chunk = std::max<int64_t>(512, (K + 7) / 8);
  while (chunk < K && ((K + chunk - 1) / chunk) * M * N > (int64_t(8) << 20)) chunk *= 2;
  const int64_t parts = (K + chunk - 1) / chunk;
  const int64_t row_groups = std::clamp<int64_t>(4 / parts, 1, std::max<int64_t>(1, M / 24));
  const int64_t group_rows = (M + row_groups - 1) / row_groups;
  Tensor<T> partial = Tensor<T>::uninitialized({parts, M, N});
  const int64_t items = parts * row_groups;
#pragma omp parallel for schedule(dynamic, 1) if (items > 1 && parallel_ok(2.0 * M * N * K))
  for (int64_t item = 0; item < items; ++item) {
    const int64_t p = item / row_groups, g = item % row_groups;
    const int64_t k0 = p * chunk, k1 = std::min(K, k0 + chunk);
    const int64_t r0 = g * group_rows, r1 = std::min(M, r0 + group_rows);
    if (r1 > r0) piece(k0, k1, r0, r1, partial.data() + (p * M + r0) * N);
  }
  // Row by row, each part's row added whole (contiguous, so it vectorizes);
  // every element still sums C (when accumulating) and then the parts in order.
#pragma omp parallel for schedule(static) if (parallel_ok(double(M) * N * parts))
  for (int64_t i = 0; i < M; ++i) {
    T* __restrict ci = C + i * ldc;
    if (!accumulate) std::fill(ci, ci + N, T(0));
    for (int64_t p = 0; p < parts; ++p) {
      const T* __restrict pi = partial.data() + (p * M + i) * N;
      for (int64_t j = 0; j < N; ++j) ci[j] += pi[j];
    }
  }
}

// Rows of C in chunks fixed by the shape (a multiple of every tile height).
template <typename Body>
void for_row_chunks(int64_t M, double flops, const Body& body) {
  const int64_t chunk = std::clamp<int64_t>((M + 15) / 16, 48, 2048) / 24 * 24;
  const int64_t chunks = (M + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1 && parallel_ok(flops))
  for (int64_t c = 0; c < chunks; ++c) body(c * chunk, std::min(M, (c + 1) * chunk));
}
}  // namespace

namespace kernels {
void pack_b_parallel_avx512(int64_t k, int64_t n, const float* b, int64_t rs, int64_t cs, float* packed) {
  // Panel j is packed on its own at packed + j * kPackedPanel * k (every panel
  // before the last is kPackedPanel wide). A copied value counts as 8 units of
  // work: below about 128K values the threads would cost more than they save.
  const int64_t panels = (n + kPackedPanel - 1) / kPackedPanel;
#pragma omp parallel for schedule(static) if (panels > 1 && parallel_ok(8.0 * k * n))
  for (int64_t j = 0; j < panels; ++j)
    pack_b_avx512(k, std::min(kPackedPanel, n - j * kPackedPanel), b + j * kPackedPanel * cs, rs, cs,
                  packed + j * kPackedPanel * k);
}
}  // namespace kernels

template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  const double flops = 2.0 * M * N * K;
  if constexpr (std::is_same_v<T, float>) {
    // Our AVX-512 kernels beat OpenBLAS's AVX2 ones by about 2x here
    // (bench/kernel-bench.cpp); they cover alpha = 1 and beta in {0, 1}, which is
    // all the library asks for.
    if (cpu::active_isa() == cpu::Isa::Avx512 && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) && !(ta && tb) &&
        K > 0) {
      const bool acc = beta == 1.0f;
      if (!ta) {
        Tensor<float> packed = Tensor<float>::uninitialized({kernels::packed_b_floats_avx512(K, N)});
        kernels::pack_b_parallel_avx512(K, N, B, tb ? 1 : ldb, tb ? ldb : 1, packed.data());
        for_row_chunks(M, flops, [&](int64_t r0, int64_t r1) {
          kernels::gemm_packed_avx512(r1 - r0, N, K, A + r0 * lda, lda, packed.data(), C + r0 * ldc, ldc, acc,
                                      nullptr, false);
        });
      } else {
        reduce_in_chunks<float>(M, N, K, acc, C, ldc, [&](int64_t k0, int64_t k1, int64_t r0, int64_t r1, float* out) {
          kernels::gemm_tn_avx512(k1 - k0, r1 - r0, N, A + k0 * lda + r0, lda, B + k0 * ldb, ldb, out, N, false);
        });
      }
      return;
    }
  }
  if (K == 0 || flops <= 1e6) {  // small: one piece (a choice by shape, not by thread count)
    SingleThreadedBlas one;
    return blas(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  SingleThreadedBlas one;
  if (!ta) {
    for_row_chunks(M, flops, [&](int64_t r0, int64_t r1) {
      blas(ta, tb, r1 - r0, N, K, alpha, A + r0 * lda, lda, B, ldb, beta, C + r0 * ldc, ldc);
    });
    return;
  }
  // C = alpha * A^T op(B) + beta * C: chunks of the reduction into partials,
  // then C = beta * C + sum of partials (alpha applied inside each piece).
  if (beta != T(0) && beta != T(1)) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] *= beta;
  }
  reduce_in_chunks<T>(M, N, K, beta != T(0), C, ldc, [&](int64_t k0, int64_t k1, int64_t r0, int64_t r1, T* out) {
    const T* Bk = tb ? B + k0 : B + k0 * ldb;
    blas(true, tb, r1 - r0, N, k1 - k0, alpha, A + k0 * lda + r0, lda, Bk, ldb, T(0), out, N);
  });
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
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*,      \
                        int64_t);                                                                                 \
  template void gemm_reference<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, \
                                  T, T*, int64_t);                                                                \
  template void pointwise_forward<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);                          \
  template void pointwise_backward_input<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);                   \
  template void pointwise_backward_kernel<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

// AVX-512 plane transpose (see transpose.h): 16 x 16 blocks moved through
// registers, one 64-byte load per source row and one store per destination
// row of each block.
// GCC 12 warns about _mm512_undefined_ps() inside its own intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include <omp.h>

#include "core/kernels/transpose.h"
#include "core/kernels/transpose16_avx512.h"

namespace sepconv::kernels {

namespace {
inline __mmask16 first_lanes(int64_t n) {  // n in 1..16
  return static_cast<__mmask16>(n >= 16 ? 0xFFFF : ((1u << n) - 1));
}
}  // namespace

void transpose_planes_avx512(int64_t batch, int64_t rows, int64_t cols, const float* src, float* dst) {
  if (batch <= 0 || rows <= 0 || cols <= 0) return;
  // Tasks of up to 256 source rows x 64 source columns: a task reads 256-byte
  // pieces of its rows and writes 64 destination rows of up to 1 KB each.
  constexpr int64_t task_rows = 256, task_cols = 64;
  const int64_t row_tasks = (rows + task_rows - 1) / task_rows, col_tasks = (cols + task_cols - 1) / task_cols;
  const int64_t tasks = batch * row_tasks * col_tasks;
#pragma omp parallel for schedule(static) if (batch * rows * cols > (1 << 16) && !omp_in_parallel())
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t b = t / (row_tasks * col_tasks), in_plane = t % (row_tasks * col_tasks);
    const int64_t i_begin = in_plane / col_tasks * task_rows, j_begin = in_plane % col_tasks * task_cols;
    const int64_t i_end = std::min(rows, i_begin + task_rows), j_end = std::min(cols, j_begin + task_cols);
    const float* s = src + b * rows * cols;
    float* d = dst + b * rows * cols;
    for (int64_t i0 = i_begin; i0 < i_end; i0 += 16) {
      const int64_t ni = std::min<int64_t>(16, i_end - i0);
      const __mmask16 mi = first_lanes(ni);
      for (int64_t j0 = j_begin; j0 < j_end; j0 += 16) {
        const int64_t nj = std::min<int64_t>(16, j_end - j0);
        const __mmask16 mj = first_lanes(nj);
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i)
          r[i] = i < ni ? _mm512_maskz_loadu_ps(mj, s + (i0 + i) * cols + j0) : _mm512_setzero_ps();
        transpose16(r);
        for (int64_t j = 0; j < nj; ++j) _mm512_mask_storeu_ps(d + (j0 + j) * rows + i0, mi, r[j]);
      }
    }
  }
}

}  // namespace sepconv::kernels

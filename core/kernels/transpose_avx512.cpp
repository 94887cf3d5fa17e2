// AVX-512 transpose (see transpose.h): 16 x 16 blocks moved through registers,
// one 64-byte load per source row and one store per destination row of each
// block.
// GCC 12 warns about _mm512_undefined_ps() inside its own intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "sepconv/core/kernels/transpose.h"

namespace sepconv::kernels {

namespace {
// r[i] = row i of a 16 x 16 block; on return r[i] = column i.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  auto pd = [](__m512 x) { return _mm512_castps_pd(x); };
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[4 * i + 0]), pd(t[4 * i + 2])));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[4 * i + 0]), pd(t[4 * i + 2])));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[4 * i + 1]), pd(t[4 * i + 3])));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[4 * i + 1]), pd(t[4 * i + 3])));
  }
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xDD);
    }
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
  }
}

inline __mmask16 first_lanes(int64_t n) {  // n in 1..16
  return static_cast<__mmask16>(n >= 16 ? 0xFFFF : ((1u << n) - 1));
}
}  // namespace

void transpose_avx512(int64_t rows, int64_t cols, const float* src, int64_t ld_src, float* dst, int64_t ld_dst,
                      bool stream) {
  for (int64_t i0 = 0; i0 < rows; i0 += 16) {
    const int64_t ni = std::min<int64_t>(16, rows - i0);
    const __mmask16 mi = first_lanes(ni);
    for (int64_t j0 = 0; j0 < cols; j0 += 16) {
      const int64_t nj = std::min<int64_t>(16, cols - j0);
      const __mmask16 mj = first_lanes(nj);
      __m512 r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
        r[i] = i < ni ? _mm512_maskz_loadu_ps(mj, src + (i0 + i) * ld_src + j0) : _mm512_setzero_ps();
      transpose16(r);
      for (int64_t j = 0; j < nj; ++j) {
        float* out = dst + (j0 + j) * ld_dst + i0;
        if (stream && ni == 16 && (reinterpret_cast<uintptr_t>(out) & 63) == 0)
          _mm512_stream_ps(out, r[j]);  // a whole line: no read of its old contents
        else
          _mm512_mask_storeu_ps(out, mi, r[j]);
      }
    }
  }
  if (stream) _mm_sfence();  // streaming stores are weakly ordered: publish them before returning
}

}  // namespace sepconv::kernels

// AVX-512 instances of the depthwise inner loops (depthwise_simd.h).
// GCC 12 warns about _mm512_undefined_ps() inside its own intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <type_traits>
#include <utility>

#include "sepconv/core/kernels/depthwise_kernels.h"

namespace sepconv::kernels {
namespace avx512_impl {
namespace {

struct V {
  using T = float;
  using reg = __m512;
  using mask = __mmask16;
  static constexpr int W = 16;
  static constexpr int kTile = 12;
  static constexpr int kRowChannels = 2;
  static constexpr bool kPinLoads = true;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg load(const T* p) { return _mm512_loadu_ps(p); }
  static reg load(const T* p, mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(T* p, reg r) { _mm512_storeu_ps(p, r); }
  static void store(T* p, reg r, mask m) { _mm512_mask_storeu_ps(p, m, r); }
  static void stream(T* p, reg r) {
    if ((reinterpret_cast<uintptr_t>(p) & 63) == 0)
      _mm512_stream_ps(p, r);
    else
      _mm512_storeu_ps(p, r);
  }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static mask tail_mask(int n) { return static_cast<mask>((1u << n) - 1); }
};
using Tap = DwTap<float>;

#include "sepconv/core/kernels/depthwise_simd.h"

}  // namespace
}  // namespace avx512_impl

void dw_correlate_avx512(int64_t count, int64_t channels, const float* in, int64_t in_step, const DwTap<float>* taps,
                         int ntaps, float* out, int64_t out_step, bool accumulate, bool stream) {
  avx512_impl::correlate_pixels(count, channels, in, in_step, taps, ntaps, out, out_step, accumulate, stream);
}

void dw_accumulate_avx512(int64_t count, int64_t channels, const float* in, int64_t in_step, const int64_t* offsets,
                          int ntaps, const float* go, int64_t go_step, float* gk, int64_t gk_stride) {
  avx512_impl::accumulate_taps(count, channels, in, in_step, offsets, ntaps, go, go_step, gk, gk_stride);
}

bool dw_correlate_row_avx512(int64_t count, int64_t channels, const float* in, int kw, int stride,
                          const int64_t* row_offsets, const float* const* weight_rows, int64_t weight_step, int nrows,
                          float* out, int64_t nout, int64_t in_row_step, int64_t out_row_step, bool stream) {
  return avx512_impl::correlate_row(count, channels, in, kw, stride, row_offsets, weight_rows, weight_step, nrows, out,
                                   nout, in_row_step, out_row_step, stream);
}

bool dw_accumulate_row_avx512(int64_t count, int64_t channels, const float* in, int kw, int stride,
                             const int64_t* row_offsets, float* const* grad_rows, int nrows, const float* go,
                             int64_t nout, int64_t in_row_step, int64_t go_row_step) {
  return avx512_impl::accumulate_row(count, channels, in, kw, stride, row_offsets, grad_rows, nrows, go, nout,
                                    in_row_step, go_row_step);
}

}  // namespace sepconv::kernels

// Depthwise kernels: the band-level plan (depthwise_kernels.h) and the
// standalone, parallel kernels of depthwise.h built on it.
//
// Every kernel reduces to a few inner loops (depthwise_simd.h), compiled per ISA:
//   forward and backward-input are correlations: out(pixel) = sum over taps of
//     in(pixel + tap offset) * weight(tap), vectorized over channels;
//   backward-kernel is the transposed reduction: gk(tap) += sum over pixels of
//     in(pixel + tap offset) * go(pixel), each tap's sum held in a register.
// Interior pixels of the common geometries (kernel width 3 or 5, unit dilation
// along rows) go through "row" loops that load each input once for all the
// taps it meets and walk several output rows strip by strip, so the inputs stay
// in L1; everything else goes through the generic tap-list loops.
// Nothing is padded or copied: a row's taps are those of its valid kernel rows,
// and the few edge pixels of a row (under "same" padding) get their own tap
// lists. With depth_multiplier > 1 the band's input rows are first copied with
// each channel repeated, which makes the output channels line up with the
// input's. Strides in the input gradient are handled by splitting the pixels
// of a row into stride classes: within a class the taps that reach it are
// fixed and the output gradient is read with unit stride.
// The portable vector types below are 32 bytes wide; GCC notes that passing
// them by value would differ under AVX, which does not matter for these
// internal, inlined helpers.
#pragma GCC diagnostic ignored "-Wpsabi"
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "sepconv/core/cpu.h"
#include "sepconv/core/kernels/depthwise.h"
#include "sepconv/core/kernels/depthwise_kernels.h"

namespace sepconv {
namespace kernels {

// Portable instances: GCC vector extensions, lowered to whatever the baseline
// target has (SSE2 on x86-64). Used for double and for SEPCONV_ISA=generic.
// One 32-byte register type per element type; the vector traits the shared
// kernel body (depthwise_simd.h) expects.
template <typename Elem>
struct PortableVec {
  using T = Elem;
  typedef Elem reg __attribute__((vector_size(32)));
  using mask = int;
  static constexpr int W = static_cast<int>(32 / sizeof(Elem));
  static constexpr int kTile = 8;
  static constexpr int kRowChannels = 1;
  static constexpr bool kPinLoads = false;
  static reg zero() { return reg{}; }
  static reg load(const T* p) {
    reg r;
    std::memcpy(&r, p, sizeof r);
    return r;
  }
  static reg load(const T* p, mask n) {
    reg r{};
    std::memcpy(&r, p, static_cast<size_t>(n) * sizeof(T));
    return r;
  }
  static void store(T* p, reg r) { std::memcpy(p, &r, sizeof r); }
  static void store(T* p, reg r, mask n) { std::memcpy(p, &r, static_cast<size_t>(n) * sizeof(T)); }
  static void stream(T* p, reg r) { store(p, r); }
  static reg fma(reg a, reg b, reg c) { return a * b + c; }
  static reg add(reg a, reg b) { return a + b; }
  static mask tail_mask(int n) { return n; }
};

namespace portable_f {
namespace {
using V = PortableVec<float>;
using Tap = DwTap<float>;
#include "sepconv/core/kernels/depthwise_simd.h"
}  // namespace
}  // namespace portable_f

namespace portable_d {
namespace {
using V = PortableVec<double>;
using Tap = DwTap<double>;
#include "sepconv/core/kernels/depthwise_simd.h"
}  // namespace
}  // namespace portable_d

namespace {

void correlate_portable_f(int64_t count, int64_t channels, const float* in, int64_t in_step, const DwTap<float>* taps,
                          int ntaps, float* out, int64_t out_step, bool accumulate, bool stream) {
  portable_f::correlate_pixels(count, channels, in, in_step, taps, ntaps, out, out_step, accumulate, stream);
}
void accumulate_portable_f(int64_t count, int64_t channels, const float* in, int64_t in_step, const int64_t* offsets,
                           int ntaps, const float* go, int64_t go_step, float* gk, int64_t gk_stride) {
  portable_f::accumulate_taps(count, channels, in, in_step, offsets, ntaps, go, go_step, gk, gk_stride);
}
void correlate_portable_d(int64_t count, int64_t channels, const double* in, int64_t in_step,
                          const DwTap<double>* taps, int ntaps, double* out, int64_t out_step, bool accumulate,
                          bool stream) {
  portable_d::correlate_pixels(count, channels, in, in_step, taps, ntaps, out, out_step, accumulate, stream);
}
void accumulate_portable_d(int64_t count, int64_t channels, const double* in, int64_t in_step,
                           const int64_t* offsets, int ntaps, const double* go, int64_t go_step, double* gk,
                           int64_t gk_stride) {
  portable_d::accumulate_taps(count, channels, in, in_step, offsets, ntaps, go, go_step, gk, gk_stride);
}

bool row_portable_f(int64_t count, int64_t channels, const float* in, int kw, int stride, const int64_t* roff,
                    const float* const* wrow, int64_t wstep, int nrows, float* out, int64_t nout, int64_t in_rs,
                    int64_t out_rs, bool stream) {
  return portable_f::correlate_row(count, channels, in, kw, stride, roff, wrow, wstep, nrows, out, nout, in_rs, out_rs,
                                   stream);
}
bool row_portable_d(int64_t count, int64_t channels, const double* in, int kw, int stride, const int64_t* roff,
                    const double* const* wrow, int64_t wstep, int nrows, double* out, int64_t nout, int64_t in_rs,
                    int64_t out_rs, bool stream) {
  return portable_d::correlate_row(count, channels, in, kw, stride, roff, wrow, wstep, nrows, out, nout, in_rs, out_rs,
                                   stream);
}

bool accrow_portable_f(int64_t count, int64_t channels, const float* in, int kw, int stride, const int64_t* roff,
                       float* const* gk_rows, int nrows, const float* go, int64_t nout, int64_t in_rs, int64_t go_rs) {
  return portable_f::accumulate_row(count, channels, in, kw, stride, roff, gk_rows, nrows, go, nout, in_rs, go_rs);
}
bool accrow_portable_d(int64_t count, int64_t channels, const double* in, int kw, int stride, const int64_t* roff,
                       double* const* gk_rows, int nrows, const double* go, int64_t nout, int64_t in_rs,
                       int64_t go_rs) {
  return portable_d::accumulate_row(count, channels, in, kw, stride, roff, gk_rows, nrows, go, nout, in_rs, go_rs);
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Per-thread scratch that only grows: bands of every call reuse the same pages.
struct Scratch {
  void* data = nullptr;
  size_t bytes = 0;
  ~Scratch() { std::free(data); }
  void* get(size_t need) {
    if (need > bytes) {
      std::free(data);
      bytes = std::max(need, bytes + bytes / 2);
      bytes = (bytes + 63) / 64 * 64;
      data = std::aligned_alloc(64, bytes);
      if (!data) {
        bytes = 0;
        throw std::bad_alloc();
      }
    }
    return data;
  }
};
thread_local Scratch scratch_slots[10];
template <typename T>
std::vector<DwTap<T>>& tap_buffer() {
  thread_local std::vector<DwTap<T>> taps;
  return taps;
}
thread_local std::vector<int64_t> offset_buffer;
thread_local std::vector<int64_t> row_offset_buffer;
template <typename T>
std::vector<const T*>& weight_row_buffer() {
  thread_local std::vector<const T*> rows;
  return rows;
}
template <typename T>
std::vector<T*>& grad_row_buffer() {
  thread_local std::vector<T*> rows;
  return rows;
}

// Rows [row0, row0 + rows) of one image with each input channel written
// depth_multiplier times in a row (the layout of the output channels).
template <int DM, typename T>
void expand_fixed(const T* __restrict s, int64_t n, T* __restrict dst) {
  for (int64_t p = 0; p < n; ++p)
    for (int m = 0; m < DM; ++m) dst[p * DM + m] = s[p];
}
template <typename T>
void expand_rows(const T* image, int64_t in_w, int64_t channels, int64_t dm, int64_t row0, int64_t rows, T* dst) {
  const T* s = image + row0 * in_w * channels;
  const int64_t n = rows * in_w * channels;
  switch (dm) {
    case 2: return expand_fixed<2>(s, n, dst);
    case 3: return expand_fixed<3>(s, n, dst);
    case 4: return expand_fixed<4>(s, n, dst);
    case 8: return expand_fixed<8>(s, n, dst);
    default:
      for (int64_t p = 0; p < n; ++p)
        for (int64_t m = 0; m < dm; ++m) dst[p * dm + m] = s[p];
  }
}

// gi[p] = sum over m of expanded[p * dm + m]: the input gradient of channel p
// collects its depth_multiplier output channels.
template <int DM, typename T>
void contract_fixed(const T* __restrict e, int64_t n, T* __restrict gi) {
  for (int64_t p = 0; p < n; ++p) {
    T s = e[p * DM];
    for (int m = 1; m < DM; ++m) s += e[p * DM + m];
    gi[p] = s;
  }
}
template <typename T>
void contract(const T* e, int64_t n, int64_t dm, T* gi) {
  switch (dm) {
    case 2: return contract_fixed<2>(e, n, gi);
    case 3: return contract_fixed<3>(e, n, gi);
    case 4: return contract_fixed<4>(e, n, gi);
    case 8: return contract_fixed<8>(e, n, gi);
    default:
      for (int64_t p = 0; p < n; ++p) {
        T s = e[p * dm];
        for (int64_t m = 1; m < dm; ++m) s += e[p * dm + m];
        gi[p] = s;
      }
  }
}

// The range [lo, hi) of k in [0, taps) with 0 <= base + k * step < size (step > 0).
inline void valid_taps(int64_t base, int64_t step, int64_t taps, int64_t size, int64_t& lo, int64_t& hi) {
  lo = std::clamp<int64_t>(ceil_div(-base, step), 0, taps);
  hi = std::clamp<int64_t>(floor_div(size - 1 - base, step) + 1, lo, taps);
}

}  // namespace

void* thread_scratch(int slot, size_t bytes) { return scratch_slots[slot].get(std::max<size_t>(bytes, 64)); }

// The input rows [begin, end) that output rows [oh0, oh1) read: row
// oh * stride_h - pad_top + i * dilation_h for taps i < kernel_h, clipped to the
// image. Bounded from the band's first and last output rows' whole kernel
// extent, not their first and last valid taps: with dilation_h > stride_h an
// inner output row can reach above the first row's first valid tap (or below
// the last row's last one).
inline void band_input_rows(const ConvGeometry& g, int64_t oh0, int64_t oh1, int64_t& begin, int64_t& end) {
  begin = std::clamp<int64_t>(oh0 * g.stride_h - g.pad_top, 0, g.in_h);
  end = std::clamp<int64_t>((oh1 - 1) * g.stride_h - g.pad_top + (g.kernel_h - 1) * g.dilation_h + 1, begin, g.in_h);
}

// Output row oh's valid kernel rows [i_lo, i_hi), and how many rows from oh
// (before oh1) share them: a run of rows whose kernel rows are all inside the
// image, or just the one row at the top or bottom edge.
inline int64_t row_run(const ConvGeometry& g, int64_t oh, int64_t oh1, int64_t& i_lo, int64_t& i_hi) {
  valid_taps(oh * g.stride_h - g.pad_top, g.dilation_h, g.kernel_h, g.in_h, i_lo, i_hi);
  int64_t run = 1;
  if (i_lo == 0 && i_hi == g.kernel_h)
    while (oh + run < oh1) {
      int64_t lo, hi;
      valid_taps((oh + run) * g.stride_h - g.pad_top, g.dilation_h, g.kernel_h, g.in_h, lo, hi);
      if (lo != 0 || hi != g.kernel_h) break;
      ++run;
    }
  return run;
}

template <typename T>
DepthwisePlan<T>::DepthwisePlan(const ConvGeometry& g) : g_(g), oc_(g.out_channels()) {
  band_rows_ = std::clamp<int64_t>(16384 / std::max<int64_t>(1, g.out_w * oc_), 1, std::max<int64_t>(1, g.out_h));
  // Output columns all of whose taps are inside the image; the others (a few
  // at each edge under "same" padding) get per-pixel tap lists.
  valid_taps(-g.pad_left, g.stride_w, g.out_w, g.in_w, interior_lo_, interior_hi_);  // first tap in range
  int64_t lo2, hi2;
  valid_taps(-g.pad_left + (g.kernel_w - 1) * g.dilation_w, g.stride_w, g.out_w, g.in_w, lo2, hi2);  // last tap
  interior_lo_ = std::max(interior_lo_, lo2);
  interior_hi_ = std::max(interior_lo_, std::min(interior_hi_, hi2));
  if constexpr (std::is_same_v<T, float>) {
    switch (cpu::active_isa()) {
      case cpu::Isa::Avx512:
        correlate_ = dw_correlate_avx512;
        accumulate_ = dw_accumulate_avx512;
        row_ = dw_correlate_row_avx512;
        accrow_ = dw_accumulate_row_avx512;
        break;
      case cpu::Isa::Avx2:
        correlate_ = dw_correlate_avx2;
        accumulate_ = dw_accumulate_avx2;
        row_ = dw_correlate_row_avx2;
        accrow_ = dw_accumulate_row_avx2;
        break;
      default:
        correlate_ = correlate_portable_f;
        accumulate_ = accumulate_portable_f;
        row_ = row_portable_f;
        accrow_ = accrow_portable_f;
    }
  } else {
    correlate_ = correlate_portable_d;
    accumulate_ = accumulate_portable_d;
    row_ = row_portable_d;
    accrow_ = accrow_portable_d;
  }
}

// The input that forward and backward-kernel read: the image itself, or for
// depth_multiplier > 1 the rows the band needs with channels repeated.
// Pixel (ih, iw) is at base + ((ih - row0) * in_w + iw) * out_channels.
template <typename T>
typename DepthwisePlan<T>::Band DepthwisePlan<T>::band(const T* input, int64_t n, int64_t oh0, int64_t oh1) const {
  const ConvGeometry& g = g_;
  const T* image = input + n * g.in_h * g.in_w * g.channels;
  if (g.depth_multiplier == 1) return {image, 0};
  const auto [row0, row1] = input_rows(oh0, oh1);
  return band_from_rows(image + row0 * g.in_w * g.channels, row0, row1);
}

template <typename T>
std::pair<int64_t, int64_t> DepthwisePlan<T>::input_rows(int64_t oh0, int64_t oh1) const {
  int64_t row0, row1;
  band_input_rows(g_, oh0, oh1, row0, row1);
  return {row0, row1};
}

template <typename T>
typename DepthwisePlan<T>::Band DepthwisePlan<T>::band_from_rows(const T* rows, int64_t row0, int64_t row1) const {
  const ConvGeometry& g = g_;
  if (g.depth_multiplier == 1) return {rows, row0};
  T* buf = thread_scratch<T>(0, (row1 - row0) * g.in_w * oc_);
  expand_rows(rows, g.in_w, g.channels, g.depth_multiplier, int64_t(0), row1 - row0, buf);
  return {buf, row0};
}

template <typename T>
void DepthwisePlan<T>::forward_rows(const T* input, const T* kernel, int64_t n, int64_t oh0, int64_t oh1,
                                    T* out) const {
  if (oh1 > oh0) forward_rows(band(input, n, oh0, oh1), kernel, oh0, oh1, out);
}

template <typename T>
void DepthwisePlan<T>::forward_rows(const Band& b, const T* kernel, int64_t oh0, int64_t oh1, T* out) const {
  const ConvGeometry& g = g_;
  const int64_t row0 = b.row0, C = oc_, kw = g.kernel_w;
  const T* src = b.base;
  if (oh1 <= oh0) return;
  // No software prefetch of the band's input: a burst of prefetches for the
  // whole band before the work (what an earlier version did, tuned on AMD Zen 5)
  // measured 7-10% slower on Sapphire Rapids, whose hardware prefetchers keep
  // up with these row walks on their own.
  auto& taps = tap_buffer<T>();
  const int64_t lo = interior_lo_, hi = interior_hi_;
  for (int64_t oh = oh0; oh < oh1;) {
    int64_t i_lo, i_hi;
    const int64_t ih0 = oh * g.stride_h - g.pad_top;
    // A run of rows with the same valid kernel rows (all of them, away from
    // the top and bottom) is done in one call, strip by strip.
    const int64_t run = row_run(g, oh, oh1, i_lo, i_hi);
    T* out_row = out + (oh - oh0) * g.out_w * C;
    if (hi > lo) {
      const T* base = src + (lo * g.stride_w - g.pad_left) * C;
      bool done = false;
      if (g.dilation_w == 1) {
        auto& roff = offset_buffer;
        auto& wrow = weight_row_buffer<T>();
        roff.clear();
        wrow.clear();
        for (int64_t i = i_lo; i < i_hi; ++i) {
          roff.push_back((ih0 + i * g.dilation_h - row0) * g.in_w * C);
          wrow.push_back(kernel + i * kw * C);
        }
        done = row_(hi - lo, C, base, static_cast<int>(kw), static_cast<int>(g.stride_w), roff.data(), wrow.data(), C,
                    static_cast<int>(roff.size()), out_row + lo * C, run, g.stride_h * g.in_w * C, g.out_w * C, false);
      }
      if (!done)
        for (int64_t r = 0; r < run; ++r) {
          taps.clear();
          for (int64_t i = i_lo; i < i_hi; ++i)
            for (int64_t j = 0; j < kw; ++j)
              taps.push_back({((ih0 + r * g.stride_h + i * g.dilation_h - row0) * g.in_w + j * g.dilation_w) * C,
                              kernel + (i * kw + j) * C});
          correlate_(hi - lo, C, base, g.stride_w * C, taps.data(), static_cast<int>(taps.size()),
                     out_row + r * g.out_w * C + lo * C, C, false, false);
        }
    }
    // Edge pixels: only the taps that land inside the image.
    for (int64_t r = 0; r < run; ++r)
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        if (ow == lo && hi > lo) ow = hi;
        if (ow >= g.out_w) break;
        const int64_t iw0 = ow * g.stride_w - g.pad_left;
        int64_t j_lo, j_hi;
        valid_taps(iw0, g.dilation_w, kw, g.in_w, j_lo, j_hi);
        taps.clear();
        for (int64_t i = i_lo; i < i_hi; ++i)
          for (int64_t j = j_lo; j < j_hi; ++j)
            taps.push_back({((ih0 + r * g.stride_h + i * g.dilation_h - row0) * g.in_w + iw0 + j * g.dilation_w) * C,
                            kernel + (i * kw + j) * C});
        correlate_(1, C, src, C, taps.data(), static_cast<int>(taps.size()), out_row + r * g.out_w * C + ow * C, C,
                   false, false);
      }
    oh += run;
  }
}

template <typename T>
void DepthwisePlan<T>::backward_kernel_rows(const T* input, int64_t n, int64_t oh0, int64_t oh1, const T* go_rows,
                                            T* grad_kernel) const {
  if (oh1 > oh0) backward_kernel_rows(band(input, n, oh0, oh1), oh0, oh1, go_rows, grad_kernel);
}

template <typename T>
void DepthwisePlan<T>::backward_kernel_rows(const Band& b, int64_t oh0, int64_t oh1, const T* go_rows,
                                            T* grad_kernel) const {
  const ConvGeometry& g = g_;
  const int64_t row0 = b.row0, C = oc_, kw = g.kernel_w;
  const T* src = b.base;
  auto& offsets = offset_buffer;
  const int64_t lo = interior_lo_, hi = interior_hi_;
  for (int64_t oh = oh0; oh < oh1;) {
    int64_t i_lo, i_hi;
    const int64_t ih0 = oh * g.stride_h - g.pad_top;
    const int64_t run = row_run(g, oh, oh1, i_lo, i_hi);
    const T* go_row = go_rows + (oh - oh0) * g.out_w * C;
    if (i_hi <= i_lo) {
      oh += run;
      continue;
    }
    if (hi > lo) {
      const T* base = src + (lo * g.stride_w - g.pad_left) * C;
      bool done = false;
      if (g.dilation_w == 1) {
        auto& roff = row_offset_buffer;
        auto& grows = grad_row_buffer<T>();
        roff.clear();
        grows.clear();
        for (int64_t i = i_lo; i < i_hi; ++i) {
          roff.push_back((ih0 + i * g.dilation_h - row0) * g.in_w * C);
          grows.push_back(grad_kernel + i * kw * C);
        }
        done = accrow_(hi - lo, C, base, static_cast<int>(kw), static_cast<int>(g.stride_w), roff.data(), grows.data(),
                       static_cast<int>(roff.size()), go_row + lo * C, run, g.stride_h * g.in_w * C, g.out_w * C);
      }
      if (!done)
        for (int64_t r = 0; r < run; ++r) {
          offsets.clear();
          for (int64_t i = i_lo; i < i_hi; ++i)
            for (int64_t j = 0; j < kw; ++j)
              offsets.push_back(((ih0 + r * g.stride_h + i * g.dilation_h - row0) * g.in_w + j * g.dilation_w) * C);
          accumulate_(hi - lo, C, base, g.stride_w * C, offsets.data(), static_cast<int>(offsets.size()),
                      go_row + r * g.out_w * C + lo * C, C, grad_kernel + i_lo * kw * C, C);
        }
    }
    for (int64_t r = 0; r < run; ++r)
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        if (ow == lo && hi > lo) ow = hi;
        if (ow >= g.out_w) break;
        const int64_t iw0 = ow * g.stride_w - g.pad_left;
        int64_t j_lo, j_hi;
        valid_taps(iw0, g.dilation_w, kw, g.in_w, j_lo, j_hi);
        if (j_hi <= j_lo) continue;
        for (int64_t i = i_lo; i < i_hi; ++i) {  // one kernel row at a time: its valid taps are consecutive
          offsets.clear();
          for (int64_t j = j_lo; j < j_hi; ++j)
            offsets.push_back(((ih0 + r * g.stride_h + i * g.dilation_h - row0) * g.in_w + iw0 + j * g.dilation_w) *
                              C);
          accumulate_(1, C, src, C, offsets.data(), static_cast<int>(offsets.size()), go_row + r * g.out_w * C + ow * C,
                      C, grad_kernel + (i * kw + j_lo) * C, C);
        }
      }
    oh += run;
  }
}

template <typename T>
void DepthwisePlan<T>::backward_input_rows(const T* go_image, const T* kernel, int64_t ih0, int64_t ih1,
                                           T* gi_rows, bool stream) const {
  const ConvGeometry& g = g_;
  if (ih1 <= ih0) return;
  const int64_t sh = g.stride_h, sw = g.stride_w, dh = g.dilation_h, dw = g.dilation_w, C = oc_;
  const int64_t dm = g.depth_multiplier, kh = g.kernel_h, kw = g.kernel_w;
  T* expanded = dm == 1 ? nullptr : thread_scratch<T>(1, g.in_w * C);
  auto& taps = tap_buffer<T>();
  // Stride 1, unit dilation along rows: pixel q reads output-gradient columns
  // q + pad_left - j, a row correlation from column q + pad_left - (kw - 1)
  // with the kernel rows reversed. Interior columns of a run of input rows
  // that every kernel row reaches are done in one call.
  const bool row_path = sw == 1 && dw == 1 && dm == 1;
  stream = stream && dm == 1;  // (with dm > 1 the row goes to scratch first)
  const int64_t q_lo = std::clamp<int64_t>(kw - 1 - g.pad_left, 0, g.in_w);
  const int64_t q_hi = std::clamp<int64_t>(g.out_w - g.pad_left, q_lo, g.in_w);
  auto all_rows_valid = [&](int64_t ih) {
    for (int64_t i = 0; i < kh; ++i) {
      const int64_t num_r = ih + g.pad_top - i * dh;
      if (floor_div(num_r, sh) * sh != num_r) return false;
      const int64_t o = num_r / sh;
      if (o < 0 || o >= g.out_h) return false;
    }
    return true;
  };
  for (int64_t ih = ih0; ih < ih1;) {
    T* gi = gi_rows + (ih - ih0) * g.in_w * g.channels;
    T* out = dm == 1 ? gi : expanded;
    int64_t run = 1;
    bool interior_done = false;
    if (row_path && sh == 1 && q_hi > q_lo && all_rows_valid(ih)) {
      while (ih + run < ih1 && all_rows_valid(ih + run)) ++run;
      auto& roff = offset_buffer;
      auto& wrow = weight_row_buffer<T>();
      roff.clear();
      wrow.clear();
      for (int64_t i = 0; i < kh; ++i) {
        const int64_t o = ih + g.pad_top - i * dh;
        roff.push_back((o * g.out_w + g.pad_left - (kw - 1)) * C);
        wrow.push_back(kernel + (i * kw + kw - 1) * C);
      }
      interior_done = row_(q_hi - q_lo, C, go_image + q_lo * C, static_cast<int>(kw), 1, roff.data(), wrow.data(), -C,
                           static_cast<int>(kh), out + q_lo * C, run, g.out_w * C, g.in_w * C, stream);
      if (!interior_done) run = 1;
    }
    for (int64_t r = 0; r < run; ++r) {
      const int64_t row = ih + r;
      T* out_r = out + r * g.in_w * C;
      // Input pixel iw gathers, through tap (i, j), the output gradient at row
      // (row + pad_top - i * dh) / sh and column (iw + pad_left - j * dw) / sw,
      // for the taps where both divide exactly and land inside the output.
      // Pixels iw = q * sw + rw of one class rw share their taps, and column
      // q + delta_j with delta_j = (rw + pad_left - j * dw) / sw.
      for (int64_t rw = 0; rw < std::min(sw, g.in_w); ++rw) {
        const int64_t count = (g.in_w - rw + sw - 1) / sw;
        // `col` < 0: the class's taps (offsets relative to pixel q's column q);
        // otherwise only the taps of input column `col` that land inside.
        auto collect = [&](int64_t col) {
          taps.clear();
          for (int64_t i = 0; i < kh; ++i) {
            const int64_t num_r = row + g.pad_top - i * dh;
            if (floor_div(num_r, sh) * sh != num_r) continue;
            const int64_t o = num_r / sh;
            if (o < 0 || o >= g.out_h) continue;
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t num_c = (col < 0 ? rw : col) + g.pad_left - j * dw;
              if (floor_div(num_c, sw) * sw != num_c) continue;
              const int64_t c = floor_div(num_c, sw);
              if (col >= 0 && (c < 0 || c >= g.out_w)) continue;
              taps.push_back({(o * g.out_w + c) * C, kernel + (i * kw + j) * C});
            }
          }
        };
        // Interior pixels: q with 0 <= q + delta_j < out_w for every tap.
        int64_t c_lo = 0, c_hi = count;
        for (int64_t j = 0; j < kw; ++j) {
          const int64_t num_c = rw + g.pad_left - j * dw;
          if (floor_div(num_c, sw) * sw != num_c) continue;
          const int64_t delta = floor_div(num_c, sw);
          c_lo = std::max(c_lo, -delta);
          c_hi = std::min(c_hi, g.out_w - delta);
        }
        c_lo = std::min(c_lo, count);
        c_hi = std::max(c_lo, c_hi);
        if (!interior_done) {
          collect(-1);
          bool done = false;
          if (row_path && c_hi > c_lo) {
            auto& roff = offset_buffer;
            auto& wrow = weight_row_buffer<T>();
            roff.clear();
            wrow.clear();
            for (int64_t i = 0; i < kh; ++i) {
              const int64_t num_r = row + g.pad_top - i * dh;
              if (floor_div(num_r, sh) * sh != num_r) continue;
              const int64_t o = num_r / sh;
              if (o < 0 || o >= g.out_h) continue;
              roff.push_back((o * g.out_w + g.pad_left - (kw - 1)) * C);
              wrow.push_back(kernel + (i * kw + kw - 1) * C);
            }
            done = row_(c_hi - c_lo, C, go_image + c_lo * C, static_cast<int>(kw), 1, roff.data(), wrow.data(), -C,
                        static_cast<int>(roff.size()), out_r + c_lo * C, 1, 0, 0, stream);
          }
          if (!done && c_hi > c_lo)
            correlate_(c_hi - c_lo, C, go_image + c_lo * C, C, taps.data(), static_cast<int>(taps.size()),
                       out_r + (c_lo * sw + rw) * C, sw * C, false, stream);
        }
        for (int64_t q = 0; q < count; ++q) {
          if (q == c_lo && c_hi > c_lo) q = c_hi;
          if (q >= count) break;
          const int64_t iw = q * sw + rw;
          collect(iw);
          correlate_(1, C, go_image, C, taps.data(), static_cast<int>(taps.size()), out_r + iw * C, C, false, stream);
        }
      }
      if (dm != 1) contract(expanded, g.in_w * g.channels, dm, gi_rows + (row - ih0) * g.in_w * g.channels);
    }
    ih += run;
  }
}

template class DepthwisePlan<float>;
template class DepthwisePlan<double>;

}  // namespace kernels

namespace {
// Whether a kernel of this much work (multiply-adds) is worth waking threads for.
bool worth_threads(double macs) { return macs > 2e5 && !omp_in_parallel(); }
}  // namespace

template <typename T>
void depthwise_forward(const ConvGeometry& g, const T* input, const T* kernel, T* output) {
  if (g.output_size() == 0) return;
  const kernels::DepthwisePlan<T> plan(g);
  const int64_t R = plan.band_rows(), bands = (g.out_h + R - 1) / R, items = g.batch * bands;
  const int64_t row = g.out_w * g.out_channels();
#pragma omp parallel for schedule(dynamic, 2) if (worth_threads(double(g.output_size()) * g.kernel_h * g.kernel_w))
  for (int64_t item = 0; item < items; ++item) {
    const int64_t n = item / bands, oh0 = item % bands * R, oh1 = std::min(g.out_h, oh0 + R);
    plan.forward_rows(input, kernel, n, oh0, oh1, output + (n * g.out_h + oh0) * row);
  }
}

template <typename T>
void depthwise_backward_input(const ConvGeometry& g, const T* grad_output, const T* kernel, T* grad_input) {
  if (g.input_size() == 0) return;
  const kernels::DepthwisePlan<T> plan(g);
  const int64_t R = std::clamp<int64_t>(16384 / std::max<int64_t>(1, g.in_w * g.out_channels()), 1, g.in_h);
  const int64_t bands = (g.in_h + R - 1) / R, items = g.batch * bands;
  const int64_t in_row = g.in_w * g.channels, go_image = g.out_h * g.out_w * g.out_channels();
#pragma omp parallel for schedule(dynamic, 2) if (worth_threads(double(g.output_size()) * g.kernel_h * g.kernel_w))
  for (int64_t item = 0; item < items; ++item) {
    const int64_t n = item / bands, ih0 = item % bands * R, ih1 = std::min(g.in_h, ih0 + R);
    plan.backward_input_rows(grad_output + n * go_image, kernel, ih0, ih1, grad_input + (n * g.in_h + ih0) * in_row);
  }
}

template <typename T>
void depthwise_backward_kernel(const ConvGeometry& g, const T* input, const T* grad_output, T* grad_kernel) {
  const int64_t ks = g.kernel_size();
  std::fill(grad_kernel, grad_kernel + ks, T(0));
  if (g.output_size() == 0) return;
  const kernels::DepthwisePlan<T> plan(g);
  // Fixed chunks of output rows (never crossing an image), each summed into its
  // own partial; the partials are added in chunk order. The chunking depends on
  // the shape alone, so the bits do not depend on the thread count.
  const int64_t R = plan.band_rows();
  const int64_t chunk_rows = std::min(g.out_h, std::max(R, (g.batch * g.out_h + 63) / 64));
  const int64_t chunks_per_image = (g.out_h + chunk_rows - 1) / chunk_rows, items = g.batch * chunks_per_image;
  const int64_t row = g.out_w * g.out_channels();
  std::vector<T> partial(static_cast<size_t>(items * ks), T(0));
#pragma omp parallel for schedule(dynamic, 1) if (worth_threads(double(g.output_size()) * g.kernel_h * g.kernel_w))
  for (int64_t item = 0; item < items; ++item) {
    const int64_t n = item / chunks_per_image, c0 = item % chunks_per_image * chunk_rows;
    const int64_t c1 = std::min(g.out_h, c0 + chunk_rows);
    T* acc = partial.data() + item * ks;
    for (int64_t oh0 = c0; oh0 < c1; oh0 += R) {
      const int64_t oh1 = std::min(c1, oh0 + R);
      plan.backward_kernel_rows(input, n, oh0, oh1, grad_output + (n * g.out_h + oh0) * row, acc);
    }
  }
  for (int64_t item = 0; item < items; ++item) {
    const T* acc = partial.data() + item * ks;
    for (int64_t i = 0; i < ks; ++i) grad_kernel[i] += acc[i];
  }
}

#define SEPCONV_INSTANTIATE(T)                                                            \
  template void depthwise_forward<T>(const ConvGeometry&, const T*, const T*, T*);        \
  template void depthwise_backward_input<T>(const ConvGeometry&, const T*, const T*, T*); \
  template void depthwise_backward_kernel<T>(const ConvGeometry&, const T*, const T*, T*);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

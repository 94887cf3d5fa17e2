#pragma once
// Internal: the depthwise building blocks shared by the standalone kernels
// (depthwise.cpp) and the fused separable kernels (separable_fused.cpp).
//
// A DepthwisePlan precomputes the taps of one geometry and works on bands of
// rows of one image, so a caller can interleave depthwise work with other work
// on the same rows while they are in cache. Each thread uses its own scratch
// (kept between calls). Results depend only on the geometry and the band
// boundaries the caller picks, never on the thread that runs a band.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "sepconv/core/geometry.h"

namespace sepconv::kernels {

// Per-thread scratch memory that only grows, so that bands of every call
// reuse the same (already faulted-in) pages. Slots 0 and 1 are used inside
// DepthwisePlan; callers use slots 2 to 9. 64-byte aligned.
void* thread_scratch(int slot, size_t bytes);
template <typename T>
T* thread_scratch(int slot, int64_t count) {
  return static_cast<T*>(thread_scratch(slot, static_cast<size_t>(count > 0 ? count : 1) * sizeof(T)));
}

template <typename T>
struct DwTap {
  int64_t offset;   // elements from a pixel's base to the input this tap reads
  const T* weight;  // this tap's weight for each channel
};

// The per-ISA inner loops (see depthwise_simd.h for their contracts).
template <typename T>
using DwCorrelateFn = void (*)(int64_t count, int64_t channels, const T* in, int64_t in_step, const DwTap<T>* taps,
                               int ntaps, T* out, int64_t out_step, bool accumulate, bool stream);
template <typename T>
using DwAccumulateFn = void (*)(int64_t count, int64_t channels, const T* in, int64_t in_step,
                                const int64_t* offsets, int ntaps, const T* go, int64_t go_step, T* gk,
                                int64_t gk_stride);

// Interior pixels of `nout` output rows (the input and the output advancing by
// in_row_step / out_row_step elements per row), unit dilation along the row,
// kernel width 3 or 5, stride 1 or 2 (false: not covered, use the tap-list loop):
//   out[q * C + c] = sum over rows r, j < kw of
//                    in[row_offsets[r] + (q * stride + j) * C + c] * weight_rows[r][j * weight_step + c].
// Each input load feeds every tap it meets, so loads do not limit the FMAs.
// With `stream`, whole aligned vectors of out are written with streaming stores.
template <typename T>
using DwRowFn = bool (*)(int64_t count, int64_t channels, const T* in, int kw, int stride, const int64_t* row_offsets,
                         const T* const* weight_rows, int64_t weight_step, int nrows, T* out, int64_t nout,
                         int64_t in_row_step, int64_t out_row_step, bool stream);
bool dw_correlate_row_avx512(int64_t, int64_t, const float*, int, int, const int64_t*, const float* const*, int64_t,
                             int, float*, int64_t, int64_t, int64_t, bool);
bool dw_correlate_row_avx2(int64_t, int64_t, const float*, int, int, const int64_t*, const float* const*, int64_t,
                           int, float*, int64_t, int64_t, int64_t, bool);

// Backward-kernel interior of `nout` output rows, stride 1, unit dilation along
// the row, kernel width 3 or 5 (false: not covered):
//   grad_rows[r][j * C + c] += sum over rows o < nout, q < count of
//       in[o * in_row_step + row_offsets[r] + (q + j) * C + c] * go[o * go_row_step + q * C + c].
template <typename T>
using DwAccRowFn = bool (*)(int64_t count, int64_t channels, const T* in, int kw, int stride,
                            const int64_t* row_offsets, T* const* grad_rows, int nrows, const T* go, int64_t nout,
                            int64_t in_row_step, int64_t go_row_step);
bool dw_accumulate_row_avx512(int64_t, int64_t, const float*, int, int, const int64_t*, float* const*, int,
                              const float*, int64_t, int64_t, int64_t);
bool dw_accumulate_row_avx2(int64_t, int64_t, const float*, int, int, const int64_t*, float* const*, int,
                            const float*, int64_t, int64_t, int64_t);

void dw_correlate_avx512(int64_t, int64_t, const float*, int64_t, const DwTap<float>*, int, float*, int64_t, bool,
                         bool);
void dw_accumulate_avx512(int64_t, int64_t, const float*, int64_t, const int64_t*, int, const float*, int64_t, float*,
                          int64_t);
bool dw_correlate_row_avx512(int64_t, int64_t, const float*, int, int, const int64_t*, const float* const*, int64_t,
                             int, float*);
bool dw_correlate_row_avx2(int64_t, int64_t, const float*, int, int, const int64_t*, const float* const*, int64_t,
                           int, float*);
void dw_correlate_avx2(int64_t, int64_t, const float*, int64_t, const DwTap<float>*, int, float*, int64_t, bool,
                       bool);
void dw_accumulate_avx2(int64_t, int64_t, const float*, int64_t, const int64_t*, int, const float*, int64_t, float*,
                        int64_t);

template <typename T>
class DepthwisePlan {
 public:
  // Picks the inner loops for cpu::active_isa() (float) or the portable ones.
  explicit DepthwisePlan(const ConvGeometry& g);

  const ConvGeometry& geometry() const { return g_; }
  // Output rows per band that keep a band's buffers within L2.
  int64_t band_rows() const { return band_rows_; }

  // The input rows that output rows [oh0, oh1) of image n read: the image
  // itself, or (depth_multiplier > 1) a copy in this thread's scratch slot 0
  // with each channel repeated, valid until the next band() on this thread.
  struct Band {
    const T* base;  // pixel (ih, iw) at base + ((ih - row0) * in_w + iw) * out_channels
    int64_t row0;
  };
  Band band(const T* input, int64_t n, int64_t oh0, int64_t oh1) const;
  // The input rows [first, second) that output rows [oh0, oh1) read.
  std::pair<int64_t, int64_t> input_rows(int64_t oh0, int64_t oh1) const;
  // The band over input rows [row0, row1) (those of input_rows) held at
  // `rows` (rows of in_w * channels, contiguous), e.g. an image's rows
  // converted from another layout; rows must stay valid while the band is used.
  Band band_from_rows(const T* rows, int64_t row0, int64_t row1) const;

  // Output rows [oh0, oh1) of image n -> out (rows of out_w * out_channels, contiguous).
  void forward_rows(const T* input, const T* kernel, int64_t n, int64_t oh0, int64_t oh1, T* out) const;
  void forward_rows(const Band& band, const T* kernel, int64_t oh0, int64_t oh1, T* out) const;
  // grad_kernel (kh, kw, channels, dm) += the contribution of output rows [oh0, oh1)
  // of image n, whose output gradient rows start at go_rows.
  void backward_kernel_rows(const T* input, int64_t n, int64_t oh0, int64_t oh1, const T* go_rows,
                            T* grad_kernel) const;
  void backward_kernel_rows(const Band& band, int64_t oh0, int64_t oh1, const T* go_rows, T* grad_kernel) const;
  // Input-gradient rows [ih0, ih1) of one image -> gi_rows (rows of in_w * channels).
  // go_image is that image's whole output gradient, but only the output rows
  // these input rows depend on are read: up to row (ih1 - 1 + pad_top) / stride_h.
  // With `stream`, gi_rows are written with streaming stores where aligned (for
  // an input gradient too large to stay in cache); the calling thread must then
  // fence (std::atomic_thread_fence) before other threads read them.
  void backward_input_rows(const T* go_image, const T* kernel, int64_t ih0, int64_t ih1, T* gi_rows,
                           bool stream = false) const;

 private:
  ConvGeometry g_;
  int64_t oc_;
  int64_t band_rows_;
  // Output columns [interior_lo_, interior_hi_) have every column tap inside the image.
  int64_t interior_lo_ = 0, interior_hi_ = 0;
  DwCorrelateFn<T> correlate_;
  DwAccumulateFn<T> accumulate_;
  DwRowFn<T> row_;
  DwAccRowFn<T> accrow_;
};

}  // namespace sepconv::kernels

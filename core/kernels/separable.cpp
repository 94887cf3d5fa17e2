// SeparablePlan: the choice of path (separable.h) and the unfused path, which
// runs the standalone kernels one after the other.
#include "sepconv/core/kernels/separable.h"

#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "sepconv/core/cpu.h"
#include "sepconv/core/kernels/depthwise.h"
#include "sepconv/core/kernels/gemm.h"
#include "sepconv/core/kernels/separable_fused.h"
#include "sepconv/core/kernels/transpose.h"
#include "sepconv/core/tensor.h"

namespace sepconv::kernels {

void ReluMask::reset(int64_t rows, int64_t filters) {
  words_per_row_ = (filters + 15) / 16;
  words_ = std::make_unique_for_overwrite<uint16_t[]>(static_cast<size_t>(std::max<int64_t>(rows * words_per_row_, 1)));
}

const char* separable_path_name(SeparablePath p) {
  return p == SeparablePath::FusedAvx512 ? "fused_avx512" : "unfused";
}

namespace {

// y[r, f] = max(y, 0) and/or += bias[f], in place over rows x F.
template <typename T>
void bias_activation(int64_t rows, int64_t F, const T* bias, bool relu, T* y) {
  if (!bias && !relu) return;
#pragma omp parallel for schedule(static) if (rows * F > (1 << 16) && !omp_in_parallel())
  for (int64_t r = 0; r < rows; ++r) {
    T* yr = y + r * F;
    if (bias)
      for (int64_t f = 0; f < F; ++f) yr[f] += bias[f];
    if (relu)
      for (int64_t f = 0; f < F; ++f) yr[f] = yr[f] > T(0) ? yr[f] : T(0);
  }
}

// dz = relu'(z) * dy, with z > 0 exactly where y = relu(z) > 0. Written as a
// select over restrict pointers so that it vectorizes without branches (the
// mask is data-dependent: a branch would be mispredicted half the time).
template <typename T>
void relu_mask(int64_t n, const T* __restrict y, const T* __restrict dy, T* __restrict dz) {
  for (int64_t i = 0; i < n; ++i) {
    const T g = dy[i];
    dz[i] = y[i] > T(0) ? g : T(0);
  }
}

// out[f] = sum over rows of m[r, f], in fixed chunks of rows added in order.
template <typename T>
void column_sums(int64_t rows, int64_t F, const T* m, T* out) {
  constexpr int64_t chunk = 1024;
  const int64_t chunks = (rows + chunk - 1) / chunk;
  std::vector<T> partial(static_cast<size_t>(std::max<int64_t>(chunks, 1) * F), T(0));
#pragma omp parallel for schedule(static) if (rows * F > (1 << 16) && !omp_in_parallel())
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t r0 = c * chunk, r1 = std::min(rows, r0 + chunk);
    add_rows(r1 - r0, F, m + r0 * F, partial.data() + c * F);
  }
  std::fill(out, out + F, T(0));
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t f = 0; f < F; ++f) out[f] += partial[c * F + f];
}

// NHWC data only; the plan transposes NCHW data around these.
template <typename T>
void unfused_forward(const SeparableGeometry& s, const T* x, const T* dk, const T* pk, const T* bias, bool relu,
                     T* y) {
  const int64_t M = s.rows(), K = s.mid_channels();
  Tensor<T> d = Tensor<T>::uninitialized({M * K});
  depthwise_forward(s.conv, x, dk, d.data());
  pointwise_forward(M, K, s.filters, d.data(), pk, y);
  bias_activation(M, s.filters, bias, relu, y);
}

template <typename T>
void unfused_backward(const SeparableGeometry& s, const T* x, const T* dk, const T* pk, const T* y, const T* dy,
                      bool relu, T* gx, T* gdk, T* gpk, T* gb) {
  const int64_t M = s.rows(), K = s.mid_channels(), F = s.filters;
  Tensor<T> masked;
  const T* dz = dy;
  if (relu) {
    masked = Tensor<T>::uninitialized({M * F});
    relu_mask(M * F, y, dy, masked.data());
    dz = masked.data();
  }
  if (gb) column_sums(M, F, dz, gb);
  if (gpk) {
    Tensor<T> d = Tensor<T>::uninitialized({M * K});  // recomputed, not kept from forward
    depthwise_forward(s.conv, x, dk, d.data());
    pointwise_backward_kernel(M, K, F, d.data(), dz, gpk);
  }
  if (gx || gdk) {
    Tensor<T> dd = Tensor<T>::uninitialized({M * K});
    pointwise_backward_input(M, K, F, dz, pk, dd.data());
    if (gdk) depthwise_backward_kernel(s.conv, x, dd.data(), gdk);
    if (gx) depthwise_backward_input(s.conv, dd.data(), dk, gx);
  }
}

// (batch, channels, plane) -> (batch, plane, channels)
template <typename T>
Tensor<T> to_nhwc(const T* t, int64_t batch, int64_t channels, int64_t plane) {
  Tensor<T> out = Tensor<T>::uninitialized({batch * channels * plane});
  transpose_planes(batch, channels, plane, t, out.data());
  return out;
}

}  // namespace

template <typename T>
SeparablePlan<T>::SeparablePlan(const SeparableGeometry& g, bool relu)
    : g_(g), relu_(relu), forward_(SeparablePath::Unfused), backward_(SeparablePath::Unfused) {
  if constexpr (std::is_same_v<T, float>) {
    if (cpu::active_isa() == cpu::Isa::Avx512 && g.rows() > 0 && g.filters > 0) {
      forward_ = SeparablePath::FusedAvx512;
      // One image gives the fused backward nothing to share among threads.
      if (g.conv.batch >= 2) backward_ = SeparablePath::FusedAvx512;
    }
  }
}

template <typename T>
void SeparablePlan<T>::forward(const T* x, const T* dk, const T* pk, const T* bias, T* y, ReluMask* mask) const {
  const SeparableGeometry& s = g_;
  if (s.rows() == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (forward_ == SeparablePath::FusedAvx512) {
      uint16_t* bits = nullptr;
      if (mask && wants_relu_mask()) {
        mask->reset(s.rows(), s.filters);
        bits = mask->words();
      }
      return fused_forward(s, x, dk, pk, bias, relu_, y, bits, bits ? mask->words_per_row() : 0);
    }
  }
  if (!s.channels_first) return unfused_forward(s, x, dk, pk, bias, relu_, y);
  const ConvGeometry& g = s.conv;
  const Tensor<T> x_nhwc = to_nhwc(x, g.batch, g.channels, g.in_h * g.in_w);
  Tensor<T> y_nhwc = Tensor<T>::uninitialized({s.output_size()});
  unfused_forward(s, x_nhwc.data(), dk, pk, bias, relu_, y_nhwc.data());
  transpose_planes(g.batch, g.out_h * g.out_w, s.filters, y_nhwc.data(), y);
}

template <typename T>
void SeparablePlan<T>::backward(const T* x, const T* dk, const T* pk, const T* y, const ReluMask* mask, const T* dy,
                                T* gx, T* gdk, T* gpk, T* gb) const {
  const SeparableGeometry& s = g_;
  if (s.rows() == 0) {  // no output: every gradient is zero
    if (gx) std::fill(gx, gx + s.conv.input_size(), T(0));
    if (gdk) std::fill(gdk, gdk + s.conv.kernel_size(), T(0));
    if (gpk) std::fill(gpk, gpk + s.pointwise_size(), T(0));
    if (gb) std::fill(gb, gb + s.filters, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    const bool have_mask = mask && !mask->empty();
    if (backward_ == SeparablePath::FusedAvx512 && (!relu_ || have_mask))
      return fused_backward(s, x, dk, pk, relu_ ? mask->words() : nullptr, relu_ ? mask->words_per_row() : 0, dy, gx,
                            gdk, gpk, gb);
  }
  if (!s.channels_first) return unfused_backward(s, x, dk, pk, y, dy, relu_, gx, gdk, gpk, gb);
  const ConvGeometry& g = s.conv;
  const int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  const Tensor<T> x_nhwc = to_nhwc(x, g.batch, g.channels, in_plane);
  const Tensor<T> dy_nhwc = to_nhwc(dy, g.batch, s.filters, out_plane);
  const Tensor<T> y_nhwc = relu_ ? to_nhwc(y, g.batch, s.filters, out_plane) : Tensor<T>();
  Tensor<T> gx_nhwc = gx ? Tensor<T>::uninitialized({g.input_size()}) : Tensor<T>();
  unfused_backward(s, x_nhwc.data(), dk, pk, relu_ ? y_nhwc.data() : nullptr, dy_nhwc.data(), relu_,
                   gx ? gx_nhwc.data() : nullptr, gdk, gpk, gb);
  if (gx) transpose_planes(g.batch, in_plane, g.channels, gx_nhwc.data(), gx);
}

template class SeparablePlan<float>;
template class SeparablePlan<double>;

}  // namespace sepconv::kernels

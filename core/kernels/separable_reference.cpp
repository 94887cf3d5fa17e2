// The separable convolution as plain loops (separable.h): the definition the
// plans are tested against. The intermediate d (rows, channels * dm) is kept
// whole; every sum runs in the obvious order.
#include <algorithm>
#include <vector>

#include "sepconv/core/kernels/separable.h"

namespace sepconv::kernels {

namespace {

// Element (n, h, w, c) of an image batch of `channels` channels in either layout.
struct Layout {
  int64_t h, w, channels;
  bool channels_first;
  int64_t at(int64_t n, int64_t y, int64_t x, int64_t c) const {
    return channels_first ? ((n * channels + c) * h + y) * w + x : ((n * h + y) * w + x) * channels + c;
  }
};

// Calls visit(n, oh, ow, ih, iw, i, j) for every output pixel and kernel tap inside the image.
template <typename Visit>
void for_each_tap(const ConvGeometry& g, Visit visit) {
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow)
        for (int64_t i = 0; i < g.kernel_h; ++i)
          for (int64_t j = 0; j < g.kernel_w; ++j) {
            const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
            const int64_t iw = ow * g.stride_w - g.pad_left + j * g.dilation_w;
            if (ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w) visit(n, oh, ow, ih, iw, i, j);
          }
}

// d[(n, oh, ow), c * dm + m] = sum over taps of x[n, ih, iw, c] * dk[i, j, c, m]
template <typename T>
std::vector<T> depthwise(const SeparableGeometry& s, const T* x, const T* dk) {
  const ConvGeometry& g = s.conv;
  const Layout in{g.in_h, g.in_w, g.channels, s.channels_first};
  const int64_t C = g.channels, M = g.depth_multiplier, K = s.mid_channels();
  std::vector<T> d(static_cast<size_t>(s.rows() * K), T(0));
  for_each_tap(g, [&](int64_t n, int64_t oh, int64_t ow, int64_t ih, int64_t iw, int64_t i, int64_t j) {
    const int64_t r = (n * g.out_h + oh) * g.out_w + ow;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t m = 0; m < M; ++m)
        d[r * K + c * M + m] += x[in.at(n, ih, iw, c)] * dk[((i * g.kernel_w + j) * C + c) * M + m];
  });
  return d;
}

// The output pixel of row r as (n, oh, ow).
struct Pixel {
  int64_t n, oh, ow;
};
Pixel pixel(const ConvGeometry& g, int64_t r) {
  return {r / (g.out_h * g.out_w), r / g.out_w % g.out_h, r % g.out_w};
}

}  // namespace

template <typename T>
void separable_forward_reference(const SeparableGeometry& s, const T* x, const T* dk, const T* pk, const T* bias,
                                 bool relu, T* y) {
  const ConvGeometry& g = s.conv;
  const Layout out{g.out_h, g.out_w, s.filters, s.channels_first};
  const int64_t K = s.mid_channels(), F = s.filters;
  const std::vector<T> d = depthwise(s, x, dk);
  for (int64_t r = 0; r < s.rows(); ++r) {
    const Pixel p = pixel(g, r);
    for (int64_t f = 0; f < F; ++f) {
      T z = T(0);
      for (int64_t k = 0; k < K; ++k) z += d[r * K + k] * pk[k * F + f];
      if (bias) z += bias[f];
      y[out.at(p.n, p.oh, p.ow, f)] = relu && !(z > T(0)) ? T(0) : z;
    }
  }
}

template <typename T>
void separable_backward_reference(const SeparableGeometry& s, const T* x, const T* dk, const T* pk, const T* y,
                                  const T* dy, bool relu, T* gx, T* gdk, T* gpk, T* gb) {
  const ConvGeometry& g = s.conv;
  const Layout in{g.in_h, g.in_w, g.channels, s.channels_first};
  const Layout out{g.out_h, g.out_w, s.filters, s.channels_first};
  const int64_t C = g.channels, M = g.depth_multiplier, K = s.mid_channels(), F = s.filters, rows = s.rows();
  // dz = relu'(z) * dy, with relu'(0) = 0: z > 0 exactly where y > 0.
  std::vector<T> dz(static_cast<size_t>(rows * F));
  for (int64_t r = 0; r < rows; ++r) {
    const Pixel p = pixel(g, r);
    for (int64_t f = 0; f < F; ++f) {
      const int64_t o = out.at(p.n, p.oh, p.ow, f);
      dz[r * F + f] = relu && !(y[o] > T(0)) ? T(0) : dy[o];
    }
  }
  if (gb)
    for (int64_t f = 0; f < F; ++f) {
      T sum = T(0);
      for (int64_t r = 0; r < rows; ++r) sum += dz[r * F + f];
      gb[f] = sum;
    }
  if (gpk) {
    const std::vector<T> d = depthwise(s, x, dk);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t f = 0; f < F; ++f) {
        T sum = T(0);
        for (int64_t r = 0; r < rows; ++r) sum += d[r * K + k] * dz[r * F + f];
        gpk[k * F + f] = sum;
      }
  }
  if (!gx && !gdk) return;
  // dd = dz * pk^T: the intermediate's gradient.
  std::vector<T> dd(static_cast<size_t>(rows * K), T(0));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; ++k) {
      T sum = T(0);
      for (int64_t f = 0; f < F; ++f) sum += dz[r * F + f] * pk[k * F + f];
      dd[r * K + k] = sum;
    }
  if (gdk) std::fill(gdk, gdk + g.kernel_size(), T(0));
  if (gx) std::fill(gx, gx + g.input_size(), T(0));
  for_each_tap(g, [&](int64_t n, int64_t oh, int64_t ow, int64_t ih, int64_t iw, int64_t i, int64_t j) {
    const int64_t r = (n * g.out_h + oh) * g.out_w + ow;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t m = 0; m < M; ++m) {
        const int64_t t = ((i * g.kernel_w + j) * C + c) * M + m;
        if (gdk) gdk[t] += x[in.at(n, ih, iw, c)] * dd[r * K + c * M + m];
        if (gx) gx[in.at(n, ih, iw, c)] += dd[r * K + c * M + m] * dk[t];
      }
  });
}

#define SEPCONV_INSTANTIATE(T)                                                                                  \
  template void separable_forward_reference<T>(const SeparableGeometry&, const T*, const T*, const T*, const T*, \
                                               bool, T*);                                                       \
  template void separable_backward_reference<T>(const SeparableGeometry&, const T*, const T*, const T*, const T*, \
                                                const T*, bool, T*, T*, T*, T*);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv::kernels

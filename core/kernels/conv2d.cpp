#include "sepconv/core/kernels/conv2d.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "sepconv/core/kernels/gemm.h"

namespace sepconv::kernels {

bool Conv2DGeometry::is_pointwise() const {
  const ConvGeometry& c = conv;
  return c.kernel_h == 1 && c.kernel_w == 1 && c.stride_h == 1 && c.stride_w == 1 && c.pad_top == 0 &&
         c.pad_left == 0 && c.out_h == c.in_h && c.out_w == c.in_w && groups == 1;
}

namespace {

// Output rows per tile: the tile's im2col buffer stays near 1 MB of T.
int64_t tile_rows(const Conv2DGeometry& g) {
  const int64_t per_row = std::max<int64_t>(1, g.conv.out_w * g.window());
  return std::clamp<int64_t>((int64_t(1) << 18) / per_row, 1, g.conv.out_h);
}

// col[(r * out_w + ow) * window + (i * kw + j) * cg + c] = x[n, ih, iw, group * cg + c]
// for output rows oh0 .. oh0 + rows, zero where the window leaves the input.
template <typename T>
void gather_windows(const Conv2DGeometry& g, const T* x_image, int64_t oh0, int64_t rows, int64_t group, T* col) {
  const ConvGeometry& c = g.conv;
  const int64_t cg = g.group_in(), C = c.channels, win = g.window();
#pragma omp parallel for schedule(static) if (rows * c.out_w * win > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t oh = oh0 + r;
    for (int64_t ow = 0; ow < c.out_w; ++ow) {
      T* dst = col + (r * c.out_w + ow) * win;
      for (int64_t i = 0; i < c.kernel_h; ++i) {
        const int64_t ih = oh * c.stride_h - c.pad_top + i * c.dilation_h;
        for (int64_t j = 0; j < c.kernel_w; ++j, dst += cg) {
          const int64_t iw = ow * c.stride_w - c.pad_left + j * c.dilation_w;
          if (ih < 0 || ih >= c.in_h || iw < 0 || iw >= c.in_w) {
            std::fill(dst, dst + cg, T(0));
          } else {
            std::memcpy(dst, x_image + (ih * c.in_w + iw) * C + group * cg, static_cast<size_t>(cg) * sizeof(T));
          }
        }
      }
    }
  }
}

// The adjoint of gather_windows: gx_image[...] += col[...]. Windows of
// neighbouring output positions overlap, so the tile is scattered in order.
template <typename T>
void scatter_windows(const Conv2DGeometry& g, const T* col, int64_t oh0, int64_t rows, int64_t group, T* gx_image) {
  const ConvGeometry& c = g.conv;
  const int64_t cg = g.group_in(), C = c.channels, win = g.window();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t oh = oh0 + r;
    for (int64_t ow = 0; ow < c.out_w; ++ow) {
      const T* src = col + (r * c.out_w + ow) * win;
      for (int64_t i = 0; i < c.kernel_h; ++i) {
        const int64_t ih = oh * c.stride_h - c.pad_top + i * c.dilation_h;
        for (int64_t j = 0; j < c.kernel_w; ++j, src += cg) {
          const int64_t iw = ow * c.stride_w - c.pad_left + j * c.dilation_w;
          if (ih < 0 || ih >= c.in_h || iw < 0 || iw >= c.in_w) continue;
          T* __restrict dst = gx_image + (ih * c.in_w + iw) * C + group * cg;
          for (int64_t k = 0; k < cg; ++k) dst[k] += src[k];
        }
      }
    }
  }
}

}  // namespace

template <typename T>
void conv2d_forward(const Conv2DGeometry& g, const T* x, const T* kernel, const T* bias, T* y) {
  const ConvGeometry& c = g.conv;
  const int64_t F = g.filters, fg = g.group_out(), win = g.window();
  if (g.is_pointwise()) {
    gemm<T>(false, false, c.batch * c.in_h * c.in_w, F, c.channels, T(1), x, c.channels, kernel, F, T(0), y, F);
  } else {
    const int64_t tile = tile_rows(g);
    std::vector<T> col(static_cast<size_t>(tile * c.out_w * win));
    for (int64_t n = 0; n < c.batch; ++n) {
      const T* x_image = x + n * c.in_h * c.in_w * c.channels;
      for (int64_t oh0 = 0; oh0 < c.out_h; oh0 += tile) {
        const int64_t rows = std::min(tile, c.out_h - oh0), m = rows * c.out_w;
        T* y_tile = y + ((n * c.out_h + oh0) * c.out_w) * F;
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          gather_windows(g, x_image, oh0, rows, grp, col.data());
          gemm<T>(false, false, m, fg, win, T(1), col.data(), win, kernel + grp * fg, F, T(0), y_tile + grp * fg, F);
        }
      }
    }
  }
  if (bias) {
    const int64_t positions = c.batch * c.out_h * c.out_w;
#pragma omp parallel for schedule(static) if (positions * F > 65536)
    for (int64_t p = 0; p < positions; ++p) {
      T* __restrict row = y + p * F;
      for (int64_t f = 0; f < F; ++f) row[f] += bias[f];
    }
  }
}

template <typename T>
void conv2d_backward_input(const Conv2DGeometry& g, const T* gy, const T* kernel, T* gx) {
  const ConvGeometry& c = g.conv;
  const int64_t F = g.filters, fg = g.group_out(), win = g.window();
  if (g.is_pointwise()) {
    gemm<T>(false, true, c.batch * c.in_h * c.in_w, c.channels, F, T(1), gy, F, kernel, F, T(0), gx, c.channels);
    return;
  }
  std::fill(gx, gx + c.batch * c.in_h * c.in_w * c.channels, T(0));
  const int64_t tile = tile_rows(g);
  std::vector<T> col(static_cast<size_t>(tile * c.out_w * win));
  for (int64_t n = 0; n < c.batch; ++n) {
    T* gx_image = gx + n * c.in_h * c.in_w * c.channels;
    for (int64_t oh0 = 0; oh0 < c.out_h; oh0 += tile) {
      const int64_t rows = std::min(tile, c.out_h - oh0), m = rows * c.out_w;
      const T* gy_tile = gy + ((n * c.out_h + oh0) * c.out_w) * F;
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        // The tile's window gradients: gy (m x fg) times the group's kernel transposed (fg x win).
        gemm<T>(false, true, m, win, fg, T(1), gy_tile + grp * fg, F, kernel + grp * fg, F, T(0), col.data(), win);
        scatter_windows(g, col.data(), oh0, rows, grp, gx_image);
      }
    }
  }
}

template <typename T>
void conv2d_backward_kernel(const Conv2DGeometry& g, const T* x, const T* gy, T* gk) {
  const ConvGeometry& c = g.conv;
  const int64_t F = g.filters, fg = g.group_out(), win = g.window();
  if (g.is_pointwise()) {
    gemm<T>(true, false, c.channels, F, c.batch * c.in_h * c.in_w, T(1), x, c.channels, gy, F, T(0), gk, F);
    return;
  }
  std::fill(gk, gk + g.kernel_size(), T(0));
  const int64_t tile = tile_rows(g);
  std::vector<T> col(static_cast<size_t>(tile * c.out_w * win));
  for (int64_t n = 0; n < c.batch; ++n) {
    const T* x_image = x + n * c.in_h * c.in_w * c.channels;
    for (int64_t oh0 = 0; oh0 < c.out_h; oh0 += tile) {
      const int64_t rows = std::min(tile, c.out_h - oh0), m = rows * c.out_w;
      const T* gy_tile = gy + ((n * c.out_h + oh0) * c.out_w) * F;
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        gather_windows(g, x_image, oh0, rows, grp, col.data());
        // gk (win x fg of the group) += windows^T (win x m) times gy (m x fg).
        gemm<T>(true, false, win, fg, m, T(1), col.data(), win, gy_tile + grp * fg, F, T(1), gk + grp * fg, F);
      }
    }
  }
}

template <typename T>
void conv2d_backward_bias(const Conv2DGeometry& g, const T* gy, T* gb) {
  const int64_t F = g.filters, positions = g.conv.batch * g.conv.out_h * g.conv.out_w;
  std::vector<double> sum(static_cast<size_t>(F), 0.0);
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t f = 0; f < F; ++f) sum[f] += static_cast<double>(gy[p * F + f]);
  for (int64_t f = 0; f < F; ++f) gb[f] = static_cast<T>(sum[f]);
}

// ---- reference twins -------------------------------------------------------------

namespace {
// Visits every (output position, kernel tap, in-group channel, filter) product
// whose input position lies inside the image.
template <typename F>
void for_each_product(const Conv2DGeometry& g, F visit) {
  const ConvGeometry& c = g.conv;
  const int64_t cg = g.group_in(), fg = g.group_out();
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t oh = 0; oh < c.out_h; ++oh)
      for (int64_t ow = 0; ow < c.out_w; ++ow)
        for (int64_t f = 0; f < g.filters; ++f) {
          const int64_t grp = f / fg;
          for (int64_t i = 0; i < c.kernel_h; ++i) {
            const int64_t ih = oh * c.stride_h - c.pad_top + i * c.dilation_h;
            if (ih < 0 || ih >= c.in_h) continue;
            for (int64_t j = 0; j < c.kernel_w; ++j) {
              const int64_t iw = ow * c.stride_w - c.pad_left + j * c.dilation_w;
              if (iw < 0 || iw >= c.in_w) continue;
              for (int64_t k = 0; k < cg; ++k) {
                const int64_t xi = ((n * c.in_h + ih) * c.in_w + iw) * c.channels + grp * cg + k;
                const int64_t ki = ((i * c.kernel_w + j) * cg + k) * g.filters + f;
                const int64_t yi = ((n * c.out_h + oh) * c.out_w + ow) * g.filters + f;
                visit(xi, ki, yi);
              }
            }
          }
        }
}
}  // namespace

template <typename T>
void conv2d_forward_reference(const Conv2DGeometry& g, const T* x, const T* kernel, const T* bias, T* y) {
  std::vector<double> acc(static_cast<size_t>(g.output_size()), 0.0);
  for_each_product(g, [&](int64_t xi, int64_t ki, int64_t yi) { acc[yi] += double(x[xi]) * double(kernel[ki]); });
  for (int64_t i = 0; i < g.output_size(); ++i)
    y[i] = static_cast<T>(acc[i] + (bias ? double(bias[i % g.filters]) : 0.0));
}

template <typename T>
void conv2d_backward_input_reference(const Conv2DGeometry& g, const T* gy, const T* kernel, T* gx) {
  std::vector<double> acc(static_cast<size_t>(g.conv.input_size()), 0.0);
  for_each_product(g, [&](int64_t xi, int64_t ki, int64_t yi) { acc[xi] += double(gy[yi]) * double(kernel[ki]); });
  for (size_t i = 0; i < acc.size(); ++i) gx[i] = static_cast<T>(acc[i]);
}

template <typename T>
void conv2d_backward_kernel_reference(const Conv2DGeometry& g, const T* x, const T* gy, T* gk) {
  std::vector<double> acc(static_cast<size_t>(g.kernel_size()), 0.0);
  for_each_product(g, [&](int64_t xi, int64_t ki, int64_t yi) { acc[ki] += double(x[xi]) * double(gy[yi]); });
  for (size_t i = 0; i < acc.size(); ++i) gk[i] = static_cast<T>(acc[i]);
}

#define SEPCONV_INSTANTIATE(T)                                                                          \
  template void conv2d_forward(const Conv2DGeometry&, const T*, const T*, const T*, T*);               \
  template void conv2d_backward_input(const Conv2DGeometry&, const T*, const T*, T*);                  \
  template void conv2d_backward_kernel(const Conv2DGeometry&, const T*, const T*, T*);                 \
  template void conv2d_backward_bias(const Conv2DGeometry&, const T*, T*);                             \
  template void conv2d_forward_reference(const Conv2DGeometry&, const T*, const T*, const T*, T*);     \
  template void conv2d_backward_input_reference(const Conv2DGeometry&, const T*, const T*, T*);        \
  template void conv2d_backward_kernel_reference(const Conv2DGeometry&, const T*, const T*, T*);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv::kernels

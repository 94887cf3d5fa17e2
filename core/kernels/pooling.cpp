// PoolPlan (pooling.h): the choice of max-pooling loops, the threading over
// rows and images, average and global average pooling.
#include "sepconv/core/kernels/pooling.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "sepconv/core/cpu.h"

namespace sepconv::kernels {

namespace {
#include "sepconv/core/kernels/pooling_rows.h"

// Whether the windows cover every input element exactly once (none overlap,
// none is left out): then the gradient can be written without a zero-fill.
bool windows_tile_input(const PoolGeometry& g) {
  if (g.stride_h < g.pool_h || g.stride_w < g.pool_w) return false;
  int64_t rows = 0, cols = 0;
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const Window wd = window(g, oh, 0);
    rows += wd.h1 - wd.h0;
  }
  for (int64_t ow = 0; ow < g.out_w; ++ow) {
    const Window wd = window(g, 0, ow);
    cols += wd.w1 - wd.w0;
  }
  return rows == g.in_h && cols == g.in_w;
}

}  // namespace

template <typename T>
MaxPoolRows<T> max_pool_rows_portable() {
  return {max_pool_row<T>, max_pool_row_backward<T>};
}

template <typename T>
PoolPlan<T>::PoolPlan(const PoolGeometry& g) : g_(g), tiles_input_(windows_tile_input(g)) {
  switch (cpu::active_isa()) {
    case cpu::Isa::Avx512: max_rows_ = max_pool_rows_avx512<T>(); break;
    case cpu::Isa::Avx2: max_rows_ = max_pool_rows_avx2<T>(); break;
    default: max_rows_ = max_pool_rows_portable<T>();
  }
}

template <typename T>
void PoolPlan<T>::max_forward(const T* x, T* y) const {
  const PoolGeometry& g = g_;
  const int64_t image = g.in_h * g.in_w * g.channels, out_row = g.out_w * g.channels;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < g.batch * g.out_h; ++row)
    max_rows_.forward(g, x + row / g.out_h * image, row % g.out_h, y + row * out_row);
}

template <typename T>
void PoolPlan<T>::max_backward(const T* x, const T* y, const T* gy, T* gx, bool accumulate) const {
  const PoolGeometry& g = g_;
  const int64_t image = g.in_h * g.in_w * g.channels, out_row = g.out_w * g.channels;
  const bool overwrite = tiles_input_ && !accumulate;
  if (!accumulate && !tiles_input_) std::fill(gx, gx + g.batch * image, T(0));
  // One image per iteration: windows may overlap, but never across images.
#pragma omp parallel
  {
    std::vector<T> pending(static_cast<size_t>(g.channels));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const int64_t row = n * g.out_h + oh;
        max_rows_.backward(g, x + n * image, y + row * out_row, gy + row * out_row, oh, overwrite, gx + n * image,
                          pending.data());
      }
  }
}

template <typename T>
void PoolPlan<T>::avg_forward(const T* x, T* y) const {
  const PoolGeometry& g = g_;
  const int64_t C = g.channels, H = g.in_h, W = g.in_w, OH = g.out_h, OW = g.out_w;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < g.batch * OH; ++row) {
    const int64_t n = row / OH, oh = row % OH;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const Window wd = window(g, oh, ow);
      T* __restrict out = y + ((n * OH + oh) * OW + ow) * C;
      std::fill(out, out + C, T(0));
      for (int64_t h = wd.h0; h < wd.h1; ++h)
        for (int64_t w = wd.w0; w < wd.w1; ++w) {
          const T* __restrict xp = x + ((n * H + h) * W + w) * C;
          for (int64_t c = 0; c < C; ++c) out[c] += xp[c];
        }
      const T inv = T(1) / static_cast<T>((wd.h1 - wd.h0) * (wd.w1 - wd.w0));
      for (int64_t c = 0; c < C; ++c) out[c] *= inv;
    }
  }
}

template <typename T>
void PoolPlan<T>::avg_backward_add(const T* gy, T* gx) const {
  const PoolGeometry& g = g_;
  const int64_t C = g.channels, H = g.in_h, W = g.in_w, OH = g.out_h, OW = g.out_w;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Window wd = window(g, oh, ow);
        const T inv = T(1) / static_cast<T>((wd.h1 - wd.h0) * (wd.w1 - wd.w0));
        const T* __restrict go = gy + ((n * OH + oh) * OW + ow) * C;
        for (int64_t h = wd.h0; h < wd.h1; ++h)
          for (int64_t w = wd.w0; w < wd.w1; ++w) {
            T* __restrict gp = gx + ((n * H + h) * W + w) * C;
            for (int64_t c = 0; c < C; ++c) gp[c] += go[c] * inv;
          }
      }
}

template <typename T>
void global_avg_pool_forward(int64_t N, int64_t HW, int64_t C, const T* x, T* y) {
  const double inv = 1.0 / static_cast<double>(HW);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> acc(static_cast<size_t>(C), 0.0);
    for (int64_t p = 0; p < HW; ++p) {
      const T* xp = x + (n * HW + p) * C;
      for (int64_t c = 0; c < C; ++c) acc[c] += xp[c];
    }
    for (int64_t c = 0; c < C; ++c) y[n * C + c] = static_cast<T>(acc[c] * inv);
  }
}

template <typename T>
void global_avg_pool_backward(int64_t N, int64_t HW, int64_t C, const T* gy, T* gx, bool accumulate) {
  const T inv = T(1) / static_cast<T>(HW);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < HW; ++p) {
      T* __restrict gp = gx + (n * HW + p) * C;
      const T* __restrict g = gy + n * C;
      for (int64_t c = 0; c < C; ++c) gp[c] = (accumulate ? gp[c] : T(0)) + g[c] * inv;
    }
}

template class PoolPlan<float>;
template class PoolPlan<double>;
#define SEPCONV_INSTANTIATE(T)                                                           \
  template void global_avg_pool_forward<T>(int64_t, int64_t, int64_t, const T*, T*);    \
  template void global_avg_pool_backward<T>(int64_t, int64_t, int64_t, const T*, T*, bool);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv::kernels

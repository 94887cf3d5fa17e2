// The pooling kernels as plain loops (pooling.h): the definition PoolPlan is
// tested against. Window (oh, ow) covers input rows oh * stride_h - pad_top +
// [0, pool_h) and columns likewise, clipped to the input.
#include <algorithm>
#include <cstdint>

#include "sepconv/core/kernels/pooling.h"

namespace sepconv::kernels {

namespace {

// Calls visit(n, oh, ow, c, h0, h1, w0, w1) for every output element, with its window inside the input.
template <typename Visit>
void for_each_output(const PoolGeometry& g, Visit visit) {
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow)
        for (int64_t c = 0; c < g.channels; ++c) {
          const int64_t hs = oh * g.stride_h - g.pad_top, ws = ow * g.stride_w - g.pad_left;
          visit(n, oh, ow, c, std::max<int64_t>(hs, 0), std::min(hs + g.pool_h, g.in_h), std::max<int64_t>(ws, 0),
                std::min(ws + g.pool_w, g.in_w));
        }
}

int64_t in_at(const PoolGeometry& g, int64_t n, int64_t h, int64_t w, int64_t c) {
  return ((n * g.in_h + h) * g.in_w + w) * g.channels + c;
}
int64_t out_at(const PoolGeometry& g, int64_t n, int64_t oh, int64_t ow, int64_t c) {
  return ((n * g.out_h + oh) * g.out_w + ow) * g.channels + c;
}

}  // namespace

template <typename T>
void max_pool_forward_reference(const PoolGeometry& g, const T* x, T* y) {
  for_each_output(g, [&](int64_t n, int64_t oh, int64_t ow, int64_t c, int64_t h0, int64_t h1, int64_t w0,
                         int64_t w1) {
    T best = x[in_at(g, n, h0, w0, c)];
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) best = std::max(best, x[in_at(g, n, h, w, c)]);
    y[out_at(g, n, oh, ow, c)] = best;
  });
}

// The first element of each window (row-major) that equals its maximum takes its gradient.
template <typename T>
void max_pool_backward_reference(const PoolGeometry& g, const T* x, const T* gy, T* gx) {
  std::fill(gx, gx + g.input_size(), T(0));
  for_each_output(g, [&](int64_t n, int64_t oh, int64_t ow, int64_t c, int64_t h0, int64_t h1, int64_t w0,
                         int64_t w1) {
    int64_t arg = in_at(g, n, h0, w0, c);
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w)
        if (x[in_at(g, n, h, w, c)] > x[arg]) arg = in_at(g, n, h, w, c);
    gx[arg] += gy[out_at(g, n, oh, ow, c)];
  });
}

template <typename T>
void avg_pool_forward_reference(const PoolGeometry& g, const T* x, T* y) {
  for_each_output(g, [&](int64_t n, int64_t oh, int64_t ow, int64_t c, int64_t h0, int64_t h1, int64_t w0,
                         int64_t w1) {
    T sum = T(0);
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) sum += x[in_at(g, n, h, w, c)];
    y[out_at(g, n, oh, ow, c)] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
  });
}

template <typename T>
void avg_pool_backward_reference(const PoolGeometry& g, const T* gy, T* gx) {
  std::fill(gx, gx + g.input_size(), T(0));
  for_each_output(g, [&](int64_t n, int64_t oh, int64_t ow, int64_t c, int64_t h0, int64_t h1, int64_t w0,
                         int64_t w1) {
    const T share = gy[out_at(g, n, oh, ow, c)] / static_cast<T>((h1 - h0) * (w1 - w0));
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) gx[in_at(g, n, h, w, c)] += share;
  });
}

#define SEPCONV_INSTANTIATE(T)                                                                    \
  template void max_pool_forward_reference<T>(const PoolGeometry&, const T*, T*);                 \
  template void max_pool_backward_reference<T>(const PoolGeometry&, const T*, const T*, T*);      \
  template void avg_pool_forward_reference<T>(const PoolGeometry&, const T*, T*);                 \
  template void avg_pool_backward_reference<T>(const PoolGeometry&, const T*, T*);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv::kernels

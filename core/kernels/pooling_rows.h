// The max-pooling row loops, included once per ISA inside an anonymous
// namespace (pooling.cpp, pooling_avx512.cpp, pooling_avx2.cpp) and compiled
// with that ISA's flags; the channel loops are left to the vectorizer. No
// include guard: each inclusion is a separate instance. Needs <bit>,
// <cstdint>, <type_traits> and sepconv/core/kernels/pooling.h.

// The part of output position (oh, ow)'s window that lies inside the input.
struct Window {
  int64_t h0, h1, w0, w1;
};
inline Window window(const PoolGeometry& g, int64_t oh, int64_t ow) {
  const int64_t hs = oh * g.stride_h - g.pad_top, ws = ow * g.stride_w - g.pad_left;
  const int64_t he = hs + g.pool_h, we = ws + g.pool_w;
  return {hs > 0 ? hs : 0, he < g.in_h ? he : g.in_h, ws > 0 ? ws : 0, we < g.in_w ? we : g.in_w};
}

// y_row[ow, c] = the maximum of x_image[h, w, c] over window (oh, ow), for one output row.
template <typename T>
void max_pool_row(const PoolGeometry& g, const T* __restrict x_image, int64_t oh, T* __restrict y_row) {
  const int64_t C = g.channels, W = g.in_w;
  for (int64_t ow = 0; ow < g.out_w; ++ow) {
    const Window wd = window(g, oh, ow);
    T* __restrict best = y_row + ow * C;
    const T* __restrict first = x_image + (wd.h0 * W + wd.w0) * C;
    for (int64_t c = 0; c < C; ++c) best[c] = first[c];
    for (int64_t h = wd.h0; h < wd.h1; ++h)
      for (int64_t w = wd.w0; w < wd.w1; ++w) {
        const T* __restrict xp = x_image + (h * W + w) * C;
        for (int64_t c = 0; c < C; ++c) best[c] = xp[c] > best[c] ? xp[c] : best[c];
      }
  }
}

// The gradient of one output row: each window's gradient goes to its first
// element equal to the maximum (the maximum was copied from it, so the match
// is exact), through `pending` (channels values), which holds it until an
// element takes it: compare-and-blend, so the channel loop vectorizes. With
// `overwrite` (windows that tile the input, gx not yet written) gx_image is
// written, else added to.
template <typename T>
void max_pool_row_backward(const PoolGeometry& g, const T* __restrict x_image, const T* __restrict y_row,
                           const T* __restrict gy_row, int64_t oh, bool overwrite, T* __restrict gx_image,
                           T* __restrict pending) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const int64_t C = g.channels, W = g.in_w;
  for (int64_t ow = 0; ow < g.out_w; ++ow) {
    const Window wd = window(g, oh, ow);
    const T* __restrict m = y_row + ow * C;
    const T* __restrict gy = gy_row + ow * C;
    for (int64_t c = 0; c < C; ++c) pending[c] = gy[c];
    for (int64_t h = wd.h0; h < wd.h1; ++h)
      for (int64_t w = wd.w0; w < wd.w1; ++w) {
        const T* __restrict xp = x_image + (h * W + w) * C;
        T* __restrict gp = gx_image + (h * W + w) * C;
        // Two instances of one loop, so that neither reads gp[c] needlessly.
        auto take = [&](auto overwrite_c) __attribute__((always_inline)) {
          for (int64_t c = 0; c < C; ++c) {  // bit masks instead of branches
            const U hit = U(0) - static_cast<U>(xp[c] == m[c]);
            const U bits = std::bit_cast<U>(pending[c]);
            gp[c] = (overwrite_c ? T(0) : gp[c]) + std::bit_cast<T>(bits & hit);
            pending[c] = std::bit_cast<T>(bits & ~hit);
          }
        };
        if (overwrite)
          take(std::true_type{});
        else
          take(std::false_type{});
      }
  }
}

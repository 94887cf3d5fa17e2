#include "sepconv/core/kernels/translate.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace sepconv::kernels {

namespace {

// One axis of one image: for each output index, two source indices and their
// weights. A neighbour outside the image in Constant mode, and an unused tap
// (weight 0), read index `size`: a slot past the image holding fill_value, so
// the loops have no branches and never multiply an input by 0 (which would
// turn an infinite input into NaN where Keras's output is finite).
template <typename T>
struct AxisTaps {
  std::vector<int64_t> index;  // 2 per output index
  std::vector<T> weight;       // 2 per output index
};

int64_t fix_index(int64_t i, int64_t size, FillMode mode) {
  if (i >= 0 && i < size) return i;
  switch (mode) {
    case FillMode::Constant:
      return -1;  // the fill slot
    case FillMode::Nearest:
      return i < 0 ? 0 : size - 1;
    case FillMode::Wrap: {
      const int64_t m = i % size;
      return m < 0 ? m + size : m;
    }
    case FillMode::Reflect: {
      // period 2 * size: a b c d d c b a
      int64_t m = i % (2 * size);
      if (m < 0) m += 2 * size;
      return m < size ? m : 2 * size - 1 - m;
    }
  }
  return -1;
}

template <typename T>
AxisTaps<T> axis_taps(int64_t size, double shift, const TranslateSpec& s) {
  AxisTaps<T> t{std::vector<int64_t>(static_cast<size_t>(2 * size), size),
                std::vector<T>(static_cast<size_t>(2 * size), T(0))};
  for (int64_t o = 0; o < size; ++o) {
    const double c = static_cast<double>(o) - shift;
    if (s.interpolation == Interpolation::Nearest) {
      t.index[2 * o] = fix_index(static_cast<int64_t>(std::round(c)), size, s.fill_mode);
      t.weight[2 * o] = T(1);
    } else {
      const double lower = std::floor(c), upper_weight = c - lower;
      const int64_t i = static_cast<int64_t>(lower);
      t.index[2 * o] = fix_index(i, size, s.fill_mode);
      t.weight[2 * o] = static_cast<T>(1.0 - upper_weight);
      t.index[2 * o + 1] = fix_index(i + 1, size, s.fill_mode);
      t.weight[2 * o + 1] = static_cast<T>(upper_weight);
    }
  }
  for (size_t k = 0; k < t.index.size(); ++k)
    if (t.index[k] < 0 || t.weight[k] == T(0)) t.index[k] = size;
  return t;
}

}  // namespace

// A translation is separable: each output is sum_a wy_a * sum_b wx_b * v, so
// both directions run as two passes of two taps: a horizontal one per source
// row, then a vertical one over whole contiguous rows of W * C values. Rows and
// columns outside the image read fill_value (a row outside reads
// fill_value * (wx_0 + wx_1), fill_value as the weights sum to 1).
//
// Per image, the workspace holds: the source row being read, extended by one
// pixel of fill_value ((W + 1) * C), then the horizontal pass of every row
// followed by one row of fill_value ((H + 1) * W * C).
template <typename T>
void translate_images(const T* src, T* dst, const TranslateSpec& s, const float* shift_h, const float* shift_w) {
  const int64_t H = s.H, W = s.W, C = s.C, row = W * C, image = H * row;
  const T fill = static_cast<T>(s.fill_value);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.N; ++n) {
    const AxisTaps<T> rows = axis_taps<T>(H, shift_h[n], s), cols = axis_taps<T>(W, shift_w[n], s);
    std::vector<T> work(static_cast<size_t>(row + C + image + row), fill);
    T* __restrict ext = work.data();
    T* __restrict h = ext + row + C;
    const T* __restrict in = src + n * image;
    T* __restrict out = dst + n * image;
    for (int64_t r = 0; r < H; ++r) {
      std::copy(in + r * row, in + (r + 1) * row, ext);
      T* __restrict o = h + r * row;
      for (int64_t x = 0; x < W; ++x) {
        const T w0 = cols.weight[2 * x], w1 = cols.weight[2 * x + 1];
        const T* __restrict p0 = ext + cols.index[2 * x] * C;
        const T* __restrict p1 = ext + cols.index[2 * x + 1] * C;
        for (int64_t c = 0; c < C; ++c) o[x * C + c] = w0 * p0[c] + w1 * p1[c];
      }
    }
    for (int64_t y = 0; y < H; ++y) {
      const T w0 = rows.weight[2 * y], w1 = rows.weight[2 * y + 1];
      const T* __restrict p0 = h + rows.index[2 * y] * row;
      const T* __restrict p1 = h + rows.index[2 * y + 1] * row;
      T* __restrict o = out + y * row;
      for (int64_t k = 0; k < row; ++k) o[k] = w0 * p0[k] + w1 * p1[k];
    }
  }
}

template <typename T>
void translate_images_backward(const T* grad_dst, T* grad_src, const TranslateSpec& s, const float* shift_h,
                               const float* shift_w, bool accumulate) {
  const int64_t H = s.H, W = s.W, C = s.C, row = W * C, image = H * row;
  // The two passes transposed, in reverse; what the forward read from the
  // fill slots is gradient for nobody, and lands in slots that are dropped.
  // Each image's gradient is scattered by the thread that owns the image, in a
  // fixed order: no two threads write the same element and the sums do not
  // depend on the thread count.
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.N; ++n) {
    const AxisTaps<T> rows = axis_taps<T>(H, shift_h[n], s), cols = axis_taps<T>(W, shift_w[n], s);
    std::vector<T> work(static_cast<size_t>(row + C + image + row), T(0));
    T* __restrict ext = work.data();
    T* __restrict h = ext + row + C;
    const T* __restrict g = grad_dst + n * image;
    T* __restrict gi = grad_src + n * image;
    for (int64_t y = 0; y < H; ++y) {
      const T w0 = rows.weight[2 * y], w1 = rows.weight[2 * y + 1];
      T* p0 = h + rows.index[2 * y] * row;  // p0 and p1 may be the same row: not restrict
      T* p1 = h + rows.index[2 * y + 1] * row;
      const T* __restrict go = g + y * row;
      for (int64_t k = 0; k < row; ++k) p0[k] += w0 * go[k];
      for (int64_t k = 0; k < row; ++k) p1[k] += w1 * go[k];
    }
    for (int64_t r = 0; r < H; ++r) {
      std::fill(ext, ext + row + C, T(0));
      const T* __restrict go = h + r * row;
      for (int64_t x = 0; x < W; ++x) {
        const T w0 = cols.weight[2 * x], w1 = cols.weight[2 * x + 1];
        T* p0 = ext + cols.index[2 * x] * C;  // may be the same pixel: not restrict
        T* p1 = ext + cols.index[2 * x + 1] * C;
        for (int64_t c = 0; c < C; ++c) p0[c] += w0 * go[x * C + c];
        for (int64_t c = 0; c < C; ++c) p1[c] += w1 * go[x * C + c];
      }
      T* __restrict o = gi + r * row;
      if (accumulate)
        for (int64_t k = 0; k < row; ++k) o[k] += ext[k];
      else
        std::copy(ext, ext + row, o);
    }
  }
}

#define SEPCONV_INSTANTIATE(T)                                                                         \
  template void translate_images<T>(const T*, T*, const TranslateSpec&, const float*, const float*); \
  template void translate_images_backward<T>(const T*, T*, const TranslateSpec&, const float*, const float*, bool);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv::kernels

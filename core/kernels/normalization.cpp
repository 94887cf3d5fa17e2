#include "sepconv/core/kernels/normalization.h"

#include <algorithm>

namespace sepconv::kernels {

namespace {

// out[s * channels + c] = sum over rows of what `accumulate(begin, end, acc)`
// adds into acc[s * channels + c] (nsums sums per channel, in double).
// Blocks of rows run in parallel; their partial sums are combined in block order.
template <typename F>
std::vector<double> reduce_rows(int64_t rows, int64_t channels, int64_t nsums, F accumulate) {
  const int64_t width = nsums * channels;
  const int64_t blocks = (rows + kReduceBlock - 1) / kReduceBlock;
  std::vector<double> partial(static_cast<size_t>(blocks * width), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b)
    accumulate(b * kReduceBlock, std::min(rows, (b + 1) * kReduceBlock), partial.data() + b * width);
  std::vector<double> out(static_cast<size_t>(width), 0.0);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < width; ++i) out[i] += partial[b * width + i];
  return out;
}

}  // namespace

template <typename T>
std::vector<double> column_sums(const T* m, int64_t rows, int64_t channels) {
  return reduce_rows(rows, channels, 1, [&](int64_t r0, int64_t r1, double* acc) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = m + r * channels;
      for (int64_t c = 0; c < channels; ++c) acc[c] += row[c];
    }
  });
}

template <typename T>
void batch_moments(const T* x, int64_t rows, int64_t C, std::vector<double>& mean, std::vector<double>& variance) {
  const std::vector<double> s1 = reduce_rows(rows, C, 1, [&](int64_t r0, int64_t r1, double* acc) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < C; ++c) acc[c] += x[r * C + c];
  });
  mean.assign(static_cast<size_t>(C), 0.0);
  for (int64_t c = 0; c < C; ++c) mean[c] = s1[c] / static_cast<double>(rows);
  const double* md = mean.data();
  const std::vector<double> s2 = reduce_rows(rows, C, 1, [&](int64_t r0, int64_t r1, double* acc) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < C; ++c) {
        const double d = x[r * C + c] - md[c];
        acc[c] += d * d;
      }
  });
  variance.assign(static_cast<size_t>(C), 0.0);
  for (int64_t c = 0; c < C; ++c) variance[c] = s2[c] / static_cast<double>(rows);
}

template <typename T>
void scale_shift(const T* __restrict x, int64_t rows, int64_t C, const T* __restrict scale,
                 const T* __restrict shift, T* __restrict y) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) y[r * C + c] = x[r * C + c] * scale[c] + shift[c];
}

template <typename T>
std::vector<double> batch_norm_backward_sums(const T* x, const T* dy, int64_t rows, int64_t C, const T* m,
                                             const T* is) {
  return reduce_rows(rows, C, 2, [&](int64_t r0, int64_t r1, double* acc) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict xr = x + r * C;
      const T* __restrict gr = dy + r * C;
      for (int64_t c = 0; c < C; ++c) {
        acc[c] += gr[c];
        acc[C + c] += static_cast<double>(gr[c]) * static_cast<double>((xr[c] - m[c]) * is[c]);
      }
    }
  });
}

template <typename T>
void batch_norm_backward_input(const T* x, const T* dy, int64_t rows, int64_t C, const T* m, const T* is,
                               const T* sc, const T* md, const T* mdx, bool training, T* gx, bool acc) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict xr = x + r * C;
    const T* __restrict gr = dy + r * C;
    T* __restrict gxr = gx + r * C;
    if (training)
      for (int64_t c = 0; c < C; ++c) {
        const T v = sc[c] * (gr[c] - md[c] - (xr[c] - m[c]) * is[c] * mdx[c]);
        gxr[c] = acc ? gxr[c] + v : v;
      }
    else
      for (int64_t c = 0; c < C; ++c) gxr[c] = acc ? gxr[c] + sc[c] * gr[c] : sc[c] * gr[c];
  }
}

#define SEPCONV_INSTANTIATE(T)                                                                                  \
  template std::vector<double> column_sums<T>(const T*, int64_t, int64_t);                                      \
  template void batch_moments<T>(const T*, int64_t, int64_t, std::vector<double>&, std::vector<double>&);       \
  template void scale_shift<T>(const T*, int64_t, int64_t, const T*, const T*, T*);                             \
  template std::vector<double> batch_norm_backward_sums<T>(const T*, const T*, int64_t, int64_t, const T*,      \
                                                           const T*);                                           \
  template void batch_norm_backward_input<T>(const T*, const T*, int64_t, int64_t, const T*, const T*, const T*, \
                                             const T*, const T*, bool, T*, bool);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv::kernels

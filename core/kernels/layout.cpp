#include "sepconv/core/kernels/layout.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace sepconv::kernels {

template <typename T>
void copy_rows(int64_t rows, int64_t cols, const T* src, int64_t ld_src, T* dst, int64_t ld_dst) {
  if (rows <= 0 || cols <= 0) return;
  // Small copies stay on the calling thread: waking the team costs more.
  const bool parallel = rows * cols >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * ld_dst, src + r * ld_src, static_cast<size_t>(cols) * sizeof(T));
}

template <typename T>
void zero_pad_nhwc(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t bottom, int64_t left,
                   int64_t right, const T* src, T* dst) {
  const int64_t ph = top + h + bottom, pw = left + w + right, prow = pw * c, row = w * c;
  const bool parallel = n * ph * prow >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < n * ph; ++i) {
    const int64_t b = i / ph, y = i % ph - top;
    T* d = dst + i * prow;
    if (y < 0 || y >= h) {
      std::fill(d, d + prow, T(0));
      continue;
    }
    std::fill(d, d + left * c, T(0));
    std::memcpy(d + left * c, src + (b * h + y) * row, static_cast<size_t>(row) * sizeof(T));
    std::fill(d + left * c + row, d + prow, T(0));
  }
}

template <typename T>
void crop_nhwc(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t bottom, int64_t left, int64_t right,
               const T* padded, T* dst) {
  const int64_t ph = top + h + bottom, pw = left + w + right;
  const bool parallel = n * h * w * c >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < n * h; ++i) {
    const int64_t b = i / h, y = i % h;
    std::memcpy(dst + i * w * c, padded + ((b * ph + y + top) * pw + left) * c, static_cast<size_t>(w * c) * sizeof(T));
  }
}

template <typename T>
void global_max_nhwc(int64_t n, int64_t hw, int64_t c, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n * hw * c >= (1 << 15))
  for (int64_t b = 0; b < n; ++b) {
    T* yb = y + b * c;
    const T* xb = x + b * hw * c;
    std::copy(xb, xb + c, yb);
    for (int64_t p = 1; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) yb[k] = std::max(yb[k], xb[p * c + k]);
  }
}

template <typename T>
void global_max_nhwc_backward(int64_t n, int64_t hw, int64_t c, const T* x, const T* y, const T* gy, T* gx) {
#pragma omp parallel for schedule(static) if (n * hw * c >= (1 << 15))
  for (int64_t b = 0; b < n; ++b) {
    const T* xb = x + b * hw * c;
    const T* yb = y + b * c;
    T* gb = gx + b * hw * c;
    std::vector<int64_t> ties(static_cast<size_t>(c), 0);
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) ties[k] += xb[p * c + k] == yb[k];
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k)
        gb[p * c + k] = xb[p * c + k] == yb[k] ? gy[b * c + k] / static_cast<T>(ties[k]) : T(0);
  }
}

#define SEPCONV_LAYOUT_INSTANTIATE(T)                                                                          \
  template void copy_rows<T>(int64_t, int64_t, const T*, int64_t, T*, int64_t);                                \
  template void zero_pad_nhwc<T>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,       \
                                 const T*, T*);                                                                \
  template void crop_nhwc<T>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const T*, \
                             T*);                                                                              \
  template void global_max_nhwc<T>(int64_t, int64_t, int64_t, const T*, T*);                                   \
  template void global_max_nhwc_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T*);
SEPCONV_LAYOUT_INSTANTIATE(float)
SEPCONV_LAYOUT_INSTANTIATE(double)
#undef SEPCONV_LAYOUT_INSTANTIATE

}  // namespace sepconv::kernels

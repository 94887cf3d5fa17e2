#include "sepconv/core/kernels/elementwise.h"

#include <algorithm>
#include <cmath>

#include "sepconv/core/cpu.h"
#include "sepconv/core/kernels/elementwise_kernels.h"
#include "sepconv/core/random.h"

namespace sepconv::kernels {

namespace {
#include "sepconv/core/kernels/dropout_groups.h"
}  // namespace

template <typename T>
void dropout_mask(int64_t n, double rate, uint64_t seed, uint64_t counter, T keep, T* md) {
  // Each 64-bit hash gives four 16-bit draws (the hash is the costly part);
  // an element is kept when its draw is >= round(rate * 65536), so the rate is
  // applied to within 2^-17. A draw depends only on (seed, counter, index):
  // the same mask for any thread count and ISA.
  const uint64_t key = splitmix64(seed ^ splitmix64(counter + 0x632be59bd9b4e019ULL));
  const auto threshold = static_cast<uint32_t>(std::llround(rate * 65536.0));
  const DropoutMaskGroups<T> groups =
      cpu::active_isa() == cpu::Isa::Avx512 ? dropout_mask_groups_avx512<T>() : dropout_mask_groups<T>;
  const int64_t whole = n / 4;
  constexpr int64_t kChunk = 1024;  // groups per task: 4096 elements
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < whole; q += kChunk) groups(key, threshold, keep, q, std::min(whole, q + kChunk), md);
  if (n % 4 != 0) {  // the last, partial group
    const uint64_t r = splitmix64(key + static_cast<uint64_t>(whole));
    for (int64_t k = 0; 4 * whole + k < n; ++k)
      md[4 * whole + k] = ((r >> (16 * k)) & 0xffffULL) >= threshold ? keep : T(0);
  }
}

template <typename T>
void multiply(int64_t n, const T* a, const T* b, T* out) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

template <typename T>
void multiply_add(int64_t n, const T* a, const T* b, T* out, bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = (accumulate ? out[i] : T(0)) + a[i] * b[i];
}

template <typename T>
void flip_images(const T* src, T* dst, int64_t N, int64_t H, int64_t W, int64_t C, const std::vector<uint8_t>& fh,
                 const std::vector<uint8_t>& fw, bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < N * H; ++row) {
    const int64_t n = row / H, h = row % H, sh = fh[n] ? H - 1 - h : h;
    for (int64_t w = 0; w < W; ++w) {
      const int64_t sw = fw[n] ? W - 1 - w : w;
      const T* __restrict s = src + ((n * H + sh) * W + sw) * C;
      T* __restrict d = dst + ((n * H + h) * W + w) * C;
      if (accumulate)
        for (int64_t c = 0; c < C; ++c) d[c] += s[c];
      else
        for (int64_t c = 0; c < C; ++c) d[c] = s[c];
    }
  }
}

#define SEPCONV_INSTANTIATE(T)                                                                                 \
  template void dropout_mask<T>(int64_t, double, uint64_t, uint64_t, T, T*);                                   \
  template void multiply<T>(int64_t, const T*, const T*, T*);                                                  \
  template void multiply_add<T>(int64_t, const T*, const T*, T*, bool);                                        \
  template void flip_images<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, const std::vector<uint8_t>&, \
                               const std::vector<uint8_t>&, bool);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv::kernels

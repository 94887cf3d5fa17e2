#pragma once
// Internal: the fused AVX-512 path of SeparablePlan (separable.h). Float only;
// only call these when cpu::active_isa() is Avx512. They drive the AVX-512
// building blocks of gemm_kernels.h, depthwise_kernels.h and transpose.h, and
// are compiled for baseline x86-64 themselves.
#include <cstdint>

#include "sepconv/core/kernels/separable.h"

namespace sepconv::kernels {

// sums[f] += m[r, f] over rows, row by row (the order the callers rely on).
template <typename T>
void add_rows(int64_t rows, int64_t F, const T* __restrict m, T* __restrict sums) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < F; ++f) sums[f] += m[r * F + f];
}

// Output rows per band of the fused kernels.
int64_t fused_band_rows(const SeparableGeometry& g);

// relu_bits (when non-null): ReluMask::words(), bits_stride words per output row.
void fused_forward(const SeparableGeometry& g, const float* x, const float* dk, const float* pk, const float* bias,
                   bool relu, float* y, uint16_t* relu_bits, int64_t bits_stride);
// relu_bits non-null: dy is masked by relu's derivative first.
void fused_backward(const SeparableGeometry& g, const float* x, const float* dk, const float* pk,
                    const uint16_t* relu_bits, int64_t bits_stride, const float* dy, float* gx, float* gdk,
                    float* gpk, float* gb);

}  // namespace sepconv::kernels

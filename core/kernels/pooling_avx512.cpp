// AVX512 instances of the max-pooling row loops (pooling_rows.h).
#include <bit>
#include <cstdint>
#include <type_traits>

#include "sepconv/core/kernels/pooling.h"

namespace sepconv::kernels {
namespace avx512_impl {
namespace {
#include "sepconv/core/kernels/pooling_rows.h"
}  // namespace
}  // namespace avx512_impl

void max_pool_row_avx512(const PoolGeometry& g, const float* x, int64_t oh, float* y) {
  avx512_impl::max_pool_row(g, x, oh, y);
}
void max_pool_row_avx512(const PoolGeometry& g, const double* x, int64_t oh, double* y) {
  avx512_impl::max_pool_row(g, x, oh, y);
}
void max_pool_row_backward_avx512(const PoolGeometry& g, const float* x, const float* y, const float* gy, int64_t oh,
                                  bool overwrite, float* gx, float* pending) {
  avx512_impl::max_pool_row_backward(g, x, y, gy, oh, overwrite, gx, pending);
}
void max_pool_row_backward_avx512(const PoolGeometry& g, const double* x, const double* y, const double* gy,
                                  int64_t oh, bool overwrite, double* gx, double* pending) {
  avx512_impl::max_pool_row_backward(g, x, y, gy, oh, overwrite, gx, pending);
}

}  // namespace sepconv::kernels

// AVX2 instances of the max-pooling row loops (pooling_rows.h).
#include <bit>
#include <cstdint>
#include <type_traits>

#include "sepconv/core/kernels/pooling.h"

namespace sepconv::kernels {
namespace avx2_impl {
namespace {
#include "sepconv/core/kernels/pooling_rows.h"
}  // namespace
}  // namespace avx2_impl

void max_pool_row_avx2(const PoolGeometry& g, const float* x, int64_t oh, float* y) {
  avx2_impl::max_pool_row(g, x, oh, y);
}
void max_pool_row_avx2(const PoolGeometry& g, const double* x, int64_t oh, double* y) {
  avx2_impl::max_pool_row(g, x, oh, y);
}
void max_pool_row_backward_avx2(const PoolGeometry& g, const float* x, const float* y, const float* gy, int64_t oh,
                                  bool overwrite, float* gx, float* pending) {
  avx2_impl::max_pool_row_backward(g, x, y, gy, oh, overwrite, gx, pending);
}
void max_pool_row_backward_avx2(const PoolGeometry& g, const double* x, const double* y, const double* gy,
                                  int64_t oh, bool overwrite, double* gx, double* pending) {
  avx2_impl::max_pool_row_backward(g, x, y, gy, oh, overwrite, gx, pending);
}

}  // namespace sepconv::kernels

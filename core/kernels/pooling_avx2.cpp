// AVX2 instances of the max-pooling row loops (pooling_rows.h).
#include <bit>
#include <cstdint>
#include <type_traits>

#include "sepconv/core/kernels/pooling.h"

namespace sepconv::kernels {
namespace {
#include "sepconv/core/kernels/pooling_rows.h"
}  // namespace

template <typename T>
MaxPoolRows<T> max_pool_rows_avx2() {
  return {max_pool_row<T>, max_pool_row_backward<T>};
}
template MaxPoolRows<float> max_pool_rows_avx2();
template MaxPoolRows<double> max_pool_rows_avx2();

}  // namespace sepconv::kernels

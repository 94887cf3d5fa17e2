// AVX-512 instance of the dropout-mask loop (dropout_groups.h): vpmullq forms
// eight splitmix64 hashes at once.
#include <algorithm>
#include <cstdint>

#include "sepconv/core/kernels/elementwise_kernels.h"
#include "sepconv/core/random.h"

namespace sepconv::kernels {
namespace {
#include "sepconv/core/kernels/dropout_groups.h"
}  // namespace

template <typename T>
DropoutMaskGroups<T> dropout_mask_groups_avx512() {
  return dropout_mask_groups<T>;
}
template DropoutMaskGroups<float> dropout_mask_groups_avx512();
template DropoutMaskGroups<double> dropout_mask_groups_avx512();

}  // namespace sepconv::kernels

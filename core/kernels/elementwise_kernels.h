#pragma once
// The per-ISA instances of the elementwise loops (dropout_groups.h), for
// elementwise.cpp's dispatch. Only call the *_avx512 ones when
// cpu::active_isa() is Avx512.
#include <cstdint>

namespace sepconv::kernels {

template <typename T>
using DropoutMaskGroups = void (*)(uint64_t key, uint32_t threshold, T keep, int64_t q0, int64_t q1, T* mask);

template <typename T>
DropoutMaskGroups<T> dropout_mask_groups_avx512();

}  // namespace sepconv::kernels

// The dropout-mask loop, included once per ISA inside an anonymous namespace
// (elementwise.cpp, elementwise_avx512.cpp) and compiled with that ISA's
// flags. No include guard: each inclusion is a separate instance. Needs
// <algorithm>, <cstdint> and sepconv/core/random.h.
//
// Group q of four elements takes the four 16-bit parts of splitmix64(key + q),
// low part first: element 4q + k is kept (set to `keep`) when part k is >=
// `threshold`, else 0. The hashes of a block are formed in one loop and the
// comparisons in another, so both vectorize (the 64-bit multiplies need
// AVX-512DQ; below it they stay scalar, the compare and select do not).
template <typename T>
void dropout_mask_groups(uint64_t key, uint32_t threshold, T keep, int64_t q0, int64_t q1, T* __restrict mask) {
  constexpr int64_t kBlock = 16;
  uint64_t hash[kBlock];
  uint16_t draw[4 * kBlock];
  for (int64_t q = q0; q < q1; q += kBlock) {
    for (int64_t j = 0; j < kBlock; ++j) hash[j] = splitmix64(key + static_cast<uint64_t>(q + j));
    for (int64_t j = 0; j < kBlock; ++j)
      for (int k = 0; k < 4; ++k) draw[4 * j + k] = static_cast<uint16_t>(hash[j] >> (16 * k));
    const int64_t count = 4 * std::min(kBlock, q1 - q);
    T* __restrict out = mask + 4 * q;
    for (int64_t i = 0; i < count; ++i) out[i] = draw[i] >= threshold ? keep : T(0);
  }
}

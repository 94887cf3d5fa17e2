#pragma once
// splitmix64: the 64-bit mixer (Steele, Lea and Flood) behind every seed the
// library derives (shuffling, dropout masks, flips), so that a value drawn for
// index i depends only on (seed, i) and never on a thread or a call order.
#include <cstdint>

namespace sepconv {

constexpr uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace sepconv

#include "sepconv/model/data_parallel.h"

#include <cstring>

#include <fmt/format.h>

#include "sepconv/core/error.h"

namespace sepconv {

namespace {
int64_t tree_mid(int64_t lo, int64_t hi) { return lo + (hi - lo) / 2; }

void cover(int64_t lo, int64_t hi, int64_t begin, int64_t end, std::vector<std::pair<int64_t, int64_t>>& out) {
  if (end <= lo || hi <= begin) return;
  if (begin <= lo && hi <= end) {
    out.emplace_back(lo, hi);
    return;
  }
  cover(lo, tree_mid(lo, hi), begin, end, out);
  cover(tree_mid(lo, hi), hi, begin, end, out);
}
}  // namespace

std::pair<int64_t, int64_t> micro_shard_rows(int64_t k, int64_t shards, int64_t m) {
  // k * m fits: k < kMaxMicroShards (fit checks it) and m is a row count of
  // a tensor in memory, far below 2^47.
  return {k * m / shards, (k + 1) * m / shards};
}

std::pair<int64_t, int64_t> rank_shards(int rank, int size, int64_t shards) {
  return {rank * shards / size, (rank + 1) * shards / size};
}

std::vector<std::pair<int64_t, int64_t>> tree_cover(int64_t begin, int64_t end, int64_t shards) {
  std::vector<std::pair<int64_t, int64_t>> out;
  if (shards > 0) cover(0, shards, begin, end, out);
  return out;
}

template <typename T>
void tree_sum(int64_t lo, int64_t hi, int64_t n, const std::function<const T*(int64_t, int64_t)>& known, T* out) {
  if (const T* have = known(lo, hi)) {
    std::memcpy(out, have, static_cast<size_t>(n) * sizeof(T));
    return;
  }
  if (hi - lo <= 1)
    throw ValueError(fmt::format("tree_sum: the gradient of micro-shard {} is missing", lo));
  std::vector<T> right(static_cast<size_t>(n));
  tree_sum<T>(lo, tree_mid(lo, hi), n, known, out);
  tree_sum<T>(tree_mid(lo, hi), hi, n, known, right.data());
  for (int64_t i = 0; i < n; ++i) out[i] += right[i];
}

template void tree_sum<float>(int64_t, int64_t, int64_t, const std::function<const float*(int64_t, int64_t)>&, float*);
template void tree_sum<double>(int64_t, int64_t, int64_t, const std::function<const double*(int64_t, int64_t)>&,
                               double*);

}  // namespace sepconv

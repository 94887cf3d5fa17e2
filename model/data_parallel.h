#pragma once
// The arithmetic of data-parallel training that makes its result independent
// of the number of processes. A global batch of m samples is cut into a fixed
// number K of micro-shards (shard k holds samples [k*m/K, (k+1)*m/K)); each
// process computes the gradients of a contiguous run of shards, and the K
// shard gradients are summed in one fixed binary tree over the shard index:
// node [lo, hi) is the sum of its halves [lo, mid) and [mid, hi), mid = lo +
// (hi - lo) / 2. A process pre-sums the tree nodes that lie inside its run, so
// only those nodes travel, and every process finishes the same tree: the sum
// has the same bits for 1, 2 or K processes (floating-point addition is not
// associative, so summing in MPI's arrival order would not).
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace sepconv {

// The most micro-shards a batch may be cut into.
inline constexpr int64_t kMaxMicroShards = 65536;

// Samples [first, second) of shard k of K in a batch of m.
std::pair<int64_t, int64_t> micro_shard_rows(int64_t k, int64_t shards, int64_t m);
// The shards [first, second) that process `rank` of `size` computes.
std::pair<int64_t, int64_t> rank_shards(int rank, int size, int64_t shards);
// The fewest tree nodes of the tree over [0, shards) that exactly cover the
// run [begin, end), in shard order.
std::vector<std::pair<int64_t, int64_t>> tree_cover(int64_t begin, int64_t end, int64_t shards);

// Sums node [lo, hi) of the tree over [0, shards) into out (n elements):
// `known(lo, hi)` returns a node's buffer when it is at hand (a leaf always
// must be), or nullptr to have it formed from its halves.
template <typename T>
void tree_sum(int64_t lo, int64_t hi, int64_t n, const std::function<const T*(int64_t, int64_t)>& known, T* out);

}  // namespace sepconv

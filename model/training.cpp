#include "sepconv/model/training.h"

#include <algorithm>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/core/random.h"

namespace sepconv {

// ---- History / shuffling / batching ------------------------------------------------

void History::append(const EpochLogs& l) {
  epochs.push_back(l);
  history["loss"].push_back(l.loss);
  if (l.accuracy) history["accuracy"].push_back(*l.accuracy);
  if (l.val_loss) history["val_loss"].push_back(*l.val_loss);
  if (l.val_accuracy) history["val_accuracy"].push_back(*l.val_accuracy);
}

namespace {
// Uniform in [0, bound) without modulo bias (rejection), from a 64-bit engine:
// std::uniform_int_distribution's algorithm is the library's choice, this is ours.
uint64_t bounded(std::mt19937_64& rng, uint64_t bound) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t r;
  do r = rng();
  while (r >= limit);
  return r % bound;
}
}  // namespace

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> p(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(splitmix64(seed) ^ splitmix64(0x7a3f00d1ULL + static_cast<uint64_t>(epoch)));
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[bounded(rng, static_cast<uint64_t>(i + 1))]);
  return p;
}

int64_t steps_per_epoch(int64_t n, int64_t batch_size) {
  if (batch_size <= 0)
    throw ValueError(fmt::format("Invalid value for argument `batch_size`: expected a positive integer. "
                                 "Received: batch_size={}",
                                 batch_size));
  if (n < 0)
    throw ValueError(fmt::format("Invalid value for argument `n`: expected an integer >= 0. Received: n={}", n));
  return n / batch_size + (n % batch_size != 0);
}

template <typename T>
Tensor<T> slice_rows(const Tensor<T>& x, int64_t begin, int64_t end) {
  Shape s = x.shape();
  const int64_t row = s[0] ? x.size() / s[0] : 0;
  s[0] = end - begin;
  Tensor<T> out(s);
  if (out.size()) std::memcpy(out.data(), x.data() + begin * row, static_cast<size_t>(out.size()) * sizeof(T));
  return out;
}

template <typename T>
Tensor<T> gather_rows(const Tensor<T>& x, const std::vector<int64_t>& idx, int64_t begin, int64_t end) {
  Shape s = x.shape();
  const int64_t row = s[0] ? x.size() / s[0] : 0;
  s[0] = end - begin;
  Tensor<T> out(s);
  for (int64_t i = begin; i < end; ++i)
    std::memcpy(out.data() + (i - begin) * row, x.data() + idx[i] * row, static_cast<size_t>(row) * sizeof(T));
  return out;
}

template Tensor<float> slice_rows(const Tensor<float>&, int64_t, int64_t);
template Tensor<double> slice_rows(const Tensor<double>&, int64_t, int64_t);
template Tensor<float> gather_rows(const Tensor<float>&, const std::vector<int64_t>&, int64_t, int64_t);
template Tensor<double> gather_rows(const Tensor<double>&, const std::vector<int64_t>&, int64_t, int64_t);

}  // namespace sepconv

#pragma once
// What the training loop takes and gives: FitOptions, the epochs' logs and
// History, Evaluation; the sample order of an epoch and the batch slicing.
// Shuffling is a pure function of (seed, epoch), so a run resumed from a
// checkpoint at an epoch boundary sees the batches an uninterrupted run would.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sepconv/core/tensor.h"
#include "sepconv/dist/communicator.h"

namespace sepconv {

// What one epoch measured; the hook of FitOptions receives it.
struct EpochLogs {
  int64_t epoch = 0;  // 0-based
  double loss = 0;    // mean over the epoch's samples, regularization included
  std::optional<double> accuracy;
  std::optional<double> val_loss, val_accuracy;
  double train_seconds = 0;  // the training steps alone
  double seconds = 0;        // the whole epoch, validation included
  double learning_rate = 0;  // the optimizer's rate after the epoch
};

// Keras's History: one entry per epoch run.
struct History {
  std::vector<EpochLogs> epochs;
  // Keras's history.history: "loss", "accuracy", "val_loss", "val_accuracy"
  // (the metrics that were computed).
  std::map<std::string, std::vector<double>> history;
  void append(const EpochLogs& logs);
};

template <typename T>
class FitOptions {
 public:
  FitOptions& epochs(int64_t n) { epochs_ = n; return *this; }
  FitOptions& batch_size(int64_t n) { batch_size_ = n; return *this; }
  // Epoch to start at (resuming): runs epochs initial_epoch .. epochs - 1.
  FitOptions& initial_epoch(int64_t n) { initial_epoch_ = n; return *this; }
  FitOptions& validation_data(Tensor<T> x, Tensor<T> y) {
    validation_data_ = std::make_pair(std::move(x), std::move(y));
    return *this;
  }
  FitOptions& shuffle(bool s) { shuffle_ = s; return *this; }
  FitOptions& seed(uint64_t s) { seed_ = s; return *this; }
  // 0: silent; 1: a progress bar when stdout is a terminal, else one line per
  // epoch; 2: one line per epoch.
  FitOptions& verbose(int v) { verbose_ = v; return *this; }
  // Called after each epoch (checkpoints, metrics files); may set the model's
  // stop_training flag.
  FitOptions& on_epoch_end(std::function<void(const EpochLogs&)> f) { on_epoch_end_ = std::move(f); return *this; }
  // Data parallelism (model/data_parallel.h): each global batch is cut into
  // micro_shards parts whose gradients are summed in a fixed tree, the
  // processes of `communicator` sharing the parts; the weights come out the
  // same, bit for bit, for any number of processes that runs the same
  // micro_shards. 1 (the default) with no communicator is the plain loop.
  // Only process 0 prints; every process runs the hook.
  FitOptions& micro_shards(int64_t k) { micro_shards_ = k; return *this; }
  FitOptions& communicator(std::shared_ptr<Communicator> c) { communicator_ = std::move(c); return *this; }

  int64_t epochs_ = 1, batch_size_ = 32, initial_epoch_ = 0;
  std::optional<std::pair<Tensor<T>, Tensor<T>>> validation_data_;
  bool shuffle_ = true;
  uint64_t seed_ = 0;
  int verbose_ = 1;
  std::function<void(const EpochLogs&)> on_epoch_end_;
  int64_t micro_shards_ = 1;
  std::shared_ptr<Communicator> communicator_;
};

// The sample order of an epoch: a permutation of [0, n) that depends only on
// (seed, epoch).
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

// Batches in an epoch of n samples: ceil(n / batch_size), computed without
// the (n + batch_size - 1) that overflows for a batch size near INT64_MAX.
// Throws ValueError for n < 0 or batch_size <= 0.
int64_t steps_per_epoch(int64_t n, int64_t batch_size);

// The result of evaluate(): the loss (regularization included, as Keras
// reports it) and the accuracy when it was asked for at compile().
struct Evaluation {
  double loss = 0;
  std::optional<double> accuracy;
};

// Rows [begin, end) of a tensor along its first axis (a copy).
template <typename T>
Tensor<T> slice_rows(const Tensor<T>& x, int64_t begin, int64_t end);
// Rows idx[begin..end) of a tensor along its first axis (a copy).
template <typename T>
Tensor<T> gather_rows(const Tensor<T>& x, const std::vector<int64_t>& idx, int64_t begin, int64_t end);

}  // namespace sepconv

#include "sepconv/model/model_base.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/layers/core_layers.h"
#include "sepconv/layers/normalization.h"
#include "sepconv/model/data_parallel.h"
#include "sepconv/model/keras_weights.h"
#include "sepconv/model/progress.h"

namespace sepconv {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
// The one message for fit, evaluate and predict (Keras accepts any positive
// batch size, also one larger than the data).
void check_batch_size(int64_t batch_size) {
  if (batch_size <= 0)
    throw ValueError(fmt::format("Invalid value for argument `batch_size`: expected a positive integer. "
                                 "Received: batch_size={}",
                                 batch_size));
}

// End of the batch that starts at b0 < n: min(n, b0 + batch_size) without
// computing b0 + batch_size, which overflows for a batch size near INT64_MAX.
int64_t batch_end(int64_t b0, int64_t n, int64_t batch_size) { return b0 + std::min(n - b0, batch_size); }
}  // namespace

template <typename T>
void ModelBase<T>::require_built(const char* what) const {
  if (!built())
    throw ValueError(fmt::format("{}: model '{}' is not built; build it (or call it on data) first", what, name()));
}

template <typename T>
Layer<T>& ModelBase<T>::layer(const std::string& name) {
  for (auto& l : layers_)
    if (l->name() == name) return *l;
  throw ValueError(fmt::format("No such layer: {}. Existing layers are: {}", name, [&] {
    std::string s;
    for (auto& l : layers_) s += (s.empty() ? "" : ", ") + l->name();
    return s.empty() ? std::string("none") : s;
  }()));
}

template <typename T>
std::vector<std::pair<std::string, Weight<T>*>> ModelBase<T>::weights() {
  std::vector<std::pair<std::string, Weight<T>*>> out;
  for (auto& l : layers_)
    for (Weight<T>& w : l->weights()) out.emplace_back(l->name() + "/" + w.name, &w);
  return out;
}

template <typename T>
std::vector<Weight<T>*> ModelBase<T>::trainable_weights() {
  std::vector<Weight<T>*> out;
  for (auto& l : layers_)
    for (Weight<T>* w : l->trainable_weights()) out.push_back(w);
  return out;
}

template <typename T>
int64_t ModelBase<T>::count_params() const {
  int64_t n = 0;
  for (const auto& l : layers_)
    for (const Weight<T>& w : l->weights()) n += w.variable.value().size();
  return n;
}

template <typename T>
int64_t ModelBase<T>::count_trainable_params() const {
  int64_t n = 0;
  for (const auto& l : layers_)
    if (l->trainable())
      for (const Weight<T>& w : l->weights())
        if (w.trainable) n += w.variable.value().size();
  return n;
}

template <typename T>
Variable<T> ModelBase<T>::regularization_loss() const {
  std::optional<Variable<T>> total;
  for (const auto& l : layers_) {
    Variable<T> r = l->regularization_loss();
    if (!r.requires_grad() && r.value().item() == T(0)) continue;  // nothing to add
    total = total ? sepconv::add(*total, r) : r;
  }
  return total ? *total : Variable<T>(Tensor<T>::scalar(T(0)));
}

template <typename T>
void ModelBase<T>::compile(std::shared_ptr<Optimizer<T>> optimizer, const nlohmann::json& loss,
                            const std::vector<std::string>& metrics) {
  compile(std::move(optimizer), get_loss<T>(loss), metrics);
  loss_config_ = loss;
}

template <typename T>
void ModelBase<T>::compile(std::shared_ptr<Optimizer<T>> optimizer, LossFunction<T> loss,
                            const std::vector<std::string>& metrics) {
  if (!optimizer) throw ValueError("compile: `optimizer` must not be null");
  if (!loss) throw ValueError("compile: `loss` must not be empty");
  bool accuracy = false;
  for (const std::string& m : metrics) {
    if (m == "accuracy" || m == "acc")
      accuracy = true;
    else
      throw ValueError(fmt::format("Could not interpret metric identifier: {} (supported: \"accuracy\")", m));
  }
  optimizer_ = std::move(optimizer);
  loss_ = std::move(loss);
  accuracy_metric_ = accuracy;
  loss_config_ = nullptr;
  metric_names_ = metrics;
}

template <typename T>
Optimizer<T>& ModelBase<T>::optimizer() {
  if (!optimizer_) throw ValueError(fmt::format("Model '{}' has no optimizer: call compile() first", name_));
  return *optimizer_;
}

template <typename T>
void ModelBase<T>::check_compiled(const char* what) const {
  if (!loss_)
    throw ValueError(fmt::format("You must call `compile()` before using the model ({} on model '{}').", what, name_));
}

template <typename T>
std::optional<double> ModelBase<T>::batch_accuracy(const Tensor<T>& y, const Tensor<T>& p) const {
  if (!accuracy_metric_) return std::nullopt;
  // Keras's resolution of "accuracy": sparse when the targets lack the class
  // axis (or it is 1 while there are several classes), categorical for
  // matching shapes with several classes, binary for a single output.
  const int64_t classes = p.rank() ? p.shape().back() : 1;
  if (classes > 1 && y.shape() == p.shape()) return categorical_accuracy<T>(y, p);
  if (classes > 1) return sparse_categorical_accuracy<T>(y, p);
  return binary_accuracy<T>(y, p);
}

template <typename T>
Variable<T> ModelBase<T>::training_objective(const Tensor<T>& y, const Variable<T>& out) {
  Variable<T> objective = loss_(Variable<T>(y), out);
  if (objective.value().size() != 1)
    throw ShapeError(fmt::format("The loss must be a scalar, received shape {}", shape_str(objective.shape())));
  Variable<T> reg = regularization_loss();
  if (reg.requires_grad() || reg.value().item() != T(0)) objective = sepconv::add(reshape(objective, Shape{}), reg);
  return objective;
}

template <typename T>
double ModelBase<T>::train_step(const Tensor<T>& xb, const Tensor<T>& yb, std::optional<double>* accuracy) {
  check_compiled("train_step");
  Tape<T>& tape = Tape<T>::current();
  tape.clear();
  std::vector<Weight<T>*> trainable = trainable_weights();
  for (Weight<T>* w : trainable) w->variable.zero_grad();
  Variable<T> out = (*this)(Variable<T>(xb), true);
  Variable<T> objective = training_objective(yb, out);
  const double value = static_cast<double>(objective.value().item());
  if (objective.requires_grad()) {
    tape.backward(objective);
    optimizer_->apply(trainable);
  } else {
    tape.clear();
  }
  if (accuracy) *accuracy = batch_accuracy(yb, out.value());
  return value;
}

template <typename T>
void ModelBase<T>::check_shardable(int64_t shards, int processes) const {
  for (const auto& l : layers_) {
    if (auto* bn = dynamic_cast<const BatchNormalization<T>*>(l.get()); bn && bn->trainable())
      throw ValueError(fmt::format(
          "fit: layer '{}' is a BatchNormalization in training mode, whose statistics would be those of each "
          "micro-shard (micro_shards={}, processes={}); synchronized batch statistics across processes are not "
          "implemented yet. Train it with micro_shards=1 in one process, or set the layer's trainable=False.",
          l->name(), shards, processes));
  }
}

template <typename T>
double ModelBase<T>::sharded_train_step(const Tensor<T>& xb, const Tensor<T>& yb, Communicator& comm, int64_t shards,
                                        std::optional<double>* accuracy) {
  check_compiled("train_step");
  Tape<T>& tape = Tape<T>::current();
  const std::vector<Weight<T>*> trainable = trainable_weights();
  std::vector<int64_t> offset(trainable.size() + 1, 0);
  for (size_t i = 0; i < trainable.size(); ++i) offset[i + 1] = offset[i] + trainable[i]->variable.value().size();
  const int64_t g = offset.back();
  const int64_t m = xb.dim(0);
  // Plain variables, not a structured binding: the lambdas below capture them,
  // which clang 14 (the fuzz build's compiler) does not allow for bindings.
  const std::pair<int64_t, int64_t> own = rank_shards(comm.rank(), comm.size(), shards);
  const int64_t first = own.first, last = own.second;

  // A random layer draws from (seed, state): shard k draws at state base + k,
  // whichever process computes it, and the step advances every process by K.
  std::vector<SeedGeneratorLayer*> random_layers;
  for (const auto& l : layers_)
    if (auto* r = dynamic_cast<SeedGeneratorLayer*>(l.get())) random_layers.push_back(r);
  std::vector<uint64_t> base;
  for (auto* r : random_layers) base.push_back(r->generator_state());

  // This process's shard gradients, each already weighted by its share of the
  // batch, and per shard (loss x rows, correct x rows).
  std::vector<T> leaves(static_cast<size_t>((last - first) * g), T(0));
  std::vector<double> stats;
  for (int64_t k = first; k < last; ++k) {
    const auto [r0, r1] = micro_shard_rows(k, shards, m);
    double loss = 0, correct = 0;
    if (r1 > r0) {
      for (size_t i = 0; i < random_layers.size(); ++i)
        random_layers[i]->set_generator_state(base[i] + static_cast<uint64_t>(k));
      tape.clear();
      for (Weight<T>* w : trainable) w->variable.zero_grad();
      const Tensor<T> ys = slice_rows(yb, r0, r1);
      Variable<T> out = (*this)(Variable<T>(slice_rows(xb, r0, r1)), true);
      Variable<T> objective = training_objective(ys, out);
      const double rows = static_cast<double>(r1 - r0);
      loss = static_cast<double>(objective.value().item()) * rows;
      if (auto acc = batch_accuracy(ys, out.value())) correct = *acc * rows;
      if (objective.requires_grad()) {
        // The batch objective is the mean over its rows: this shard's part.
        Variable<T> part = scale(objective, static_cast<T>(rows / static_cast<double>(m)));
        tape.backward(part);
        T* leaf = leaves.data() + (k - first) * g;
        for (size_t i = 0; i < trainable.size(); ++i)
          if (trainable[i]->variable.has_grad()) {
            const Tensor<T>& gr = trainable[i]->variable.grad();
            std::memcpy(leaf + offset[i], gr.data(), static_cast<size_t>(gr.size()) * sizeof(T));
          }
      } else {
        tape.clear();
      }
    }
    stats.push_back(loss);
    stats.push_back(correct);
  }
  for (size_t i = 0; i < random_layers.size(); ++i)
    random_layers[i]->set_generator_state(base[i] + static_cast<uint64_t>(shards));

  // Pre-sum the tree nodes inside this process's run; gather every process's nodes.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> nodes(static_cast<size_t>(comm.size()));
  std::vector<int64_t> grad_counts, stat_counts;
  for (int r = 0; r < comm.size(); ++r) {
    const auto [a, b] = rank_shards(r, comm.size(), shards);
    nodes[r] = tree_cover(a, b, shards);
    grad_counts.push_back(static_cast<int64_t>(nodes[r].size()) * g);
    stat_counts.push_back(2 * (b - a));
  }
  auto local_leaf = [&](int64_t lo, int64_t hi) -> const T* {
    return hi - lo == 1 && lo >= first && lo < last ? leaves.data() + (lo - first) * g : nullptr;
  };
  std::vector<T> mine(static_cast<size_t>(grad_counts[comm.rank()]));
  for (size_t j = 0; j < nodes[comm.rank()].size(); ++j)
    tree_sum<T>(nodes[comm.rank()][j].first, nodes[comm.rank()][j].second, g, local_leaf, mine.data() + j * g);
  int64_t total_nodes = 0;
  for (const auto& n : nodes) total_nodes += static_cast<int64_t>(n.size());
  std::vector<T> gathered(static_cast<size_t>(total_nodes * g));
  comm.allgatherv(mine.data(), gathered.data(), grad_counts);
  std::vector<double> all_stats(static_cast<size_t>(2 * shards));
  comm.allgatherv(stats.data(), all_stats.data(), stat_counts);

  std::map<std::pair<int64_t, int64_t>, const T*> at_hand;
  int64_t j = 0;
  for (const auto& n : nodes)
    for (const auto& node : n) at_hand[node] = gathered.data() + (j++) * g;
  std::vector<T> sum(static_cast<size_t>(g));
  if (g > 0)
    tree_sum<T>(0, shards, g, [&](int64_t lo, int64_t hi) -> const T* {
      auto it = at_hand.find({lo, hi});
      return it == at_hand.end() ? nullptr : it->second;
    }, sum.data());

  double loss_sum = 0, correct_sum = 0;
  for (int64_t k = 0; k < shards; ++k) {
    loss_sum += all_stats[2 * k];
    correct_sum += all_stats[2 * k + 1];
  }
  if (g > 0) {
    std::vector<Tensor<T>> grads;
    for (size_t i = 0; i < trainable.size(); ++i) {
      Tensor<T> t(trainable[i]->variable.value().shape());
      std::memcpy(t.data(), sum.data() + offset[i], static_cast<size_t>(t.size()) * sizeof(T));
      grads.push_back(std::move(t));
    }
    optimizer_->apply(grads, trainable);
  }
  tape.clear();
  if (accuracy) *accuracy = accuracy_metric_ ? std::optional<double>(correct_sum / static_cast<double>(m)) : std::nullopt;
  return loss_sum / static_cast<double>(m);
}

template <typename T>
History ModelBase<T>::fit(const Tensor<T>& x, const Tensor<T>& y, const FitOptions<T>& o) {
  check_compiled("fit");
  if (x.rank() < 1 || y.rank() < 1 || x.dim(0) != y.dim(0))
    throw ValueError(fmt::format("Data cardinality is ambiguous: x sizes: {}, y sizes: {}. Make sure all arrays "
                                 "contain the same number of samples.",
                                 x.rank() ? x.dim(0) : 0, y.rank() ? y.dim(0) : 0));
  const int64_t n = x.dim(0);
  if (n == 0) throw ValueError("Expected input data to be non-empty (fit received 0 samples).");
  check_batch_size(o.batch_size_);
  if (o.epochs_ < 0)
    throw ValueError(fmt::format("Invalid value for argument `epochs`: expected an integer >= 0. Received: epochs={}",
                                 o.epochs_));
  if (o.initial_epoch_ < 0)
    throw ValueError(fmt::format("Invalid value for argument `initial_epoch`: expected an integer >= 0. "
                                 "Received: initial_epoch={}",
                                 o.initial_epoch_));
  if (o.verbose_ < 0 || o.verbose_ > 2)
    throw ValueError(fmt::format("Invalid value for argument `verbose`: expected 0, 1 or 2. Received: verbose={}",
                                 o.verbose_));
  if (o.validation_data_ && (o.validation_data_->first.rank() < 1 ||
                             o.validation_data_->first.dim(0) != o.validation_data_->second.dim(0)))
    throw ValueError("validation_data: x and y must hold the same number of samples");
  const std::shared_ptr<Communicator> comm = o.communicator_ ? o.communicator_ : single_process_communicator();
  // At most kMaxMicroShards keeps k * rows of micro_shard_rows far from overflow.
  const int64_t max_shards = std::min(o.batch_size_, kMaxMicroShards);
  if (o.micro_shards_ < comm->size() || o.micro_shards_ > max_shards)
    throw ValueError(fmt::format("Invalid value for argument `micro_shards`: expected an integer from the number of "
                                 "processes ({}) to {} (batch_size or {}, the smaller). Received: micro_shards={}",
                                 comm->size(), max_shards, kMaxMicroShards, o.micro_shards_));
  if (!built()) build(Shape(x.shape().begin() + 1, x.shape().end()));
  const bool sharded = o.micro_shards_ > 1 || comm->size() > 1;
  if (sharded) check_shardable(o.micro_shards_, comm->size());

  // Only process 0 speaks: the others compute the same numbers.
  const int verbose = comm->rank() == 0 ? o.verbose_ : 0;
  const bool tty = verbose == 1 && isatty(STDOUT_FILENO);
  const int64_t steps = steps_per_epoch(n, o.batch_size_);
  History history;
  stop_training = false;
  for (int64_t epoch = o.initial_epoch_; epoch < o.epochs_ && !stop_training; ++epoch) {
    if (tty) std::printf("Epoch %lld/%lld\n", static_cast<long long>(epoch + 1), static_cast<long long>(o.epochs_));
    std::vector<int64_t> order;
    if (o.shuffle_) order = epoch_permutation(n, o.seed_, epoch);
    ProgressBar bar(steps);
    const auto t0 = std::chrono::steady_clock::now();
    double loss_sum = 0, correct = 0;
    int64_t seen = 0;
    for (int64_t step = 0; step < steps; ++step) {
      // step * batch_size < n: a batch size past the data (up to INT64_MAX,
      // as Keras allows) is one short batch.
      const int64_t b0 = step * o.batch_size_, b1 = batch_end(b0, n, o.batch_size_);
      const Tensor<T> xb = o.shuffle_ ? gather_rows(x, order, b0, b1) : slice_rows(x, b0, b1);
      const Tensor<T> yb = o.shuffle_ ? gather_rows(y, order, b0, b1) : slice_rows(y, b0, b1);
      std::optional<double> acc;
      const double loss =
          sharded ? sharded_train_step(xb, yb, *comm, o.micro_shards_, &acc) : train_step(xb, yb, &acc);
      const int64_t m = b1 - b0;
      loss_sum += loss * static_cast<double>(m);
      if (acc) correct += *acc * static_cast<double>(m);
      seen += m;
      if (tty)
        bar.update(step + 1, seconds_since(t0), loss_sum / static_cast<double>(seen),
                   accuracy_metric_ ? std::optional<double>(correct / static_cast<double>(seen)) : std::nullopt);
    }
    EpochLogs logs;
    logs.epoch = epoch;
    logs.train_seconds = seconds_since(t0);
    logs.loss = loss_sum / static_cast<double>(seen);
    if (accuracy_metric_) logs.accuracy = correct / static_cast<double>(seen);
    if (o.validation_data_) {
      const Evaluation e = evaluate(o.validation_data_->first, o.validation_data_->second, o.batch_size_, comm);
      logs.val_loss = e.loss;
      logs.val_accuracy = e.accuracy;
    }
    logs.seconds = seconds_since(t0);
    logs.learning_rate = optimizer_->learning_rate();
    if (tty) {
      bar.finish(logs.train_seconds, logs);
    } else if (verbose > 0) {
      std::printf("Epoch %lld/%lld - %.1fs%s\n", static_cast<long long>(epoch + 1),
                  static_cast<long long>(o.epochs_), logs.seconds,
                  format_metrics(logs.loss, logs.accuracy, logs.val_loss, logs.val_accuracy).c_str());
      std::fflush(stdout);
    }
    history.append(logs);
    if (o.on_epoch_end_) o.on_epoch_end_(logs);
  }
  return history;
}

template <typename T>
Evaluation ModelBase<T>::evaluate(const Tensor<T>& x, const Tensor<T>& y, int64_t batch_size,
                                  const std::shared_ptr<Communicator>& communicator) {
  check_compiled("evaluate");
  check_batch_size(batch_size);
  if (x.rank() < 1 || y.rank() < 1 || x.dim(0) != y.dim(0))
    throw ValueError(fmt::format("Data cardinality is ambiguous: x sizes: {}, y sizes: {}. Make sure all arrays "
                                 "contain the same number of samples.",
                                 x.rank() ? x.dim(0) : 0, y.rank() ? y.dim(0) : 0));
  const int64_t n = x.dim(0);
  if (n == 0) throw ValueError("Expected input data to be non-empty (evaluate received 0 samples).");
  const std::shared_ptr<Communicator> held = communicator ? communicator : single_process_communicator();
  Communicator& comm = *held;
  NoGradGuard no_grad;
  // Each process evaluates a contiguous run of batches; the per-batch sums are
  // then added in batch order, as one process adds them.
  const int64_t batches = steps_per_epoch(n, batch_size);
  const auto [first, last] = rank_shards(comm.rank(), comm.size(), batches);
  std::vector<double> sums;
  for (int64_t b = first; b < last; ++b) {
    const int64_t b0 = b * batch_size, b1 = batch_end(b0, n, batch_size);
    const double m = static_cast<double>(b1 - b0);
    const Tensor<T> yb = slice_rows(y, b0, b1);
    Variable<T> out = (*this)(Variable<T>(slice_rows(x, b0, b1)), false);
    double loss = static_cast<double>(loss_(Variable<T>(yb), out).value().item());
    loss += static_cast<double>(regularization_loss().value().item());
    const std::optional<double> acc = batch_accuracy(yb, out.value());
    sums.push_back(loss * m);
    sums.push_back(acc ? *acc * m : 0.0);
  }
  std::vector<int64_t> counts;
  for (int r = 0; r < comm.size(); ++r) {
    const auto [a, b] = rank_shards(r, comm.size(), batches);
    counts.push_back(2 * (b - a));
  }
  std::vector<double> all(static_cast<size_t>(2 * batches));
  comm.allgatherv(sums.data(), all.data(), counts);
  double loss_sum = 0, correct = 0;
  for (int64_t b = 0; b < batches; ++b) {
    loss_sum += all[2 * b];
    correct += all[2 * b + 1];
  }
  Evaluation e;
  e.loss = loss_sum / static_cast<double>(n);
  if (accuracy_metric_) e.accuracy = correct / static_cast<double>(n);
  return e;
}

template <typename T>
Tensor<T> ModelBase<T>::predict(const Tensor<T>& x, int64_t batch_size) {
  check_batch_size(batch_size);
  if (x.rank() < 1) throw ShapeError("predict: the input needs a batch axis, received a scalar");
  const int64_t n = x.dim(0);
  NoGradGuard no_grad;
  if (!built()) build(Shape(x.shape().begin() + 1, x.shape().end()));
  Shape out_shape = output_shape();
  out_shape[0] = n;
  Tensor<T> out(out_shape);
  const int64_t row = n ? out.size() / n : 0;
  for (int64_t b0 = 0, b1; b0 < n; b0 = b1) {
    b1 = batch_end(b0, n, batch_size);
    Variable<T> y = (*this)(Variable<T>(slice_rows(x, b0, b1)), false);
    std::memcpy(out.data() + b0 * row, y.value().data(), static_cast<size_t>(y.value().size()) * sizeof(T));
  }
  return out;
}

template <typename T>
void ModelBase<T>::save_weights(const std::string& path) {
  sepconv::save_weights(*this, path, compiled() ? optimizer_.get() : nullptr);
}

template <typename T>
void ModelBase<T>::load_weights(const std::string& path) {
  Hdf5Group root = read_keras_weights_file(path);
  const bool with_optimizer = compiled() && root.groups.count("optimizer");
  load_weights_tree(*this, root, path, with_optimizer ? optimizer_.get() : nullptr);
}

template class ModelBase<float>;
template class ModelBase<double>;

}  // namespace sepconv

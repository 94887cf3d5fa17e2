#include "sepconv/model/model_base.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
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
double ModelBase<T>::train_step(const Tensor<T>& xb, const Tensor<T>& yb, std::optional<double>* accuracy) {
  check_compiled("train_step");
  Tape<T>& tape = Tape<T>::current();
  tape.clear();
  std::vector<Weight<T>*> trainable = trainable_weights();
  for (Weight<T>* w : trainable) w->variable.zero_grad();
  Variable<T> out = (*this)(Variable<T>(xb), true);
  Variable<T> objective = loss_(Variable<T>(yb), out);
  if (objective.value().size() != 1)
    throw ShapeError(fmt::format("The loss must be a scalar, received shape {}", shape_str(objective.shape())));
  Variable<T> reg = regularization_loss();
  if (reg.requires_grad() || reg.value().item() != T(0)) objective = sepconv::add(reshape(objective, Shape{}), reg);
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
  if (!built()) build(Shape(x.shape().begin() + 1, x.shape().end()));

  const bool tty = o.verbose_ == 1 && isatty(STDOUT_FILENO);
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
      const double loss = train_step(xb, yb, &acc);
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
      const Evaluation e = evaluate(o.validation_data_->first, o.validation_data_->second, o.batch_size_);
      logs.val_loss = e.loss;
      logs.val_accuracy = e.accuracy;
    }
    logs.seconds = seconds_since(t0);
    logs.learning_rate = optimizer_->learning_rate();
    if (tty) {
      bar.finish(logs.train_seconds, logs);
    } else if (o.verbose_ > 0) {
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
Evaluation ModelBase<T>::evaluate(const Tensor<T>& x, const Tensor<T>& y, int64_t batch_size) {
  check_compiled("evaluate");
  check_batch_size(batch_size);
  if (x.rank() < 1 || y.rank() < 1 || x.dim(0) != y.dim(0))
    throw ValueError(fmt::format("Data cardinality is ambiguous: x sizes: {}, y sizes: {}. Make sure all arrays "
                                 "contain the same number of samples.",
                                 x.rank() ? x.dim(0) : 0, y.rank() ? y.dim(0) : 0));
  const int64_t n = x.dim(0);
  if (n == 0) throw ValueError("Expected input data to be non-empty (evaluate received 0 samples).");
  NoGradGuard no_grad;
  double loss_sum = 0, correct = 0;
  for (int64_t b0 = 0, b1; b0 < n; b0 = b1) {
    b1 = batch_end(b0, n, batch_size);
    const int64_t m = b1 - b0;
    const Tensor<T> yb = slice_rows(y, b0, b1);
    Variable<T> out = (*this)(Variable<T>(slice_rows(x, b0, b1)), false);
    double loss = static_cast<double>(loss_(Variable<T>(yb), out).value().item());
    loss += static_cast<double>(regularization_loss().value().item());
    loss_sum += loss * static_cast<double>(m);
    if (auto acc = batch_accuracy(yb, out.value())) correct += *acc * static_cast<double>(m);
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

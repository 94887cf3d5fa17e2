#include "sepconv/model/sequential.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"

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
uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
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

// ---- progress display ------------------------------------------------------------------

namespace {
std::string format_eta(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  if (s >= 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s % 3600) / 60, s % 60);
  if (s >= 60) return fmt::format("{}:{:02d}", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string format_metrics(double loss, const std::optional<double>& acc, const std::optional<double>& val_loss = {},
                           const std::optional<double>& val_acc = {}) {
  std::string s = fmt::format(" - loss: {:.4f}", loss);
  if (acc) s += fmt::format(" - accuracy: {:.4f}", *acc);
  if (val_loss) s += fmt::format(" - val_loss: {:.4f}", *val_loss);
  if (val_acc) s += fmt::format(" - val_accuracy: {:.4f}", *val_acc);
  return s;
}

// Keras's Progbar, verbose=1: one line rewritten in place on a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(int64_t target) : target_(target) {}
  void update(int64_t current, double elapsed, double loss, const std::optional<double>& acc) {
    if (current < target_ && elapsed - last_ < 0.1) return;  // at most ten redraws a second
    last_ = elapsed;
    std::string line = fmt::format("{:>{}}/{} [{}]", current, digits(), target_, bar(current));
    if (current < target_) {
      const double eta = current > 0 ? elapsed / static_cast<double>(current) * static_cast<double>(target_ - current) : 0;
      line += " - ETA: " + format_eta(eta);
    }
    line += format_metrics(loss, acc);
    draw(line);
  }
  void finish(double train_seconds, const EpochLogs& l) {
    std::string line = fmt::format("{}/{} [{}] - {:.0f}s {:.0f}ms/step", target_, target_, bar(target_), train_seconds,
                                   1000.0 * train_seconds / static_cast<double>(std::max<int64_t>(target_, 1)));
    line += format_metrics(l.loss, l.accuracy, l.val_loss, l.val_accuracy);
    draw(line);
    std::fputs("\n", stdout);
    std::fflush(stdout);
  }

 private:
  int digits() const { return static_cast<int>(std::to_string(target_).size()); }
  std::string bar(int64_t current) const {
    constexpr int64_t width = 30;
    const int64_t done = target_ > 0 ? width * current / target_ : width;
    std::string b;
    if (done > 0) b = std::string(static_cast<size_t>(done - 1), '=') + (current < target_ ? ">" : "=");
    return b + std::string(static_cast<size_t>(width - std::max<int64_t>(done, 0)), '.');
  }
  void draw(const std::string& line) {
    const size_t pad = previous_ > line.size() ? previous_ - line.size() : 0;
    std::fputs(("\r" + line + std::string(pad, ' ')).c_str(), stdout);
    std::fflush(stdout);
    previous_ = line.size();
  }
  int64_t target_;
  double last_ = -1;
  size_t previous_ = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string readable_bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{:.2f} {}", bytes, units[u]);
}

std::string shape_with_none(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += s[i] < 0 ? "None" : std::to_string(s[i]);
  }
  return out + (s.size() == 1 ? ",)" : ")");
}
}  // namespace

// ---- Sequential ------------------------------------------------------------------------

template <typename T>
Sequential<T>::Sequential(std::string name) : name_(name.empty() ? unique_layer_name("sequential") : std::move(name)) {}

template <typename T>
Sequential<T>::Sequential(std::vector<std::shared_ptr<Layer<T>>> layers, std::optional<Shape> input_shape,
                          std::string name)
    : Sequential(std::move(name)) {
  for (auto& l : layers) add(std::move(l));
  if (input_shape) build(*input_shape);
}

template <typename T>
void Sequential<T>::add(std::shared_ptr<Layer<T>> layer) {
  if (!layer) throw ValueError("Sequential.add: the layer is null");
  for (const auto& l : layers_)
    if (l->name() == layer->name())
      throw ValueError(fmt::format("All layers added to a Sequential model should have unique names. Name \"{}\" is "
                                   "already the name of a layer in this model. Update the `name` argument to pass a "
                                   "unique name.",
                                   layer->name()));
  layers_.push_back(std::move(layer));
  if (built_) {  // extend the build to the new layer
    const Shape in = input_shape_;
    built_ = false;
    build(in);
  }
}

template <typename T>
Layer<T>& Sequential<T>::layer(const std::string& name) {
  for (auto& l : layers_)
    if (l->name() == name) return *l;
  throw ValueError(fmt::format("No such layer: {}. Existing layers are: {}", name, [&] {
    std::string s;
    for (auto& l : layers_) s += (s.empty() ? "" : ", ") + l->name();
    return s.empty() ? std::string("none") : s;
  }()));
}

template <typename T>
void Sequential<T>::build(const Shape& input_shape) {
  if (layers_.empty()) throw ValueError(fmt::format("Sequential model '{}' has no layers to build", name_));
  for (int64_t d : input_shape)
    if (d <= 0)
      throw ValueError(fmt::format("Sequential.build: every dimension of the input shape (without the batch axis) "
                                   "must be positive. Received: input_shape={}",
                                   shape_str(input_shape)));
  Shape batch_shape{1};
  batch_shape.insert(batch_shape.end(), input_shape.begin(), input_shape.end());
  NoGradGuard no_grad;
  Variable<T> x{Tensor<T>(batch_shape)};
  std::vector<Shape> shapes;
  for (auto& l : layers_) {
    x = (*l)(x, false);
    Shape s = x.shape();
    if (!s.empty()) s[0] = -1;
    shapes.push_back(s);
  }
  input_shape_ = input_shape;
  output_shapes_ = std::move(shapes);
  built_ = true;
}

template <typename T>
Shape Sequential<T>::output_shape() const {
  if (!built_) throw ValueError(fmt::format("Sequential model '{}' has not been built yet", name_));
  return output_shapes_.back();
}

template <typename T>
Variable<T> Sequential<T>::operator()(const Variable<T>& x, bool training) {
  if (x.value().rank() < 1) throw ShapeError("Sequential: the input needs a batch axis, received a scalar");
  const Shape sample(x.shape().begin() + 1, x.shape().end());
  if (!built_) build(sample);
  if (sample != input_shape_) {
    Shape expected{-1};
    expected.insert(expected.end(), input_shape_.begin(), input_shape_.end());
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: expected shape={}, found "
                                 "shape={}",
                                 name_, shape_with_none(expected), shape_str(x.shape())));
  }
  Variable<T> y = x;
  for (auto& l : layers_) y = (*l)(y, training);
  return y;
}

template <typename T>
std::vector<std::pair<std::string, Weight<T>*>> Sequential<T>::weights() {
  std::vector<std::pair<std::string, Weight<T>*>> out;
  for (auto& l : layers_)
    for (Weight<T>& w : l->weights()) out.emplace_back(l->name() + "/" + w.name, &w);
  return out;
}

template <typename T>
std::vector<Weight<T>*> Sequential<T>::trainable_weights() {
  std::vector<Weight<T>*> out;
  for (auto& l : layers_)
    for (Weight<T>* w : l->trainable_weights()) out.push_back(w);
  return out;
}

template <typename T>
int64_t Sequential<T>::count_params() const {
  int64_t n = 0;
  for (const auto& l : layers_)
    for (const Weight<T>& w : l->weights()) n += w.variable.value().size();
  return n;
}

template <typename T>
int64_t Sequential<T>::count_trainable_params() const {
  int64_t n = 0;
  for (const auto& l : layers_)
    if (l->trainable())
      for (const Weight<T>& w : l->weights())
        if (w.trainable) n += w.variable.value().size();
  return n;
}

template <typename T>
Variable<T> Sequential<T>::regularization_loss() const {
  std::optional<Variable<T>> total;
  for (const auto& l : layers_) {
    Variable<T> r = l->regularization_loss();
    if (!r.requires_grad() && r.value().item() == T(0)) continue;  // nothing to add
    total = total ? sepconv::add(*total, r) : r;
  }
  return total ? *total : Variable<T>(Tensor<T>::scalar(T(0)));
}

template <typename T>
std::string Sequential<T>::summary() const {
  if (!built_)
    throw ValueError(fmt::format("Model '{}' has not yet been built. Build the model first by calling `build()` or "
                                 "by calling the model on a batch of data.",
                                 name_));
  struct Row {
    std::string layer, shape, params;
  };
  std::vector<Row> rows;
  size_t w0 = 31, w1 = 22, w2 = 13;
  for (size_t i = 0; i < layers_.size(); ++i) {
    int64_t n = 0;
    for (const Weight<T>& w : layers_[i]->weights()) n += w.variable.value().size();
    rows.push_back({fmt::format("{} ({})", layers_[i]->name(), layers_[i]->class_name()),
                    shape_with_none(output_shapes_[i]), with_commas(n)});
    w0 = std::max(w0, rows.back().layer.size());
    w1 = std::max(w1, rows.back().shape.size());
    w2 = std::max(w2, rows.back().params.size());
  }
  auto rule = [&](const char* l, const char* fill, const char* mid, const char* r) {
    std::string s = l;
    const size_t widths[] = {w0, w1, w2};
    for (int c = 0; c < 3; ++c) {
      for (size_t k = 0; k < widths[c] + 2; ++k) s += fill;
      s += c < 2 ? mid : r;
    }
    return s + "\n";
  };
  std::string out = fmt::format("Model: \"{}\"\n", name_);
  out += rule("┏", "━", "┳", "┓");
  out += fmt::format("┃ {:<{}} ┃ {:<{}} ┃ {:>{}} ┃\n", "Layer (type)", w0, "Output Shape", w1, "Param #", w2);
  out += rule("┡", "━", "╇", "┩");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out += rule("├", "─", "┼", "┤");
    out += fmt::format("│ {:<{}} │ {:<{}} │ {:>{}} │\n", rows[i].layer, w0, rows[i].shape, w1, rows[i].params, w2);
  }
  out += rule("└", "─", "┴", "┘");
  const int64_t total = count_params(), trainable = count_trainable_params();
  const double bytes = static_cast<double>(sizeof(T));
  out += fmt::format(" Total params: {} ({})\n", with_commas(total), readable_bytes(static_cast<double>(total) * bytes));
  out += fmt::format(" Trainable params: {} ({})\n", with_commas(trainable),
                     readable_bytes(static_cast<double>(trainable) * bytes));
  out += fmt::format(" Non-trainable params: {} ({})\n", with_commas(total - trainable),
                     readable_bytes(static_cast<double>(total - trainable) * bytes));
  return out;
}

template <typename T>
void Sequential<T>::compile(std::shared_ptr<Optimizer<T>> optimizer, const nlohmann::json& loss,
                            const std::vector<std::string>& metrics) {
  compile(std::move(optimizer), get_loss<T>(loss), metrics);
}

template <typename T>
void Sequential<T>::compile(std::shared_ptr<Optimizer<T>> optimizer, LossFunction<T> loss,
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
Optimizer<T>& Sequential<T>::optimizer() {
  if (!optimizer_) throw ValueError(fmt::format("Model '{}' has no optimizer: call compile() first", name_));
  return *optimizer_;
}

template <typename T>
void Sequential<T>::check_compiled(const char* what) const {
  if (!loss_)
    throw ValueError(fmt::format("You must call `compile()` before using the model ({} on model '{}').", what, name_));
}

template <typename T>
std::optional<double> Sequential<T>::batch_accuracy(const Tensor<T>& y, const Tensor<T>& p) const {
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
double Sequential<T>::train_step(const Tensor<T>& xb, const Tensor<T>& yb, std::optional<double>* accuracy) {
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
History Sequential<T>::fit(const Tensor<T>& x, const Tensor<T>& y, const FitOptions<T>& o) {
  check_compiled("fit");
  if (x.rank() < 1 || y.rank() < 1 || x.dim(0) != y.dim(0))
    throw ValueError(fmt::format("Data cardinality is ambiguous: x sizes: {}, y sizes: {}. Make sure all arrays "
                                 "contain the same number of samples.",
                                 x.rank() ? x.dim(0) : 0, y.rank() ? y.dim(0) : 0));
  const int64_t n = x.dim(0);
  if (n == 0) throw ValueError("Expected input data to be non-empty (fit received 0 samples).");
  if (o.batch_size_ <= 0)
    throw ValueError(fmt::format("Argument `batch_size` must be a positive integer. Received: batch_size={}",
                                 o.batch_size_));
  if (o.initial_epoch_ < 0 || o.epochs_ < 0)
    throw ValueError(fmt::format("Arguments `epochs` and `initial_epoch` must be >= 0. Received: epochs={}, "
                                 "initial_epoch={}",
                                 o.epochs_, o.initial_epoch_));
  if (o.validation_data_ && (o.validation_data_->first.rank() < 1 ||
                             o.validation_data_->first.dim(0) != o.validation_data_->second.dim(0)))
    throw ValueError("validation_data: x and y must hold the same number of samples");
  if (!built_) build(Shape(x.shape().begin() + 1, x.shape().end()));

  const bool tty = o.verbose_ == 1 && isatty(STDOUT_FILENO);
  const int64_t steps = (n + o.batch_size_ - 1) / o.batch_size_;
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
      const int64_t b0 = step * o.batch_size_, b1 = std::min(n, b0 + o.batch_size_);
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
Evaluation Sequential<T>::evaluate(const Tensor<T>& x, const Tensor<T>& y, int64_t batch_size) {
  check_compiled("evaluate");
  if (batch_size <= 0)
    throw ValueError(fmt::format("Argument `batch_size` must be a positive integer. Received: batch_size={}", batch_size));
  if (x.rank() < 1 || y.rank() < 1 || x.dim(0) != y.dim(0))
    throw ValueError(fmt::format("Data cardinality is ambiguous: x sizes: {}, y sizes: {}. Make sure all arrays "
                                 "contain the same number of samples.",
                                 x.rank() ? x.dim(0) : 0, y.rank() ? y.dim(0) : 0));
  const int64_t n = x.dim(0);
  if (n == 0) throw ValueError("Expected input data to be non-empty (evaluate received 0 samples).");
  NoGradGuard no_grad;
  double loss_sum = 0, correct = 0;
  for (int64_t b0 = 0; b0 < n; b0 += batch_size) {
    const int64_t b1 = std::min(n, b0 + batch_size), m = b1 - b0;
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
Tensor<T> Sequential<T>::predict(const Tensor<T>& x, int64_t batch_size) {
  if (batch_size <= 0)
    throw ValueError(fmt::format("Argument `batch_size` must be a positive integer. Received: batch_size={}", batch_size));
  if (x.rank() < 1) throw ShapeError("predict: the input needs a batch axis, received a scalar");
  const int64_t n = x.dim(0);
  NoGradGuard no_grad;
  if (!built_) build(Shape(x.shape().begin() + 1, x.shape().end()));
  Shape out_shape = output_shape();
  out_shape[0] = n;
  Tensor<T> out(out_shape);
  const int64_t row = n ? out.size() / n : 0;
  for (int64_t b0 = 0; b0 < n; b0 += batch_size) {
    const int64_t b1 = std::min(n, b0 + batch_size);
    Variable<T> y = (*this)(Variable<T>(slice_rows(x, b0, b1)), false);
    std::memcpy(out.data() + b0 * row, y.value().data(), static_cast<size_t>(y.value().size()) * sizeof(T));
  }
  return out;
}

template class Sequential<float>;
template class Sequential<double>;
template Tensor<float> slice_rows(const Tensor<float>&, int64_t, int64_t);
template Tensor<double> slice_rows(const Tensor<double>&, int64_t, int64_t);
template Tensor<float> gather_rows(const Tensor<float>&, const std::vector<int64_t>&, int64_t, int64_t);
template Tensor<double> gather_rows(const Tensor<double>&, const std::vector<int64_t>&, int64_t, int64_t);

}  // namespace sepconv

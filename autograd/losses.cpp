#include "sepconv/autograd/losses.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace sepconv {

namespace {

// Keras clips in the tensor's dtype, so the bounds are those of T.
template <typename T>
double clip_low() {
  return static_cast<double>(static_cast<T>(kLossEpsilon));
}
template <typename T>
double clip_high() {
  return static_cast<double>(static_cast<T>(1.0 - kLossEpsilon));
}

template <typename T>
void require_same_shape(const Variable<T>& y_true, const Variable<T>& y_pred, const char* op) {
  if (y_true.shape() != y_pred.shape())
    throw ShapeError(fmt::format("{}: arguments `target` and `output` must have the same shape. Received: "
                                 "target.shape={}, output.shape={}",
                                 op, shape_str(y_true.shape()), shape_str(y_pred.shape())));
}
template <typename T>
void require_not_empty(const Variable<T>& y_pred, const char* op) {
  if (y_pred.value().size() == 0)
    throw ShapeError(fmt::format("{}: `output` has no elements (shape {})", op, shape_str(y_pred.shape())));
}

// Wraps a scalar loss value into a taped op. `backward(upstream, g_true,
// g_pred)` fills the gradients of the inputs that need one (a null pointer
// for the others), already scaled by the upstream gradient.
template <typename T, typename Backward>
Variable<T> scalar_loss(const char* op, const Variable<T>* y_true, const Variable<T>& y_pred, double value,
                        Backward backward) {
  Variable<T> y(Tensor<T>::scalar(static_cast<T>(value)));
  const bool true_needs = y_true && y_true->requires_grad();
  if (grad_enabled() && (y_pred.requires_grad() || true_needs)) {
    y.set_requires_grad(true);
    std::optional<Variable<T>> t;
    if (y_true) t = *y_true;
    Tape<T>::current().record(op, y, [t, y_pred, y, op, backward]() {
      if (!y.has_grad()) return;
      const double upstream = static_cast<double>(y.grad().item());
      Tensor<T> g_true, g_pred;
      const bool want_true = t && t->requires_grad();
      const bool want_pred = y_pred.requires_grad();
      if (want_true) g_true = Tensor<T>(t->shape());
      if (want_pred) g_pred = Tensor<T>(y_pred.shape());
      backward(upstream, want_true ? &g_true : nullptr, want_pred ? &g_pred : nullptr);
      if (want_true) t->add_grad(g_true, op);
      if (want_pred) y_pred.add_grad(g_pred, op);
    });
  }
  return y;
}

// Splits a tensor of class scores into rows over its last axis.
template <typename T>
std::pair<int64_t, int64_t> rows_and_classes(const Shape& shape, const char* op) {
  if (shape.empty())
    throw ShapeError(fmt::format("{}: argument `output` must be at least rank 1. Received: output.shape={}", op,
                                 shape_str(shape)));
  const int64_t k = shape.back();
  if (k <= 0) throw ShapeError(fmt::format("{}: `output` has no classes (shape {})", op, shape_str(shape)));
  return {shape_size(shape) / k, k};
}

}  // namespace

template <typename T>
Variable<T> mean_squared_error(const Variable<T>& y_true, const Variable<T>& y_pred) {
  const char* op = "mean_squared_error";
  require_same_shape(y_true, y_pred, op);
  require_not_empty(y_pred, op);
  const int64_t n = y_pred.value().size();
  const T* t = y_true.value().data();
  const T* p = y_pred.value().data();
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(p[i]) - double(t[i]);
    s += d * d;
  }
  return scalar_loss<T>(op, &y_true, y_pred, s / double(n), [y_true, y_pred, n](double up, Tensor<T>* gt, Tensor<T>* gp) {
    const T* t = y_true.value().data();
    const T* p = y_pred.value().data();
    const double c = 2.0 * up / double(n);
    for (int64_t i = 0; i < n; ++i) {
      const double g = c * (double(p[i]) - double(t[i]));
      if (gp) (*gp)[i] = static_cast<T>(g);
      if (gt) (*gt)[i] = static_cast<T>(-g);
    }
  });
}

template <typename T>
Variable<T> binary_crossentropy(const Variable<T>& y_true, const Variable<T>& y_pred, bool from_logits) {
  const char* op = "binary_crossentropy";
  require_same_shape(y_true, y_pred, op);
  require_not_empty(y_pred, op);
  const int64_t n = y_pred.value().size();
  const T* z = y_true.value().data();
  const T* x = y_pred.value().data();
  const double lo = clip_low<T>(), hi = clip_high<T>();
  double s = 0;
  if (from_logits) {
    for (int64_t i = 0; i < n; ++i) {
      const double xi = x[i], zi = z[i];
      s += std::max(xi, 0.0) - xi * zi + std::log1p(std::exp(-std::fabs(xi)));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const double c = std::clamp(double(x[i]), lo, hi), zi = z[i];
      s -= zi * std::log(c) + (1 - zi) * std::log(1 - c);
    }
  }
  return scalar_loss<T>(op, &y_true, y_pred, s / double(n),
                        [y_true, y_pred, n, from_logits, lo, hi](double up, Tensor<T>* gt, Tensor<T>* gp) {
                          const T* z = y_true.value().data();
                          const T* x = y_pred.value().data();
                          const double c0 = up / double(n);
                          for (int64_t i = 0; i < n; ++i) {
                            const double xi = x[i], zi = z[i];
                            if (from_logits) {
                              // d/dx = sigmoid(x) - z, d/dz = -x
                              const double sig = xi >= 0 ? 1 / (1 + std::exp(-xi)) : std::exp(xi) / (1 + std::exp(xi));
                              if (gp) (*gp)[i] = static_cast<T>(c0 * (sig - zi));
                              if (gt) (*gt)[i] = static_cast<T>(-c0 * xi);
                            } else {
                              const bool inside = xi >= lo && xi <= hi;
                              const double c = std::clamp(xi, lo, hi);
                              if (gp) (*gp)[i] = inside ? static_cast<T>(c0 * (-zi / c + (1 - zi) / (1 - c))) : T(0);
                              if (gt) (*gt)[i] = static_cast<T>(-c0 * (std::log(c) - std::log(1 - c)));
                            }
                          }
                        });
}

namespace {
// One row's log-probabilities over the last axis: log_softmax of logits, or
// log(clip(p / sum(p))) of probabilities.
template <typename T>
void row_log_probs(const T* x, int64_t k, bool from_logits, double lo, double hi, std::vector<double>& logq) {
  logq.resize(k);
  if (from_logits) {
    double m = -INFINITY;
    for (int64_t j = 0; j < k; ++j) m = std::max(m, double(x[j]));
    double se = 0;
    for (int64_t j = 0; j < k; ++j) se += std::exp(double(x[j]) - m);
    // (x - max) - log(sum): subtracting the max first keeps a confident row's
    // small loss accurate (x - (max + log(sum)) would cancel).
    const double log_se = std::log(se);
    for (int64_t j = 0; j < k; ++j) logq[j] = (double(x[j]) - m) - log_se;
  } else {
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += x[j];
    for (int64_t j = 0; j < k; ++j) logq[j] = std::log(std::clamp(double(x[j]) / s, lo, hi));
  }
}

// dL/dx for one row given w_j = dL/dlogq_j, i.e. L = sum_j w_j log q_j
// (w = -t for cross-entropy).
template <typename T>
void row_backward(const T* x, int64_t k, bool from_logits, double lo, double hi, const std::vector<double>& w,
                  double scale, T* gx) {
  if (from_logits) {
    // log_softmax: dL/dx_j = w_j - softmax_j * sum(w)
    double m = -INFINITY;
    for (int64_t j = 0; j < k; ++j) m = std::max(m, double(x[j]));
    double se = 0;
    for (int64_t j = 0; j < k; ++j) se += std::exp(double(x[j]) - m);
    double sw = 0;
    for (int64_t j = 0; j < k; ++j) sw += w[j];
    for (int64_t j = 0; j < k; ++j) gx[j] = static_cast<T>(scale * (w[j] - std::exp(double(x[j]) - m) / se * sw));
  } else {
    // p = x / s, c = clip(p), L = sum w log c:  g_j = dL/dp_j = w_j / c_j where
    // unclipped, then dL/dx_j = (g_j - sum_k g_k p_k) / s.
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += x[j];
    std::vector<double> g(k);
    double gp = 0;
    for (int64_t j = 0; j < k; ++j) {
      const double p = double(x[j]) / s;
      g[j] = (p >= lo && p <= hi) ? w[j] / p : 0.0;
      gp += g[j] * p;
    }
    for (int64_t j = 0; j < k; ++j) gx[j] = static_cast<T>(scale * (g[j] - gp) / s);
  }
}
}  // namespace

template <typename T>
Variable<T> categorical_crossentropy(const Variable<T>& y_true, const Variable<T>& y_pred, bool from_logits) {
  const char* op = "categorical_crossentropy";
  require_same_shape(y_true, y_pred, op);
  const auto rows_k = rows_and_classes<T>(y_pred.shape(), op);
  const int64_t rows = rows_k.first, k = rows_k.second;
  if (rows == 0) throw ShapeError(fmt::format("{}: `output` has no samples (shape {})", op, shape_str(y_pred.shape())));
  const double lo = clip_low<T>(), hi = clip_high<T>();
  const T* t = y_true.value().data();
  const T* x = y_pred.value().data();
  std::vector<double> logq;
  double s = 0;
  for (int64_t r = 0; r < rows; ++r) {
    row_log_probs(x + r * k, k, from_logits, lo, hi, logq);
    for (int64_t j = 0; j < k; ++j) s -= double(t[r * k + j]) * logq[j];
  }
  return scalar_loss<T>(op, &y_true, y_pred, s / double(rows),
                        [y_true, y_pred, rows, k, from_logits, lo, hi](double up, Tensor<T>* gt, Tensor<T>* gp) {
                          const T* t = y_true.value().data();
                          const T* x = y_pred.value().data();
                          const double scale = up / double(rows);
                          std::vector<double> logq, w(k);
                          for (int64_t r = 0; r < rows; ++r) {
                            if (gt) {
                              row_log_probs(x + r * k, k, from_logits, lo, hi, logq);
                              for (int64_t j = 0; j < k; ++j) (*gt)[r * k + j] = static_cast<T>(-scale * logq[j]);
                            }
                            if (gp) {
                              for (int64_t j = 0; j < k; ++j) w[j] = -double(t[r * k + j]);
                              row_backward(x + r * k, k, from_logits, lo, hi, w, scale, gp->data() + r * k);
                            }
                          }
                        });
}

namespace {
std::string class_id_error(const char* op, double id, int64_t k) {
  return fmt::format("{}: class ids in `target` must be integers in [0, {}). Received: {}", op, k, id);
}
}  // namespace

template <typename T>
Variable<T> sparse_categorical_crossentropy(const std::vector<int>& y_true, const Variable<T>& y_pred,
                                            bool from_logits) {
  const char* op = "sparse_categorical_crossentropy";
  const auto rows_k = rows_and_classes<T>(y_pred.shape(), op);
  const int64_t rows = rows_k.first, k = rows_k.second;
  if (rows == 0) throw ShapeError(fmt::format("{}: `output` has no samples (shape {})", op, shape_str(y_pred.shape())));
  if (static_cast<int64_t>(y_true.size()) != rows)
    throw ShapeError(fmt::format("{}: `target` holds {} class ids but `output` of shape {} has {} samples", op,
                                 y_true.size(), shape_str(y_pred.shape()), rows));
  for (int id : y_true)
    if (id < 0 || id >= k) throw ValueError(class_id_error(op, id, k));
  const double lo = clip_low<T>(), hi = clip_high<T>();
  const T* x = y_pred.value().data();
  std::vector<double> logq;
  double s = 0;
  for (int64_t r = 0; r < rows; ++r) {
    row_log_probs(x + r * k, k, from_logits, lo, hi, logq);
    s -= logq[y_true[r]];
  }
  return scalar_loss<T>(op, nullptr, y_pred, s / double(rows),
                        [y_true, y_pred, rows, k, from_logits, lo, hi](double up, Tensor<T>*, Tensor<T>* gp) {
                          const T* x = y_pred.value().data();
                          const double scale = up / double(rows);
                          std::vector<double> w(k, 0.0);
                          for (int64_t r = 0; r < rows; ++r) {
                            w[y_true[r]] = -1.0;
                            row_backward(x + r * k, k, from_logits, lo, hi, w, scale, gp->data() + r * k);
                            w[y_true[r]] = 0.0;
                          }
                        });
}

namespace {
// Class ids from a tensor: its shape must be the scores' shape without the
// last axis, the same with a last axis of 1, or flat with one id per sample.
template <typename T>
std::vector<int> class_ids(const Tensor<T>& y_true, const Shape& pred_shape, const char* op) {
  Shape lead(pred_shape.begin(), pred_shape.empty() ? pred_shape.begin() : pred_shape.end() - 1);
  Shape lead1 = lead;
  lead1.push_back(1);
  const int64_t rows = shape_size(lead);
  const bool ok = y_true.shape() == lead || y_true.shape() == lead1 ||
                  (y_true.rank() == 1 && y_true.size() == rows && !pred_shape.empty());
  if (!ok)
    throw ShapeError(fmt::format("{}: arguments `target` and `output` must have the same shape up until the last "
                                 "dimension: target.shape={}, output.shape={}",
                                 op, shape_str(y_true.shape()), shape_str(pred_shape)));
  const int64_t k = pred_shape.empty() ? 0 : pred_shape.back();
  std::vector<int> ids(y_true.size());
  for (int64_t i = 0; i < y_true.size(); ++i) {
    const double v = y_true[i];
    if (!(v >= 0 && v < double(k)) || v != std::floor(v)) throw ValueError(class_id_error(op, v, k));
    ids[i] = static_cast<int>(v);
  }
  return ids;
}
}  // namespace

template <typename T>
Variable<T> sparse_categorical_crossentropy(const Tensor<T>& y_true, const Variable<T>& y_pred, bool from_logits) {
  rows_and_classes<T>(y_pred.shape(), "sparse_categorical_crossentropy");
  return sparse_categorical_crossentropy(class_ids(y_true, y_pred.shape(), "sparse_categorical_crossentropy"), y_pred,
                                         from_logits);
}

// ---- registry ------------------------------------------------------------------

namespace {
std::string canonical_loss_name(std::string s) {
  // "MeanSquaredError" and "mean_squared_error" both become "meansquarederror".
  std::string out;
  for (unsigned char c : s)
    if (c != '_') out += char(std::tolower(c));
  return out;
}
}  // namespace

template <typename T>
LossFunction<T> get_loss(const nlohmann::json& identifier) {
  auto fail = [&]() {
    return ValueError(fmt::format("Could not interpret loss identifier: {}",
                                  identifier.is_string() ? identifier.get<std::string>() : identifier.dump()));
  };
  std::string name;
  bool from_logits = false;
  if (identifier.is_string()) {
    name = identifier.get<std::string>();
  } else if (identifier.is_object() && identifier.contains("class_name") && identifier.at("class_name").is_string()) {
    name = identifier.at("class_name").get<std::string>();
    const nlohmann::json config = identifier.value("config", nlohmann::json::object());
    if (!config.is_object()) throw fail();
    for (auto it = config.begin(); it != config.end(); ++it) {
      const std::string& key = it.key();
      const nlohmann::json& v = it.value();
      if (key == "from_logits") {
        if (!v.is_boolean())
          throw ValueError(fmt::format("Argument `from_logits` must be a boolean. Received: from_logits={}", v.dump()));
        from_logits = v.get<bool>();
      } else if (key == "reduction") {
        if (!(v.is_string() && v.get<std::string>() == "sum_over_batch_size"))
          throw ValueError(fmt::format(
              "Only the reduction \"sum_over_batch_size\" (the mean over the batch) is supported. Received: "
              "reduction={}",
              v.dump()));
      } else if (key == "label_smoothing") {
        if (!(v.is_number() && v.get<double>() == 0.0))
          throw ValueError(fmt::format("Argument `label_smoothing` is not supported. Received: label_smoothing={}",
                                       v.dump()));
      } else if (key == "axis") {
        if (!(v.is_number_integer() && v.get<int>() == -1))
          throw ValueError(fmt::format("Only `axis=-1` (the last axis) is supported. Received: axis={}", v.dump()));
      } else if (key != "name" && key != "dtype") {
        throw ValueError(fmt::format("Argument(s) not recognized: {{\"{}\": {}}}", key, v.dump()));
      }
    }
  } else {
    throw fail();
  }
  const std::string key = canonical_loss_name(name);
  if (key == "meansquarederror" || key == "mse") {
    if (from_logits) throw fail();
    return [](const Variable<T>& t, const Variable<T>& p) { return mean_squared_error(t, p); };
  }
  if (key == "binarycrossentropy")
    return [from_logits](const Variable<T>& t, const Variable<T>& p) { return binary_crossentropy(t, p, from_logits); };
  if (key == "categoricalcrossentropy")
    return [from_logits](const Variable<T>& t, const Variable<T>& p) {
      return categorical_crossentropy(t, p, from_logits);
    };
  if (key == "sparsecategoricalcrossentropy")
    return [from_logits](const Variable<T>& t, const Variable<T>& p) {
      return sparse_categorical_crossentropy(t.value(), p, from_logits);
    };
  throw fail();
}

// ---- metrics -------------------------------------------------------------------

template <typename T>
std::vector<int64_t> argmax_last_axis(const Tensor<T>& scores) {
  const auto rows_k = rows_and_classes<T>(scores.shape(), "argmax_last_axis");
  const int64_t rows = rows_k.first, k = rows_k.second;
  std::vector<int64_t> out(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = scores.data() + r * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;
    out[r] = best;
  }
  return out;
}

template <typename T>
double sparse_categorical_accuracy(const std::vector<int>& y_true, const Tensor<T>& y_pred) {
  const std::vector<int64_t> pred = argmax_last_axis(y_pred);
  if (pred.size() != y_true.size())
    throw ShapeError(fmt::format("sparse_categorical_accuracy: {} labels for {} samples (y_pred shape {})",
                                 y_true.size(), pred.size(), shape_str(y_pred.shape())));
  if (pred.empty()) throw ShapeError("sparse_categorical_accuracy: no samples");
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == y_true[i];
  return double(correct) / double(pred.size());
}

template <typename T>
double sparse_categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred) {
  rows_and_classes<T>(y_pred.shape(), "sparse_categorical_accuracy");
  return sparse_categorical_accuracy(class_ids(y_true, y_pred.shape(), "sparse_categorical_accuracy"), y_pred);
}

template <typename T>
double categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred) {
  if (y_true.shape() != y_pred.shape())
    throw ShapeError(fmt::format("categorical_accuracy: shapes must match, received y_true {} and y_pred {}",
                                 shape_str(y_true.shape()), shape_str(y_pred.shape())));
  const std::vector<int64_t> a = argmax_last_axis(y_true), b = argmax_last_axis(y_pred);
  if (a.empty()) throw ShapeError("categorical_accuracy: no samples");
  int64_t correct = 0;
  for (size_t i = 0; i < a.size(); ++i) correct += a[i] == b[i];
  return double(correct) / double(a.size());
}

template <typename T>
double binary_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred, double threshold) {
  if (y_true.shape() != y_pred.shape())
    throw ShapeError(fmt::format("binary_accuracy: shapes must match, received y_true {} and y_pred {}",
                                 shape_str(y_true.shape()), shape_str(y_pred.shape())));
  if (y_pred.size() == 0) throw ShapeError("binary_accuracy: no elements");
  int64_t correct = 0;
  for (int64_t i = 0; i < y_pred.size(); ++i)
    correct += (double(y_pred[i]) > threshold ? 1.0 : 0.0) == double(y_true[i]);
  return double(correct) / double(y_pred.size());
}

#define SEPCONV_INSTANTIATE(T)                                                                                    \
  template Variable<T> mean_squared_error(const Variable<T>&, const Variable<T>&);                                \
  template Variable<T> binary_crossentropy(const Variable<T>&, const Variable<T>&, bool);                         \
  template Variable<T> categorical_crossentropy(const Variable<T>&, const Variable<T>&, bool);                    \
  template Variable<T> sparse_categorical_crossentropy(const Tensor<T>&, const Variable<T>&, bool);               \
  template Variable<T> sparse_categorical_crossentropy(const std::vector<int>&, const Variable<T>&, bool);         \
  template LossFunction<T> get_loss<T>(const nlohmann::json&);                                                    \
  template std::vector<int64_t> argmax_last_axis(const Tensor<T>&);                                               \
  template double sparse_categorical_accuracy(const std::vector<int>&, const Tensor<T>&);                         \
  template double sparse_categorical_accuracy(const Tensor<T>&, const Tensor<T>&);                                \
  template double categorical_accuracy(const Tensor<T>&, const Tensor<T>&);                                       \
  template double binary_accuracy(const Tensor<T>&, const Tensor<T>&, double);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

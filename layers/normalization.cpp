#include "sepconv/layers/normalization.h"

#include <cmath>

#include <fmt/format.h>

#include "sepconv/autograd/nn_ops.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/layers/layer_checks.h"
#include "sepconv/layers/config_reader.h"

namespace sepconv {

using layer_detail::serialize_or_null;

namespace {
std::shared_ptr<Initializer> require_initializer(std::shared_ptr<Initializer> i, const char* arg) {
  if (!i) throw ValueError(fmt::format("Could not interpret initializer identifier: None ({} must not be None)", arg));
  return i;
}
}  // namespace

BatchNormalizationOptions::BatchNormalizationOptions()
    : beta_initializer_(get_initializer("zeros")),
      gamma_initializer_(get_initializer("ones")),
      moving_mean_initializer_(get_initializer("zeros")),
      moving_variance_initializer_(get_initializer("ones")) {}

BatchNormalizationOptions& BatchNormalizationOptions::momentum(double m) {
  if (!std::isfinite(m))
    throw ValueError(fmt::format("Invalid value for argument `momentum`: expected a finite float. Received: momentum={}", m));
  momentum_ = m;
  return *this;
}
BatchNormalizationOptions& BatchNormalizationOptions::epsilon(double e) {
  if (!(e >= 0.0) || !std::isfinite(e))
    throw ValueError(fmt::format("Invalid value for argument `epsilon`: expected a float >= 0. Received: epsilon={}", e));
  epsilon_ = e;
  return *this;
}
BatchNormalizationOptions& BatchNormalizationOptions::beta_initializer(std::shared_ptr<Initializer> i) {
  beta_initializer_ = require_initializer(std::move(i), "beta_initializer");
  return *this;
}
BatchNormalizationOptions& BatchNormalizationOptions::gamma_initializer(std::shared_ptr<Initializer> i) {
  gamma_initializer_ = require_initializer(std::move(i), "gamma_initializer");
  return *this;
}
BatchNormalizationOptions& BatchNormalizationOptions::moving_mean_initializer(std::shared_ptr<Initializer> i) {
  moving_mean_initializer_ = require_initializer(std::move(i), "moving_mean_initializer");
  return *this;
}
BatchNormalizationOptions& BatchNormalizationOptions::moving_variance_initializer(std::shared_ptr<Initializer> i) {
  moving_variance_initializer_ = require_initializer(std::move(i), "moving_variance_initializer");
  return *this;
}

template <typename T>
BatchNormalization<T>::BatchNormalization(const BatchNormalizationOptions& o)
    : Layer<T>(o.name_.empty() ? unique_layer_name("batch_normalization") : o.name_), options_(o) {}

template <typename T>
int64_t BatchNormalization<T>::resolve_axis(int64_t rank) const {
  const int64_t a = options_.axis_ < 0 ? options_.axis_ + rank : options_.axis_;
  if (a < 0 || a >= rank)
    throw ValueError(fmt::format("Layer \"{}\": invalid value for argument `axis`: axis={} is out of range for an "
                                 "input of rank {}",
                                 this->name(), options_.axis_, rank));
  if (a != rank - 1 && !(a == 1 && rank == 4))
    throw ValueError(fmt::format("Layer \"{}\": axis={} is not supported for an input of rank {}: the feature axis "
                                 "must be the last one, or 1 for rank-4 channels_first data",
                                 this->name(), options_.axis_, rank));
  return a;
}

template <typename T>
Shape BatchNormalization<T>::compute_output_shape(const Shape& s) const {
  layer_detail::require_input_min_ndim(this->name(), s, 1);
  resolve_axis(static_cast<int64_t>(s.size()));
  return s;
}

template <typename T>
void BatchNormalization<T>::build(const Shape& s) {
  const int64_t rank = static_cast<int64_t>(s.size());
  layer_detail::require_input_min_ndim(this->name(), s, 1);
  const int64_t a = resolve_axis(rank);
  if (s[a] <= 0)
    throw ShapeError(fmt::format("Layer \"{}\": the feature axis {} of the input must be defined and positive. "
                                 "Received input shape {}",
                                 this->name(), options_.axis_, shape_str(s)));
  const Shape param{s[a]};
  if (options_.scale_)
    this->add_weight("gamma", param, options_.gamma_initializer_, options_.gamma_regularizer_,
                     options_.gamma_constraint_);
  if (options_.center_)
    this->add_weight("beta", param, options_.beta_initializer_, options_.beta_regularizer_, options_.beta_constraint_);
  this->add_weight("moving_mean", param, options_.moving_mean_initializer_, nullptr, nullptr, false);
  this->add_weight("moving_variance", param, options_.moving_variance_initializer_, nullptr, nullptr, false);
  built_rank_ = rank;
  this->built_ = true;
}

template <typename T>
Variable<T> BatchNormalization<T>::call(const Variable<T>& x, bool training) {
  const int64_t rank = x.value().rank();
  if (rank != built_rank_)
    layer_detail::require_input_ndim(this->name(), x.shape(), built_rank_);
  const int64_t a = resolve_axis(rank);
  const int64_t channels = moving_mean().size();
  layer_detail::require_input_axis(this->name(), x.shape(), options_.axis_, channels);
  std::optional<Variable<T>> gamma, beta;
  if (options_.scale_) gamma = this->weight("gamma").variable;
  if (options_.center_) beta = this->weight("beta").variable;
  const bool channels_first = a != rank - 1;
  const Variable<T> xin = channels_first ? nchw_to_nhwc(x) : x;
  Variable<T> y;
  if (training && this->trainable()) {
    BatchNormOutput<T> out = batch_norm_training<T>(xin, gamma, beta, options_.epsilon_);
    const double m = options_.momentum_;
    Tensor<T>& mm = moving_mean();
    Tensor<T>& mv = moving_variance();
    for (int64_t c = 0; c < channels; ++c) {
      mm[c] = static_cast<T>(static_cast<double>(mm[c]) * m + static_cast<double>(out.mean[c]) * (1.0 - m));
      mv[c] = static_cast<T>(static_cast<double>(mv[c]) * m + static_cast<double>(out.variance[c]) * (1.0 - m));
    }
    y = out.y;
  } else {
    y = batch_norm_inference<T>(xin, moving_mean(), moving_variance(), gamma, beta, options_.epsilon_);
  }
  return channels_first ? nhwc_to_nchw(y) : y;
}

template <typename T>
nlohmann::json BatchNormalization<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["axis"] = options_.axis_;
  c["momentum"] = options_.momentum_;
  c["epsilon"] = options_.epsilon_;
  c["center"] = options_.center_;
  c["scale"] = options_.scale_;
  c["beta_initializer"] = serialize_or_null(options_.beta_initializer_);
  c["gamma_initializer"] = serialize_or_null(options_.gamma_initializer_);
  c["moving_mean_initializer"] = serialize_or_null(options_.moving_mean_initializer_);
  c["moving_variance_initializer"] = serialize_or_null(options_.moving_variance_initializer_);
  c["beta_regularizer"] = serialize_or_null(options_.beta_regularizer_);
  c["gamma_regularizer"] = serialize_or_null(options_.gamma_regularizer_);
  c["beta_constraint"] = serialize_or_null(options_.beta_constraint_);
  c["gamma_constraint"] = serialize_or_null(options_.gamma_constraint_);
  c["synchronized"] = false;
  return c;
}

template <typename T>
std::shared_ptr<BatchNormalization<T>> BatchNormalization<T>::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "BatchNormalization");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  BatchNormalizationOptions o;
  o.name(name);
  o.axis(r.integer("axis", -1));
  o.momentum(r.number("momentum", 0.99));
  o.epsilon(r.number("epsilon", 1e-3));
  o.center(r.boolean("center", true));
  o.scale(r.boolean("scale", true));
  // One process holds the whole batch: synchronized statistics are the batch's.
  r.boolean("synchronized", false);
  if (r.has("beta_initializer")) o.beta_initializer(r.raw("beta_initializer"));
  if (r.has("gamma_initializer")) o.gamma_initializer(r.raw("gamma_initializer"));
  if (r.has("moving_mean_initializer")) o.moving_mean_initializer(r.raw("moving_mean_initializer"));
  if (r.has("moving_variance_initializer")) o.moving_variance_initializer(r.raw("moving_variance_initializer"));
  if (r.has("beta_regularizer")) o.beta_regularizer(r.raw("beta_regularizer"));
  if (r.has("gamma_regularizer")) o.gamma_regularizer(r.raw("gamma_regularizer"));
  if (r.has("beta_constraint")) o.beta_constraint(r.raw("beta_constraint"));
  if (r.has("gamma_constraint")) o.gamma_constraint(r.raw("gamma_constraint"));
  if (r.boolean("renorm", false)) r.fail("renorm", "false (batch renormalization is not supported)");
  r.finish();
  auto layer = std::make_shared<BatchNormalization<T>>(o);
  layer->set_trainable(trainable);
  return layer;
}

template class BatchNormalization<float>;
template class BatchNormalization<double>;

}  // namespace sepconv

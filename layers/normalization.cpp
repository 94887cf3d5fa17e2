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
    : Layer<T>(layer_name_from(o, "batch_normalization")), options_(o) {
  const layer_detail::ArgumentCheck check = apply_layer_arguments(*this, o, "BatchNormalization");
  check.finite("momentum", o.momentum());
  check.non_negative("epsilon", check.finite("epsilon", o.epsilon()));
}

template <typename T>
int64_t BatchNormalization<T>::resolve_axis(int64_t rank) const {
  const int64_t a = options_.axis() < 0 ? options_.axis() + rank : options_.axis();
  const layer_detail::ArgumentCheck check{"BatchNormalization", this->name()};
  if (a < 0 || a >= rank)
    check.fail("axis", fmt::format("an axis in [{}, {}) for an input of rank {}", -rank, rank, rank),
               std::to_string(options_.axis()));
  if (a != rank - 1 && !(a == 1 && rank == 4))
    check.fail("axis",
               fmt::format("the last axis, or 1 for rank-4 channels_first data (the feature axis of an input of rank "
                           "{}; other axes are not supported)",
                           rank),
               std::to_string(options_.axis()));
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
                                 this->name(), options_.axis(), shape_str(s)));
  const Shape param{s[a]};
  if (options_.scale())
    this->add_weight("gamma", param, options_.gamma_initializer(), options_.gamma_regularizer(),
                     options_.gamma_constraint());
  if (options_.center())
    this->add_weight("beta", param, options_.beta_initializer(), options_.beta_regularizer(), options_.beta_constraint());
  this->add_weight("moving_mean", param, options_.moving_mean_initializer(), nullptr, nullptr, false);
  this->add_weight("moving_variance", param, options_.moving_variance_initializer(), nullptr, nullptr, false);
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
  layer_detail::require_input_axis(this->name(), x.shape(), options_.axis(), channels);
  std::optional<Variable<T>> gamma, beta;
  if (options_.scale()) gamma = this->weight("gamma").variable;
  if (options_.center()) beta = this->weight("beta").variable;
  const bool channels_first = a != rank - 1;
  const Variable<T> xin = channels_first ? nchw_to_nhwc(x) : x;
  Variable<T> y;
  if (training && this->trainable()) {
    BatchNormOutput<T> out = batch_norm_training<T>(xin, gamma, beta, options_.epsilon());
    const double m = options_.momentum();
    Tensor<T>& mm = moving_mean();
    Tensor<T>& mv = moving_variance();
    for (int64_t c = 0; c < channels; ++c) {
      mm[c] = static_cast<T>(static_cast<double>(mm[c]) * m + static_cast<double>(out.mean[c]) * (1.0 - m));
      mv[c] = static_cast<T>(static_cast<double>(mv[c]) * m + static_cast<double>(out.variance[c]) * (1.0 - m));
    }
    y = out.y;
  } else {
    y = batch_norm_inference<T>(xin, moving_mean(), moving_variance(), gamma, beta, options_.epsilon());
  }
  return channels_first ? nhwc_to_nchw(y) : y;
}

template <typename T>
nlohmann::json BatchNormalization<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["axis"] = options_.axis();
  c["momentum"] = options_.momentum();
  c["epsilon"] = options_.epsilon();
  c["center"] = options_.center();
  c["scale"] = options_.scale();
  c["beta_initializer"] = serialize_or_null(options_.beta_initializer());
  c["gamma_initializer"] = serialize_or_null(options_.gamma_initializer());
  c["moving_mean_initializer"] = serialize_or_null(options_.moving_mean_initializer());
  c["moving_variance_initializer"] = serialize_or_null(options_.moving_variance_initializer());
  c["beta_regularizer"] = serialize_or_null(options_.beta_regularizer());
  c["gamma_regularizer"] = serialize_or_null(options_.gamma_regularizer());
  c["beta_constraint"] = serialize_or_null(options_.beta_constraint());
  c["gamma_constraint"] = serialize_or_null(options_.gamma_constraint());
  c["synchronized"] = false;
  return c;
}

BatchNormalizationOptions BatchNormalizationOptions::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "BatchNormalization");
  BatchNormalizationOptions o;
  o.read_layer_arguments(r);
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
  return o;
}

template <typename T>
std::shared_ptr<BatchNormalization<T>> BatchNormalization<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<BatchNormalization<T>>(BatchNormalizationOptions::from_config(config));
}

template class BatchNormalization<float>;
template class BatchNormalization<double>;

}  // namespace sepconv

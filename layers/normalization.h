#pragma once
// Keras's BatchNormalization.
//
// Training (call with training=true on a trainable layer): normalizes with the
// batch's mean and biased variance over every axis but `axis`, and updates
//   moving_mean     = moving_mean * momentum + batch_mean * (1 - momentum)
//   moving_variance = moving_variance * momentum + batch_variance * (1 - momentum)
// Inference (or a frozen layer, as in Keras 3): normalizes with the moving
// statistics. Output: (x - mean) / sqrt(variance + epsilon) * gamma + beta.
// Weights, in Keras's order: "gamma" (scale), "beta" (center), "moving_mean",
// "moving_variance" (the last two non-trainable).
#include <cstdint>
#include <memory>
#include <string>

#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// The constructor arguments of keras.layers.BatchNormalization (checked when
// the layer is made; identifiers resolved by the setters).
class BatchNormalizationOptions : public LayerOptions<BatchNormalizationOptions> {
 public:
  BatchNormalizationOptions();
  // From a Keras layer config (ValueError naming the key for anything wrong).
  static BatchNormalizationOptions from_config(const nlohmann::json& config);

  // The feature axis: the last (-1, default) or, for rank-4 channels_first
  // data, 1. Other axes are a ValueError when the layer is built.
  BatchNormalizationOptions& axis(int64_t a) { axis_ = a; return *this; }
  // A finite float (default 0.99).
  BatchNormalizationOptions& momentum(double m) { momentum_ = m; return *this; }
  // A finite float >= 0 (default 1e-3).
  BatchNormalizationOptions& epsilon(double e) { epsilon_ = e; return *this; }
  BatchNormalizationOptions& center(bool c) { center_ = c; return *this; }
  BatchNormalizationOptions& scale(bool s) { scale_ = s; return *this; }
  BatchNormalizationOptions& beta_initializer(const nlohmann::json& id) { return beta_initializer(get_initializer(id)); }
  BatchNormalizationOptions& beta_initializer(std::shared_ptr<Initializer> i);
  BatchNormalizationOptions& gamma_initializer(const nlohmann::json& id) { return gamma_initializer(get_initializer(id)); }
  BatchNormalizationOptions& gamma_initializer(std::shared_ptr<Initializer> i);
  BatchNormalizationOptions& moving_mean_initializer(const nlohmann::json& id) {
    return moving_mean_initializer(get_initializer(id));
  }
  BatchNormalizationOptions& moving_mean_initializer(std::shared_ptr<Initializer> i);
  BatchNormalizationOptions& moving_variance_initializer(const nlohmann::json& id) {
    return moving_variance_initializer(get_initializer(id));
  }
  BatchNormalizationOptions& moving_variance_initializer(std::shared_ptr<Initializer> i);
  BatchNormalizationOptions& beta_regularizer(const nlohmann::json& id) { return beta_regularizer(get_regularizer(id)); }
  BatchNormalizationOptions& beta_regularizer(std::shared_ptr<Regularizer> r) { beta_regularizer_ = std::move(r); return *this; }
  BatchNormalizationOptions& gamma_regularizer(const nlohmann::json& id) { return gamma_regularizer(get_regularizer(id)); }
  BatchNormalizationOptions& gamma_regularizer(std::shared_ptr<Regularizer> r) { gamma_regularizer_ = std::move(r); return *this; }
  BatchNormalizationOptions& beta_constraint(const nlohmann::json& id) { return beta_constraint(get_constraint(id)); }
  BatchNormalizationOptions& beta_constraint(std::shared_ptr<Constraint> c) { beta_constraint_ = std::move(c); return *this; }
  BatchNormalizationOptions& gamma_constraint(const nlohmann::json& id) { return gamma_constraint(get_constraint(id)); }
  BatchNormalizationOptions& gamma_constraint(std::shared_ptr<Constraint> c) { gamma_constraint_ = std::move(c); return *this; }

  int64_t axis() const { return axis_; }
  double momentum() const { return momentum_; }
  double epsilon() const { return epsilon_; }
  bool center() const { return center_; }
  bool scale() const { return scale_; }
  const std::shared_ptr<Initializer>& beta_initializer() const { return beta_initializer_; }
  const std::shared_ptr<Initializer>& gamma_initializer() const { return gamma_initializer_; }
  const std::shared_ptr<Initializer>& moving_mean_initializer() const { return moving_mean_initializer_; }
  const std::shared_ptr<Initializer>& moving_variance_initializer() const { return moving_variance_initializer_; }
  const std::shared_ptr<Regularizer>& beta_regularizer() const { return beta_regularizer_; }
  const std::shared_ptr<Regularizer>& gamma_regularizer() const { return gamma_regularizer_; }
  const std::shared_ptr<Constraint>& beta_constraint() const { return beta_constraint_; }
  const std::shared_ptr<Constraint>& gamma_constraint() const { return gamma_constraint_; }

 private:
  int64_t axis_ = -1;
  double momentum_ = 0.99, epsilon_ = 1e-3;
  bool center_ = true, scale_ = true;
  std::shared_ptr<Initializer> beta_initializer_, gamma_initializer_, moving_mean_initializer_,
      moving_variance_initializer_;
  std::shared_ptr<Regularizer> beta_regularizer_, gamma_regularizer_;
  std::shared_ptr<Constraint> beta_constraint_, gamma_constraint_;
};

template <typename T>
class BatchNormalization : public Layer<T> {
 public:
  explicit BatchNormalization(const BatchNormalizationOptions& options = {});
  // From a Keras layer config (BatchNormalizationOptions::from_config).
  static std::shared_ptr<BatchNormalization> from_config(const nlohmann::json& config);

  void build(const Shape& input_shape) override;
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "BatchNormalization"; }

  const BatchNormalizationOptions& options() const { return options_; }
  Tensor<T>& moving_mean() { return this->weight("moving_mean").variable.value(); }
  Tensor<T>& moving_variance() { return this->weight("moving_variance").variable.value(); }

 private:
  // The axis as a non-negative index for an input of this rank (ValueError otherwise).
  int64_t resolve_axis(int64_t rank) const;
  BatchNormalizationOptions options_;
  int64_t built_rank_ = 0;
};

}  // namespace sepconv

#pragma once
// Keras's Dense: y = activation(x @ kernel + bias) over the last axis.
// Weights: "kernel" (in, units), "bias" (units).
//
//   auto fc = std::make_shared<Dense<float>>(DenseOptions(10).activation("softmax"));
#include <cstdint>
#include <memory>
#include <string>

#include "sepconv/layers/activations.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// The constructor arguments of keras.layers.Dense. Values are checked when
// the layer is made; identifiers are resolved when set (a bad one throws
// right away, as Keras's constructor does): a Keras name, a
// {"class_name", "config"} object, or a C++ object.
class DenseOptions : public LayerOptions<DenseOptions> {
 public:
  explicit DenseOptions(int64_t units);
  // From a Keras layer config (ValueError naming the key for anything wrong).
  static DenseOptions from_config(const nlohmann::json& config);

  DenseOptions& units(int64_t v) { units_ = v; return *this; }
  DenseOptions& activation(const nlohmann::json& id);
  DenseOptions& use_bias(bool b) { use_bias_ = b; return *this; }
  DenseOptions& kernel_initializer(const nlohmann::json& id) { return kernel_initializer(get_initializer(id)); }
  DenseOptions& kernel_initializer(std::shared_ptr<Initializer> i);
  DenseOptions& bias_initializer(const nlohmann::json& id) { return bias_initializer(get_initializer(id)); }
  DenseOptions& bias_initializer(std::shared_ptr<Initializer> i);
  DenseOptions& kernel_regularizer(const nlohmann::json& id) { return kernel_regularizer(get_regularizer(id)); }
  DenseOptions& kernel_regularizer(std::shared_ptr<Regularizer> r) { kernel_regularizer_ = std::move(r); return *this; }
  DenseOptions& bias_regularizer(const nlohmann::json& id) { return bias_regularizer(get_regularizer(id)); }
  DenseOptions& bias_regularizer(std::shared_ptr<Regularizer> r) { bias_regularizer_ = std::move(r); return *this; }
  DenseOptions& activity_regularizer(const nlohmann::json& id) { return activity_regularizer(get_regularizer(id)); }
  DenseOptions& activity_regularizer(std::shared_ptr<Regularizer> r) { activity_regularizer_ = std::move(r); return *this; }
  DenseOptions& kernel_constraint(const nlohmann::json& id) { return kernel_constraint(get_constraint(id)); }
  DenseOptions& kernel_constraint(std::shared_ptr<Constraint> c) { kernel_constraint_ = std::move(c); return *this; }
  DenseOptions& bias_constraint(const nlohmann::json& id) { return bias_constraint(get_constraint(id)); }
  DenseOptions& bias_constraint(std::shared_ptr<Constraint> c) { bias_constraint_ = std::move(c); return *this; }

  int64_t units() const { return units_; }
  const std::string& activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }
  const std::shared_ptr<Initializer>& kernel_initializer() const { return kernel_initializer_; }
  const std::shared_ptr<Initializer>& bias_initializer() const { return bias_initializer_; }
  const std::shared_ptr<Regularizer>& kernel_regularizer() const { return kernel_regularizer_; }
  const std::shared_ptr<Regularizer>& bias_regularizer() const { return bias_regularizer_; }
  const std::shared_ptr<Regularizer>& activity_regularizer() const { return activity_regularizer_; }
  const std::shared_ptr<Constraint>& kernel_constraint() const { return kernel_constraint_; }
  const std::shared_ptr<Constraint>& bias_constraint() const { return bias_constraint_; }

 private:
  int64_t units_;
  std::string activation_ = "linear";  // canonical Keras name
  bool use_bias_ = true;
  std::shared_ptr<Initializer> kernel_initializer_, bias_initializer_;
  std::shared_ptr<Regularizer> kernel_regularizer_, bias_regularizer_, activity_regularizer_;
  std::shared_ptr<Constraint> kernel_constraint_, bias_constraint_;
};

template <typename T>
class Dense : public Layer<T> {
 public:
  explicit Dense(const DenseOptions& options);
  // From a Keras layer config (DenseOptions::from_config).
  static std::shared_ptr<Dense> from_config(const nlohmann::json& config);

  void build(const Shape& input_shape) override;
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "Dense"; }

  const DenseOptions& options() const { return options_; }
  Variable<T> kernel() const { return this->weight("kernel").variable; }
  Variable<T> bias() const { return this->weight("bias").variable; }  // ValueError without use_bias

 private:
  DenseOptions options_;
  sepconv::Activation<T> activation_;
};

}  // namespace sepconv

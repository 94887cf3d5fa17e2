#pragma once
// Keras's Dense: y = activation(x @ kernel + bias) over the last axis.
// Weights: "kernel" (in, units), "bias" (units).
//
//   auto fc = std::make_shared<Dense<float>>(DenseOptions(10).activation("softmax"));
#include <cstdint>
#include <memory>
#include <string>

#include "sepconv/layers/activations.h"
#include "sepconv/layers/kernel_bias_options.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// The constructor arguments of keras.layers.Dense. Values are checked when
// the layer is made; identifiers are resolved when set (a bad one throws
// right away, as Keras's constructor does): a Keras name, a
// {"class_name", "config"} object, or a C++ object.
class DenseOptions : public LayerOptions<DenseOptions>, public KernelBiasOptions<DenseOptions> {
 public:
  explicit DenseOptions(int64_t units);
  // From a Keras layer config (ValueError naming the key for anything wrong).
  static DenseOptions from_config(const nlohmann::json& config);

  DenseOptions& units(int64_t v) { units_ = v; return *this; }
  DenseOptions& activation(const nlohmann::json& id);
  DenseOptions& use_bias(bool b) { use_bias_ = b; return *this; }

  int64_t units() const { return units_; }
  const std::string& activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }

 private:
  int64_t units_;
  std::string activation_ = "linear";  // canonical Keras name
  bool use_bias_ = true;
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

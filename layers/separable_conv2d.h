#pragma once
// keras.layers.SeparableConv2D: a depthwise convolution (each input channel
// convolved with depth_multiplier kernels of its own) followed by a pointwise
// 1x1 convolution mixing the channels, an optional bias, then an activation:
//   output = activation(pointwise(depthwise(inputs)) + bias)
//
// Weights are Keras's, in Keras's layouts, whatever the data format:
//   depthwise_kernel (kh, kw, in_channels, depth_multiplier)
//   pointwise_kernel (1, 1, in_channels * depth_multiplier, filters)
//   bias             (filters)                       [when use_bias]
//
// Example:
//   SeparableConv2D<float> layer(SeparableConv2DOptions(3, 4).strides(3).activation("relu"));
//   Variable<float> y = layer(x);  // x: (4, 10, 10, 12) -> y: (4, 3, 3, 3)
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sepconv/core/geometry.h"
#include "sepconv/layers/activations.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// The constructor arguments of keras.layers.SeparableConv2D, by their Keras
// names, as chained setters. Values are checked when the layer is made (as
// Keras's constructor does); identifiers (strings, configs, objects) are
// resolved by the setters, so an unknown one fails there.
class SeparableConv2DOptions : public LayerOptions<SeparableConv2DOptions> {
 public:
  using Pair = std::array<int64_t, 2>;

  SeparableConv2DOptions(int64_t filters, int64_t kernel_size) : filters_(filters), kernel_size_{kernel_size, kernel_size} {}
  SeparableConv2DOptions(int64_t filters, Pair kernel_size) : filters_(filters), kernel_size_(kernel_size) {}

  // A Keras layer config (the output of get_config, or a case's "layer"
  // object): sizes as ints or [h, w] lists, identifiers as names or
  // {"class_name", "config"}, "dtype" as a string or a DTypePolicy config.
  // Keys Keras does not know are a ValueError.
  static SeparableConv2DOptions from_config(const nlohmann::json& config);

  SeparableConv2DOptions& filters(int64_t v) { filters_ = v; return *this; }
  SeparableConv2DOptions& kernel_size(int64_t v) { kernel_size_ = {v, v}; return *this; }
  SeparableConv2DOptions& kernel_size(int64_t h, int64_t w) { kernel_size_ = {h, w}; return *this; }
  SeparableConv2DOptions& kernel_size(Pair v) { kernel_size_ = v; return *this; }
  SeparableConv2DOptions& strides(int64_t v) { strides_ = {v, v}; return *this; }
  SeparableConv2DOptions& strides(int64_t h, int64_t w) { strides_ = {h, w}; return *this; }
  SeparableConv2DOptions& strides(Pair v) { strides_ = v; return *this; }
  // "valid" or "same", case-insensitive.
  SeparableConv2DOptions& padding(std::string v) { padding_ = std::move(v); return *this; }
  SeparableConv2DOptions& padding(Padding v) { padding_ = padding_name(v); return *this; }
  // "channels_last" / "channels_first"; unset (or nullopt): keras.json's image_data_format.
  SeparableConv2DOptions& data_format(std::optional<std::string> v) { data_format_ = std::move(v); return *this; }
  SeparableConv2DOptions& data_format(DataFormat v) { data_format_ = data_format_name(v); return *this; }
  SeparableConv2DOptions& dilation_rate(int64_t v) { dilation_rate_ = {v, v}; return *this; }
  SeparableConv2DOptions& dilation_rate(int64_t h, int64_t w) { dilation_rate_ = {h, w}; return *this; }
  SeparableConv2DOptions& dilation_rate(Pair v) { dilation_rate_ = v; return *this; }
  SeparableConv2DOptions& depth_multiplier(int64_t v) { depth_multiplier_ = v; return *this; }

  // A Keras activation name or config (null / "linear": none).
  SeparableConv2DOptions& activation(const nlohmann::json& id);
  SeparableConv2DOptions& activation(const std::string& id) { return activation(nlohmann::json(id)); }
  SeparableConv2DOptions& activation(const char* id) { return activation(nlohmann::json(id)); }
  SeparableConv2DOptions& activation(std::nullptr_t) { return activation(nlohmann::json(nullptr)); }
  // A user function; `name` is what get_config reports for it.
  SeparableConv2DOptions& activation(Activation<float> fn, std::string name = "custom_activation");
  SeparableConv2DOptions& activation(Activation<double> fn, std::string name = "custom_activation");

  SeparableConv2DOptions& use_bias(bool v) { use_bias_ = v; return *this; }

  // Initializers: a name, a config, or an object (null/nullptr: the default).
  SeparableConv2DOptions& depthwise_initializer(const nlohmann::json& id);
  SeparableConv2DOptions& depthwise_initializer(std::shared_ptr<Initializer> v) { depthwise_initializer_ = std::move(v); return *this; }
  SeparableConv2DOptions& depthwise_initializer(std::nullptr_t) { depthwise_initializer_ = nullptr; return *this; }
  SeparableConv2DOptions& pointwise_initializer(const nlohmann::json& id);
  SeparableConv2DOptions& pointwise_initializer(std::shared_ptr<Initializer> v) { pointwise_initializer_ = std::move(v); return *this; }
  SeparableConv2DOptions& pointwise_initializer(std::nullptr_t) { pointwise_initializer_ = nullptr; return *this; }
  SeparableConv2DOptions& bias_initializer(const nlohmann::json& id);
  SeparableConv2DOptions& bias_initializer(std::shared_ptr<Initializer> v) { bias_initializer_ = std::move(v); return *this; }
  SeparableConv2DOptions& bias_initializer(std::nullptr_t) { bias_initializer_ = nullptr; return *this; }

  // Regularizers: a name, a config, an object, or null/nullptr for none.
  SeparableConv2DOptions& depthwise_regularizer(const nlohmann::json& id);
  SeparableConv2DOptions& depthwise_regularizer(std::shared_ptr<Regularizer> v) { depthwise_regularizer_ = std::move(v); return *this; }
  SeparableConv2DOptions& depthwise_regularizer(std::nullptr_t) { depthwise_regularizer_ = nullptr; return *this; }
  SeparableConv2DOptions& pointwise_regularizer(const nlohmann::json& id);
  SeparableConv2DOptions& pointwise_regularizer(std::shared_ptr<Regularizer> v) { pointwise_regularizer_ = std::move(v); return *this; }
  SeparableConv2DOptions& pointwise_regularizer(std::nullptr_t) { pointwise_regularizer_ = nullptr; return *this; }
  SeparableConv2DOptions& bias_regularizer(const nlohmann::json& id);
  SeparableConv2DOptions& bias_regularizer(std::shared_ptr<Regularizer> v) { bias_regularizer_ = std::move(v); return *this; }
  SeparableConv2DOptions& bias_regularizer(std::nullptr_t) { bias_regularizer_ = nullptr; return *this; }
  SeparableConv2DOptions& activity_regularizer(const nlohmann::json& id);
  SeparableConv2DOptions& activity_regularizer(std::shared_ptr<Regularizer> v) { activity_regularizer_ = std::move(v); return *this; }
  SeparableConv2DOptions& activity_regularizer(std::nullptr_t) { activity_regularizer_ = nullptr; return *this; }

  // Constraints: a name, a config, an object, or null/nullptr for none.
  SeparableConv2DOptions& depthwise_constraint(const nlohmann::json& id);
  SeparableConv2DOptions& depthwise_constraint(std::shared_ptr<Constraint> v) { depthwise_constraint_ = std::move(v); return *this; }
  SeparableConv2DOptions& depthwise_constraint(std::nullptr_t) { depthwise_constraint_ = nullptr; return *this; }
  SeparableConv2DOptions& pointwise_constraint(const nlohmann::json& id);
  SeparableConv2DOptions& pointwise_constraint(std::shared_ptr<Constraint> v) { pointwise_constraint_ = std::move(v); return *this; }
  SeparableConv2DOptions& pointwise_constraint(std::nullptr_t) { pointwise_constraint_ = nullptr; return *this; }
  SeparableConv2DOptions& bias_constraint(const nlohmann::json& id);
  SeparableConv2DOptions& bias_constraint(std::shared_ptr<Constraint> v) { bias_constraint_ = std::move(v); return *this; }
  SeparableConv2DOptions& bias_constraint(std::nullptr_t) { bias_constraint_ = nullptr; return *this; }

  // name, trainable and dtype: LayerOptions (dtype must match the layer's element type).

  // Getters (the raw values, before the layer validates them).
  int64_t filters() const { return filters_; }
  Pair kernel_size() const { return kernel_size_; }
  Pair strides() const { return strides_; }
  const std::string& padding() const { return padding_; }
  const std::optional<std::string>& data_format() const { return data_format_; }
  Pair dilation_rate() const { return dilation_rate_; }
  int64_t depth_multiplier() const { return depth_multiplier_; }
  const nlohmann::json& activation_id() const { return activation_id_; }
  const Activation<float>& activation_fn_float() const { return activation_float_; }
  const Activation<double>& activation_fn_double() const { return activation_double_; }
  bool use_bias() const { return use_bias_; }
  const std::shared_ptr<Initializer>& depthwise_initializer() const { return depthwise_initializer_; }
  const std::shared_ptr<Initializer>& pointwise_initializer() const { return pointwise_initializer_; }
  const std::shared_ptr<Initializer>& bias_initializer() const { return bias_initializer_; }
  const std::shared_ptr<Regularizer>& depthwise_regularizer() const { return depthwise_regularizer_; }
  const std::shared_ptr<Regularizer>& pointwise_regularizer() const { return pointwise_regularizer_; }
  const std::shared_ptr<Regularizer>& bias_regularizer() const { return bias_regularizer_; }
  const std::shared_ptr<Regularizer>& activity_regularizer() const { return activity_regularizer_; }
  const std::shared_ptr<Constraint>& depthwise_constraint() const { return depthwise_constraint_; }
  const std::shared_ptr<Constraint>& pointwise_constraint() const { return pointwise_constraint_; }
  const std::shared_ptr<Constraint>& bias_constraint() const { return bias_constraint_; }

 private:
  int64_t filters_;
  Pair kernel_size_;
  Pair strides_{1, 1};
  std::string padding_ = "valid";
  std::optional<std::string> data_format_;
  Pair dilation_rate_{1, 1};
  int64_t depth_multiplier_ = 1;
  nlohmann::json activation_id_;  // null: linear
  Activation<float> activation_float_;
  Activation<double> activation_double_;
  bool use_bias_ = true;
  std::shared_ptr<Initializer> depthwise_initializer_, pointwise_initializer_, bias_initializer_;
  std::shared_ptr<Regularizer> depthwise_regularizer_, pointwise_regularizer_, bias_regularizer_,
      activity_regularizer_;
  std::shared_ptr<Constraint> depthwise_constraint_, pointwise_constraint_, bias_constraint_;
};

template <typename T>
class SeparableConv2D : public Layer<T> {
 public:
  // Validates every argument (ValueError naming the argument and the value).
  explicit SeparableConv2D(const SeparableConv2DOptions& options);
  // From a Keras layer config (SeparableConv2DOptions::from_config).
  static std::unique_ptr<SeparableConv2D> from_config(const nlohmann::json& config);

  // input_shape: (batch, h, w, channels) or (batch, channels, h, w) for
  // channels_first. Creates the weights.
  void build(const Shape& input_shape) override;
  Variable<T> call(const Variable<T>& x, bool training = false) override;
  // The output shape for an input shape (the batch may be -1 for unknown).
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "SeparableConv2D"; }

  int64_t filters() const { return filters_; }
  std::array<int64_t, 2> kernel_size() const { return kernel_size_; }
  std::array<int64_t, 2> strides() const { return strides_; }
  Padding padding() const { return padding_; }
  DataFormat data_format() const { return data_format_; }
  std::array<int64_t, 2> dilation_rate() const { return dilation_rate_; }
  int64_t depth_multiplier() const { return depth_multiplier_; }
  bool use_bias() const { return use_bias_; }
  const std::string& activation_name() const { return activation_name_; }
  // The built layer's input channel count (0 before build).
  int64_t input_channels() const { return input_channels_; }

  // The weights' variables (ValueError before build; bias() also without use_bias).
  Variable<T>& depthwise_kernel();
  Variable<T>& pointwise_kernel();
  Variable<T>& bias();

 private:
  // Rank 4, positive sizes, and the channel count of a built layer.
  void check_input_shape(const Shape& input_shape) const;

  SeparableConv2DOptions options_;
  int64_t filters_;
  std::array<int64_t, 2> kernel_size_, strides_, dilation_rate_;
  Padding padding_;
  DataFormat data_format_;
  int64_t depth_multiplier_;
  bool use_bias_;
  Activation<T> activation_;
  // The built-in relu is applied by the separable op as it stores its output
  // (no separate pass forward or backward); other activations run as ops.
  bool fused_relu_ = false;
  std::string activation_name_;
  bool has_activation_ = false;  // false for linear: the output is the conv result itself
  int64_t input_channels_ = 0;
};

}  // namespace sepconv

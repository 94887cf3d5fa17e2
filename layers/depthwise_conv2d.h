#pragma once
// Keras's DepthwiseConv2D: each input channel convolved with its own
// depth_multiplier filters (the first half of a separable convolution), then
// an optional bias and activation. Weights, as Keras 3 names them: "kernel"
// (kh, kw, in_channels, depth_multiplier) and "bias" (in_channels * depth_multiplier).
// (tf.keras 2 called the kernel "depthwise_kernel"; the layer arguments keep
// the depthwise_ prefix in both.)
//
//   auto dw = std::make_shared<DepthwiseConv2D<float>>(DepthwiseConv2DOptions(3).padding("same"));
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sepconv/core/geometry.h"
#include "sepconv/layers/activations.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// The constructor arguments of keras.layers.DepthwiseConv2D (see Conv2DOptions:
// checked when the layer is made, identifiers resolved by the setters).
class DepthwiseConv2DOptions : public LayerOptions<DepthwiseConv2DOptions> {
 public:
  using Pair = std::array<int64_t, 2>;
  DepthwiseConv2DOptions(int64_t kernel_size) : DepthwiseConv2DOptions(Pair{kernel_size, kernel_size}) {}  // NOLINT
  DepthwiseConv2DOptions(Pair kernel_size);  // NOLINT
  // From a Keras layer config (ValueError naming the key for anything wrong).
  static DepthwiseConv2DOptions from_config(const nlohmann::json& config);

  DepthwiseConv2DOptions& kernel_size(int64_t v) { return kernel_size(v, v); }
  DepthwiseConv2DOptions& kernel_size(int64_t h, int64_t w) { return kernel_size(Pair{h, w}); }
  DepthwiseConv2DOptions& kernel_size(Pair v) { kernel_size_ = v; return *this; }
  DepthwiseConv2DOptions& strides(int64_t v) { return strides(v, v); }
  DepthwiseConv2DOptions& strides(int64_t h, int64_t w) { return strides(Pair{h, w}); }
  DepthwiseConv2DOptions& strides(Pair v) { strides_ = v; return *this; }
  // "valid" (default) or "same", case-insensitive.
  DepthwiseConv2DOptions& padding(std::string v) { padding_ = std::move(v); return *this; }
  DepthwiseConv2DOptions& padding(Padding v) { padding_ = padding_name(v); return *this; }
  DepthwiseConv2DOptions& depth_multiplier(int64_t v) { depth_multiplier_ = v; return *this; }
  // "channels_last" / "channels_first"; unset: keras.config.image_data_format().
  DepthwiseConv2DOptions& data_format(std::optional<std::string> v) { data_format_ = std::move(v); return *this; }
  DepthwiseConv2DOptions& data_format(DataFormat v) { data_format_ = data_format_name(v); return *this; }
  DepthwiseConv2DOptions& dilation_rate(int64_t v) { return dilation_rate(v, v); }
  DepthwiseConv2DOptions& dilation_rate(int64_t h, int64_t w) { return dilation_rate(Pair{h, w}); }
  DepthwiseConv2DOptions& dilation_rate(Pair v) { dilation_rate_ = v; return *this; }
  // A Keras activation name or config (null / "linear": none).
  DepthwiseConv2DOptions& activation(const nlohmann::json& id);
  DepthwiseConv2DOptions& use_bias(bool v) { use_bias_ = v; return *this; }
  DepthwiseConv2DOptions& depthwise_initializer(const nlohmann::json& id) { return depthwise_initializer(get_initializer(id)); }
  DepthwiseConv2DOptions& depthwise_initializer(std::shared_ptr<Initializer> i);
  DepthwiseConv2DOptions& bias_initializer(const nlohmann::json& id) { return bias_initializer(get_initializer(id)); }
  DepthwiseConv2DOptions& bias_initializer(std::shared_ptr<Initializer> i);
  DepthwiseConv2DOptions& depthwise_regularizer(const nlohmann::json& id) { return depthwise_regularizer(get_regularizer(id)); }
  DepthwiseConv2DOptions& depthwise_regularizer(std::shared_ptr<Regularizer> r) { depthwise_regularizer_ = std::move(r); return *this; }
  DepthwiseConv2DOptions& bias_regularizer(const nlohmann::json& id) { return bias_regularizer(get_regularizer(id)); }
  DepthwiseConv2DOptions& bias_regularizer(std::shared_ptr<Regularizer> r) { bias_regularizer_ = std::move(r); return *this; }
  DepthwiseConv2DOptions& activity_regularizer(const nlohmann::json& id) { return activity_regularizer(get_regularizer(id)); }
  DepthwiseConv2DOptions& activity_regularizer(std::shared_ptr<Regularizer> r) { activity_regularizer_ = std::move(r); return *this; }
  DepthwiseConv2DOptions& depthwise_constraint(const nlohmann::json& id) { return depthwise_constraint(get_constraint(id)); }
  DepthwiseConv2DOptions& depthwise_constraint(std::shared_ptr<Constraint> c) { depthwise_constraint_ = std::move(c); return *this; }
  DepthwiseConv2DOptions& bias_constraint(const nlohmann::json& id) { return bias_constraint(get_constraint(id)); }
  DepthwiseConv2DOptions& bias_constraint(std::shared_ptr<Constraint> c) { bias_constraint_ = std::move(c); return *this; }

  // Getters (the raw values, before the layer validates them).
  Pair kernel_size() const { return kernel_size_; }
  Pair strides() const { return strides_; }
  const std::string& padding() const { return padding_; }
  int64_t depth_multiplier() const { return depth_multiplier_; }
  const std::optional<std::string>& data_format() const { return data_format_; }
  Pair dilation_rate() const { return dilation_rate_; }
  const std::string& activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }
  const std::shared_ptr<Initializer>& depthwise_initializer() const { return depthwise_initializer_; }
  const std::shared_ptr<Initializer>& bias_initializer() const { return bias_initializer_; }
  const std::shared_ptr<Regularizer>& depthwise_regularizer() const { return depthwise_regularizer_; }
  const std::shared_ptr<Regularizer>& bias_regularizer() const { return bias_regularizer_; }
  const std::shared_ptr<Regularizer>& activity_regularizer() const { return activity_regularizer_; }
  const std::shared_ptr<Constraint>& depthwise_constraint() const { return depthwise_constraint_; }
  const std::shared_ptr<Constraint>& bias_constraint() const { return bias_constraint_; }

 private:
  Pair kernel_size_, strides_{1, 1}, dilation_rate_{1, 1};
  std::string padding_ = "valid";
  int64_t depth_multiplier_ = 1;
  std::optional<std::string> data_format_;
  std::string activation_ = "linear";  // canonical Keras name
  bool use_bias_ = true;
  std::shared_ptr<Initializer> depthwise_initializer_, bias_initializer_;
  std::shared_ptr<Regularizer> depthwise_regularizer_, bias_regularizer_, activity_regularizer_;
  std::shared_ptr<Constraint> depthwise_constraint_, bias_constraint_;
};

template <typename T>
class DepthwiseConv2D : public Layer<T> {
 public:
  explicit DepthwiseConv2D(const DepthwiseConv2DOptions& options);
  // From a Keras layer config (DepthwiseConv2DOptions::from_config).
  static std::shared_ptr<DepthwiseConv2D> from_config(const nlohmann::json& config);

  void build(const Shape& input_shape) override;
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "DepthwiseConv2D"; }

  // The options as given (raw values) and the validated arguments.
  const DepthwiseConv2DOptions& options() const { return options_; }
  Padding padding() const { return padding_; }
  DataFormat data_format() const { return data_format_; }

 private:
  DepthwiseConv2DOptions options_;
  Padding padding_;
  DataFormat data_format_;
  sepconv::Activation<T> activation_;
};

}  // namespace sepconv

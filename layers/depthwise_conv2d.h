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

namespace sepconv {

class DepthwiseConv2DOptions {
 public:
  DepthwiseConv2DOptions(int64_t kernel_size) : DepthwiseConv2DOptions(std::array<int64_t, 2>{kernel_size, kernel_size}) {}  // NOLINT
  DepthwiseConv2DOptions(std::array<int64_t, 2> kernel_size);  // NOLINT

  DepthwiseConv2DOptions& strides(int64_t s) { return strides(std::array<int64_t, 2>{s, s}); }
  DepthwiseConv2DOptions& strides(std::array<int64_t, 2> s);
  DepthwiseConv2DOptions& padding(const std::string& p);
  DepthwiseConv2DOptions& depth_multiplier(int64_t m);
  DepthwiseConv2DOptions& data_format(std::string f) { data_format_ = std::move(f); return *this; }
  DepthwiseConv2DOptions& dilation_rate(int64_t d) { return dilation_rate(std::array<int64_t, 2>{d, d}); }
  DepthwiseConv2DOptions& dilation_rate(std::array<int64_t, 2> d);
  DepthwiseConv2DOptions& activation(const nlohmann::json& id);
  DepthwiseConv2DOptions& use_bias(bool b) { use_bias_ = b; return *this; }
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
  DepthwiseConv2DOptions& name(std::string n) { name_ = std::move(n); return *this; }

  std::array<int64_t, 2> kernel_size_, strides_{1, 1}, dilation_rate_{1, 1};
  Padding padding_ = Padding::Valid;
  int64_t depth_multiplier_ = 1;
  std::optional<std::string> data_format_;
  nlohmann::json activation_ = "linear";
  bool use_bias_ = true;
  std::shared_ptr<Initializer> depthwise_initializer_, bias_initializer_;
  std::shared_ptr<Regularizer> depthwise_regularizer_, bias_regularizer_, activity_regularizer_;
  std::shared_ptr<Constraint> depthwise_constraint_, bias_constraint_;
  std::string name_;

 private:
  void check_strides_dilation() const;
};

template <typename T>
class DepthwiseConv2D : public Layer<T> {
 public:
  explicit DepthwiseConv2D(const DepthwiseConv2DOptions& options);
  // From a Keras layer config (ValueError naming the key for anything wrong).
  static std::shared_ptr<DepthwiseConv2D> from_config(const nlohmann::json& config);

  void build(const Shape& input_shape) override;
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "DepthwiseConv2D"; }

  const DepthwiseConv2DOptions& options() const { return options_; }
  DataFormat data_format() const { return data_format_; }

 private:
  DepthwiseConv2DOptions options_;
  DataFormat data_format_;
  sepconv::Activation<T> activation_;
};

}  // namespace sepconv

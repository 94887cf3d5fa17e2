#pragma once
// Keras 3's Conv2D: y = activation(conv2d(x, kernel) + bias), the kernel in
// Keras's layout [kernel_h, kernel_w, in_channels / groups, filters]. With
// groups > 1 the channels split into that many groups, each convolved with
// its own filters / groups filters.
//
//   Conv2D<float> stem(Conv2DOptions(32, 3).strides(2).padding("same").use_bias(false));
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sepconv/core/geometry.h"
#include "sepconv/layers/activations.h"
#include "sepconv/layers/layer.h"

namespace sepconv {

class Conv2DOptions {
 public:
  using Pair = std::array<int64_t, 2>;
  Conv2DOptions(int64_t filters, int64_t kernel_size) : Conv2DOptions(filters, Pair{kernel_size, kernel_size}) {}
  Conv2DOptions(int64_t filters, Pair kernel_size);

  Conv2DOptions& strides(int64_t s) { return strides(Pair{s, s}); }
  Conv2DOptions& strides(Pair s);
  // "valid" (default) or "same" (TensorFlow's split: the odd pixel at the bottom/right).
  Conv2DOptions& padding(const std::string& p);
  // "channels_last" / "channels_first"; default keras.config.image_data_format().
  Conv2DOptions& data_format(std::string f) { data_format_ = std::move(f); return *this; }
  Conv2DOptions& dilation_rate(int64_t d) { return dilation_rate(Pair{d, d}); }
  Conv2DOptions& dilation_rate(Pair d);
  Conv2DOptions& groups(int64_t g);
  Conv2DOptions& activation(const nlohmann::json& id);
  Conv2DOptions& use_bias(bool b) { use_bias_ = b; return *this; }
  Conv2DOptions& kernel_initializer(const nlohmann::json& id) { return kernel_initializer(get_initializer(id)); }
  Conv2DOptions& kernel_initializer(std::shared_ptr<Initializer> i);
  Conv2DOptions& bias_initializer(const nlohmann::json& id) { return bias_initializer(get_initializer(id)); }
  Conv2DOptions& bias_initializer(std::shared_ptr<Initializer> i);
  Conv2DOptions& kernel_regularizer(const nlohmann::json& id) { return kernel_regularizer(get_regularizer(id)); }
  Conv2DOptions& kernel_regularizer(std::shared_ptr<Regularizer> r) { kernel_regularizer_ = std::move(r); return *this; }
  Conv2DOptions& bias_regularizer(const nlohmann::json& id) { return bias_regularizer(get_regularizer(id)); }
  Conv2DOptions& bias_regularizer(std::shared_ptr<Regularizer> r) { bias_regularizer_ = std::move(r); return *this; }
  Conv2DOptions& activity_regularizer(const nlohmann::json& id) { return activity_regularizer(get_regularizer(id)); }
  Conv2DOptions& activity_regularizer(std::shared_ptr<Regularizer> r) { activity_regularizer_ = std::move(r); return *this; }
  Conv2DOptions& kernel_constraint(const nlohmann::json& id) { return kernel_constraint(get_constraint(id)); }
  Conv2DOptions& kernel_constraint(std::shared_ptr<Constraint> c) { kernel_constraint_ = std::move(c); return *this; }
  Conv2DOptions& bias_constraint(const nlohmann::json& id) { return bias_constraint(get_constraint(id)); }
  Conv2DOptions& bias_constraint(std::shared_ptr<Constraint> c) { bias_constraint_ = std::move(c); return *this; }
  Conv2DOptions& name(std::string n) { name_ = std::move(n); return *this; }

  // From a Keras layer config (ValueError naming the key for anything wrong).
  static Conv2DOptions from_config(const nlohmann::json& config);

  int64_t filters_;
  Pair kernel_size_, strides_{1, 1}, dilation_rate_{1, 1};
  Padding padding_ = Padding::Valid;
  std::optional<std::string> data_format_;
  int64_t groups_ = 1;
  nlohmann::json activation_ = "linear";
  bool use_bias_ = true;
  std::shared_ptr<Initializer> kernel_initializer_, bias_initializer_;
  std::shared_ptr<Regularizer> kernel_regularizer_, bias_regularizer_, activity_regularizer_;
  std::shared_ptr<Constraint> kernel_constraint_, bias_constraint_;
  std::string name_;
  bool trainable_ = true;

 private:
  void check_strides_dilation() const;
};

template <typename T>
class Conv2D : public Layer<T> {
 public:
  explicit Conv2D(const Conv2DOptions& options);
  static std::shared_ptr<Conv2D> from_config(const nlohmann::json& config);

  void build(const Shape& input_shape) override;
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "Conv2D"; }

  const Conv2DOptions& options() const { return options_; }
  DataFormat data_format() const { return data_format_; }
  Variable<T> kernel() const { return this->weight("kernel").variable; }

 private:
  Conv2DOptions options_;
  DataFormat data_format_;
  sepconv::Activation<T> activation_;
};

}  // namespace sepconv

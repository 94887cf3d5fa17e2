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
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/kernel_bias_options.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// The constructor arguments of keras.layers.Conv2D: the required ones in the
// constructor, the rest as chained setters named as Keras's. Values are
// checked when the layer is made (as Keras's constructor does; ValueError
// naming the argument and the value); identifiers are resolved by the setters.
class Conv2DOptions : public LayerOptions<Conv2DOptions>, public KernelBiasOptions<Conv2DOptions> {
 public:
  using Pair = std::array<int64_t, 2>;
  Conv2DOptions(int64_t filters, int64_t kernel_size) : Conv2DOptions(filters, Pair{kernel_size, kernel_size}) {}
  Conv2DOptions(int64_t filters, Pair kernel_size);
  // From a Keras layer config (ValueError naming the key for anything wrong).
  static Conv2DOptions from_config(const nlohmann::json& config);

  Conv2DOptions& filters(int64_t v) { filters_ = v; return *this; }
  Conv2DOptions& kernel_size(int64_t v) { return kernel_size(v, v); }
  Conv2DOptions& kernel_size(int64_t h, int64_t w) { return kernel_size(Pair{h, w}); }
  Conv2DOptions& kernel_size(Pair v) { kernel_size_ = v; return *this; }
  Conv2DOptions& strides(int64_t v) { return strides(v, v); }
  Conv2DOptions& strides(int64_t h, int64_t w) { return strides(Pair{h, w}); }
  Conv2DOptions& strides(Pair v) { strides_ = v; return *this; }
  // "valid" (default) or "same" (TensorFlow's split: the odd pixel at the bottom/right), case-insensitive.
  Conv2DOptions& padding(std::string v) { padding_ = std::move(v); return *this; }
  Conv2DOptions& padding(Padding v) { padding_ = padding_name(v); return *this; }
  // "channels_last" / "channels_first"; unset: keras.config.image_data_format().
  Conv2DOptions& data_format(std::optional<std::string> v) { data_format_ = std::move(v); return *this; }
  Conv2DOptions& data_format(DataFormat v) { data_format_ = data_format_name(v); return *this; }
  Conv2DOptions& dilation_rate(int64_t v) { return dilation_rate(v, v); }
  Conv2DOptions& dilation_rate(int64_t h, int64_t w) { return dilation_rate(Pair{h, w}); }
  Conv2DOptions& dilation_rate(Pair v) { dilation_rate_ = v; return *this; }
  // Must divide filters and the input's channels.
  Conv2DOptions& groups(int64_t v) { groups_ = v; return *this; }
  // A Keras activation name or config (null / "linear": none).
  Conv2DOptions& activation(const nlohmann::json& id);
  Conv2DOptions& use_bias(bool v) { use_bias_ = v; return *this; }

  // Getters (the raw values, before the layer validates them).
  int64_t filters() const { return filters_; }
  Pair kernel_size() const { return kernel_size_; }
  Pair strides() const { return strides_; }
  const std::string& padding() const { return padding_; }
  const std::optional<std::string>& data_format() const { return data_format_; }
  Pair dilation_rate() const { return dilation_rate_; }
  int64_t groups() const { return groups_; }
  const std::string& activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }

 private:
  int64_t filters_;
  Pair kernel_size_, strides_{1, 1}, dilation_rate_{1, 1};
  std::string padding_ = "valid";
  std::optional<std::string> data_format_;
  int64_t groups_ = 1;
  std::string activation_ = "linear";  // canonical Keras name
  bool use_bias_ = true;
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

  // The options as given (raw values) and the validated arguments.
  const Conv2DOptions& options() const { return options_; }
  Padding padding() const { return padding_; }
  DataFormat data_format() const { return data_format_; }
  Variable<T> kernel() const { return this->weight("kernel").variable; }

 private:
  Conv2DOptions options_;
  Padding padding_;
  DataFormat data_format_;
  sepconv::Activation<T> activation_;
};

}  // namespace sepconv

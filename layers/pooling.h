#pragma once
// Keras's 2-D pooling layers: MaxPooling2D, AveragePooling2D,
// GlobalAveragePooling2D, GlobalMaxPooling2D. NHWC inside; channels_first inputs are transposed at
// the layer boundary.
//
//   auto pool = std::make_shared<MaxPooling2D<float>>(Pooling2DOptions(2));
//   auto avg = std::make_shared<AveragePooling2D<float>>(Pooling2DOptions({3, 3}).strides(1).padding("same"));
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sepconv/core/geometry.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// Keras's arguments of MaxPooling2D / AveragePooling2D (checked when the layer is made).
class Pooling2DOptions : public LayerOptions<Pooling2DOptions> {
 public:
  using Pair = std::array<int64_t, 2>;
  Pooling2DOptions(int64_t pool_size = 2) : pool_size_{pool_size, pool_size} {}  // NOLINT: implicit, as Keras takes an int
  Pooling2DOptions(Pair pool_size) : pool_size_(pool_size) {}  // NOLINT
  // From a Keras config of `class_name` ("MaxPooling2D" or "AveragePooling2D"):
  // pool_size, strides, padding, data_format, name, trainable, dtype.
  static Pooling2DOptions from_config(const nlohmann::json& config, const std::string& class_name);

  Pooling2DOptions& pool_size(int64_t v) { return pool_size(v, v); }
  Pooling2DOptions& pool_size(int64_t h, int64_t w) { return pool_size(Pair{h, w}); }
  Pooling2DOptions& pool_size(Pair v) { pool_size_ = v; return *this; }
  // Unset (default, or nullopt): pool_size.
  Pooling2DOptions& strides(int64_t v) { return strides(v, v); }
  Pooling2DOptions& strides(int64_t h, int64_t w) { return strides(Pair{h, w}); }
  Pooling2DOptions& strides(std::optional<Pair> v) { strides_ = v; return *this; }
  Pooling2DOptions& strides(Pair v) { strides_ = v; return *this; }
  // "valid" (default) or "same", case-insensitive.
  Pooling2DOptions& padding(std::string v) { padding_ = std::move(v); return *this; }
  Pooling2DOptions& padding(Padding v) { padding_ = padding_name(v); return *this; }
  // "channels_last" / "channels_first"; unset: keras.config.image_data_format().
  Pooling2DOptions& data_format(std::optional<std::string> v) { data_format_ = std::move(v); return *this; }
  Pooling2DOptions& data_format(DataFormat v) { data_format_ = data_format_name(v); return *this; }

  Pair pool_size() const { return pool_size_; }
  const std::optional<Pair>& strides() const { return strides_; }
  const std::string& padding() const { return padding_; }
  const std::optional<std::string>& data_format() const { return data_format_; }

 private:
  Pair pool_size_;
  std::optional<Pair> strides_;
  std::string padding_ = "valid";
  std::optional<std::string> data_format_;
};

// Shared by the two windowed poolings.
template <typename T>
class Pooling2D : public Layer<T> {
 public:
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

  std::array<int64_t, 2> pool_size() const { return pool_size_; }
  std::array<int64_t, 2> strides() const { return strides_; }
  Padding padding() const { return padding_; }
  DataFormat data_format() const { return data_format_; }

 protected:
  Pooling2D(const Pooling2DOptions& options, const char* default_name, const char* class_name);
  // The pooling op on NHWC data.
  virtual Variable<T> pool(const Variable<T>& x) const = 0;

 private:
  std::array<int64_t, 2> pool_size_, strides_;
  Padding padding_;
  DataFormat data_format_;
};

template <typename T>
class MaxPooling2D : public Pooling2D<T> {
 public:
  explicit MaxPooling2D(const Pooling2DOptions& options = {}) : Pooling2D<T>(options, "max_pooling2d", "MaxPooling2D") {}
  std::string class_name() const override { return "MaxPooling2D"; }
  // From a Keras config: pool_size, strides, padding, data_format, name, trainable, dtype.
  static std::shared_ptr<MaxPooling2D<T>> from_config(const nlohmann::json& config);

 protected:
  Variable<T> pool(const Variable<T>& x) const override;
};

template <typename T>
class AveragePooling2D : public Pooling2D<T> {
 public:
  explicit AveragePooling2D(const Pooling2DOptions& options = {}) : Pooling2D<T>(options, "average_pooling2d", "AveragePooling2D") {}
  std::string class_name() const override { return "AveragePooling2D"; }
  // From a Keras config: pool_size, strides, padding, data_format, name, trainable, dtype.
  static std::shared_ptr<AveragePooling2D<T>> from_config(const nlohmann::json& config);

 protected:
  Variable<T> pool(const Variable<T>& x) const override;
};

class GlobalPooling2DOptions : public LayerOptions<GlobalPooling2DOptions> {
 public:
  // From a Keras config of `class_name` ("GlobalAveragePooling2D" or
  // "GlobalMaxPooling2D"): data_format, keepdims, name, trainable, dtype.
  static GlobalPooling2DOptions from_config(const nlohmann::json& config, const std::string& class_name);

  // "channels_last" / "channels_first"; unset: keras.config.image_data_format().
  GlobalPooling2DOptions& data_format(std::optional<std::string> v) { data_format_ = std::move(v); return *this; }
  GlobalPooling2DOptions& data_format(DataFormat v) { data_format_ = data_format_name(v); return *this; }
  // Keep the spatial axes as size 1: (batch, 1, 1, channels).
  GlobalPooling2DOptions& keepdims(bool k) { keepdims_ = k; return *this; }

  const std::optional<std::string>& data_format() const { return data_format_; }
  bool keepdims() const { return keepdims_; }

 private:
  std::optional<std::string> data_format_;
  bool keepdims_ = false;
};

// Shared by the two global poolings: (batch, h, w, c) -> (batch, c), or
// (batch, 1, 1, c) with keepdims (channels_first: (batch, c, 1, 1)).
template <typename T>
class GlobalPooling2D : public Layer<T> {
 public:
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

  DataFormat data_format() const { return data_format_; }
  bool keepdims() const { return keepdims_; }

 protected:
  GlobalPooling2D(const GlobalPooling2DOptions& options, const char* default_name, const char* class_name);
  // The reduction on NHWC data.
  virtual Variable<T> pool(const Variable<T>& x, bool keepdims) const = 0;

 private:
  DataFormat data_format_;
  bool keepdims_;
};

// The mean over the spatial axes.
template <typename T>
class GlobalAveragePooling2D : public GlobalPooling2D<T> {
 public:
  explicit GlobalAveragePooling2D(const GlobalPooling2DOptions& options = {})
      : GlobalPooling2D<T>(options, "global_average_pooling2d", "GlobalAveragePooling2D") {}
  std::string class_name() const override { return "GlobalAveragePooling2D"; }
  // From a Keras config: data_format, keepdims, name, trainable, dtype.
  static std::shared_ptr<GlobalAveragePooling2D<T>> from_config(const nlohmann::json& config);

 protected:
  Variable<T> pool(const Variable<T>& x, bool keepdims) const override;
};

// The max over the spatial axes; the gradient is shared equally among the
// positions that reach it (tf.reduce_max's rule, autograd/array_ops.h).
template <typename T>
class GlobalMaxPooling2D : public GlobalPooling2D<T> {
 public:
  explicit GlobalMaxPooling2D(const GlobalPooling2DOptions& options = {})
      : GlobalPooling2D<T>(options, "global_max_pooling2d", "GlobalMaxPooling2D") {}
  std::string class_name() const override { return "GlobalMaxPooling2D"; }
  // From a Keras config: data_format, keepdims, name, trainable, dtype.
  static std::shared_ptr<GlobalMaxPooling2D<T>> from_config(const nlohmann::json& config);

 protected:
  Variable<T> pool(const Variable<T>& x, bool keepdims) const override;
};

}  // namespace sepconv

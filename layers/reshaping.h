#pragma once
// Keras's reshaping layers: ZeroPadding2D and Reshape.
//
//   auto pad = std::make_shared<ZeroPadding2D<float>>(ZeroPadding2DOptions().padding({{1, 2}, {0, 3}}));
//   auto flat = std::make_shared<Reshape<float>>(ReshapeOptions({-1, 8}));
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sepconv/core/geometry.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// ((top, bottom), (left, right))
using Padding2D = std::array<std::array<int64_t, 2>, 2>;

class ZeroPadding2DOptions : public LayerOptions<ZeroPadding2DOptions> {
 public:
  // From a Keras config: padding (an int, 2 ints or 2 pairs), data_format, name, trainable, dtype.
  static ZeroPadding2DOptions from_config(const nlohmann::json& config);
  // The same padding on every side; default 1. Every entry must be >= 0.
  ZeroPadding2DOptions& padding(int64_t p) { padding_ = {{{p, p}, {p, p}}}; return *this; }
  // (symmetric_height_pad, symmetric_width_pad).
  ZeroPadding2DOptions& padding(int64_t h, int64_t w) { padding_ = {{{h, h}, {w, w}}}; return *this; }
  ZeroPadding2DOptions& padding(std::array<int64_t, 2> p) { return padding(p[0], p[1]); }
  // ((top_pad, bottom_pad), (left_pad, right_pad)).
  ZeroPadding2DOptions& padding(Padding2D p) { padding_ = p; return *this; }
  // "channels_last" / "channels_first"; unset: keras.config.image_data_format().
  ZeroPadding2DOptions& data_format(std::optional<std::string> v) { data_format_ = std::move(v); return *this; }
  ZeroPadding2DOptions& data_format(DataFormat v) { data_format_ = data_format_name(v); return *this; }

  const Padding2D& padding() const { return padding_; }
  const std::optional<std::string>& data_format() const { return data_format_; }

 private:
  Padding2D padding_{{{1, 1}, {1, 1}}};
  std::optional<std::string> data_format_;
};

// Adds rows and columns of zeros around each image (a rank-4 input).
template <typename T>
class ZeroPadding2D : public Layer<T> {
 public:
  // ValueError for a negative padding.
  explicit ZeroPadding2D(const ZeroPadding2DOptions& options = {});
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "ZeroPadding2D"; }
  // From a Keras config (ZeroPadding2DOptions::from_config).
  static std::shared_ptr<ZeroPadding2D<T>> from_config(const nlohmann::json& config);

  const Padding2D& padding() const { return padding_; }
  DataFormat data_format() const { return data_format_; }

 private:
  Padding2D padding_;
  DataFormat data_format_;
};

class ReshapeOptions : public LayerOptions<ReshapeOptions> {
 public:
  // The per-sample shape of the output (the batch axis stays); one entry may
  // be -1, inferred from the input's size.
  explicit ReshapeOptions(Shape target_shape) : target_shape_(std::move(target_shape)) {}
  // From a Keras config: target_shape (required), name, trainable, dtype.
  static ReshapeOptions from_config(const nlohmann::json& config);
  ReshapeOptions& target_shape(Shape v) { target_shape_ = std::move(v); return *this; }
  const Shape& target_shape() const { return target_shape_; }

 private:
  Shape target_shape_;
};

// (batch, ...) -> (batch, *target_shape), the elements in row-major order.
template <typename T>
class Reshape : public Layer<T> {
 public:
  // ValueError for more than one -1, or an entry below -1.
  explicit Reshape(const ReshapeOptions& options);
  Variable<T> call(const Variable<T>& x, bool training) override;
  // ValueError (Keras's compute_reshape_output_shape wording) when the sizes differ.
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "Reshape"; }
  // From a Keras config (ReshapeOptions::from_config).
  static std::shared_ptr<Reshape<T>> from_config(const nlohmann::json& config);

  const Shape& target_shape() const { return target_shape_; }

 private:
  Shape target_shape_;
};

}  // namespace sepconv

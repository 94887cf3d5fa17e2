#pragma once
// Argument and input checks shared by the layers, with Keras's wording: one
// wording for every invalid argument (invalid_argument, ArgumentCheck; the
// config reader's too) and Keras's InputSpec messages for inputs.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/core/geometry.h"
#include "sepconv/core/tensor.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/constraints.h"
#include "sepconv/layers/initializers.h"
#include "sepconv/layers/regularizers.h"

namespace sepconv::layer_detail {

// Keras's InputSpec message for an input of the wrong rank.
inline void require_input_ndim(const std::string& layer, const Shape& shape, int64_t ndim) {
  if (static_cast<int64_t>(shape.size()) != ndim)
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: expected ndim={}, found "
                                 "ndim={}. Full shape received: {}",
                                 layer, ndim, shape.size(), shape_str(shape)));
}
inline void require_input_min_ndim(const std::string& layer, const Shape& shape, int64_t min_ndim) {
  if (static_cast<int64_t>(shape.size()) < min_ndim)
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: expected min_ndim={}, "
                                 "found ndim={}. Full shape received: {}",
                                 layer, min_ndim, shape.size(), shape_str(shape)));
}
// The axis the layer was built for must keep its size.
inline void require_input_axis(const std::string& layer, const Shape& shape, int64_t axis, int64_t value) {
  const int64_t a = axis < 0 ? axis + static_cast<int64_t>(shape.size()) : axis;
  if (a < 0 || a >= static_cast<int64_t>(shape.size()) || shape[a] != value)
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: expected axis {} of input "
                                 "shape to have value {}, but received input with shape {}",
                                 layer, axis, value, shape_str(shape)));
}

// The one wording of an invalid constructor argument, Keras's:
//   Invalid value for argument `strides` of Conv2D layer 'stem': expected a
//   tuple of 2 positive integers (strides must be > 0). Received: strides=(0, 1)
// `class_name` and `layer_name` are left out of the message when empty.
[[noreturn]] inline void invalid_argument(const std::string& argument, const std::string& expected,
                                          const std::string& received, const std::string& class_name = {},
                                          const std::string& layer_name = {}) {
  std::string owner;
  if (!class_name.empty())
    owner = layer_name.empty() ? fmt::format(" of {} layer", class_name)
                               : fmt::format(" of {} layer '{}'", class_name, layer_name);
  throw ValueError(fmt::format("Invalid value for argument `{}`{}: expected {}. Received: {}={}", argument, owner,
                               expected, argument, received));
}

inline std::string pair_str(std::array<int64_t, 2> v) { return fmt::format("({}, {})", v[0], v[1]); }

// The checks of a layer's constructor arguments, each failing through
// invalid_argument with the layer's class and name:
//   const ArgumentCheck check{"Conv2D", this->name()};
//   check.positive("filters", options.filters());
struct ArgumentCheck {
  std::string class_name, layer_name;

  [[noreturn]] void fail(const std::string& argument, const std::string& expected, const std::string& received) const {
    invalid_argument(argument, expected, received, class_name, layer_name);
  }
  // An int > 0 (filters, units, depth_multiplier, groups).
  int64_t positive(const std::string& argument, int64_t v) const {
    if (v <= 0) fail(argument, fmt::format("a positive integer ({} must be > 0)", argument), std::to_string(v));
    return v;
  }
  // Keras's standardize_tuple: both values > 0, or >= 0 with allow_zero
  // (kernel_size, strides, dilation_rate, pool_size, padding).
  std::array<int64_t, 2> positive_pair(const std::string& argument, std::array<int64_t, 2> v,
                                       bool allow_zero = false) const {
    if (allow_zero ? (v[0] < 0 || v[1] < 0) : (v[0] <= 0 || v[1] <= 0))
      fail(argument,
           allow_zero ? fmt::format("a tuple of 2 non-negative integers ({} must be >= 0)", argument)
                      : fmt::format("a tuple of 2 positive integers ({} must be > 0)", argument),
           pair_str(v));
    return v;
  }
  // A float >= 0, not NaN (epsilon, negative_slope, threshold, max_value).
  double non_negative(const std::string& argument, double v) const {
    if (!(v >= 0.0)) fail(argument, fmt::format("a float >= 0 ({} cannot be negative)", argument), fmt::format("{}", v));
    return v;
  }
  // A finite float (momentum, epsilon).
  double finite(const std::string& argument, double v) const {
    if (!std::isfinite(v)) fail(argument, "a finite float", fmt::format("{}", v));
    return v;
  }
  // A float in [lo, hi] (Dropout's rate).
  double in_range(const std::string& argument, double v, double lo, double hi) const {
    if (!(v >= lo && v <= hi)) fail(argument, fmt::format("a float in [{}, {}]", lo, hi), fmt::format("{}", v));
    return v;
  }
  // Keras's convolutions refuse strides > 1 together with dilation_rate > 1.
  void strides_or_dilation(std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation_rate) const {
    if (std::max(strides[0], strides[1]) > 1 && std::max(dilation_rate[0], dilation_rate[1]) > 1)
      fail("dilation_rate", fmt::format("(1, 1) when strides={} (strides > 1 with dilation_rate > 1 is not supported)",
                                        pair_str(strides)),
           pair_str(dilation_rate));
  }
  // "valid" or "same", case-insensitive.
  Padding padding(const std::string& v) const {
    try {
      return parse_padding(v);
    } catch (const ValueError&) {
      fail("padding", "a padding name: padding must be 'valid' or 'same' (case-insensitive)", v);
    }
  }
  // "channels_last" or "channels_first", case-insensitive; unset: keras.config.image_data_format().
  DataFormat data_format(const std::optional<std::string>& v) const {
    if (!v) return parse_data_format(image_data_format());
    try {
      return parse_data_format(*v);
    } catch (const ValueError&) {
      fail("data_format", "'channels_last' or 'channels_first' (case-insensitive)", *v);
    }
  }
  // The window of a convolution: kernel_size, strides and dilation_rate, in
  // the order of Keras's BaseConv constructor.
  void conv_window(std::array<int64_t, 2> kernel_size, std::array<int64_t, 2> strides,
                   std::array<int64_t, 2> dilation_rate) const {
    positive_pair("kernel_size", kernel_size);
    positive_pair("strides", strides);
    positive_pair("dilation_rate", dilation_rate);
    strides_or_dilation(strides, dilation_rate);
  }
  // The layer's dtype argument: unset, or the name of its element type.
  template <typename T>
  void dtype(const std::optional<std::string>& v) const {
    if (v && *v != DTypeName<T>::value)
      fail("dtype", fmt::format("'{}' (the layer computes in {}) or unset", DTypeName<T>::value, DTypeName<T>::value),
           *v);
  }
};

// A registry object as Keras serializes it in a layer config: null or {"class_name", "config"}.
template <typename P>
nlohmann::json serialize_or_null(const std::shared_ptr<P>& p) {
  return p ? serialize(*p) : nlohmann::json(nullptr);
}

}  // namespace sepconv::layer_detail

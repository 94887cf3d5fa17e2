#pragma once
// Argument and input checks shared by the layers of layers/{dense,pooling,
// normalization,core_layers,depthwise_conv2d}.h, with Keras's wording.
#include <array>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/core/tensor.h"
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

// Keras's standardize_tuple: every value must be > 0 (or >= 0 where allowed).
inline std::array<int64_t, 2> require_positive_pair(const char* name, std::array<int64_t, 2> v, bool allow_zero = false) {
  const bool bad = allow_zero ? (v[0] < 0 || v[1] < 0) : (v[0] <= 0 || v[1] <= 0);
  if (bad)
    throw ValueError(fmt::format("The `{}` argument must be a tuple of 2 integers. Received {}=({}, {}) including "
                                 "values that do not satisfy `value {} 0`",
                                 name, name, v[0], v[1], allow_zero ? ">=" : ">"));
  return v;
}

// A registry object as Keras serializes it in a layer config: null or {"class_name", "config"}.
template <typename P>
nlohmann::json serialize_or_null(const std::shared_ptr<P>& p) {
  return p ? serialize(*p) : nlohmann::json(nullptr);
}

}  // namespace sepconv::layer_detail

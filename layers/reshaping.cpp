#include "sepconv/layers/reshaping.h"

#include <algorithm>

#include <fmt/format.h>

#include "sepconv/autograd/array_ops.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/core/error.h"
#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/layer_checks.h"

namespace sepconv {

using layer_detail::require_input_ndim;

template <typename T>
ZeroPadding2D<T>::ZeroPadding2D(const ZeroPadding2DOptions& o)
    : Layer<T>(layer_name_from(o, "zero_padding2d")), padding_(o.padding()) {
  const layer_detail::ArgumentCheck check = apply_layer_arguments(*this, o, "ZeroPadding2D");
  // Keras's standardize_tuple(..., allow_zero=True) of each entry.
  if (padding_[0][0] < 0 || padding_[0][1] < 0 || padding_[1][0] < 0 || padding_[1][1] < 0)
    check.fail("padding", "((top_pad, bottom_pad), (left_pad, right_pad)) of integers >= 0 (padding must be >= 0)",
               fmt::format("(({}, {}), ({}, {}))", padding_[0][0], padding_[0][1], padding_[1][0], padding_[1][1]));
  data_format_ = check.data_format(o.data_format());
}

template <typename T>
Shape ZeroPadding2D<T>::compute_output_shape(const Shape& s) const {
  require_input_ndim(this->name(), s, 4);
  const int64_t hi = data_format_ == DataFormat::ChannelsFirst ? 2 : 1;
  Shape out = s;
  out[hi] += padding_[0][0] + padding_[0][1];
  out[hi + 1] += padding_[1][0] + padding_[1][1];
  return out;
}

template <typename T>
Variable<T> ZeroPadding2D<T>::call(const Variable<T>& x, bool) {
  compute_output_shape(x.shape());
  if (data_format_ == DataFormat::ChannelsFirst) return nhwc_to_nchw(zero_pad2d(nchw_to_nhwc(x), padding_));
  return zero_pad2d(x, padding_);
}

template <typename T>
nlohmann::json ZeroPadding2D<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["padding"] = {{padding_[0][0], padding_[0][1]}, {padding_[1][0], padding_[1][1]}};
  c["data_format"] = data_format_name(data_format_);
  return c;
}

namespace {
// Keras's accepted forms: n, (h, w), ((top, bottom), (left, right)), each
// entry of the pair form being an int or a pair.
Padding2D padding_from_json(ConfigReader& reader) {
  const nlohmann::json& v = reader.raw("padding");
  const char* expected =
      "an int, a tuple of 2 ints (symmetric_height_pad, symmetric_width_pad), or a tuple of 2 tuples of 2 ints "
      "((top_pad, bottom_pad), (left_pad, right_pad))";
  if (v.is_null()) return {{{1, 1}, {1, 1}}};
  if (v.is_number_integer()) {
    const int64_t p = v.get<int64_t>();
    return {{{p, p}, {p, p}}};
  }
  if (!v.is_array()) reader.fail("padding", expected);
  if (v.size() != 2)
    throw ValueError(fmt::format("`padding` should have two elements. Received: padding={}.", v.dump()));
  Padding2D out{};
  for (size_t i = 0; i < 2; ++i) {
    const nlohmann::json& e = v[i];
    if (e.is_number_integer()) {
      out[i] = {e.get<int64_t>(), e.get<int64_t>()};
    } else if (e.is_array() && e.size() == 2 && e[0].is_number_integer() && e[1].is_number_integer()) {
      out[i] = {e[0].get<int64_t>(), e[1].get<int64_t>()};
    } else {
      reader.fail("padding", expected);
    }
  }
  return out;
}
}  // namespace

ZeroPadding2DOptions ZeroPadding2DOptions::from_config(const nlohmann::json& config) {
  ConfigReader reader(config, "ZeroPadding2D");
  ZeroPadding2DOptions options;
  options.read_layer_arguments(reader);
  options.padding(padding_from_json(reader));
  options.data_format(reader.optional_string("data_format"));
  reader.finish();
  return options;
}

template <typename T>
std::shared_ptr<ZeroPadding2D<T>> ZeroPadding2D<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<ZeroPadding2D<T>>(ZeroPadding2DOptions::from_config(config));
}

template <typename T>
Reshape<T>::Reshape(const ReshapeOptions& o)
    : Layer<T>(layer_name_from(o, "reshape")), target_shape_(o.target_shape()) {
  const layer_detail::ArgumentCheck check = apply_layer_arguments(*this, o, "Reshape");
  if (std::count(target_shape_.begin(), target_shape_.end(), int64_t{-1}) > 1 ||
      std::any_of(target_shape_.begin(), target_shape_.end(), [](int64_t d) { return d < -1; }))
    check.fail("target_shape", "sizes >= 0 and at most one -1 (target_shape must not contain more than one `-1`)",
               shape_str(target_shape_));
}

template <typename T>
Shape Reshape<T>::compute_output_shape(const Shape& s) const {
  if (s.empty())
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: expected min_ndim=1, found "
                                 "ndim=0. Full shape received: ()",
                                 this->name()));
  const Shape sample(s.begin() + 1, s.end());
  int64_t input_size = 1, known = 1;
  for (int64_t d : sample) input_size *= d;
  const auto unknown = std::find(target_shape_.begin(), target_shape_.end(), int64_t{-1});
  for (int64_t d : target_shape_)
    if (d != -1) known *= d;
  Shape out = target_shape_;
  if (unknown == target_shape_.end()) {
    if (known != input_size)
      throw ValueError(fmt::format("Layer \"{}\" (Reshape): The total size of the tensor must be unchanged. Received: "
                                   "input_shape={}, target_shape={}",
                                   this->name(), shape_str(sample), shape_str(target_shape_)));
  } else {
    if (known == 0 || input_size % known != 0)
      throw ValueError(fmt::format("Layer \"{}\" (Reshape): The total size of the tensor must be unchanged, however, "
                                   "the input size {} is not divisible by the specified dimensions {}. Received: "
                                   "input_shape={}, target_shape={}",
                                   this->name(), input_size, known, shape_str(sample), shape_str(target_shape_)));
    out[unknown - target_shape_.begin()] = input_size / known;
  }
  out.insert(out.begin(), s[0]);
  return out;
}

template <typename T>
Variable<T> Reshape<T>::call(const Variable<T>& x, bool) {
  return reshape(x, compute_output_shape(x.shape()));
}

template <typename T>
nlohmann::json Reshape<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["target_shape"] = target_shape_;
  return c;
}

ReshapeOptions ReshapeOptions::from_config(const nlohmann::json& config) {
  ConfigReader reader(config, "Reshape");
  if (!reader.has("target_shape")) reader.fail("target_shape", "a list of integers (the argument is required)");
  ReshapeOptions options(reader.integers("target_shape"));
  options.read_layer_arguments(reader);
  reader.finish();
  return options;
}

template <typename T>
std::shared_ptr<Reshape<T>> Reshape<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<Reshape<T>>(ReshapeOptions::from_config(config));
}

template class ZeroPadding2D<float>;
template class ZeroPadding2D<double>;
template class Reshape<float>;
template class Reshape<double>;

}  // namespace sepconv

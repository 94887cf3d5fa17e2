#include "sepconv/layers/pooling.h"

#include "sepconv/autograd/array_ops.h"
#include "sepconv/autograd/nn_ops.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/layer_checks.h"

namespace sepconv {

using layer_detail::require_input_ndim;

namespace {
nlohmann::json pair_json(std::array<int64_t, 2> v) { return nlohmann::json::array({v[0], v[1]}); }
}  // namespace

template <typename T>
Pooling2D<T>::Pooling2D(const Pooling2DOptions& o, const char* default_name, const char* class_name)
    : Layer<T>(layer_name_from(o, default_name)) {
  const layer_detail::ArgumentCheck check = apply_layer_arguments(*this, o, class_name);
  pool_size_ = check.positive_pair("pool_size", o.pool_size());
  strides_ = check.positive_pair("strides", o.strides().value_or(o.pool_size()));
  padding_ = check.padding(o.padding());
  data_format_ = check.data_format(o.data_format());
}

template <typename T>
Shape Pooling2D<T>::compute_output_shape(const Shape& s) const {
  require_input_ndim(this->name(), s, 4);
  const bool cf = data_format_ == DataFormat::ChannelsFirst;
  const int64_t h = cf ? s[2] : s[1], w = cf ? s[3] : s[2], c = cf ? s[1] : s[3];
  const int64_t oh = conv_output_length(h, pool_size_[0], strides_[0], 1, padding_);
  const int64_t ow = conv_output_length(w, pool_size_[1], strides_[1], 1, padding_);
  if (oh <= 0 || ow <= 0)
    throw ValueError(fmt::format("Computed output size would be negative or zero for layer \"{}\": output size ({}, "
                                 "{}) for input shape {}, pool_size=({}, {}), strides=({}, {}), padding={}",
                                 this->name(), oh, ow, shape_str(s), pool_size_[0], pool_size_[1], strides_[0],
                                 strides_[1], padding_name(padding_)));
  return cf ? Shape{s[0], c, oh, ow} : Shape{s[0], oh, ow, c};
}

template <typename T>
Variable<T> Pooling2D<T>::call(const Variable<T>& x, bool) {
  compute_output_shape(x.shape());  // the layer's own error before the op's
  if (data_format_ == DataFormat::ChannelsFirst) return nhwc_to_nchw(pool(nchw_to_nhwc(x)));
  return pool(x);
}

template <typename T>
nlohmann::json Pooling2D<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["pool_size"] = pair_json(pool_size_);
  c["padding"] = padding_name(padding_);
  c["strides"] = pair_json(strides_);
  c["data_format"] = data_format_name(data_format_);
  return c;
}

template <typename T>
Variable<T> MaxPooling2D<T>::pool(const Variable<T>& x) const {
  return max_pool2d<T>(x, this->pool_size(), this->strides(), this->padding());
}

template <typename T>
Variable<T> AveragePooling2D<T>::pool(const Variable<T>& x) const {
  return avg_pool2d<T>(x, this->pool_size(), this->strides(), this->padding());
}

// Keras's Pooling2D arguments (pool_size=(2, 2), strides=None, padding="valid", data_format=None).
Pooling2DOptions Pooling2DOptions::from_config(const nlohmann::json& config, const std::string& class_name) {
  ConfigReader reader(config, class_name);
  Pooling2DOptions options(reader.pair("pool_size", {2, 2}));
  options.read_layer_arguments(reader);
  if (reader.has("strides")) options.strides(reader.pair("strides", {0, 0}));
  options.padding(reader.string("padding", "valid"));
  options.data_format(reader.optional_string("data_format"));
  reader.finish();
  return options;
}

GlobalPooling2DOptions GlobalPooling2DOptions::from_config(const nlohmann::json& config,
                                                           const std::string& class_name) {
  ConfigReader reader(config, class_name);
  GlobalPooling2DOptions options;
  options.read_layer_arguments(reader);
  options.data_format(reader.optional_string("data_format"));
  options.keepdims(reader.boolean("keepdims", false));
  reader.finish();
  return options;
}

template <typename T>
std::shared_ptr<MaxPooling2D<T>> MaxPooling2D<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<MaxPooling2D<T>>(Pooling2DOptions::from_config(config, "MaxPooling2D"));
}

template <typename T>
std::shared_ptr<AveragePooling2D<T>> AveragePooling2D<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<AveragePooling2D<T>>(Pooling2DOptions::from_config(config, "AveragePooling2D"));
}

template <typename T>
GlobalPooling2D<T>::GlobalPooling2D(const GlobalPooling2DOptions& o, const char* default_name,
                                    const char* class_name)
    : Layer<T>(layer_name_from(o, default_name)), keepdims_(o.keepdims()) {
  data_format_ = apply_layer_arguments(*this, o, class_name).data_format(o.data_format());
}

template <typename T>
Shape GlobalPooling2D<T>::compute_output_shape(const Shape& s) const {
  require_input_ndim(this->name(), s, 4);
  const bool cf = data_format_ == DataFormat::ChannelsFirst;
  const int64_t c = cf ? s[1] : s[3];
  if (!keepdims_) return {s[0], c};
  return cf ? Shape{s[0], c, 1, 1} : Shape{s[0], 1, 1, c};
}

template <typename T>
Variable<T> GlobalPooling2D<T>::call(const Variable<T>& x, bool) {
  compute_output_shape(x.shape());
  if (data_format_ == DataFormat::ChannelsFirst) {
    Variable<T> y = pool(nchw_to_nhwc(x), keepdims_);
    return keepdims_ ? nhwc_to_nchw(y) : y;
  }
  return pool(x, keepdims_);
}

template <typename T>
nlohmann::json GlobalPooling2D<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["data_format"] = data_format_name(data_format_);
  c["keepdims"] = keepdims_;
  return c;
}

template <typename T>
Variable<T> GlobalAveragePooling2D<T>::pool(const Variable<T>& x, bool keepdims) const {
  return global_average_pool2d<T>(x, keepdims);
}

template <typename T>
Variable<T> GlobalMaxPooling2D<T>::pool(const Variable<T>& x, bool keepdims) const {
  return global_max_pool2d<T>(x, keepdims);
}

template <typename T>
std::shared_ptr<GlobalAveragePooling2D<T>> GlobalAveragePooling2D<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<GlobalAveragePooling2D<T>>(
      GlobalPooling2DOptions::from_config(config, "GlobalAveragePooling2D"));
}

template <typename T>
std::shared_ptr<GlobalMaxPooling2D<T>> GlobalMaxPooling2D<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<GlobalMaxPooling2D<T>>(GlobalPooling2DOptions::from_config(config, "GlobalMaxPooling2D"));
}

template class Pooling2D<float>;
template class Pooling2D<double>;
template class MaxPooling2D<float>;
template class MaxPooling2D<double>;
template class AveragePooling2D<float>;
template class AveragePooling2D<double>;
template class GlobalPooling2D<float>;
template class GlobalPooling2D<double>;
template class GlobalAveragePooling2D<float>;
template class GlobalAveragePooling2D<double>;
template class GlobalMaxPooling2D<float>;
template class GlobalMaxPooling2D<double>;

}  // namespace sepconv

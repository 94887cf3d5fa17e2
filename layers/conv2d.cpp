#include "sepconv/layers/conv2d.h"

#include <algorithm>

#include <fmt/format.h>

#include "sepconv/autograd/conv2d.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/layer_checks.h"

namespace sepconv {

namespace {
nlohmann::json pair_json(std::array<int64_t, 2> v) { return nlohmann::json::array({v[0], v[1]}); }
}  // namespace

Conv2DOptions::Conv2DOptions(int64_t filters, Pair kernel_size) : filters_(filters), kernel_size_(kernel_size) {}

Conv2DOptions& Conv2DOptions::activation(const nlohmann::json& id) {
  activation_ = canonical_activation_name(id);
  return *this;
}

Conv2DOptions Conv2DOptions::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "Conv2D");
  Conv2DOptions o(r.required_integer("filters"), r.required_pair("kernel_size"));
  o.read_layer_arguments(r);
  o.strides(r.pair("strides", {1, 1}));
  o.padding(r.string("padding", "valid"));
  o.data_format(r.optional_string("data_format"));
  o.dilation_rate(r.pair("dilation_rate", {1, 1}));
  o.groups(r.integer("groups", 1));
  if (r.has("activation")) o.activation(r.raw("activation"));
  o.use_bias(r.boolean("use_bias", true));
  o.read_kernel_bias_arguments(r);
  if (r.integer("lora_rank", 0) != 0) r.fail("lora_rank", "null or 0 (LoRA is not supported)");
  r.optional_number("lora_alpha");
  r.finish();
  return o;
}

template <typename T>
Conv2D<T>::Conv2D(const Conv2DOptions& o)
    : Layer<T>(layer_name_from(o, "conv2d")), options_(o), activation_(get_activation<T>(o.activation())) {
  // The checks of Keras's BaseConv.__init__, in its order.
  const layer_detail::ArgumentCheck check = apply_layer_arguments(*this, o, "Conv2D");
  check.positive("filters", o.filters());
  check.positive("groups", o.groups());
  if (o.filters() % o.groups() != 0)
    check.fail("groups", fmt::format("a divisor of filters={}", o.filters()), std::to_string(o.groups()));
  check.conv_window(o.kernel_size(), o.strides(), o.dilation_rate());
  padding_ = check.padding(o.padding());
  data_format_ = check.data_format(o.data_format());
  this->set_activity_regularizer(o.activity_regularizer());
}

template <typename T>
std::shared_ptr<Conv2D<T>> Conv2D<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<Conv2D<T>>(Conv2DOptions::from_config(config));
}

template <typename T>
Shape Conv2D<T>::compute_output_shape(const Shape& s) const {
  layer_detail::require_input_ndim(this->name(), s, 4);
  const bool cf = data_format_ == DataFormat::ChannelsFirst;
  const int64_t c = cf ? s[1] : s[3];
  const auto& o = options_;
  if (this->built())
    layer_detail::require_input_axis(this->name(), s, cf ? 1 : -1,
                                     this->weight("kernel").variable.shape()[2] * o.groups());
  const int64_t h = cf ? s[2] : s[1], w = cf ? s[3] : s[2];
  const int64_t oh = conv_output_length(h, o.kernel_size()[0], o.strides()[0], o.dilation_rate()[0], padding_);
  const int64_t ow = conv_output_length(w, o.kernel_size()[1], o.strides()[1], o.dilation_rate()[1], padding_);
  if (oh <= 0 || ow <= 0)
    throw ValueError(fmt::format(
        "Computed output size would be negative. Received `inputs shape={}`, `kernel shape=({}, {}, {}, {})`, "
        "`dilation_rate=({}, {})`, layer \"{}\"",
        shape_str(s), o.kernel_size()[0], o.kernel_size()[1], c / o.groups(), o.filters(), o.dilation_rate()[0],
        o.dilation_rate()[1], this->name()));
  return cf ? Shape{s[0], o.filters(), oh, ow} : Shape{s[0], oh, ow, o.filters()};
}

template <typename T>
void Conv2D<T>::build(const Shape& s) {
  layer_detail::require_input_ndim(this->name(), s, 4);
  const int64_t c = data_format_ == DataFormat::ChannelsFirst ? s[1] : s[3];
  const auto& o = options_;
  if (c <= 0 || c % o.groups() != 0)
    throw ValueError(fmt::format("The number of input channels must be evenly divisible by the number of groups. "
                                 "Received groups={}, but the input has {} channels (full input shape is {}) "
                                 "(layer \"{}\").",
                                 o.groups(), c, shape_str(s), this->name()));
  compute_output_shape(s);
  this->add_weight("kernel", {o.kernel_size()[0], o.kernel_size()[1], c / o.groups(), o.filters()},
                   o.kernel_initializer(), o.kernel_regularizer(), o.kernel_constraint());
  if (o.use_bias()) this->add_weight("bias", {o.filters()}, o.bias_initializer(), o.bias_regularizer(), o.bias_constraint());
  this->built_ = true;
}

template <typename T>
Variable<T> Conv2D<T>::call(const Variable<T>& x, bool) {
  compute_output_shape(x.shape());
  const bool cf = data_format_ == DataFormat::ChannelsFirst;
  const auto& o = options_;
  std::optional<Variable<T>> bias;
  if (o.use_bias()) bias = this->weight("bias").variable;
  Variable<T> y = conv2d<T>(cf ? nchw_to_nhwc(x) : x, this->weight("kernel").variable, bias, o.strides(),
                            o.dilation_rate(), padding_, o.groups());
  y = activation_(y);
  return cf ? nhwc_to_nchw(y) : y;
}

template <typename T>
nlohmann::json Conv2D<T>::get_config() const {
  const auto& o = options_;
  nlohmann::json c = Layer<T>::get_config();
  c["filters"] = o.filters();
  c["kernel_size"] = pair_json(o.kernel_size());
  c["strides"] = pair_json(o.strides());
  c["padding"] = padding_name(padding_);
  c["data_format"] = data_format_name(data_format_);
  c["dilation_rate"] = pair_json(o.dilation_rate());
  c["groups"] = o.groups();
  c["activation"] = o.activation();
  c["use_bias"] = o.use_bias();
  o.write_kernel_bias_arguments(c, this->activity_regularizer());
  return c;
}

template class Conv2D<float>;
template class Conv2D<double>;

}  // namespace sepconv

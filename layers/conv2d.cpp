#include "sepconv/layers/conv2d.h"

#include <algorithm>

#include <fmt/format.h>

#include "sepconv/autograd/conv2d.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/layer_checks.h"

namespace sepconv {

using layer_detail::serialize_or_null;

namespace {
nlohmann::json pair_json(std::array<int64_t, 2> v) { return nlohmann::json::array({v[0], v[1]}); }
}  // namespace

Conv2DOptions::Conv2DOptions(int64_t filters, Pair kernel_size) : filters_(filters), kernel_size_(kernel_size) {
  // The checks and wording of Keras's BaseConv.__init__.
  if (filters <= 0)
    throw ValueError(fmt::format("Invalid value for argument `filters`. Expected a strictly positive value. Received "
                                 "filters={}.",
                                 filters));
  if (kernel_size[0] <= 0 || kernel_size[1] <= 0)
    throw ValueError(fmt::format("The argument `kernel_size` cannot contain 0. Received kernel_size=({}, {})",
                                 kernel_size[0], kernel_size[1]));
  kernel_initializer_ = get_initializer("glorot_uniform");
  bias_initializer_ = get_initializer("zeros");
}

void Conv2DOptions::check_strides_dilation() const {
  if (std::max(strides_[0], strides_[1]) > 1 && std::max(dilation_rate_[0], dilation_rate_[1]) > 1)
    throw ValueError(fmt::format("`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
                                 "strides=({}, {}) and dilation_rate=({}, {})",
                                 strides_[0], strides_[1], dilation_rate_[0], dilation_rate_[1]));
}

Conv2DOptions& Conv2DOptions::strides(Pair s) {
  if (s[0] <= 0 || s[1] <= 0)
    throw ValueError(fmt::format("The argument `strides` cannot contains 0(s). Received: strides=({}, {})", s[0], s[1]));
  strides_ = s;
  check_strides_dilation();
  return *this;
}

Conv2DOptions& Conv2DOptions::dilation_rate(Pair d) {
  if (d[0] <= 0 || d[1] <= 0)
    throw ValueError(fmt::format("The argument `dilation_rate` cannot contain 0(s). Received: dilation_rate=({}, {})",
                                 d[0], d[1]));
  dilation_rate_ = d;
  check_strides_dilation();
  return *this;
}

Conv2DOptions& Conv2DOptions::padding(const std::string& p) {
  padding_ = parse_padding(p);
  return *this;
}

Conv2DOptions& Conv2DOptions::groups(int64_t g) {
  if (g <= 0)
    throw ValueError(fmt::format("The number of groups must be a positive integer. Received: groups={}.", g));
  if (filters_ % g != 0)
    throw ValueError(fmt::format("The number of filters must be evenly divisible by the number of groups. Received: "
                                 "groups={}, filters={}.",
                                 g, filters_));
  groups_ = g;
  return *this;
}

Conv2DOptions& Conv2DOptions::activation(const nlohmann::json& id) {
  activation_ = canonical_activation_name(id);
  return *this;
}

Conv2DOptions& Conv2DOptions::kernel_initializer(std::shared_ptr<Initializer> i) {
  if (!i) throw ValueError("Could not interpret initializer identifier: None (kernel_initializer must not be None)");
  kernel_initializer_ = std::move(i);
  return *this;
}

Conv2DOptions& Conv2DOptions::bias_initializer(std::shared_ptr<Initializer> i) {
  if (!i) throw ValueError("Could not interpret initializer identifier: None (bias_initializer must not be None)");
  bias_initializer_ = std::move(i);
  return *this;
}

Conv2DOptions Conv2DOptions::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "Conv2D");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  Conv2DOptions o(r.required_integer("filters"), r.required_pair("kernel_size"));
  o.name(name);
  o.trainable_ = trainable;
  o.strides(r.pair("strides", {1, 1}));
  o.padding(r.string("padding", "valid"));
  if (auto f = r.optional_string("data_format")) o.data_format(*f);
  o.dilation_rate(r.pair("dilation_rate", {1, 1}));
  o.groups(r.integer("groups", 1));
  if (r.has("activation")) o.activation(r.raw("activation"));
  o.use_bias(r.boolean("use_bias", true));
  if (r.has("kernel_initializer")) o.kernel_initializer(r.raw("kernel_initializer"));
  if (r.has("bias_initializer")) o.bias_initializer(r.raw("bias_initializer"));
  if (r.has("kernel_regularizer")) o.kernel_regularizer(r.raw("kernel_regularizer"));
  if (r.has("bias_regularizer")) o.bias_regularizer(r.raw("bias_regularizer"));
  if (r.has("activity_regularizer")) o.activity_regularizer(r.raw("activity_regularizer"));
  if (r.has("kernel_constraint")) o.kernel_constraint(r.raw("kernel_constraint"));
  if (r.has("bias_constraint")) o.bias_constraint(r.raw("bias_constraint"));
  if (r.integer("lora_rank", 0) != 0) r.fail("lora_rank", "null or 0 (LoRA is not supported)");
  r.optional_number("lora_alpha");
  r.finish();
  return o;
}

template <typename T>
Conv2D<T>::Conv2D(const Conv2DOptions& o)
    : Layer<T>(o.name_.empty() ? unique_layer_name("conv2d") : o.name_),
      options_(o),
      data_format_(parse_data_format(o.data_format_ ? *o.data_format_ : image_data_format())),
      activation_(get_activation<T>(o.activation_)) {
  this->set_activity_regularizer(o.activity_regularizer_);
  this->set_trainable(o.trainable_);
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
                                     this->weight("kernel").variable.shape()[2] * o.groups_);
  const int64_t h = cf ? s[2] : s[1], w = cf ? s[3] : s[2];
  const int64_t oh = conv_output_length(h, o.kernel_size_[0], o.strides_[0], o.dilation_rate_[0], o.padding_);
  const int64_t ow = conv_output_length(w, o.kernel_size_[1], o.strides_[1], o.dilation_rate_[1], o.padding_);
  if (oh <= 0 || ow <= 0)
    throw ValueError(fmt::format(
        "Computed output size would be negative. Received `inputs shape={}`, `kernel shape=({}, {}, {}, {})`, "
        "`dilation_rate=({}, {})`, layer \"{}\"",
        shape_str(s), o.kernel_size_[0], o.kernel_size_[1], c / o.groups_, o.filters_, o.dilation_rate_[0],
        o.dilation_rate_[1], this->name()));
  return cf ? Shape{s[0], o.filters_, oh, ow} : Shape{s[0], oh, ow, o.filters_};
}

template <typename T>
void Conv2D<T>::build(const Shape& s) {
  layer_detail::require_input_ndim(this->name(), s, 4);
  const int64_t c = data_format_ == DataFormat::ChannelsFirst ? s[1] : s[3];
  const auto& o = options_;
  if (c <= 0 || c % o.groups_ != 0)
    throw ValueError(fmt::format("The number of input channels must be evenly divisible by the number of groups. "
                                 "Received groups={}, but the input has {} channels (full input shape is {}) "
                                 "(layer \"{}\").",
                                 o.groups_, c, shape_str(s), this->name()));
  compute_output_shape(s);
  this->add_weight("kernel", {o.kernel_size_[0], o.kernel_size_[1], c / o.groups_, o.filters_},
                   o.kernel_initializer_, o.kernel_regularizer_, o.kernel_constraint_);
  if (o.use_bias_) this->add_weight("bias", {o.filters_}, o.bias_initializer_, o.bias_regularizer_, o.bias_constraint_);
  this->built_ = true;
}

template <typename T>
Variable<T> Conv2D<T>::call(const Variable<T>& x, bool) {
  compute_output_shape(x.shape());
  const bool cf = data_format_ == DataFormat::ChannelsFirst;
  const auto& o = options_;
  std::optional<Variable<T>> bias;
  if (o.use_bias_) bias = this->weight("bias").variable;
  Variable<T> y = conv2d<T>(cf ? nchw_to_nhwc(x) : x, this->weight("kernel").variable, bias, o.strides_,
                            o.dilation_rate_, o.padding_, o.groups_);
  y = activation_(y);
  return cf ? nhwc_to_nchw(y) : y;
}

template <typename T>
nlohmann::json Conv2D<T>::get_config() const {
  const auto& o = options_;
  nlohmann::json c = Layer<T>::get_config();
  c["filters"] = o.filters_;
  c["kernel_size"] = pair_json(o.kernel_size_);
  c["strides"] = pair_json(o.strides_);
  c["padding"] = padding_name(o.padding_);
  c["data_format"] = data_format_name(data_format_);
  c["dilation_rate"] = pair_json(o.dilation_rate_);
  c["groups"] = o.groups_;
  c["activation"] = o.activation_;
  c["use_bias"] = o.use_bias_;
  c["kernel_initializer"] = serialize_or_null(o.kernel_initializer_);
  c["bias_initializer"] = serialize_or_null(o.bias_initializer_);
  c["kernel_regularizer"] = serialize_or_null(o.kernel_regularizer_);
  c["bias_regularizer"] = serialize_or_null(o.bias_regularizer_);
  c["activity_regularizer"] = serialize_or_null(this->activity_regularizer());
  c["kernel_constraint"] = serialize_or_null(o.kernel_constraint_);
  c["bias_constraint"] = serialize_or_null(o.bias_constraint_);
  return c;
}

template class Conv2D<float>;
template class Conv2D<double>;

}  // namespace sepconv

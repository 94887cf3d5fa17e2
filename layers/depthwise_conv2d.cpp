#include "sepconv/layers/depthwise_conv2d.h"

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/layers/layer_checks.h"
#include "sepconv/layers/config_reader.h"

namespace sepconv {

using layer_detail::serialize_or_null;

namespace {
nlohmann::json pair_json(std::array<int64_t, 2> v) { return nlohmann::json::array({v[0], v[1]}); }
}  // namespace

DepthwiseConv2DOptions::DepthwiseConv2DOptions(Pair kernel_size) : kernel_size_(kernel_size) {
  depthwise_initializer_ = get_initializer("glorot_uniform");
  bias_initializer_ = get_initializer("zeros");
}
DepthwiseConv2DOptions& DepthwiseConv2DOptions::activation(const nlohmann::json& id) {
  activation_ = canonical_activation_name(id);
  return *this;
}
DepthwiseConv2DOptions& DepthwiseConv2DOptions::depthwise_initializer(std::shared_ptr<Initializer> i) {
  if (!i) throw ValueError("Could not interpret initializer identifier: None (depthwise_initializer must not be None)");
  depthwise_initializer_ = std::move(i);
  return *this;
}
DepthwiseConv2DOptions& DepthwiseConv2DOptions::bias_initializer(std::shared_ptr<Initializer> i) {
  if (!i) throw ValueError("Could not interpret initializer identifier: None (bias_initializer must not be None)");
  bias_initializer_ = std::move(i);
  return *this;
}

DepthwiseConv2DOptions DepthwiseConv2DOptions::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "DepthwiseConv2D");
  DepthwiseConv2DOptions o(r.required_pair("kernel_size"));
  o.read_layer_arguments(r);
  o.strides(r.pair("strides", {1, 1}));
  o.padding(r.string("padding", "valid"));
  o.depth_multiplier(r.integer("depth_multiplier", 1));
  o.data_format(r.optional_string("data_format"));
  o.dilation_rate(r.pair("dilation_rate", {1, 1}));
  if (r.has("activation")) o.activation(r.raw("activation"));
  o.use_bias(r.boolean("use_bias", true));
  if (r.has("depthwise_initializer")) o.depthwise_initializer(r.raw("depthwise_initializer"));
  if (r.has("bias_initializer")) o.bias_initializer(r.raw("bias_initializer"));
  if (r.has("depthwise_regularizer")) o.depthwise_regularizer(r.raw("depthwise_regularizer"));
  if (r.has("bias_regularizer")) o.bias_regularizer(r.raw("bias_regularizer"));
  if (r.has("activity_regularizer")) o.activity_regularizer(r.raw("activity_regularizer"));
  if (r.has("depthwise_constraint")) o.depthwise_constraint(r.raw("depthwise_constraint"));
  if (r.has("bias_constraint")) o.bias_constraint(r.raw("bias_constraint"));
  r.finish();
  return o;
}

template <typename T>
DepthwiseConv2D<T>::DepthwiseConv2D(const DepthwiseConv2DOptions& o)
    : Layer<T>(layer_name_from(o, "depthwise_conv2d")), options_(o), activation_(get_activation<T>(o.activation())) {
  // The checks of Keras's BaseDepthwiseConv.__init__, in its order.
  const layer_detail::ArgumentCheck check = apply_layer_arguments(*this, o, "DepthwiseConv2D");
  check.positive("depth_multiplier", o.depth_multiplier());
  check.conv_window(o.kernel_size(), o.strides(), o.dilation_rate());
  padding_ = check.padding(o.padding());
  data_format_ = check.data_format(o.data_format());
  this->set_activity_regularizer(o.activity_regularizer());
}

template <typename T>
Shape DepthwiseConv2D<T>::compute_output_shape(const Shape& s) const {
  layer_detail::require_input_ndim(this->name(), s, 4);
  const bool cf = data_format_ == DataFormat::ChannelsFirst;
  const int64_t c = cf ? s[1] : s[3];
  if (this->built()) layer_detail::require_input_axis(this->name(), s, cf ? 1 : -1, this->weight("kernel").variable.shape()[2]);
  const auto& o = options_;
  const int64_t h = cf ? s[2] : s[1], w = cf ? s[3] : s[2];
  const int64_t oh = conv_output_length(h, o.kernel_size()[0], o.strides()[0], o.dilation_rate()[0], padding_);
  const int64_t ow = conv_output_length(w, o.kernel_size()[1], o.strides()[1], o.dilation_rate()[1], padding_);
  if (oh <= 0 || ow <= 0)
    throw ValueError(fmt::format(
        "Computed output size would be negative. Received `inputs shape={}`, `kernel shape=({}, {}, {}, {})`, "
        "`dilation_rate=({}, {})`, layer \"{}\"",
        shape_str(s), o.kernel_size()[0], o.kernel_size()[1], c, o.depth_multiplier(), o.dilation_rate()[0],
        o.dilation_rate()[1], this->name()));
  const int64_t oc = c * o.depth_multiplier();
  return cf ? Shape{s[0], oc, oh, ow} : Shape{s[0], oh, ow, oc};
}

template <typename T>
void DepthwiseConv2D<T>::build(const Shape& s) {
  compute_output_shape(s);
  const int64_t c = data_format_ == DataFormat::ChannelsFirst ? s[1] : s[3];
  if (c <= 0)
    throw ShapeError(fmt::format("Layer \"{}\": the channel dimension of the inputs should be defined and positive. "
                                 "Received input shape {}",
                                 this->name(), shape_str(s)));
  const auto& o = options_;
  this->add_weight("kernel", {o.kernel_size()[0], o.kernel_size()[1], c, o.depth_multiplier()}, o.depthwise_initializer(),
                   o.depthwise_regularizer(), o.depthwise_constraint());
  if (o.use_bias())
    this->add_weight("bias", {c * o.depth_multiplier()}, o.bias_initializer(), o.bias_regularizer(), o.bias_constraint());
  this->built_ = true;
}

template <typename T>
Variable<T> DepthwiseConv2D<T>::call(const Variable<T>& x, bool) {
  compute_output_shape(x.shape());
  const bool cf = data_format_ == DataFormat::ChannelsFirst;
  const auto& o = options_;
  Variable<T> y = depthwise_conv2d<T>(cf ? nchw_to_nhwc(x) : x, this->weight("kernel").variable, o.strides(),
                                      o.dilation_rate(), padding_);
  if (o.use_bias()) y = bias_add<T>(y, this->weight("bias").variable);
  y = activation_(y);
  return cf ? nhwc_to_nchw(y) : y;
}

template <typename T>
nlohmann::json DepthwiseConv2D<T>::get_config() const {
  const auto& o = options_;
  nlohmann::json c = Layer<T>::get_config();
  c["kernel_size"] = pair_json(o.kernel_size());
  c["strides"] = pair_json(o.strides());
  c["padding"] = padding_name(padding_);
  c["depth_multiplier"] = o.depth_multiplier();
  c["data_format"] = data_format_name(data_format_);
  c["dilation_rate"] = pair_json(o.dilation_rate());
  c["activation"] = o.activation();
  c["use_bias"] = o.use_bias();
  c["depthwise_initializer"] = serialize_or_null(o.depthwise_initializer());
  c["bias_initializer"] = serialize_or_null(o.bias_initializer());
  c["depthwise_regularizer"] = serialize_or_null(o.depthwise_regularizer());
  c["bias_regularizer"] = serialize_or_null(o.bias_regularizer());
  c["activity_regularizer"] = serialize_or_null(this->activity_regularizer());
  c["depthwise_constraint"] = serialize_or_null(o.depthwise_constraint());
  c["bias_constraint"] = serialize_or_null(o.bias_constraint());
  return c;
}

template <typename T>
std::shared_ptr<DepthwiseConv2D<T>> DepthwiseConv2D<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<DepthwiseConv2D<T>>(DepthwiseConv2DOptions::from_config(config));
}

template class DepthwiseConv2D<float>;
template class DepthwiseConv2D<double>;

}  // namespace sepconv

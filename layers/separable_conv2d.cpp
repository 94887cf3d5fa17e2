#include "sepconv/layers/separable_conv2d.h"

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/separable.h"
#include "sepconv/layers/identifier.h"
#include "sepconv/layers/layer_checks.h"

namespace sepconv {

using nlohmann::json;

// ---- options -------------------------------------------------------------------

SeparableConv2DOptions& SeparableConv2DOptions::activation(const json& id) {
  canonical_activation_name(id);  // fails now for an unknown identifier
  activation_id_ = id;
  activation_float_ = nullptr;
  activation_double_ = nullptr;
  return *this;
}
SeparableConv2DOptions& SeparableConv2DOptions::activation(Activation<float> fn, std::string name) {
  activation_float_ = std::move(fn);
  activation_double_ = nullptr;
  activation_id_ = std::move(name);
  return *this;
}
SeparableConv2DOptions& SeparableConv2DOptions::activation(Activation<double> fn, std::string name) {
  activation_double_ = std::move(fn);
  activation_float_ = nullptr;
  activation_id_ = std::move(name);
  return *this;
}

#define SEPCONV_ID_SETTER(member, getter)                                         \
  SeparableConv2DOptions& SeparableConv2DOptions::member(const json& id) {        \
    member##_ = getter(id);                                                       \
    return *this;                                                                 \
  }
SEPCONV_ID_SETTER(depthwise_initializer, get_initializer)
SEPCONV_ID_SETTER(pointwise_initializer, get_initializer)
SEPCONV_ID_SETTER(bias_initializer, get_initializer)
SEPCONV_ID_SETTER(depthwise_regularizer, get_regularizer)
SEPCONV_ID_SETTER(pointwise_regularizer, get_regularizer)
SEPCONV_ID_SETTER(bias_regularizer, get_regularizer)
SEPCONV_ID_SETTER(activity_regularizer, get_regularizer)
SEPCONV_ID_SETTER(depthwise_constraint, get_constraint)
SEPCONV_ID_SETTER(pointwise_constraint, get_constraint)
SEPCONV_ID_SETTER(bias_constraint, get_constraint)
#undef SEPCONV_ID_SETTER

namespace {
// An int (a JSON integer, or a float holding an integer value) for argument `name`.
int64_t json_int(const json& v, const char* name, const json& whole) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.0e15) return static_cast<int64_t>(d);
  }
  layer_detail::invalid_argument(name, "an integer", whole.dump(), "SeparableConv2D");
}

// Keras's standardize_tuple for rank 2: an int, or a list of two ints.
std::array<int64_t, 2> json_pair(const json& v, const char* name) {
  if (v.is_array()) {
    if (v.size() != 2) layer_detail::invalid_argument(name, "an integer or a tuple of 2 integers", v.dump(), "SeparableConv2D");
    return {json_int(v[0], name, v), json_int(v[1], name, v)};
  }
  const int64_t i = json_int(v, name, v);
  return {i, i};
}

std::string json_string(const json& v, const char* name) {
  if (!v.is_string()) layer_detail::invalid_argument(name, "a string", v.dump(), "SeparableConv2D");
  return v.get<std::string>();
}

bool json_bool(const json& v, const char* name) {
  if (!v.is_boolean()) layer_detail::invalid_argument(name, "a bool", v.dump(), "SeparableConv2D");
  return v.get<bool>();
}

// "float32", or a DTypePolicy config {"class_name": "DTypePolicy", "config": {"name": "float32"}}.
std::optional<std::string> json_dtype(const json& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("config") && v.at("config").is_object() && v.at("config").contains("name") &&
      v.at("config").at("name").is_string())
    return v.at("config").at("name").get<std::string>();
  layer_detail::invalid_argument("dtype", "a dtype name or a DTypePolicy config", v.dump(), "SeparableConv2D");
}
}  // namespace

namespace {
SeparableConv2DOptions options_from_config(const json& config);
}

SeparableConv2DOptions SeparableConv2DOptions::from_config(const json& config) {
  // JSON library errors (e.g. a string that is not valid UTF-8, found by
  // fuzzing) become ValueErrors like every other bad config.
  try {
    return options_from_config(config);
  } catch (const json::exception& e) {
    throw ValueError(fmt::format("Invalid SeparableConv2D config: {}", e.what()));
  }
}

namespace {
SeparableConv2DOptions options_from_config(const json& config) {
  if (!config.is_object())
    throw ValueError(fmt::format("SeparableConv2D config must be a JSON object, received: {}", config.dump()));
  if (!config.contains("filters") || config.at("filters").is_null())
    throw ValueError("SeparableConv2D config is missing the required argument `filters`");
  if (!config.contains("kernel_size") || config.at("kernel_size").is_null())
    throw ValueError("SeparableConv2D config is missing the required argument `kernel_size`");
  SeparableConv2DOptions o(json_int(config.at("filters"), "filters", config.at("filters")),
                           json_pair(config.at("kernel_size"), "kernel_size"));
  for (auto it = config.begin(); it != config.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "filters" || key == "kernel_size") continue;
    // Keras's Layer also takes these shape hints; they do not change the layer.
    if (key == "input_shape" || key == "batch_input_shape" || key == "batch_size") continue;
    if (key == "strides") o.strides(v.is_null() ? SeparableConv2DOptions::Pair{1, 1} : json_pair(v, "strides"));
    else if (key == "padding") {
      if (!v.is_null() && !v.is_string())  // e.g. the doc example's positional padding=2
        layer_detail::invalid_argument("padding", "a padding name: padding must be 'valid' or 'same' (case-insensitive)",
                                       v.dump(), "SeparableConv2D");
      o.padding(v.is_null() ? std::string("valid") : v.get<std::string>());
    }
    else if (key == "data_format") o.data_format(v.is_null() ? std::nullopt : std::optional<std::string>(json_string(v, "data_format")));
    else if (key == "dilation_rate") o.dilation_rate(v.is_null() ? SeparableConv2DOptions::Pair{1, 1} : json_pair(v, "dilation_rate"));
    else if (key == "depth_multiplier") o.depth_multiplier(v.is_null() ? 1 : json_int(v, "depth_multiplier", v));
    else if (key == "activation") o.activation(v);
    else if (key == "use_bias") o.use_bias(v.is_null() ? true : json_bool(v, "use_bias"));
    else if (key == "depthwise_initializer") o.depthwise_initializer(v);
    else if (key == "pointwise_initializer") o.pointwise_initializer(v);
    else if (key == "bias_initializer") o.bias_initializer(v);
    else if (key == "depthwise_regularizer") o.depthwise_regularizer(v);
    else if (key == "pointwise_regularizer") o.pointwise_regularizer(v);
    else if (key == "bias_regularizer") o.bias_regularizer(v);
    else if (key == "activity_regularizer") o.activity_regularizer(v);
    else if (key == "depthwise_constraint") o.depthwise_constraint(v);
    else if (key == "pointwise_constraint") o.pointwise_constraint(v);
    else if (key == "bias_constraint") o.bias_constraint(v);
    else if (key == "name") o.name(v.is_null() ? std::string() : json_string(v, "name"));
    else if (key == "trainable") o.trainable(v.is_null() ? true : json_bool(v, "trainable"));
    else if (key == "dtype") o.dtype(json_dtype(v));
    else
      throw ValueError(fmt::format("Unrecognized keyword argument passed to SeparableConv2D: '{}' (value {})", key,
                                   v.dump()));
  }
  return o;
}
}  // namespace

// ---- layer -----------------------------------------------------------------------

namespace {
using layer_detail::pair_str;
}  // namespace

template <typename T>
SeparableConv2D<T>::SeparableConv2D(const SeparableConv2DOptions& options)
    : Layer<T>(layer_name_from(options, "separable_conv2d")), options_(options) {
  // The order of Keras's BaseSeparableConv constructor (trainable is set first, with dtype).
  const layer_detail::ArgumentCheck check{"SeparableConv2D", this->name()};
  kernel_size_ = options.kernel_size();
  strides_ = options.strides();
  dilation_rate_ = options.dilation_rate();
  check.conv_window(kernel_size_, strides_, dilation_rate_);
  padding_ = check.padding(options.padding());
  data_format_ = check.data_format(options.data_format());
  check.dtype<T>(options.dtype());

  if constexpr (std::is_same_v<T, float>) {
    if (options.activation_fn_double())
      check.fail("activation", "a function over Variable<float> (the layer computes in float32)",
                 "a function over Variable<double>");
    if (options.activation_fn_float()) activation_ = options.activation_fn_float();
  } else {
    if (options.activation_fn_float())
      check.fail("activation", "a function over Variable<double> (the layer computes in float64)",
                 "a function over Variable<float>");
    if (options.activation_fn_double()) activation_ = options.activation_fn_double();
  }
  if (activation_) {
    activation_name_ = options.activation_id().is_string() ? options.activation_id().get<std::string>()
                                                           : std::string("custom_activation");
    has_activation_ = true;
  } else {
    activation_name_ = canonical_activation_name(options.activation_id());
    activation_ = get_activation<T>(json(activation_name_));
    has_activation_ = activation_name_ != "linear";
    fused_relu_ = activation_name_ == "relu";
  }

  depth_multiplier_ = check.positive("depth_multiplier", options.depth_multiplier());
  filters_ = check.positive("filters", options.filters());
  use_bias_ = options.use_bias();
  this->set_trainable(options.trainable());
  this->set_activity_regularizer(options.activity_regularizer());
}

template <typename T>
std::unique_ptr<SeparableConv2D<T>> SeparableConv2D<T>::from_config(const json& config) {
  return std::make_unique<SeparableConv2D<T>>(SeparableConv2DOptions::from_config(config));
}

template <typename T>
void SeparableConv2D<T>::check_input_shape(const Shape& s) const {
  const bool last = data_format_ == DataFormat::ChannelsLast;
  const char* layout = last ? "(batch, height, width, channels)" : "(batch, channels, height, width)";
  if (s.size() != 4)
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: input must be rank 4 {} for "
                                 "data_format={}, received an input of rank {} with shape {}",
                                 this->name(), layout, data_format_name(data_format_), s.size(), shape_str(s)));
  const int64_t channels = last ? s[3] : s[1];
  const int64_t h = last ? s[1] : s[2], w = last ? s[2] : s[3];
  if (s[0] < 0 || h <= 0 || w <= 0 || channels <= 0)
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: every dimension of an input "
                                 "{} must be > 0 (the batch >= 0). Received shape {}",
                                 this->name(), layout, shape_str(s)));
  if (input_channels_ != 0 && channels != input_channels_)
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: expected axis {} of input "
                                 "shape to have value {} (the layer was built for {} channels), but received input "
                                 "with shape {}",
                                 this->name(), last ? -1 : 1, input_channels_, input_channels_, shape_str(s)));
}

template <typename T>
void SeparableConv2D<T>::build(const Shape& input_shape) {
  check_input_shape(input_shape);
  const int64_t in = data_format_ == DataFormat::ChannelsLast ? input_shape[3] : input_shape[1];
  auto init = [](const std::shared_ptr<Initializer>& given, const char* fallback) {
    return given ? given : get_initializer(fallback);
  };
  this->add_weight("depthwise_kernel", {kernel_size_[0], kernel_size_[1], in, depth_multiplier_},
                   init(options_.depthwise_initializer(), "glorot_uniform"), options_.depthwise_regularizer(),
                   options_.depthwise_constraint());
  this->add_weight("pointwise_kernel", {1, 1, in * depth_multiplier_, filters_},
                   init(options_.pointwise_initializer(), "glorot_uniform"), options_.pointwise_regularizer(),
                   options_.pointwise_constraint());
  if (use_bias_)
    this->add_weight("bias", {filters_}, init(options_.bias_initializer(), "zeros"), options_.bias_regularizer(),
                     options_.bias_constraint());
  input_channels_ = in;
  Layer<T>::build(input_shape);
}

template <typename T>
Variable<T> SeparableConv2D<T>::call(const Variable<T>& x, bool /*training*/) {
  if (!this->built())
    throw ValueError(fmt::format("Layer \"{}\" is not built: call it through operator() (which builds it) or call "
                                 "build() first",
                                 this->name()));
  check_input_shape(x.shape());
  const bool first = data_format_ == DataFormat::ChannelsFirst;
  const Shape& s = x.shape();
  // Checked here, before the op, so the errors name the layer's arguments
  // whichever kernel implements the op.
  make_conv_geometry(s[0], s[first ? 2 : 1], s[first ? 3 : 2], s[first ? 1 : 3], depth_multiplier_, kernel_size_,
                     strides_, dilation_rate_, padding_);
  std::optional<Variable<T>> b;
  if (use_bias_) b = this->weight("bias").variable;
  // The op takes either layout (relu is elementwise: the op may apply it).
  Variable<T> y = separable_conv2d(x, this->weight("depthwise_kernel").variable,
                                   this->weight("pointwise_kernel").variable, b, strides_, dilation_rate_, padding_,
                                   fused_relu_ ? SeparableActivation::Relu : SeparableActivation::None, data_format_);
  // Other activations on the result as laid out, as Keras applies them:
  // softmax runs over the last axis (the width for channels_first).
  return has_activation_ && !fused_relu_ ? activation_(y) : y;
}

template <typename T>
Shape SeparableConv2D<T>::compute_output_shape(const Shape& input_shape) const {
  if (input_shape.size() != 4)
    throw ShapeError(fmt::format("Layer \"{}\": input must be rank 4, received an input shape of rank {}: {}",
                                 this->name(), input_shape.size(), shape_str(input_shape)));
  const bool last = data_format_ == DataFormat::ChannelsLast;
  const int64_t h = last ? input_shape[1] : input_shape[2], w = last ? input_shape[2] : input_shape[3];
  const int64_t oh = conv_output_length(h, kernel_size_[0], strides_[0], dilation_rate_[0], padding_);
  const int64_t ow = conv_output_length(w, kernel_size_[1], strides_[1], dilation_rate_[1], padding_);
  if (oh <= 0 || ow <= 0)
    throw ValueError(fmt::format("Layer \"{}\": computed output size would be <= 0: output size would be ({}, {}) for "
                                 "input shape {}, kernel_size={}, strides={}, dilation_rate={}, padding={}",
                                 this->name(), oh, ow, shape_str(input_shape), pair_str(kernel_size_),
                                 pair_str(strides_), pair_str(dilation_rate_), padding_name(padding_)));
  if (last) return {input_shape[0], oh, ow, filters_};
  return {input_shape[0], filters_, oh, ow};
}

template <typename T>
json SeparableConv2D<T>::get_config() const {
  json config = Layer<T>::get_config();
  auto opt = [](const auto& p) { return p ? serialize(*p) : json(nullptr); };
  const auto init_or = [](const std::shared_ptr<Initializer>& p, const char* fallback) {
    return serialize(p ? *p : *get_initializer(fallback));
  };
  config["depth_multiplier"] = depth_multiplier_;
  config["filters"] = filters_;
  config["kernel_size"] = kernel_size_;
  config["strides"] = strides_;
  config["padding"] = padding_name(padding_);
  config["data_format"] = data_format_name(data_format_);
  config["dilation_rate"] = dilation_rate_;
  config["activation"] = activation_name_;
  config["use_bias"] = use_bias_;
  config["depthwise_initializer"] = init_or(options_.depthwise_initializer(), "glorot_uniform");
  config["pointwise_initializer"] = init_or(options_.pointwise_initializer(), "glorot_uniform");
  config["bias_initializer"] = init_or(options_.bias_initializer(), "zeros");
  config["depthwise_regularizer"] = opt(options_.depthwise_regularizer());
  config["pointwise_regularizer"] = opt(options_.pointwise_regularizer());
  config["bias_regularizer"] = opt(options_.bias_regularizer());
  config["activity_regularizer"] = opt(this->activity_regularizer());
  config["depthwise_constraint"] = opt(options_.depthwise_constraint());
  config["pointwise_constraint"] = opt(options_.pointwise_constraint());
  config["bias_constraint"] = opt(options_.bias_constraint());
  return config;
}

template <typename T>
Variable<T>& SeparableConv2D<T>::depthwise_kernel() {
  return this->weight("depthwise_kernel").variable;
}
template <typename T>
Variable<T>& SeparableConv2D<T>::pointwise_kernel() {
  return this->weight("pointwise_kernel").variable;
}
template <typename T>
Variable<T>& SeparableConv2D<T>::bias() {
  if (!use_bias_) throw ValueError(fmt::format("Layer \"{}\" has no bias (use_bias=false)", this->name()));
  return this->weight("bias").variable;
}

template class SeparableConv2D<float>;
template class SeparableConv2D<double>;

}  // namespace sepconv

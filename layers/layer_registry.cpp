#include "sepconv/layers/layer_registry.h"

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "sepconv/core/json_limits.h"
#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/core_layers.h"
#include "sepconv/layers/dense.h"
#include "sepconv/layers/depthwise_conv2d.h"
#include "sepconv/layers/input_layer.h"
#include "sepconv/layers/normalization.h"
#include "sepconv/layers/separable_conv2d.h"

namespace sepconv {

namespace {

using nlohmann::json;

// Sets the Layer base arguments read from the config.
template <typename T, typename L>
std::shared_ptr<Layer<T>> finish(ConfigReader& r, std::shared_ptr<L> layer, bool trainable) {
  r.finish();
  layer->set_trainable(trainable);
  return layer;
}

template <typename T>
std::shared_ptr<Layer<T>> dense_from_config(const json& config) {
  ConfigReader r(config, "Dense");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  DenseOptions o(r.required_integer("units"));
  o.name(name);
  if (r.has("activation")) o.activation(r.raw("activation"));
  o.use_bias(r.boolean("use_bias", true));
  if (r.has("kernel_initializer")) o.kernel_initializer(r.raw("kernel_initializer"));
  if (r.has("bias_initializer")) o.bias_initializer(r.raw("bias_initializer"));
  if (r.has("kernel_regularizer")) o.kernel_regularizer(r.raw("kernel_regularizer"));
  if (r.has("bias_regularizer")) o.bias_regularizer(r.raw("bias_regularizer"));
  if (r.has("activity_regularizer")) o.activity_regularizer(r.raw("activity_regularizer"));
  if (r.has("kernel_constraint")) o.kernel_constraint(r.raw("kernel_constraint"));
  if (r.has("bias_constraint")) o.bias_constraint(r.raw("bias_constraint"));
  // Keras >= 3.4 writes these; only their "off" values are supported.
  if (r.integer("lora_rank", 0) != 0) r.fail("lora_rank", "null or 0 (LoRA is not supported)");
  r.optional_number("lora_alpha");
  if (r.has("quantization_config")) r.fail("quantization_config", "null (quantization is not supported)");
  return finish<T>(r, std::make_shared<Dense<T>>(o), trainable);
}

template <typename T>
std::shared_ptr<Layer<T>> depthwise_from_config(const json& config) {
  ConfigReader r(config, "DepthwiseConv2D");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  DepthwiseConv2DOptions o(r.required_pair("kernel_size"));
  o.name(name);
  o.strides(r.pair("strides", {1, 1}));
  o.padding(r.string("padding", "valid"));
  o.depth_multiplier(r.integer("depth_multiplier", 1));
  if (auto f = r.optional_string("data_format")) o.data_format(*f);
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
  return finish<T>(r, std::make_shared<DepthwiseConv2D<T>>(o), trainable);
}

template <typename T>
std::shared_ptr<Layer<T>> batch_norm_from_config(const json& config) {
  ConfigReader r(config, "BatchNormalization");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  BatchNormalizationOptions o;
  o.name(name);
  o.axis(r.integer("axis", -1));
  o.momentum(r.number("momentum", 0.99));
  o.epsilon(r.number("epsilon", 1e-3));
  o.center(r.boolean("center", true));
  o.scale(r.boolean("scale", true));
  // One process holds the whole batch: synchronized statistics are the batch's.
  r.boolean("synchronized", false);
  if (r.has("beta_initializer")) o.beta_initializer(r.raw("beta_initializer"));
  if (r.has("gamma_initializer")) o.gamma_initializer(r.raw("gamma_initializer"));
  if (r.has("moving_mean_initializer")) o.moving_mean_initializer(r.raw("moving_mean_initializer"));
  if (r.has("moving_variance_initializer")) o.moving_variance_initializer(r.raw("moving_variance_initializer"));
  if (r.has("beta_regularizer")) o.beta_regularizer(r.raw("beta_regularizer"));
  if (r.has("gamma_regularizer")) o.gamma_regularizer(r.raw("gamma_regularizer"));
  if (r.has("beta_constraint")) o.beta_constraint(r.raw("beta_constraint"));
  if (r.has("gamma_constraint")) o.gamma_constraint(r.raw("gamma_constraint"));
  if (r.boolean("renorm", false)) r.fail("renorm", "false (batch renormalization is not supported)");
  return finish<T>(r, std::make_shared<BatchNormalization<T>>(o), trainable);
}

template <typename T>
std::shared_ptr<Layer<T>> flatten_from_config(const json& config) {
  ConfigReader r(config, "Flatten");
  FlattenOptions o;
  o.name(r.name());
  const bool trainable = r.trainable();
  r.dtype();
  if (auto f = r.optional_string("data_format")) o.data_format(*f);
  return finish<T>(r, std::make_shared<Flatten<T>>(o), trainable);
}

template <typename T>
std::shared_ptr<Layer<T>> dropout_from_config(const json& config) {
  ConfigReader r(config, "Dropout");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  if (!r.has("rate")) r.fail("rate", "a number in [0, 1] (the argument is required)");
  DropoutOptions o(r.number("rate", 0));
  o.name(name);
  if (auto s = r.optional_integer("seed")) {
    if (*s < 0) r.fail("seed", "a non-negative integer");
    o.seed(static_cast<uint64_t>(*s));
  }
  if (r.has("noise_shape")) r.fail("noise_shape", "null (a noise shape is not supported)");
  return finish<T>(r, std::make_shared<Dropout<T>>(o), trainable);
}

template <typename T>
std::shared_ptr<Layer<T>> random_flip_from_config(const json& config) {
  ConfigReader r(config, "RandomFlip");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  RandomFlipOptions o(r.string("mode", "horizontal_and_vertical"));
  o.name(name);
  if (auto s = r.optional_integer("seed")) {
    if (*s < 0) r.fail("seed", "a non-negative integer");
    o.seed(static_cast<uint64_t>(*s));
  }
  if (auto f = r.optional_string("data_format")) o.data_format(*f);
  return finish<T>(r, std::make_shared<RandomFlip<T>>(o), trainable);
}

template <typename T>
std::shared_ptr<Layer<T>> activation_from_config(const json& config) {
  ConfigReader r(config, "Activation");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  if (!r.has("activation")) r.fail("activation", "an activation identifier (the argument is required)");
  return finish<T>(r, std::make_shared<ActivationLayer<T>>(r.raw("activation"), name), trainable);
}

template <typename T>
std::shared_ptr<Layer<T>> separable_from_config(const json& config) {
  // SeparableConv2DOptions::from_config reads and checks every key itself.
  return SeparableConv2D<T>::from_config(config);
}

template <typename T>
std::shared_ptr<Layer<T>> input_from_config(const json& config) {
  return InputLayer<T>::from_config(config);
}

template <typename T>
struct Registry {
  std::mutex mutex;
  std::map<std::string, LayerFactory<T>> factories{
      {"InputLayer", input_from_config<T>},
      {"Dense", dense_from_config<T>},
      {"DepthwiseConv2D", depthwise_from_config<T>},
      {"SeparableConv2D", separable_from_config<T>},
      {"BatchNormalization", batch_norm_from_config<T>},
      {"Flatten", flatten_from_config<T>},
      {"Dropout", dropout_from_config<T>},
      {"RandomFlip", random_flip_from_config<T>},
      {"Activation", activation_from_config<T>},
  };
};

template <typename T>
Registry<T>& registry() {
  static Registry<T> r;
  return r;
}

// The config with its dtype policy checked (float32 or float64) and replaced
// by T's: a model saved in float32 is rebuilt in float64 for gradient checks.
template <typename T>
json with_own_dtype(const std::string& class_name, const json& config) {
  ConfigReader r(config, class_name);
  r.dtype();
  json c = config;
  if (c.contains("dtype") && !c.at("dtype").is_null()) {
    if (c.at("dtype").is_string())
      c["dtype"] = DTypeName<T>::value;
    else
      c["dtype"]["config"]["name"] = DTypeName<T>::value;
  }
  return c;
}

}  // namespace

template <typename T>
std::shared_ptr<Layer<T>> layer_from_config(const json& spec) {
  if (!spec.is_object() || !spec.contains("class_name") || !spec.at("class_name").is_string())
    throw ValueError(fmt::format("A serialized layer must be an object with a string \"class_name\". Received: {}",
                                 json_excerpt(spec)));
  if (json_deeper_than(spec)) throw ValueError("A serialized layer nests arrays or objects too deeply");
  const std::string class_name = spec.at("class_name").get<std::string>();
  const json& config = spec.contains("config") ? spec.at("config") : json::object();
  LayerFactory<T> factory;
  {
    Registry<T>& r = registry<T>();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.factories.find(class_name);
    if (it == r.factories.end()) {
      std::string known;
      for (const auto& [k, v] : r.factories) known += (known.empty() ? "" : ", ") + k;
      const std::string name = config.is_object() && config.contains("name") && config.at("name").is_string()
                                   ? config.at("name").get<std::string>()
                                   : std::string("?");
      throw ValueError(fmt::format("Unknown layer class '{}' (layer '{}'). Known classes: {}", class_name, name, known));
    }
    factory = it->second;
  }
  try {
    return factory(with_own_dtype<T>(class_name, config));
  } catch (const json::exception& e) {
    // A JSON library error (a wrongly typed value deep in a config) is a bad config too.
    throw ValueError(fmt::format("Invalid {} config: {}", class_name, e.what()));
  }
}

template <typename T>
json serialize_layer(const Layer<T>& layer) {
  return {{"module", "keras.layers"},
          {"class_name", layer.class_name()},
          {"config", layer.get_config()},
          {"registered_name", nullptr}};
}

template <typename T>
void register_layer_class(const std::string& class_name, LayerFactory<T> factory) {
  if (!factory) throw ValueError(fmt::format("register_layer_class('{}'): the factory is empty", class_name));
  Registry<T>& r = registry<T>();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[class_name] = std::move(factory);
}

template <typename T>
std::vector<std::string> registered_layer_classes() {
  Registry<T>& r = registry<T>();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> out;
  for (const auto& [k, v] : r.factories) out.push_back(k);
  return out;
}

#define SEPCONV_INSTANTIATE(T)                                                          \
  template std::shared_ptr<Layer<T>> layer_from_config<T>(const json&);                 \
  template json serialize_layer<T>(const Layer<T>&);                                    \
  template void register_layer_class<T>(const std::string&, LayerFactory<T>);           \
  template std::vector<std::string> registered_layer_classes<T>();
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

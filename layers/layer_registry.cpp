#include "sepconv/layers/layer_registry.h"

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "sepconv/core/json_limits.h"
#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/conv2d.h"
#include "sepconv/layers/core_layers.h"
#include "sepconv/layers/dense.h"
#include "sepconv/layers/depthwise_conv2d.h"
#include "sepconv/layers/input_layer.h"
#include "sepconv/layers/merge.h"
#include "sepconv/layers/normalization.h"
#include "sepconv/layers/pooling.h"
#include "sepconv/layers/random_translation.h"
#include "sepconv/layers/relu.h"
#include "sepconv/layers/rescaling.h"
#include "sepconv/layers/reshaping.h"
#include "sepconv/layers/separable_conv2d.h"

namespace sepconv {

namespace {

using nlohmann::json;

// Every layer class has a static from_config; the registry maps Keras class names to them.
template <typename L>
std::shared_ptr<Layer<typename L::value_type>> from_config_of(const json& config) {
  return L::from_config(config);
}

template <typename T>
struct Registry {
  std::mutex mutex;
  std::map<std::string, LayerFactory<T>> factories{
      {"InputLayer", from_config_of<InputLayer<T>>},
      {"Conv2D", from_config_of<Conv2D<T>>},
      {"Dense", from_config_of<Dense<T>>},
      {"DepthwiseConv2D", from_config_of<DepthwiseConv2D<T>>},
      {"SeparableConv2D", from_config_of<SeparableConv2D<T>>},
      {"BatchNormalization", from_config_of<BatchNormalization<T>>},
      {"Flatten", from_config_of<Flatten<T>>},
      {"Dropout", from_config_of<Dropout<T>>},
      {"RandomFlip", from_config_of<RandomFlip<T>>},
      {"RandomTranslation", from_config_of<RandomTranslation<T>>},
      {"Activation", from_config_of<ActivationLayer<T>>},
      {"ReLU", from_config_of<ReLU<T>>},
      {"Add", from_config_of<Add<T>>},
      {"Subtract", from_config_of<Subtract<T>>},
      {"Multiply", from_config_of<Multiply<T>>},
      {"Average", from_config_of<Average<T>>},
      {"Maximum", from_config_of<Maximum<T>>},
      {"Minimum", from_config_of<Minimum<T>>},
      {"Concatenate", from_config_of<Concatenate<T>>},
      {"MaxPooling2D", from_config_of<MaxPooling2D<T>>},
      {"AveragePooling2D", from_config_of<AveragePooling2D<T>>},
      {"GlobalAveragePooling2D", from_config_of<GlobalAveragePooling2D<T>>},
      {"GlobalMaxPooling2D", from_config_of<GlobalMaxPooling2D<T>>},
      {"ZeroPadding2D", from_config_of<ZeroPadding2D<T>>},
      {"Reshape", from_config_of<Reshape<T>>},
      {"Rescaling", from_config_of<Rescaling<T>>},
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

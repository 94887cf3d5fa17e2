#pragma once
// Layers from their Keras serialization: {"class_name": "Conv2D", "config":
// {...}} (also with Keras 3's "module", "registered_name", "build_config",
// "name" and "inbound_nodes", which are the model's business and ignored
// here). Every Keras layer class the library has is registered; a user's own
// class can be added with register_layer_class.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/layers/layer.h"

namespace sepconv {

template <typename T>
using LayerFactory = std::function<std::shared_ptr<Layer<T>>(const nlohmann::json& config)>;

// A layer of the class and config; ValueError for an unknown class (naming it
// and the known ones) or a bad config (naming the layer, the key and the value).
// The config's dtype policy must be float32 or float64; the layer computes in T.
template <typename T>
std::shared_ptr<Layer<T>> layer_from_config(const nlohmann::json& spec);

// {"module": "keras.layers", "class_name", "config", "registered_name": null}.
template <typename T>
nlohmann::json serialize_layer(const Layer<T>& layer);

template <typename T>
void register_layer_class(const std::string& class_name, LayerFactory<T> factory);
template <typename T>
std::vector<std::string> registered_layer_classes();

}  // namespace sepconv

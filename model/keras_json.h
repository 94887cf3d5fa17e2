#pragma once
// Models as Keras 3 serializes them: the config.json of a .keras file.
//   Functional: {"module": "keras", "class_name": "Functional", "config":
//     {"name", "trainable", "layers": [...], "input_layers", "output_layers"},
//     "registered_name": "Functional", "build_config": {...}}
//   each layer {"module", "class_name", "config", "registered_name",
//     "build_config", "name", "inbound_nodes": [{"args": [x], "kwargs": {}}]}
//   where x is {"class_name": "__keras_tensor__", "config": {"shape",
//     "dtype", "keras_history": [layer, node_index, tensor_index]}} or, for a
//     merge layer, a list of them.
//   Sequential: {"module": "keras", "class_name": "Sequential", "config":
//     {"name", "trainable", "layers": [InputLayer, ...]}, ...}
// A model rebuilt from its config has the same layers, names and shapes;
// weights are not part of it.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "sepconv/model/functional.h"
#include "sepconv/model/sequential.h"

namespace sepconv {

template <typename T>
nlohmann::json model_to_config(const ModelBase<T>& model);
// Keras's model.to_json().
template <typename T>
std::string model_to_json(const ModelBase<T>& model, int indent = -1);

// A Functional or Sequential model from its serialization (ValueError naming
// the layer and key for anything missing, wrongly typed or unsupported).
template <typename T>
std::unique_ptr<ModelBase<T>> model_from_config(const nlohmann::json& config);
// keras.models.model_from_json.
template <typename T>
std::unique_ptr<ModelBase<T>> model_from_json(const std::string& json);

}  // namespace sepconv

#pragma once
// The conformance runner's case kinds. Each takes the whole case JSON and
// returns the JSON object of results (the keys of the case's `expected`,
// tensors as {"shape", "data"}), computed in element type T. None reads
// `expected`. Errors propagate as exceptions; the runner turns them into
// {"error": message}.
#include <nlohmann/json.hpp>

namespace sepconv::conformance {

template <typename T>
nlohmann::json run_layer_case(const nlohmann::json& c);      // tools/conformance/layer.cpp
template <typename T>
nlohmann::json run_error_case(const nlohmann::json& c);      // tools/conformance/layer.cpp
template <typename T>
nlohmann::json run_optimizer_case(const nlohmann::json& c);  // tools/conformance/train.cpp
template <typename T>
nlohmann::json run_train_case(const nlohmann::json& c);      // tools/conformance/train.cpp

template <typename T>
nlohmann::json run_model_case(const nlohmann::json& c);        // tools/conformance/model.cpp
template <typename T>
nlohmann::json run_model_train_case(const nlohmann::json& c);  // tools/conformance/model.cpp

}  // namespace sepconv::conformance

#pragma once
// The activation registry (Keras: keras.activations.get / serialize).
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/autograd/variable.h"

namespace sepconv {

template <typename T>
using Activation = std::function<Variable<T>(const Variable<T>&)>;

// Keras's activations.get: null, "linear" and "None" give the identity; a
// Keras activation name ("relu", "relu6", "leaky_relu", "elu", "selu", "gelu",
// "silu"/"swish", "softplus", "softsign", "sigmoid", "hard_sigmoid",
// "hard_silu"/"hard_swish", "tanh", "softmax", "log_softmax", "mish",
// "exponential", and the later additions "celu", "hard_tanh", "tanh_shrink",
// "log_sigmoid", "squareplus", "soft_shrink", "hard_shrink", "sparse_plus");
// or a serialized function {"class_name": "function", "config": "<name>"}.
// Anything else is a ValueError "Could not interpret activation function
// identifier: '<id>' (unknown activation identifier ...)".
template <typename T>
Activation<T> get_activation(const nlohmann::json& identifier);
template <typename T>
Activation<T> get_activation(const std::string& identifier);
template <typename T>
Activation<T> get_activation(const char* identifier) {
  return get_activation<T>(std::string(identifier));
}
// A user function is taken as is (an empty function means the identity).
template <typename T>
Activation<T> get_activation(Activation<T> fn);

// The Keras name an identifier resolves to, as activations.serialize writes it
// for built-ins: "swish" -> "silu", "hard_swish" -> "hard_silu", null/"None" -> "linear".
// Throws like get_activation for an unknown identifier.
std::string canonical_activation_name(const nlohmann::json& identifier);

// Every built-in name get_activation accepts (aliases included).
std::vector<std::string> activation_names();

}  // namespace sepconv

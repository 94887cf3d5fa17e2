#include "sepconv/layers/activations.h"

#include <map>

#include <fmt/format.h>

#include "sepconv/autograd/activations.h"
#include "sepconv/core/error.h"
#include "sepconv/layers/identifier.h"

namespace sepconv {

using nlohmann::json;

namespace {
// Canonical Keras name for each accepted spelling.
const std::map<std::string, std::string>& name_table() {
  static const std::map<std::string, std::string> table = [] {
    std::map<std::string, std::string> t;
    for (const char* n : {"relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus", "softsign",
                          "sigmoid", "hard_sigmoid", "hard_silu", "tanh", "softmax", "log_softmax", "mish",
                          "exponential", "linear", "celu", "hard_tanh", "tanh_shrink", "log_sigmoid", "squareplus",
                          "soft_shrink", "hard_shrink", "sparse_plus"})
      t[n] = n;
    t["swish"] = "silu";
    t["hard_swish"] = "hard_silu";
    t["None"] = "linear";  // Python's None written as a string
    return t;
  }();
  return table;
}

[[noreturn]] void unknown(const json& identifier) {
  std::string known;
  for (const auto& [name, canonical] : name_table()) known += (known.empty() ? "" : ", ") + name;
  throw ValueError(fmt::format(
      "Could not interpret activation function identifier: '{}' (unknown activation identifier; expected null, one "
      "of {}, or {{\"class_name\": \"function\", \"config\": <name>}})",
      detail::identifier_repr(identifier), known));
}

// The name a json identifier designates (null -> "linear").
std::string resolve_name(const json& identifier) {
  if (identifier.is_null()) return "linear";
  std::string name;
  if (identifier.is_string()) {
    name = identifier.get<std::string>();
  } else if (identifier.is_object() && identifier.contains("class_name") && identifier.at("class_name").is_string()) {
    // Keras 3 writes a function as {"module": "keras.activations", "class_name":
    // "function", "config": "<name>", "registered_name": ...}; older configs put
    // the name in class_name.
    const std::string cls = identifier.at("class_name").get<std::string>();
    if (cls == "function" && identifier.contains("config") && identifier.at("config").is_string())
      name = identifier.at("config").get<std::string>();
    else
      name = cls;
  } else {
    unknown(identifier);
  }
  const auto it = name_table().find(name);
  if (it == name_table().end()) unknown(identifier);
  return it->second;
}

template <typename T>
Activation<T> by_name(const std::string& canonical) {
  static const std::map<std::string, Activation<T>> fns = {
      {"relu", [](const Variable<T>& x) { return relu(x); }},
      {"relu6", [](const Variable<T>& x) { return relu6(x); }},
      {"leaky_relu", [](const Variable<T>& x) { return leaky_relu(x); }},
      {"elu", [](const Variable<T>& x) { return elu(x); }},
      {"selu", [](const Variable<T>& x) { return selu(x); }},
      {"gelu", [](const Variable<T>& x) { return gelu(x); }},
      {"silu", [](const Variable<T>& x) { return silu(x); }},
      {"softplus", [](const Variable<T>& x) { return softplus(x); }},
      {"softsign", [](const Variable<T>& x) { return softsign(x); }},
      {"sigmoid", [](const Variable<T>& x) { return sigmoid(x); }},
      {"hard_sigmoid", [](const Variable<T>& x) { return hard_sigmoid(x); }},
      {"hard_silu", [](const Variable<T>& x) { return hard_silu(x); }},
      {"tanh", [](const Variable<T>& x) { return sepconv::tanh(x); }},
      {"softmax", [](const Variable<T>& x) { return softmax(x); }},
      {"log_softmax", [](const Variable<T>& x) { return log_softmax(x); }},
      {"mish", [](const Variable<T>& x) { return mish(x); }},
      {"exponential", [](const Variable<T>& x) { return exponential(x); }},
      {"linear", [](const Variable<T>& x) { return linear(x); }},
      {"celu", [](const Variable<T>& x) { return celu(x); }},
      {"hard_tanh", [](const Variable<T>& x) { return hard_tanh(x); }},
      {"tanh_shrink", [](const Variable<T>& x) { return tanh_shrink(x); }},
      {"log_sigmoid", [](const Variable<T>& x) { return log_sigmoid(x); }},
      {"squareplus", [](const Variable<T>& x) { return squareplus(x); }},
      {"soft_shrink", [](const Variable<T>& x) { return soft_shrink(x); }},
      {"hard_shrink", [](const Variable<T>& x) { return hard_shrink(x); }},
      {"sparse_plus", [](const Variable<T>& x) { return sparse_plus(x); }},
  };
  return fns.at(canonical);
}
}  // namespace

std::string canonical_activation_name(const json& identifier) { return resolve_name(identifier); }

std::vector<std::string> activation_names() {
  std::vector<std::string> out;
  for (const auto& [name, canonical] : name_table()) out.push_back(name);
  return out;
}

template <typename T>
Activation<T> get_activation(const json& identifier) {
  return by_name<T>(resolve_name(identifier));
}
template <typename T>
Activation<T> get_activation(const std::string& identifier) {
  return by_name<T>(resolve_name(json(identifier)));
}
template <typename T>
Activation<T> get_activation(Activation<T> fn) {
  if (!fn) return by_name<T>("linear");
  return fn;
}

template Activation<float> get_activation<float>(const json&);
template Activation<double> get_activation<double>(const json&);
template Activation<float> get_activation<float>(const std::string&);
template Activation<double> get_activation<double>(const std::string&);
template Activation<float> get_activation<float>(Activation<float>);
template Activation<double> get_activation<double>(Activation<double>);

}  // namespace sepconv

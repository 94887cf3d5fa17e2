#pragma once
// Shared parsing of Keras object identifiers for the registries
// (initializers, regularizers, constraints, activations): a string name, or a
// serialized object {"class_name", "config"} (Keras's serialize_keras_object
// also writes "module" and "registered_name", which are accepted and ignored).
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

namespace sepconv::detail {

struct ObjectSpec {
  std::string class_name;
  nlohmann::json config;  // always an object (null config -> {})
};

// `kind` is "regularizer", "constraint", ... for the message
// "Could not interpret <kind> identifier: <id>".
ObjectSpec parse_object_spec(const nlohmann::json& identifier, const char* kind);
[[noreturn]] void throw_uninterpretable(const nlohmann::json& identifier, const char* kind,
                                        const std::string& detail = {});

// The identifier as Keras would print it: strings bare, objects as JSON.
std::string identifier_repr(const nlohmann::json& identifier);

// Config accessors that name the owner ("L1L2") and key in their errors.
// A missing key or a null value gives the default.
double config_number(const nlohmann::json& config, const char* key, double default_value, const std::string& owner);
// Rejects keys outside `allowed` (Keras raises on unexpected keyword arguments).
void check_config_keys(const nlohmann::json& config, std::initializer_list<const char*> allowed,
                       const std::string& owner);

// Keras's to_snake_case: "SeparableConv2D" -> "separable_conv2d", "L1L2" -> "l1l2".
std::string to_snake_case(const std::string& name);

}  // namespace sepconv::detail

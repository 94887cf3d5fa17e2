#include "sepconv/layers/config_reader.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/core/json_limits.h"
#include "sepconv/layers/layer_checks.h"

namespace sepconv {

namespace {
const nlohmann::json& null_json() {
  static const nlohmann::json n;
  return n;
}
}  // namespace

ConfigReader::ConfigReader(const nlohmann::json& config, std::string class_name)
    : config_(config), class_name_(std::move(class_name)) {
  if (!config_.is_object())
    throw ValueError(fmt::format("The config of a {} layer must be a JSON object. Received: {}", class_name_,
                                 json_excerpt(config_)));
}

void ConfigReader::fail(const std::string& key, const std::string& expected) const {
  const nlohmann::json& v = config_.contains(key) ? config_.at(key) : null_json();
  const std::string layer =
      config_.contains("name") && config_.at("name").is_string() ? config_.at("name").get<std::string>() : "";
  layer_detail::invalid_argument(key, expected, json_excerpt(v), class_name_, layer);
}

bool ConfigReader::has(const std::string& key) {
  read_.insert(key);
  return config_.contains(key) && !config_.at(key).is_null();
}

const nlohmann::json& ConfigReader::raw(const std::string& key) {
  read_.insert(key);
  return config_.contains(key) ? config_.at(key) : null_json();
}

namespace {
// A JSON number that is a whole value in int64 range (Keras configs may hold 3.0).
std::optional<int64_t> as_integer(const nlohmann::json& v) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}
}  // namespace

std::optional<int64_t> ConfigReader::optional_integer(const std::string& key) {
  if (!has(key)) return std::nullopt;
  const auto i = as_integer(config_.at(key));
  if (!i) fail(key, "an integer");
  return i;
}

int64_t ConfigReader::integer(const std::string& key, int64_t default_value) {
  return optional_integer(key).value_or(default_value);
}

int64_t ConfigReader::required_integer(const std::string& key) {
  if (!has(key)) fail(key, "an integer (the argument is required)");
  return *optional_integer(key);
}

std::optional<double> ConfigReader::optional_number(const std::string& key) {
  if (!has(key)) return std::nullopt;
  const nlohmann::json& v = config_.at(key);
  if (!v.is_number()) fail(key, "a number");
  return v.get<double>();
}

double ConfigReader::number(const std::string& key, double default_value) {
  return optional_number(key).value_or(default_value);
}

bool ConfigReader::boolean(const std::string& key, bool default_value) {
  if (!has(key)) return default_value;
  const nlohmann::json& v = config_.at(key);
  if (!v.is_boolean()) fail(key, "a bool");
  return v.get<bool>();
}

std::optional<std::string> ConfigReader::optional_string(const std::string& key) {
  if (!has(key)) return std::nullopt;
  const nlohmann::json& v = config_.at(key);
  if (!v.is_string()) fail(key, "a string");
  return v.get<std::string>();
}

std::string ConfigReader::string(const std::string& key, const std::string& default_value) {
  return optional_string(key).value_or(default_value);
}

std::array<int64_t, 2> ConfigReader::pair(const std::string& key, std::array<int64_t, 2> default_value) {
  if (!has(key)) return default_value;
  const nlohmann::json& v = config_.at(key);
  if (const auto i = as_integer(v)) return {*i, *i};
  if (v.is_array() && v.size() == 2) {
    const auto a = as_integer(v[0]), b = as_integer(v[1]);
    if (a && b) return {*a, *b};
  }
  fail(key, "an integer or a tuple of 2 integers");
}

std::array<int64_t, 2> ConfigReader::required_pair(const std::string& key) {
  if (!has(key)) fail(key, "an integer or a tuple of 2 integers (the argument is required)");
  return pair(key, {0, 0});
}

std::vector<int64_t> ConfigReader::integers(const std::string& key) {
  if (!has(key)) return {};
  const nlohmann::json& v = config_.at(key);
  if (const auto i = as_integer(v)) return {*i};
  if (!v.is_array()) fail(key, "a list of integers");
  std::vector<int64_t> out;
  for (const auto& e : v) {
    const auto i = as_integer(e);
    if (!i) fail(key, "a list of integers");
    out.push_back(*i);
  }
  return out;
}

std::string ConfigReader::name() { return string("name", ""); }

bool ConfigReader::trainable() { return boolean("trainable", true); }

void ConfigReader::dtype() {
  for (const char* hint : {"input_shape", "batch_input_shape", "batch_size"}) read_.insert(hint);
  if (!has("dtype")) return;
  const nlohmann::json& v = config_.at("dtype");
  std::string name;
  if (v.is_string()) {
    name = v.get<std::string>();
  } else if (v.is_object() && v.contains("config") && v.at("config").is_object() &&
             v.at("config").contains("name") && v.at("config").at("name").is_string()) {
    if (v.contains("class_name") && v.at("class_name") != "DTypePolicy")
      fail("dtype", "a DTypePolicy (other dtype policies, e.g. mixed precision, are not supported)");
    name = v.at("config").at("name").get<std::string>();
  } else {
    fail("dtype", "a dtype name or a DTypePolicy config");
  }
  if (name != "float32" && name != "float64") fail("dtype", "the dtype policy \"float32\" or \"float64\"");
}

void ConfigReader::finish() const {
  for (auto it = config_.begin(); it != config_.end(); ++it)
    if (!read_.count(it.key()))
      throw ValueError(fmt::format("Unrecognized keyword argument passed to {}: '{}' (value {})", class_name_, it.key(),
                                   json_excerpt(it.value())));
}

}  // namespace sepconv

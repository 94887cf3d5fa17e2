#pragma once
// ConfigReader: reads one layer's Keras config ({"name": ..., "filters": ...})
// key by key, with one wording for every error. Each getter names the layer
// class, the key and the value received; finish() rejects the keys nobody
// read, as Keras rejects unexpected keyword arguments. A missing key or a
// null value gives the getter's default.
#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sepconv {

class ConfigReader {
 public:
  // `config` must be a JSON object (ValueError otherwise).
  ConfigReader(const nlohmann::json& config, std::string class_name);

  // True when the key is present with a non-null value (and marks it read).
  bool has(const std::string& key);
  // The raw value (null when absent), marked read.
  const nlohmann::json& raw(const std::string& key);

  int64_t integer(const std::string& key, int64_t default_value);
  int64_t required_integer(const std::string& key);
  std::optional<int64_t> optional_integer(const std::string& key);
  double number(const std::string& key, double default_value);
  std::optional<double> optional_number(const std::string& key);
  bool boolean(const std::string& key, bool default_value);
  std::string string(const std::string& key, const std::string& default_value);
  std::optional<std::string> optional_string(const std::string& key);
  // An int n (-> (n, n)) or a list of two ints: Keras's standardize_tuple.
  std::array<int64_t, 2> pair(const std::string& key, std::array<int64_t, 2> default_value);
  std::array<int64_t, 2> required_pair(const std::string& key);
  // A list of ints (an int alone is a list of one).
  std::vector<int64_t> integers(const std::string& key);

  // The Layer base arguments: "name" (empty when absent), "trainable" and
  // "dtype" (a name or a DTypePolicy config; only float32 and float64 are
  // supported, either is accepted whatever T is). The shape hints Keras's
  // Layer takes ("input_shape", "batch_input_shape", "batch_size") are read
  // and ignored.
  std::string name();
  bool trainable();
  void dtype();

  // Throws ValueError for any key not read: "Unrecognized keyword argument
  // passed to Conv2D: 'foo' (value 3)".
  void finish() const;

  // A ValueError naming the layer, the key and the value.
  [[noreturn]] void fail(const std::string& key, const std::string& expected) const;
  const std::string& class_name() const { return class_name_; }

 private:
  const nlohmann::json& config_;
  std::string class_name_;
  std::set<std::string> read_;
};

}  // namespace sepconv

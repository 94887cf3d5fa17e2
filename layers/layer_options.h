#pragma once
// The arguments every Keras layer takes (name, trainable, dtype), shared by
// every options class as chained setters and getters. Each options class
// derives from LayerOptions<itself>, so the setters return it and chain with
// its own: `DenseOptions(10).name("logits").trainable(false).use_bias(false)`.
#include <optional>
#include <string>

#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_checks.h"

namespace sepconv {

template <typename Derived>
class LayerOptions {
 public:
  // Empty (default): a unique default name per class ("dense", "dense_1", ...).
  Derived& name(std::string v) { name_ = std::move(v); return self(); }
  Derived& trainable(bool v) { trainable_ = v; return self(); }
  // "float32" or "float64": must match the layer's element type (a
  // Dense<double> for "float64"); unset (default): the layer's.
  Derived& dtype(std::optional<std::string> v) { dtype_ = std::move(v); return self(); }

  const std::string& name() const { return name_; }
  bool trainable() const { return trainable_; }
  const std::optional<std::string>& dtype() const { return dtype_; }

 protected:
  // "name" and "trainable" of a Keras config, and its "dtype" checked (a
  // float32 or float64 policy; the dtype is the layer's element type, so a
  // float64 config also loads into a float32 model) but not kept.
  void read_layer_arguments(ConfigReader& reader) {
    name_ = reader.name();
    trainable_ = reader.trainable();
    reader.dtype();
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  std::string name_;
  bool trainable_ = true;
  std::optional<std::string> dtype_;
};

// The name a layer takes from its options: theirs, or the next unique default
// for `snake_name` ("conv2d", "conv2d_1", ...).
template <typename Options>
std::string layer_name_from(const Options& options, const char* snake_name) {
  return options.name().empty() ? unique_layer_name(snake_name) : options.name();
}

// What every layer constructor does with the common arguments (checks dtype
// against T, applies trainable); returns the checker of the layer's own
// arguments, naming its class and name.
template <typename T, typename Options>
layer_detail::ArgumentCheck apply_layer_arguments(Layer<T>& layer, const Options& options, std::string class_name) {
  layer_detail::ArgumentCheck check{std::move(class_name), layer.name()};
  check.dtype<T>(options.dtype());
  layer.set_trainable(options.trainable());
  return check;
}

}  // namespace sepconv

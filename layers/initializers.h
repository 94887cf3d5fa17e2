#pragma once
// Weight initializers (Keras: keras.initializers), with Keras's fans and
// formulas. A seed makes the values reproducible; without one, each call draws
// from a process-wide generator.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace sepconv {

class Initializer {
 public:
  virtual ~Initializer() = default;
  // Fills a tensor of the given Keras weight shape (fans computed from it as
  // Keras's compute_fans does: receptive field = prod(shape[:-2])).
  virtual Tensor<float> operator()(const Shape& shape, float) const = 0;
  virtual Tensor<double> operator()(const Shape& shape, double) const = 0;
  virtual std::string class_name() const = 0;
  virtual nlohmann::json get_config() const = 0;
};

// Keras's compute_fans.
struct Fans {
  double fan_in, fan_out;
};
Fans compute_fans(const Shape& shape);

// Keras's initializers.get: string ids ("glorot_uniform", "GlorotUniform",
// "he_normal", "zeros", "ones", "constant", "random_normal", "random_uniform",
// "truncated_normal", "variance_scaling", "lecun_uniform", "lecun_normal",
// "he_uniform", "glorot_normal", "orthogonal" is not supported), or a
// {"class_name", "config"} (config may carry "seed"); else ValueError
// "Could not interpret initializer identifier: ...".
std::shared_ptr<Initializer> get_initializer(const nlohmann::json& identifier);
std::shared_ptr<Initializer> get_initializer(const std::string& identifier);
nlohmann::json serialize(const Initializer& i);

}  // namespace sepconv

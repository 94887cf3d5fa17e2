#pragma once
// Weight initializers (Keras: keras.initializers), with Keras's fans and
// formulas. A seed makes the values reproducible: an initializer with a seed
// returns the same values at every call for the same shape (as Keras 3 does
// for an int seed). Without one, each call draws from a process-wide generator.
// Values are drawn in double (std::mt19937_64, Box-Muller) and then converted,
// so float and double agree for one seed; they do not match TensorFlow's RNG
// bit for bit, only the distributions.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sepconv/core/tensor.h"

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

// ---- constant initializers ----------------------------------------------------
class Constant : public Initializer {
 public:
  explicit Constant(double value = 0.0) : value_(value) {}
  Tensor<float> operator()(const Shape& shape, float) const override;
  Tensor<double> operator()(const Shape& shape, double) const override;
  std::string class_name() const override { return "Constant"; }
  nlohmann::json get_config() const override { return {{"value", value_}}; }
  double value() const { return value_; }

 private:
  double value_;
};
class Zeros : public Constant {
 public:
  Zeros() : Constant(0.0) {}
  std::string class_name() const override { return "Zeros"; }
  nlohmann::json get_config() const override { return nlohmann::json::object(); }
};
class Ones : public Constant {
 public:
  Ones() : Constant(1.0) {}
  std::string class_name() const override { return "Ones"; }
  nlohmann::json get_config() const override { return nlohmann::json::object(); }
};
// gain * identity matrix; the shape must be 2-D (Keras's Identity).
class Identity : public Initializer {
 public:
  explicit Identity(double gain = 1.0) : gain_(gain) {}
  Tensor<float> operator()(const Shape& shape, float) const override;
  Tensor<double> operator()(const Shape& shape, double) const override;
  std::string class_name() const override { return "Identity"; }
  nlohmann::json get_config() const override { return {{"gain", gain_}}; }

 private:
  double gain_;
};

// ---- random initializers --------------------------------------------------------
// Base of the seeded initializers: draws standard values in double.
class RandomInitializer : public Initializer {
 public:
  explicit RandomInitializer(std::optional<uint64_t> seed) : seed_(seed) {}
  const std::optional<uint64_t>& seed() const { return seed_; }
  Tensor<float> operator()(const Shape& shape, float) const override;
  Tensor<double> operator()(const Shape& shape, double) const override;

 protected:
  // The values for a shape, in double, from generator(); converted by operator().
  virtual Tensor<double> generate(const Shape& shape) const = 0;
  nlohmann::json seed_json() const { return seed_ ? nlohmann::json(*seed_) : nlohmann::json(nullptr); }
  std::optional<uint64_t> seed_;
};

// Keras's VarianceScaling: scale /= max(1, fan) (fan_in, fan_out or their
// mean); "truncated_normal": stddev = sqrt(scale) / 0.87962566103423978,
// truncated at 2 stddev; "untruncated_normal": stddev = sqrt(scale);
// "uniform": U(-sqrt(3 scale), sqrt(3 scale)). "normal" means "truncated_normal".
class VarianceScaling : public RandomInitializer {
 public:
  explicit VarianceScaling(double scale = 1.0, std::string mode = "fan_in",
                           std::string distribution = "truncated_normal", std::optional<uint64_t> seed = std::nullopt);
  std::string class_name() const override { return "VarianceScaling"; }
  nlohmann::json get_config() const override;
  double scale() const { return scale_; }
  const std::string& mode() const { return mode_; }
  const std::string& distribution() const { return distribution_; }
  // The stddev (normal) or limit (uniform) this initializer uses for a shape.
  double stddev_or_limit(const Shape& shape) const;

 protected:
  Tensor<double> generate(const Shape& shape) const override;
  double scale_;
  std::string mode_, distribution_;
};

// The named variance-scaling presets; their config is just {"seed"}.
#define SEPCONV_VS_PRESET(Name, SCALE, MODE, DIST)                                    \
  class Name : public VarianceScaling {                                               \
   public:                                                                            \
    explicit Name(std::optional<uint64_t> seed = std::nullopt)                        \
        : VarianceScaling(SCALE, MODE, DIST, seed) {}                                 \
    std::string class_name() const override { return #Name; }                         \
    nlohmann::json get_config() const override { return {{"seed", seed_json()}}; }    \
  };
SEPCONV_VS_PRESET(GlorotUniform, 1.0, "fan_avg", "uniform")
SEPCONV_VS_PRESET(GlorotNormal, 1.0, "fan_avg", "truncated_normal")
SEPCONV_VS_PRESET(LecunUniform, 1.0, "fan_in", "uniform")
SEPCONV_VS_PRESET(LecunNormal, 1.0, "fan_in", "truncated_normal")
SEPCONV_VS_PRESET(HeUniform, 2.0, "fan_in", "uniform")
SEPCONV_VS_PRESET(HeNormal, 2.0, "fan_in", "truncated_normal")
#undef SEPCONV_VS_PRESET

class RandomNormal : public RandomInitializer {
 public:
  explicit RandomNormal(double mean = 0.0, double stddev = 0.05, std::optional<uint64_t> seed = std::nullopt)
      : RandomInitializer(seed), mean_(mean), stddev_(stddev) {}
  std::string class_name() const override { return "RandomNormal"; }
  nlohmann::json get_config() const override { return {{"mean", mean_}, {"stddev", stddev_}, {"seed", seed_json()}}; }

 protected:
  Tensor<double> generate(const Shape& shape) const override;
  double mean_, stddev_;
};

// Normal values, those beyond 2 stddev from the mean drawn again.
class TruncatedNormal : public RandomNormal {
 public:
  explicit TruncatedNormal(double mean = 0.0, double stddev = 0.05, std::optional<uint64_t> seed = std::nullopt)
      : RandomNormal(mean, stddev, seed) {}
  std::string class_name() const override { return "TruncatedNormal"; }

 protected:
  Tensor<double> generate(const Shape& shape) const override;
};

class RandomUniform : public RandomInitializer {
 public:
  explicit RandomUniform(double minval = -0.05, double maxval = 0.05, std::optional<uint64_t> seed = std::nullopt)
      : RandomInitializer(seed), minval_(minval), maxval_(maxval) {}
  std::string class_name() const override { return "RandomUniform"; }
  nlohmann::json get_config() const override {
    return {{"minval", minval_}, {"maxval", maxval_}, {"seed", seed_json()}};
  }

 protected:
  Tensor<double> generate(const Shape& shape) const override;
  double minval_, maxval_;
};

// Keras's OrthogonalInitializer: the Q of a QR decomposition of a normal
// (max(rows, cols), min(rows, cols)) matrix, signs fixed by R's diagonal,
// rows = prod(shape[:-1]), cols = shape[-1]; times gain. Rank >= 2.
class OrthogonalInitializer : public RandomInitializer {
 public:
  explicit OrthogonalInitializer(double gain = 1.0, std::optional<uint64_t> seed = std::nullopt)
      : RandomInitializer(seed), gain_(gain) {}
  std::string class_name() const override { return "OrthogonalInitializer"; }
  nlohmann::json get_config() const override { return {{"gain", gain_}, {"seed", seed_json()}}; }

 protected:
  Tensor<double> generate(const Shape& shape) const override;
  double gain_;
};

// Keras's initializers.get: string ids (class names and their snake_case:
// "glorot_uniform", "GlorotUniform", "he_normal", "zeros", "ones", "constant",
// "random_normal", "random_uniform", "truncated_normal", "variance_scaling",
// "lecun_uniform", "lecun_normal", "he_uniform", "glorot_normal", "identity",
// "orthogonal", and the aliases "uniform", "normal", "one", "zero"), or a
// {"class_name", "config"} (config may carry "seed"); null -> nullptr; else
// ValueError "Could not interpret initializer identifier: ...".
std::shared_ptr<Initializer> get_initializer(const nlohmann::json& identifier);
std::shared_ptr<Initializer> get_initializer(const std::string& identifier);
inline std::shared_ptr<Initializer> get_initializer(const char* identifier) {
  return get_initializer(std::string(identifier));
}
nlohmann::json serialize(const Initializer& i);

}  // namespace sepconv

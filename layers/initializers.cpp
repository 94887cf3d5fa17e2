#include "sepconv/layers/initializers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>
#include <random>
#include <set>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/layers/identifier.h"

namespace sepconv {

using nlohmann::json;

Fans compute_fans(const Shape& shape) {
  // keras.src.initializers.random_initializers.compute_fans
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  if (shape.size() == 2) return {double(shape[0]), double(shape[1])};
  double receptive_field = 1;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive_field *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive_field, double(shape.back()) * receptive_field};
}

namespace {
// Draws from one generator: uniform [0, 1) with 53 random bits, standard
// normal by Box-Muller (both values of each pair used).
class Sampler {
 public:
  explicit Sampler(uint64_t seed) : gen_(seed) {}
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * M_PI * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

 private:
  std::mt19937_64 gen_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// Unseeded initializers take a fresh seed from one process-wide generator.
uint64_t next_unseeded_seed() {
  static std::mutex mutex;
  static std::mt19937_64 global{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  return global();
}

Sampler make_sampler(const std::optional<uint64_t>& seed) { return Sampler(seed ? *seed : next_unseeded_seed()); }

template <typename T>
Tensor<T> constant_fill(const Shape& shape, double value) {
  return Tensor<T>(shape, static_cast<T>(value));
}
}  // namespace

Tensor<float> Constant::operator()(const Shape& shape, float) const { return constant_fill<float>(shape, value_); }
Tensor<double> Constant::operator()(const Shape& shape, double) const { return constant_fill<double>(shape, value_); }

namespace {
template <typename T>
Tensor<T> identity_fill(const Shape& shape, double gain) {
  if (shape.size() != 2)
    throw ValueError(fmt::format("Identity matrix initializer can only be used for 2D matrices. Received: shape={} of "
                                 "rank {}.",
                                 shape_str(shape), shape.size()));
  Tensor<T> t(shape);
  for (int64_t i = 0; i < std::min(shape[0], shape[1]); ++i) t[i * shape[1] + i] = static_cast<T>(gain);
  return t;
}
}  // namespace
Tensor<float> Identity::operator()(const Shape& shape, float) const { return identity_fill<float>(shape, gain_); }
Tensor<double> Identity::operator()(const Shape& shape, double) const { return identity_fill<double>(shape, gain_); }

Tensor<float> RandomInitializer::operator()(const Shape& shape, float) const { return cast<float>(generate(shape)); }
Tensor<double> RandomInitializer::operator()(const Shape& shape, double) const { return generate(shape); }

VarianceScaling::VarianceScaling(double scale, std::string mode, std::string distribution,
                                 std::optional<uint64_t> seed)
    : RandomInitializer(seed), scale_(scale), mode_(std::move(mode)), distribution_(std::move(distribution)) {
  if (!(scale_ > 0.0))
    throw ValueError(fmt::format("Argument `scale` must be positive float. Received: scale={}", scale_));
  if (mode_ != "fan_in" && mode_ != "fan_out" && mode_ != "fan_avg")
    throw ValueError(fmt::format(
        "Invalid `mode` argument: {}. Please use one of {{'fan_in', 'fan_out', 'fan_avg'}}", mode_));
  std::transform(distribution_.begin(), distribution_.end(), distribution_.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (distribution_ == "normal") distribution_ = "truncated_normal";
  if (distribution_ != "uniform" && distribution_ != "truncated_normal" && distribution_ != "untruncated_normal")
    throw ValueError(fmt::format("Invalid `distribution` argument: {}. Allowed distributions: "
                                 "{{'uniform', 'truncated_normal', 'untruncated_normal'}}",
                                 distribution_));
}

json VarianceScaling::get_config() const {
  return {{"scale", scale_}, {"mode", mode_}, {"distribution", distribution_}, {"seed", seed_json()}};
}

double VarianceScaling::stddev_or_limit(const Shape& shape) const {
  const Fans f = compute_fans(shape);
  double scale = scale_;
  if (mode_ == "fan_in")
    scale /= std::max(1.0, f.fan_in);
  else if (mode_ == "fan_out")
    scale /= std::max(1.0, f.fan_out);
  else
    scale /= std::max(1.0, (f.fan_in + f.fan_out) / 2.0);
  if (distribution_ == "truncated_normal") return std::sqrt(scale) / 0.87962566103423978;
  if (distribution_ == "untruncated_normal") return std::sqrt(scale);
  return std::sqrt(3.0 * scale);
}

namespace {
Tensor<double> truncated(const Shape& shape, double mean, double stddev, Sampler& s) {
  Tensor<double> t(shape);
  for (double& v : t) {
    double z;
    do z = s.normal();
    while (std::abs(z) > 2.0);
    v = mean + stddev * z;
  }
  return t;
}
}  // namespace

Tensor<double> VarianceScaling::generate(const Shape& shape) const {
  const double p = stddev_or_limit(shape);
  Sampler s = make_sampler(seed_);
  if (distribution_ == "truncated_normal") return truncated(shape, 0.0, p, s);
  Tensor<double> t(shape);
  if (distribution_ == "untruncated_normal")
    for (double& v : t) v = p * s.normal();
  else
    for (double& v : t) v = -p + 2.0 * p * s.uniform();
  return t;
}

Tensor<double> RandomNormal::generate(const Shape& shape) const {
  Sampler s = make_sampler(seed_);
  Tensor<double> t(shape);
  for (double& v : t) v = mean_ + stddev_ * s.normal();
  return t;
}

Tensor<double> TruncatedNormal::generate(const Shape& shape) const {
  Sampler s = make_sampler(seed_);
  return truncated(shape, mean_, stddev_, s);
}

Tensor<double> RandomUniform::generate(const Shape& shape) const {
  Sampler s = make_sampler(seed_);
  Tensor<double> t(shape);
  for (double& v : t) v = minval_ + (maxval_ - minval_) * s.uniform();
  return t;
}

Tensor<double> OrthogonalInitializer::generate(const Shape& shape) const {
  if (shape.size() < 2)
    throw ValueError(fmt::format("The tensor to initialize must be at least two-dimensional. Received: shape={} of "
                                 "rank {}.",
                                 shape_str(shape), shape.size()));
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  const int64_t cols = shape.back();
  const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  Sampler s = make_sampler(seed_);
  // a: (m, n) row-major normal matrix; Gram-Schmidt (twice, for stability) on
  // its columns gives the Q of a QR with a positive diagonal of R, which is
  // Keras's q * sign(diag(r)).
  std::vector<double> a(static_cast<size_t>(m * n));
  for (double& v : a) v = s.normal();
  auto col = [&](int64_t j, int64_t i) -> double& { return a[static_cast<size_t>(i * n + j)]; };
  for (int64_t j = 0; j < n; ++j) {
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t k = 0; k < j; ++k) {
        double dot = 0;
        for (int64_t i = 0; i < m; ++i) dot += col(k, i) * col(j, i);
        for (int64_t i = 0; i < m; ++i) col(j, i) -= dot * col(k, i);
      }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += col(j, i) * col(j, i);
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < m; ++i) col(j, i) /= norm;
  }
  Tensor<double> t(shape);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[r * cols + c] = gain_ * (rows >= cols ? col(c, r) : col(r, c));  // transposed when rows < cols
  return t;
}

namespace {
std::optional<uint64_t> config_seed(const json& config, const std::string& owner) {
  if (!config.contains("seed") || config.at("seed").is_null()) return std::nullopt;
  const json& s = config.at("seed");
  if (!s.is_number_integer() || s.get<int64_t>() < 0)
    throw ValueError(fmt::format("Invalid value for argument `seed` of {}: expected a non-negative int or null. "
                                 "Received: seed={}",
                                 owner, s.dump()));
  return s.get<uint64_t>();
}

std::string config_string(const json& config, const char* key, const std::string& default_value,
                          const std::string& owner) {
  if (!config.contains(key) || config.at(key).is_null()) return default_value;
  if (!config.at(key).is_string())
    throw ValueError(fmt::format("Invalid value for argument `{}` of {}: expected a string. Received: {}={}", key,
                                 owner, key, config.at(key).dump()));
  return config.at(key).get<std::string>();
}

std::shared_ptr<Initializer> make_initializer(const std::string& name, const json& config, const json& identifier) {
  using detail::check_config_keys;
  using detail::config_number;
  // Class names, their snake_case forms, and Keras's aliases.
  auto is = [&](const char* cls, std::initializer_list<const char*> aliases) {
    if (name == cls) return true;
    for (const char* a : aliases)
      if (name == a) return true;
    return false;
  };
  if (is("Zeros", {"zeros", "zero"})) {
    check_config_keys(config, {}, "Zeros");
    return std::make_shared<Zeros>();
  }
  if (is("Ones", {"ones", "one"})) {
    check_config_keys(config, {}, "Ones");
    return std::make_shared<Ones>();
  }
  if (is("Constant", {"constant"})) {
    check_config_keys(config, {"value"}, "Constant");
    return std::make_shared<Constant>(config_number(config, "value", 0.0, "Constant"));
  }
  if (is("Identity", {"identity"})) {
    check_config_keys(config, {"gain"}, "Identity");
    return std::make_shared<Identity>(config_number(config, "gain", 1.0, "Identity"));
  }
#define SEPCONV_PRESET(Cls, snake)                          \
  if (is(#Cls, {snake})) {                                  \
    check_config_keys(config, {"seed"}, #Cls);              \
    return std::make_shared<Cls>(config_seed(config, #Cls)); \
  }
  SEPCONV_PRESET(GlorotUniform, "glorot_uniform")
  SEPCONV_PRESET(GlorotNormal, "glorot_normal")
  SEPCONV_PRESET(LecunUniform, "lecun_uniform")
  SEPCONV_PRESET(LecunNormal, "lecun_normal")
  SEPCONV_PRESET(HeUniform, "he_uniform")
  SEPCONV_PRESET(HeNormal, "he_normal")
#undef SEPCONV_PRESET
  if (is("VarianceScaling", {"variance_scaling"})) {
    check_config_keys(config, {"scale", "mode", "distribution", "seed"}, "VarianceScaling");
    return std::make_shared<VarianceScaling>(config_number(config, "scale", 1.0, "VarianceScaling"),
                                             config_string(config, "mode", "fan_in", "VarianceScaling"),
                                             config_string(config, "distribution", "truncated_normal",
                                                           "VarianceScaling"),
                                             config_seed(config, "VarianceScaling"));
  }
  if (is("RandomNormal", {"random_normal", "normal"})) {
    check_config_keys(config, {"mean", "stddev", "seed"}, "RandomNormal");
    return std::make_shared<RandomNormal>(config_number(config, "mean", 0.0, "RandomNormal"),
                                          config_number(config, "stddev", 0.05, "RandomNormal"),
                                          config_seed(config, "RandomNormal"));
  }
  if (is("TruncatedNormal", {"truncated_normal"})) {
    check_config_keys(config, {"mean", "stddev", "seed"}, "TruncatedNormal");
    return std::make_shared<TruncatedNormal>(config_number(config, "mean", 0.0, "TruncatedNormal"),
                                             config_number(config, "stddev", 0.05, "TruncatedNormal"),
                                             config_seed(config, "TruncatedNormal"));
  }
  if (is("RandomUniform", {"random_uniform", "uniform"})) {
    check_config_keys(config, {"minval", "maxval", "seed"}, "RandomUniform");
    return std::make_shared<RandomUniform>(config_number(config, "minval", -0.05, "RandomUniform"),
                                           config_number(config, "maxval", 0.05, "RandomUniform"),
                                           config_seed(config, "RandomUniform"));
  }
  if (is("OrthogonalInitializer", {"orthogonal_initializer", "orthogonal", "Orthogonal"})) {
    check_config_keys(config, {"gain", "seed"}, "OrthogonalInitializer");
    return std::make_shared<OrthogonalInitializer>(config_number(config, "gain", 1.0, "OrthogonalInitializer"),
                                                   config_seed(config, "OrthogonalInitializer"));
  }
  detail::throw_uninterpretable(identifier, "initializer", "unknown initializer");
}
}  // namespace

std::shared_ptr<Initializer> get_initializer(const json& identifier) {
  if (identifier.is_null()) return nullptr;
  if (identifier.is_string()) return get_initializer(identifier.get<std::string>());
  const detail::ObjectSpec spec = detail::parse_object_spec(identifier, "initializer");
  return make_initializer(spec.class_name, spec.config, identifier);
}

std::shared_ptr<Initializer> get_initializer(const std::string& identifier) {
  return make_initializer(identifier, json::object(), json(identifier));
}

json serialize(const Initializer& i) {
  return json{{"module", "keras.initializers"},
              {"class_name", i.class_name()},
              {"config", i.get_config()},
              {"registered_name", nullptr}};
}

}  // namespace sepconv

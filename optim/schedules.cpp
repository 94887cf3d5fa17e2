#include "sepconv/optim/schedules.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

namespace sepconv {

namespace {
void require_finite(const char* name, double value) {
  if (!std::isfinite(value))
    throw ValueError(fmt::format("Argument `{}` must be a finite number. Received: {}={}", name, name, value));
}
void require_decay_steps(const char* name, double value) {
  if (!(value > 0) || !std::isfinite(value))
    throw ValueError(fmt::format("Argument `{}` must be > 0. Received: {}={}", name, name, value));
}
nlohmann::json number_or_null(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }
}  // namespace

ExponentialDecay::ExponentialDecay(double initial_learning_rate, double decay_steps, double decay_rate, bool staircase,
                                   std::string name)
    : initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      decay_rate_(decay_rate),
      staircase_(staircase),
      name_(std::move(name)) {
  require_finite("initial_learning_rate", initial_learning_rate);
  require_decay_steps("decay_steps", decay_steps);
  require_finite("decay_rate", decay_rate);
}

double ExponentialDecay::operator()(int64_t step) const {
  double p = static_cast<double>(step) / decay_steps_;
  if (staircase_) p = std::floor(p);
  return initial_learning_rate_ * std::pow(decay_rate_, p);
}

nlohmann::json ExponentialDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"decay_rate", decay_rate_},
          {"staircase", staircase_},
          {"name", name_}};
}

CosineDecay::CosineDecay(double initial_learning_rate, double decay_steps, double alpha,
                         std::optional<double> warmup_target, double warmup_steps, std::string name)
    : initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      alpha_(alpha),
      warmup_target_(warmup_target),
      warmup_steps_(warmup_steps),
      name_(std::move(name)) {
  require_finite("initial_learning_rate", initial_learning_rate);
  require_decay_steps("decay_steps", decay_steps);
  require_finite("alpha", alpha);
  if (warmup_target) require_finite("warmup_target", *warmup_target);
  if (!(warmup_steps >= 0) || !std::isfinite(warmup_steps))
    throw ValueError(fmt::format("Argument `warmup_steps` must be >= 0. Received: warmup_steps={}", warmup_steps));
}

double CosineDecay::operator()(int64_t step) const {
  auto decayed = [&](double s, double from) {
    const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * (s / decay_steps_)));
    return from * ((1 - alpha_) * cosine + alpha_);
  };
  const double s = static_cast<double>(step);
  if (!warmup_target_) return decayed(std::min(s, decay_steps_), initial_learning_rate_);
  const double clamped = std::min(s, decay_steps_ + warmup_steps_);
  if (clamped < warmup_steps_)
    return (*warmup_target_ - initial_learning_rate_) * (clamped / warmup_steps_) + initial_learning_rate_;
  return decayed(clamped - warmup_steps_, *warmup_target_);
}

nlohmann::json CosineDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"alpha", alpha_},
          {"name", name_},
          {"warmup_target", number_or_null(warmup_target_)},
          {"warmup_steps", warmup_steps_}};
}

PiecewiseConstantDecay::PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values,
                                               std::string name)
    : boundaries_(std::move(boundaries)), values_(std::move(values)), name_(std::move(name)) {
  if (boundaries_.size() + 1 != values_.size())
    throw ValueError(fmt::format(
        "The length of boundaries should be 1 less than the length of values. Received: boundaries=[{}] of length "
        "{}, and values=[{}] of length {}.",
        fmt::join(boundaries_, ", "), boundaries_.size(), fmt::join(values_, ", "), values_.size()));
  for (size_t i = 0; i < boundaries_.size(); ++i) {
    require_finite("boundaries", boundaries_[i]);
    if (i > 0 && !(boundaries_[i] > boundaries_[i - 1]))
      throw ValueError(fmt::format("Argument `boundaries` must be strictly increasing. Received: boundaries=[{}]",
                                   fmt::join(boundaries_, ", ")));
  }
  for (double v : values_) require_finite("values", v);
}

double PiecewiseConstantDecay::operator()(int64_t step) const {
  const double s = static_cast<double>(step);
  for (size_t i = 0; i < boundaries_.size(); ++i)
    if (s <= boundaries_[i]) return values_[i];
  return values_.back();
}

nlohmann::json PiecewiseConstantDecay::get_config() const {
  return {{"boundaries", boundaries_}, {"values", values_}, {"name", name_}};
}

namespace {
double number_arg(const nlohmann::json& config, const char* key, const char* schedule) {
  auto it = config.find(key);
  if (it == config.end())
    throw ValueError(fmt::format("{}: missing required argument `{}` in config {}", schedule, key, config.dump()));
  if (!it->is_number())
    throw ValueError(fmt::format("{}: argument `{}` must be a number. Received: {}={}", schedule, key, key, it->dump()));
  return it->get<double>();
}
double number_arg(const nlohmann::json& config, const char* key, const char* schedule, double fallback) {
  if (!config.contains(key) || config.at(key).is_null()) return fallback;
  return number_arg(config, key, schedule);
}
std::vector<double> number_list(const nlohmann::json& config, const char* key, const char* schedule) {
  auto it = config.find(key);
  if (it == config.end() || !it->is_array())
    throw ValueError(fmt::format("{}: argument `{}` must be a list of numbers. Received: {}", schedule, key,
                                 it == config.end() ? "nothing" : it->dump()));
  std::vector<double> out;
  for (const auto& v : *it) {
    if (!v.is_number())
      throw ValueError(fmt::format("{}: argument `{}` must be a list of numbers. Received: {}", schedule, key,
                                   it->dump()));
    out.push_back(v.get<double>());
  }
  return out;
}
void reject_unknown(const nlohmann::json& config, std::initializer_list<const char*> known) {
  nlohmann::json unknown = nlohmann::json::object();
  for (auto it = config.begin(); it != config.end(); ++it)
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; }))
      unknown[it.key()] = it.value();
  if (!unknown.empty()) throw ValueError(fmt::format("Argument(s) not recognized: {}", unknown.dump()));
}
bool bool_arg(const nlohmann::json& config, const char* key, const char* schedule, bool fallback) {
  if (!config.contains(key) || config.at(key).is_null()) return fallback;
  if (!config.at(key).is_boolean())
    throw ValueError(fmt::format("{}: argument `{}` must be a boolean. Received: {}={}", schedule, key, key,
                                 config.at(key).dump()));
  return config.at(key).get<bool>();
}
std::string name_arg(const nlohmann::json& config, const char* fallback) {
  if (config.contains("name") && config.at("name").is_string()) return config.at("name").get<std::string>();
  return fallback;
}
}  // namespace

std::shared_ptr<LearningRateSchedule> make_schedule(const nlohmann::json& identifier) {
  auto fail = [&]() {
    return ValueError(fmt::format("Could not interpret learning rate schedule identifier: {}", identifier.dump()));
  };
  if (!identifier.is_object() || !identifier.contains("class_name") || !identifier.at("class_name").is_string())
    throw fail();
  const std::string cls = identifier.at("class_name").get<std::string>();
  const nlohmann::json config = identifier.value("config", nlohmann::json::object());
  if (!config.is_object()) throw fail();
  if (cls == "ExponentialDecay") {
    reject_unknown(config, {"initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"});
    return std::make_shared<ExponentialDecay>(
        number_arg(config, "initial_learning_rate", "ExponentialDecay"), number_arg(config, "decay_steps", "ExponentialDecay"),
        number_arg(config, "decay_rate", "ExponentialDecay"), bool_arg(config, "staircase", "ExponentialDecay", false),
        name_arg(config, "ExponentialDecay"));
  }
  if (cls == "CosineDecay") {
    reject_unknown(config, {"initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target", "warmup_steps"});
    std::optional<double> warmup_target;
    if (config.contains("warmup_target") && !config.at("warmup_target").is_null())
      warmup_target = number_arg(config, "warmup_target", "CosineDecay");
    return std::make_shared<CosineDecay>(number_arg(config, "initial_learning_rate", "CosineDecay"),
                                         number_arg(config, "decay_steps", "CosineDecay"),
                                         number_arg(config, "alpha", "CosineDecay", 0.0), warmup_target,
                                         number_arg(config, "warmup_steps", "CosineDecay", 0.0),
                                         name_arg(config, "CosineDecay"));
  }
  if (cls == "PiecewiseConstantDecay") {
    reject_unknown(config, {"boundaries", "values", "name"});
    return std::make_shared<PiecewiseConstantDecay>(number_list(config, "boundaries", "PiecewiseConstantDecay"),
                                                    number_list(config, "values", "PiecewiseConstantDecay"),
                                                    name_arg(config, "PiecewiseConstant"));
  }
  throw fail();
}

}  // namespace sepconv

#include "sepconv/optim/optimizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "sepconv/optim/adam.h"
#include "sepconv/optim/schedules.h"
#include "sepconv/optim/sgd.h"

namespace sepconv {

namespace optim_detail {
void require_non_negative(const char* name, double value) {
  if (!(value >= 0) || !std::isfinite(value))
    throw ValueError(fmt::format("Argument `{}` must be >= 0. Received: {}={}", name, name, value));
}
void require_positive(const char* name, double value) {
  if (!(value > 0) || !std::isfinite(value))
    throw ValueError(fmt::format("Argument `{}` must be > 0. Received: {}={}", name, name, value));
}
}  // namespace optim_detail

using optim_detail::require_non_negative;
using optim_detail::require_positive;

void LearningRate::set_schedule(std::shared_ptr<LearningRateSchedule> schedule) {
  schedule_ = std::move(schedule);
  if (!schedule_) throw ValueError("Argument `learning_rate` is a null LearningRateSchedule");
}

nlohmann::json LearningRate::to_json() const {
  if (!schedule_) return value_;
  return {{"module", "keras.optimizers.schedules"},
          {"class_name", schedule_->class_name()},
          {"config", schedule_->get_config()},
          {"registered_name", nullptr}};
}

namespace {
std::string format_optional(const std::optional<double>& v) { return v ? fmt::format("{}", *v) : "None"; }
nlohmann::json json_optional(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }
}  // namespace

template <typename T>
Optimizer<T>::Optimizer(const OptimizerOptions& options, std::string default_name)
    : name_(options.name.empty() ? std::move(default_name) : options.name),
      learning_rate_(options.learning_rate),
      weight_decay_(options.weight_decay),
      clipnorm_(options.clipnorm),
      clipvalue_(options.clipvalue),
      global_clipnorm_(options.global_clipnorm) {
  if (!learning_rate_.is_schedule()) require_non_negative("learning_rate", learning_rate_.value());
  if (weight_decay_) require_non_negative("weight_decay", *weight_decay_);
  const int clips = int(clipnorm_.has_value()) + int(clipvalue_.has_value()) + int(global_clipnorm_.has_value());
  if (clips > 1)
    throw ValueError(fmt::format(
        "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: clipnorm={}, "
        "clipvalue={}, global_clipnorm={}",
        format_optional(clipnorm_), format_optional(clipvalue_), format_optional(global_clipnorm_)));
  if (clipnorm_) require_positive("clipnorm", *clipnorm_);
  if (clipvalue_) require_positive("clipvalue", *clipvalue_);
  if (global_clipnorm_) require_positive("global_clipnorm", *global_clipnorm_);
}

template <typename T>
void Optimizer<T>::set_iterations(int64_t n) {
  if (n < 0) throw ValueError(fmt::format("Argument `iterations` must be >= 0. Received: iterations={}", n));
  iterations_ = n;
}

template <typename T>
void Optimizer<T>::set_learning_rate(double lr) {
  if (learning_rate_.is_schedule())
    throw ValueError(
        "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` constructor "
        "argument, hence its learning rate is not settable. If you need the learning rate to be settable, you "
        "should instantiate the optimizer with a float `learning_rate` argument.");
  require_non_negative("learning_rate", lr);
  learning_rate_ = LearningRate(lr);
}

namespace {
template <typename T>
std::string path_of(const Variable<T>& v, const std::string& weight_name, size_t index) {
  if (!v.name().empty()) return v.name();
  if (!weight_name.empty()) return weight_name;
  return fmt::format("variable_{}", index);
}
}  // namespace

template <typename T>
void Optimizer<T>::apply(const Parameters& weights) {
  std::vector<Target> targets;
  targets.reserve(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!weights[i]) throw ValueError(fmt::format("Optimizer.apply: weight {} is null", i));
    const Parameter<T>& w = *weights[i];
    targets.push_back(Target{w.variable, w.variable.has_grad() ? &w.variable.grad() : nullptr, w.projection(),
                             path_of(w.variable, w.name, i)});
  }
  apply_targets(targets);
}

template <typename T>
void Optimizer<T>::apply(const std::vector<Variable<T>>& variables) {
  std::vector<Target> targets;
  targets.reserve(variables.size());
  for (size_t i = 0; i < variables.size(); ++i)
    targets.push_back(Target{variables[i], variables[i].has_grad() ? &variables[i].grad() : nullptr, nullptr,
                             path_of(variables[i], std::string(), i)});
  apply_targets(targets);
}

namespace {
void require_same_count(size_t grads, size_t vars) {
  if (grads != vars)
    throw ValueError(fmt::format("Optimizer.apply: received {} gradients for {} variables; they must match one to one",
                                 grads, vars));
}
}  // namespace

template <typename T>
void Optimizer<T>::apply(const std::vector<Tensor<T>>& gradients, const std::vector<Variable<T>>& variables) {
  require_same_count(gradients.size(), variables.size());
  std::vector<Target> targets;
  targets.reserve(variables.size());
  for (size_t i = 0; i < variables.size(); ++i)
    targets.push_back(Target{variables[i], gradients[i].empty() && !variables[i].value().empty() ? nullptr : &gradients[i],
                             nullptr, path_of(variables[i], std::string(), i)});
  apply_targets(targets);
}

template <typename T>
void Optimizer<T>::apply(const std::vector<Tensor<T>>& gradients, const Parameters& weights) {
  require_same_count(gradients.size(), weights.size());
  std::vector<Target> targets;
  targets.reserve(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!weights[i]) throw ValueError(fmt::format("Optimizer.apply: weight {} is null", i));
    const Parameter<T>& w = *weights[i];
    targets.push_back(Target{w.variable, gradients[i].empty() && !w.variable.value().empty() ? nullptr : &gradients[i],
                             w.projection(), path_of(w.variable, w.name, i)});
  }
  apply_targets(targets);
}

template <typename T>
void Optimizer<T>::build(const Parameters& weights) {
  std::vector<Target> targets;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!weights[i]) throw ValueError(fmt::format("Optimizer.build: weight {} is null", i));
    targets.push_back(Target{weights[i]->variable, nullptr, nullptr, path_of(weights[i]->variable, weights[i]->name, i)});
  }
  build_targets(targets);
}

template <typename T>
void Optimizer<T>::build(const std::vector<Variable<T>>& variables) {
  std::vector<Target> targets;
  for (size_t i = 0; i < variables.size(); ++i)
    targets.push_back(Target{variables[i], nullptr, nullptr, path_of(variables[i], std::string(), i)});
  build_targets(targets);
}

template <typename T>
void Optimizer<T>::build_targets(const std::vector<Target>& targets) {
  if (built_) return;
  const std::vector<std::string> names = slot_names();
  for (const Target& t : targets) {
    const void* key = &t.variable.value();
    if (slots_.count(key)) continue;  // the same weight listed twice
    auto set = std::make_unique<SlotSet>();
    set->variable = t.variable;
    for (size_t s = 0; s < names.size(); ++s) set->slots.emplace_back(t.variable.shape());
    slots_.emplace(key, std::move(set));
  }
  built_ = true;
}

template <typename T>
typename Optimizer<T>::SlotSet& Optimizer<T>::slots_of(const Target& target) {
  auto it = slots_.find(&target.variable.value());
  if (it == slots_.end())
    throw ValueError(fmt::format(
        "Unknown variable: '{}'. This optimizer can only be called for the variables it was originally built with. "
        "When working with a new set of variables, you should recreate a new optimizer instance.",
        target.path));
  SlotSet& set = *it->second;
  // A variable whose value was replaced by one of another shape (e.g. a
  // reassigned weight) would silently misalign with its slots.
  for (const Tensor<T>& s : set.slots)
    if (s.shape() != target.variable.shape())
      throw ShapeError(fmt::format("Optimizer: variable '{}' now has shape {} but its optimizer slots have shape {}",
                                   target.path, shape_str(target.variable.shape()), shape_str(s.shape())));
  return set;
}

namespace {
template <typename T>
double sum_of_squares(const Tensor<T>& g) {
  double s = 0;
  for (int64_t i = 0; i < g.size(); ++i) s += double(g[i]) * double(g[i]);
  return s;
}
}  // namespace

template <typename T>
void Optimizer<T>::apply_targets(std::vector<Target>& targets) {
  if (targets.empty()) return;  // Keras: an empty gradient list is a no-op
  build_targets(targets);

  // 0. Keep the weights that have a gradient, checking its shape.
  std::vector<Target*> active;
  for (Target& t : targets) {
    if (!t.gradient) continue;
    if (t.gradient->shape() != t.variable.shape())
      throw ShapeError(fmt::format("Optimizer: the gradient of '{}' has shape {} but the variable has shape {}", t.path,
                                   shape_str(t.gradient->shape()), shape_str(t.variable.shape())));
    active.push_back(&t);
  }
  if (active.empty()) throw ValueError("No gradients provided for any variable.");
  std::vector<SlotSet*> sets;
  for (Target* t : active) sets.push_back(&slots_of(*t));

  // 1. Clip. Clipped gradients are copies: the variables' own grads stay as
  //    backward left them.
  std::vector<Tensor<T>> clipped;
  if (clipnorm_ || clipvalue_ || global_clipnorm_) {
    clipped.reserve(active.size());
    for (Target* t : active) clipped.push_back(t->gradient->clone());
    if (clipnorm_) {
      // Keras's _clip_by_norm: g * clipnorm / max(||g||, clipnorm).
      for (Tensor<T>& g : clipped) {
        const double norm = std::sqrt(sum_of_squares(g));
        const T factor = static_cast<T>(*clipnorm_ / std::max(norm, *clipnorm_));
        for (T& x : g) x *= factor;
      }
    } else if (global_clipnorm_) {
      // Keras's clip_by_global_norm: a non-finite norm makes every gradient NaN.
      double total = 0;
      for (const Tensor<T>& g : clipped) total += sum_of_squares(g);
      const double norm = std::sqrt(total);
      const double scale = *global_clipnorm_ * std::min(1.0 / norm, 1.0 / *global_clipnorm_) + (norm - norm);
      for (Tensor<T>& g : clipped)
        for (T& x : g) x = static_cast<T>(x * scale);
    } else {
      const T v = static_cast<T>(*clipvalue_);
      for (Tensor<T>& g : clipped)
        for (T& x : g) x = std::clamp(x, -v, v);
    }
    for (size_t i = 0; i < active.size(); ++i) active[i]->gradient = &clipped[i];
  }

  const double lr = learning_rate();

  // 2. Decoupled weight decay.
  if (weight_decay_) {
    const T factor = static_cast<T>(*weight_decay_) * static_cast<T>(lr);
    for (Target* t : active)
      for (T& w : t->variable.value()) w -= w * factor;
  }

  // 3. The subclass's update.
  for (size_t i = 0; i < active.size(); ++i) update_step(*active[i]->gradient, active[i]->variable.value(), sets[i]->slots, lr);

  // 4. Constraints, on the updated values.
  for (Target* t : active) {
    if (!t->constraint) continue;
    Tensor<T> projected = (*t->constraint)(t->variable.value());
    if (projected.shape() != t->variable.shape())
      throw ShapeError(fmt::format("Constraint {} returned shape {} for variable '{}' of shape {}",
                                   t->constraint->class_name(), shape_str(projected.shape()), t->path,
                                   shape_str(t->variable.shape())));
    t->variable.value().copy_from(projected);
  }

  // 5. Count the step.
  ++iterations_;
}

template <typename T>
typename Optimizer<T>::StateList Optimizer<T>::state_of(const std::vector<Target>& targets) {
  build_targets(targets);
  const std::vector<std::string> names = slot_names();
  StateList out;
  std::set<std::string> seen;
  for (const Target& t : targets) {
    if (!seen.insert(t.path).second)
      throw ValueError(fmt::format(
          "Optimizer.state: two weights share the path '{}'; give the variables unique names (e.g. "
          "\"<layer>/<weight>\") so their slots can be told apart",
          t.path));
    SlotSet& set = slots_of(t);
    for (size_t s = 0; s < names.size(); ++s) out.emplace_back(t.path + "/" + names[s], &set.slots[s]);
  }
  return out;
}

template <typename T>
typename Optimizer<T>::StateList Optimizer<T>::state(const Parameters& weights) {
  std::vector<Target> targets;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!weights[i]) throw ValueError(fmt::format("Optimizer.state: weight {} is null", i));
    targets.push_back(Target{weights[i]->variable, nullptr, nullptr, path_of(weights[i]->variable, weights[i]->name, i)});
  }
  return state_of(targets);
}

template <typename T>
typename Optimizer<T>::StateList Optimizer<T>::state(const std::vector<Variable<T>>& variables) {
  std::vector<Target> targets;
  for (size_t i = 0; i < variables.size(); ++i)
    targets.push_back(Target{variables[i], nullptr, nullptr, path_of(variables[i], std::string(), i)});
  return state_of(targets);
}

template <typename T>
nlohmann::json Optimizer<T>::get_config() const {
  return {{"name", name_},
          {"learning_rate", learning_rate_.to_json()},
          {"weight_decay", json_optional(weight_decay_)},
          {"clipnorm", json_optional(clipnorm_)},
          {"global_clipnorm", json_optional(global_clipnorm_)},
          {"clipvalue", json_optional(clipvalue_)},
          {"use_ema", false},
          {"ema_momentum", 0.99},
          {"ema_overwrite_frequency", nullptr},
          {"loss_scale_factor", nullptr},
          {"gradient_accumulation_steps", nullptr}};
}

template class Optimizer<float>;
template class Optimizer<double>;

// ---- make_optimizer -------------------------------------------------------------

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// Reads a Keras optimizer config, rejecting keys it does not know and the
// Keras features this library does not implement (EMA, loss scaling,
// gradient accumulation) unless they hold their "off" values.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& config, std::vector<std::string> extra_keys) : config_(config) {
    static const char* common[] = {"name",      "learning_rate",           "weight_decay", "clipnorm",
                                   "clipvalue", "global_clipnorm",         "use_ema",      "ema_momentum",
                                   "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps",
                                   "decay"};
    std::set<std::string> known(std::begin(common), std::end(common));
    known.insert(extra_keys.begin(), extra_keys.end());
    nlohmann::json unknown = nlohmann::json::object();
    for (auto it = config.begin(); it != config.end(); ++it)
      if (!known.count(it.key())) unknown[it.key()] = it.value();
    if (!unknown.empty()) throw ValueError(fmt::format("Argument(s) not recognized: {}", unknown.dump()));
    if (has("use_ema") && !(config.at("use_ema").is_boolean()))
      throw ValueError(fmt::format("Argument `use_ema` must be a boolean. Received: use_ema={}", config.at("use_ema").dump()));
    if (has("use_ema") && config.at("use_ema").get<bool>())
      throw ValueError("Argument `use_ema=True` is not supported by this library's optimizers");
    if (has("loss_scale_factor"))
      throw ValueError(fmt::format("Argument `loss_scale_factor` is not supported. Received: loss_scale_factor={}",
                                   config.at("loss_scale_factor").dump()));
    if (has("gradient_accumulation_steps"))
      throw ValueError(fmt::format(
          "Argument `gradient_accumulation_steps` is not supported. Received: gradient_accumulation_steps={}",
          config.at("gradient_accumulation_steps").dump()));
  }

  bool has(const char* key) const { return config_.contains(key) && !config_.at(key).is_null(); }

  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& v = config_.at(key);
    if (!v.is_number())
      throw ValueError(fmt::format("Argument `{}` must be a float. Received: {}={}", key, key, v.dump()));
    return v.get<double>();
  }
  std::optional<double> optional_number(const char* key) const {
    if (!has(key)) return std::nullopt;
    return number(key, 0.0);
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = config_.at(key);
    if (!v.is_boolean())
      throw ValueError(fmt::format("Argument `{}` must be a boolean. Received: {}={}", key, key, v.dump()));
    return v.get<bool>();
  }

  template <typename Options>
  void common(Options& o) const {
    if (has("learning_rate")) {
      const auto& lr = config_.at("learning_rate");
      if (lr.is_number())
        o.learning_rate(lr.get<double>());
      else if (lr.is_object())
        o.learning_rate(make_schedule(lr));
      else
        throw ValueError(fmt::format(
            "Argument `learning_rate` should be float, or an instance of LearningRateSchedule. Received instead: "
            "learning_rate={}",
            lr.dump()));
    }
    if (config_.contains("weight_decay")) o.weight_decay(optional_number("weight_decay"));
    o.clipnorm(optional_number("clipnorm"));
    o.clipvalue(optional_number("clipvalue"));
    o.global_clipnorm(optional_number("global_clipnorm"));
    if (has("name")) {
      if (!config_.at("name").is_string())
        throw ValueError(fmt::format("Argument `name` must be a string. Received: name={}", config_.at("name").dump()));
      o.name(config_.at("name").get<std::string>());
    }
  }

 private:
  const nlohmann::json& config_;
};

template <typename Options>
void read_adam(const ConfigReader& r, Options& o) {
  r.common(o);
  o.beta_1(r.number("beta_1", o.beta_1()))
      .beta_2(r.number("beta_2", o.beta_2()))
      .epsilon(r.number("epsilon", o.epsilon()))
      .amsgrad(r.boolean("amsgrad", o.amsgrad()));
}
}  // namespace

template <typename T>
std::unique_ptr<Optimizer<T>> make_optimizer(const nlohmann::json& identifier) {
  auto fail = [&]() {
    return ValueError(fmt::format("Could not interpret optimizer identifier: {}",
                                  identifier.is_string() ? identifier.get<std::string>() : identifier.dump()));
  };
  std::string cls;
  nlohmann::json config = nlohmann::json::object();
  if (identifier.is_string()) {
    cls = identifier.get<std::string>();
  } else if (identifier.is_object() && identifier.contains("class_name") && identifier.at("class_name").is_string()) {
    cls = identifier.at("class_name").get<std::string>();
    if (identifier.contains("config") && !identifier.at("config").is_null()) {
      config = identifier.at("config");
      if (!config.is_object()) throw fail();
    }
  } else {
    throw fail();
  }
  const std::string key = lower(cls);
  if (key == "sgd") {
    ConfigReader r(config, {"momentum", "nesterov"});
    SGDOptions o;
    r.common(o);
    o.momentum(r.number("momentum", 0.0)).nesterov(r.boolean("nesterov", false));
    return std::make_unique<SGD<T>>(o);
  }
  if (key == "adam") {
    ConfigReader r(config, {"beta_1", "beta_2", "epsilon", "amsgrad"});
    AdamOptions o;
    read_adam(r, o);
    return std::make_unique<Adam<T>>(o);
  }
  if (key == "adamw") {
    ConfigReader r(config, {"beta_1", "beta_2", "epsilon", "amsgrad"});
    AdamWOptions o;
    read_adam(r, o);
    if (config.contains("weight_decay") && config.at("weight_decay").is_null())
      throw ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None");
    return std::make_unique<AdamW<T>>(o);
  }
  throw fail();
}

template std::unique_ptr<Optimizer<float>> make_optimizer<float>(const nlohmann::json&);
template std::unique_ptr<Optimizer<double>> make_optimizer<double>(const nlohmann::json&);

}  // namespace sepconv

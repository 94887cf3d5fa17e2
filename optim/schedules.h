#pragma once
// Learning-rate schedules (keras.optimizers.schedules), evaluated in double at
// the optimizer's iteration count (the count before the step being taken).
#include <optional>
#include <string>
#include <vector>

#include "sepconv/optim/optimizer.h"

namespace sepconv {

// initial_learning_rate * decay_rate ^ (step / decay_steps); with staircase the
// exponent is floor(step / decay_steps).
class ExponentialDecay : public LearningRateSchedule {
 public:
  // decay_steps must be > 0 (Keras's check); every argument finite.
  ExponentialDecay(double initial_learning_rate, double decay_steps, double decay_rate, bool staircase = false,
                   std::string name = "ExponentialDecay");
  double operator()(int64_t step) const override;
  std::string class_name() const override { return "ExponentialDecay"; }
  nlohmann::json get_config() const override;

 private:
  double initial_learning_rate_, decay_steps_, decay_rate_;
  bool staircase_;
  std::string name_;
};

// Cosine decay from the initial rate (or, with a warmup, from warmup_target) to
// that rate * alpha over decay_steps, then constant. With warmup_target set,
// the first warmup_steps rise linearly from initial_learning_rate to
// warmup_target:
//   s = min(step, warmup_steps + decay_steps)
//   s < warmup_steps: initial + (warmup_target - initial) * s / warmup_steps
//   else: from * ((1 - alpha) * 0.5 * (1 + cos(pi * (s - warmup_steps) / decay_steps)) + alpha)
class CosineDecay : public LearningRateSchedule {
 public:
  // decay_steps > 0, warmup_steps >= 0.
  CosineDecay(double initial_learning_rate, double decay_steps, double alpha = 0.0,
              std::optional<double> warmup_target = std::nullopt, double warmup_steps = 0,
              std::string name = "CosineDecay");
  double operator()(int64_t step) const override;
  std::string class_name() const override { return "CosineDecay"; }
  nlohmann::json get_config() const override;

 private:
  double initial_learning_rate_, decay_steps_, alpha_;
  std::optional<double> warmup_target_;
  double warmup_steps_;
  std::string name_;
};

// values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step
// <= boundaries[i], values.back() after the last boundary. Boundaries strictly
// increasing; values.size() == boundaries.size() + 1.
class PiecewiseConstantDecay : public LearningRateSchedule {
 public:
  PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values,
                         std::string name = "PiecewiseConstant");
  double operator()(int64_t step) const override;
  std::string class_name() const override { return "PiecewiseConstantDecay"; }
  nlohmann::json get_config() const override;

 private:
  std::vector<double> boundaries_, values_;
  std::string name_;
};

// Keras's schedules.deserialize: {"class_name": "ExponentialDecay" |
// "CosineDecay" | "PiecewiseConstantDecay", "config": {...}} (extra "module" /
// "registered_name" keys are ignored). Anything else: ValueError "Could not
// interpret learning rate schedule identifier: ...".
std::shared_ptr<LearningRateSchedule> make_schedule(const nlohmann::json& identifier);

}  // namespace sepconv

#pragma once
// Optimizer base: one step follows Keras 3's BaseOptimizer.apply order exactly:
//   1. clip gradients (clipnorm per tensor | clipvalue | global_clipnorm; at most one)
//   2. decoupled weight decay: w -= lr * weight_decay * w (every trainable weight)
//   3. the update rule of the subclass (update_step)
//   4. each weight's constraint
//   5. iterations += 1
// Subclasses implement only the update of one weight from its gradient and state.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/layer.h"

namespace sepconv {

// A learning rate: a constant or a schedule of the iteration count.
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  virtual double operator()(int64_t step) const = 0;
  virtual nlohmann::json get_config() const = 0;
};

struct OptimizerOptions {
  double learning_rate = 0.001;
  std::shared_ptr<LearningRateSchedule> schedule;  // overrides learning_rate when set
  std::optional<double> weight_decay, clipnorm, clipvalue, global_clipnorm;
};

}  // namespace sepconv

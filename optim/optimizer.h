#pragma once
// Optimizer base: one step follows Keras 3's BaseOptimizer.apply order exactly:
//   0. drop the weights that have no gradient (Keras skips None gradients;
//      they get no decay and no constraint either)
//   1. clip gradients (clipnorm per tensor | clipvalue | global_clipnorm; at most one)
//   2. decoupled weight decay: w -= w * weight_decay * lr (every remaining weight)
//   3. the update rule of the subclass (update_step)
//   4. each weight's constraint
//   5. iterations += 1
// The learning rate of a step is schedule(iterations) with the count before
// the step (0 on the first step), or the constant. Subclasses implement only
// the update of one weight from its gradient and its slot tensors.
//
// Slots (Keras's optimizer variables) are created, zero-filled, for every
// weight of the first apply() (or build() / state()); later calls may use only
// those weights, as in Keras. state() names them "<weight path>/<slot>", with
// Keras's slot names: SGD "momentum" (only when momentum != 0), Adam and AdamW
// "momentum", "velocity" and, with amsgrad, "velocity_hat". The weight path is
// the variable's name when it has one, else the Weight's name, else
// "variable_<index>" for unnamed plain variables.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <concepts>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/autograd/parameter.h"
#include "sepconv/autograd/variable.h"

namespace sepconv {

// A learning rate as a function of the optimizer's iteration count.
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  virtual double operator()(int64_t step) const = 0;
  virtual std::string class_name() const = 0;
  virtual nlohmann::json get_config() const = 0;
};

// What Keras accepts as `learning_rate`: a constant or a schedule. Implicit
// from either, so `SGDOptions(0.1)` and `SGDOptions(schedule)` both read well.
class LearningRate {
 public:
  LearningRate(double value) : value_(value) {}  // NOLINT: implicit on purpose
  // Any schedule type; a null pointer is a ValueError.
  template <typename S, typename = std::enable_if_t<std::is_base_of_v<LearningRateSchedule, S>>>
  LearningRate(std::shared_ptr<S> schedule) {  // NOLINT: implicit on purpose
    set_schedule(std::move(schedule));
  }
  // The rate at this iteration count.
  double at(int64_t step) const { return schedule_ ? (*schedule_)(step) : value_; }
  bool is_schedule() const { return schedule_ != nullptr; }
  double value() const { return value_; }  // the constant (meaningless for a schedule)
  const std::shared_ptr<LearningRateSchedule>& schedule() const { return schedule_; }
  // A number, or the schedule as {"class_name", "config"} (Keras's serialize).
  nlohmann::json to_json() const;

 private:
  void set_schedule(std::shared_ptr<LearningRateSchedule> schedule);
  double value_ = 0.0;
  std::shared_ptr<LearningRateSchedule> schedule_;
};

// The arguments every Keras optimizer takes (BaseOptimizer's), as plain data.
struct OptimizerOptions {
  LearningRate learning_rate = 0.001;
  std::optional<double> weight_decay, clipnorm, clipvalue, global_clipnorm;
  std::string name;  // empty: the class's default name ("SGD", "adam", "adamw")
};

// Chained setters with Keras's argument names for the common arguments, shared
// by the per-optimizer option classes (SGDOptions, AdamOptions, AdamWOptions).
template <typename Derived>
class BasicOptimizerOptions {
 public:
  Derived& learning_rate(LearningRate lr) {
    common_.learning_rate = std::move(lr);
    return self();
  }
  Derived& weight_decay(std::optional<double> v) {
    common_.weight_decay = v;
    return self();
  }
  Derived& clipnorm(std::optional<double> v) {
    common_.clipnorm = v;
    return self();
  }
  Derived& clipvalue(std::optional<double> v) {
    common_.clipvalue = v;
    return self();
  }
  Derived& global_clipnorm(std::optional<double> v) {
    common_.global_clipnorm = v;
    return self();
  }
  Derived& name(std::string n) {
    common_.name = std::move(n);
    return self();
  }
  const OptimizerOptions& common() const { return common_; }

 protected:
  explicit BasicOptimizerOptions(LearningRate lr) { common_.learning_rate = std::move(lr); }
  OptimizerOptions common_;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

template <typename T>
class Optimizer {
 public:
  using StateList = std::vector<std::pair<std::string, Tensor<T>*>>;
  using Parameters = std::vector<Parameter<T>*>;
  // A list of any Parameter subtype (a layer's Weight<T>*) converts to this.
  template <typename P>
    requires(std::derived_from<P, Parameter<T>> && !std::same_as<P, Parameter<T>>)
  static Parameters as_parameters(const std::vector<P*>& ps) {
    return Parameters(ps.begin(), ps.end());
  }

  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One step on these weights from their accumulated gradients
  // (variable.grad()); weights without a gradient are skipped. Constraints are
  // applied after the update. Throws ValueError when no weight has a gradient
  // ("No gradients provided for any variable."), as Keras does.
  void apply(const Parameters& weights);
  template <typename P>
    requires(std::derived_from<P, Parameter<T>> && !std::same_as<P, Parameter<T>>)
  void apply(const std::vector<P*>& weights) {
    apply(as_parameters(weights));
  }
  // The same on plain variables (no constraints).
  void apply(const std::vector<Variable<T>>& variables);
  // Keras's apply(grads, trainable_variables): explicit gradients, one per
  // variable; an empty (size-0) tensor stands for None.
  void apply(const std::vector<Tensor<T>>& gradients, const std::vector<Variable<T>>& variables);
  void apply(const std::vector<Tensor<T>>& gradients, const Parameters& weights);
  template <typename P>
    requires(std::derived_from<P, Parameter<T>> && !std::same_as<P, Parameter<T>>)
  void apply(const std::vector<Tensor<T>>& gradients, const std::vector<P*>& weights) {
    apply(gradients, as_parameters(weights));
  }

  // Creates the zero slots of these weights (done by the first apply()).
  void build(const Parameters& weights);
  template <typename P>
    requires(std::derived_from<P, Parameter<T>> && !std::same_as<P, Parameter<T>>)
  void build(const std::vector<P*>& weights) {
    build(as_parameters(weights));
  }
  void build(const std::vector<Variable<T>>& variables);
  bool built() const { return built_; }

  int64_t iterations() const { return iterations_; }
  void set_iterations(int64_t n);  // n >= 0 (restoring a checkpoint)
  // The learning rate the next step will use (schedule-aware).
  double learning_rate() const { return learning_rate_.at(iterations_); }
  // Replaces a constant learning rate; ValueError when it is a schedule (Keras
  // raises too: a schedule's rate is not settable).
  void set_learning_rate(double lr);
  const LearningRate& learning_rate_spec() const { return learning_rate_; }

  const std::optional<double>& weight_decay() const { return weight_decay_; }
  const std::optional<double>& clipnorm() const { return clipnorm_; }
  const std::optional<double>& clipvalue() const { return clipvalue_; }
  const std::optional<double>& global_clipnorm() const { return global_clipnorm_; }
  const std::string& name() const { return name_; }
  virtual std::string class_name() const = 0;

  // The slot names of one weight, in order ("momentum", "velocity", ...).
  virtual std::vector<std::string> slot_names() const = 0;
  // Every slot tensor of these weights (built first if needed), named
  // "<weight path>/<slot>", for checkpoints: read them to save, write into
  // them to restore. The pointers stay valid while the optimizer lives. The
  // weights must be ones this optimizer was built with; two weights with the
  // same path are a ValueError.
  StateList state(const Parameters& weights);
  template <typename P>
    requires(std::derived_from<P, Parameter<T>> && !std::same_as<P, Parameter<T>>)
  StateList state(const std::vector<P*>& weights) {
    return state(as_parameters(weights));
  }
  StateList state(const std::vector<Variable<T>>& variables);

  // Keras's optimizer config: name, learning_rate (a number or a serialized
  // schedule), weight_decay, clipnorm, global_clipnorm, clipvalue, use_ema...
  // plus the subclass's hyperparameters. make_optimizer() reads it back.
  virtual nlohmann::json get_config() const;

 protected:
  Optimizer(const OptimizerOptions& options, std::string default_name);

  // Updates `variable` in place from its (clipped) gradient. `slots` holds this
  // weight's slot tensors in slot_names() order; `learning_rate` is this step's
  // rate; iterations() is still the count before this step.
  virtual void update_step(const Tensor<T>& gradient, Tensor<T>& variable, std::vector<Tensor<T>>& slots,
                           double learning_rate) = 0;

 private:
  struct Target {  // one weight of one apply() call
    Variable<T> variable;
    const Tensor<T>* gradient;  // null: no gradient
    const Projection* constraint;
    std::string path;
  };
  struct SlotSet {
    Variable<T> variable;  // held so the key below stays unique while we live
    std::vector<Tensor<T>> slots;
  };
  void apply_targets(std::vector<Target>& targets);
  void build_targets(const std::vector<Target>& targets);
  SlotSet& slots_of(const Target& target);
  StateList state_of(const std::vector<Target>& targets);

  std::string name_;
  LearningRate learning_rate_;
  std::optional<double> weight_decay_, clipnorm_, clipvalue_, global_clipnorm_;
  int64_t iterations_ = 0;
  bool built_ = false;
  // Keyed by the address of the variable's value, stable for the variable's life.
  std::unordered_map<const void*, std::unique_ptr<SlotSet>> slots_;
};

// Keras's optimizers.get: "sgd" / "adam" / "adamw" (any case), or
// {"class_name": "Adam", "config": {...}} with Keras's config keys (a
// learning_rate may be a serialized schedule, see optim/schedules.h).
// Anything else: ValueError "Could not interpret optimizer identifier: ...";
// an unknown config key: ValueError "Argument(s) not recognized: ...".
template <typename T>
std::unique_ptr<Optimizer<T>> make_optimizer(const nlohmann::json& identifier);

// Shared argument checks, with Keras-style messages naming the argument and value.
namespace optim_detail {
// Finite and >= 0 ("Argument `name` must be >= 0. Received: name=value").
void require_non_negative(const char* name, double value);
// Finite and > 0.
void require_positive(const char* name, double value);
}  // namespace optim_detail

}  // namespace sepconv

#pragma once
// Adam and AdamW, exactly Keras 3's update (t = iterations + 1):
//   alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
//   m += (g - m) * (1 - beta_1)
//   v += (g^2 - v) * (1 - beta_2)
//   amsgrad: v_hat = max(v_hat, v), and v_hat replaces v below
//   w -= alpha * m / (sqrt(v) + epsilon)
// AdamW is Adam whose weight_decay defaults to 0.004 (the decay itself is the
// base class's decoupled step, which Adam also applies when given one).
// Slots: "momentum", "velocity", and "velocity_hat" with amsgrad.
#include "sepconv/optim/optimizer.h"

namespace sepconv {

template <typename Derived>
class BasicAdamOptions : public BasicOptimizerOptions<Derived> {
 public:
  Derived& beta_1(double b) {
    beta_1_ = b;
    return static_cast<Derived&>(*this);
  }
  Derived& beta_2(double b) {
    beta_2_ = b;
    return static_cast<Derived&>(*this);
  }
  Derived& epsilon(double e) {
    epsilon_ = e;
    return static_cast<Derived&>(*this);
  }
  Derived& amsgrad(bool a) {
    amsgrad_ = a;
    return static_cast<Derived&>(*this);
  }
  double beta_1() const { return beta_1_; }
  double beta_2() const { return beta_2_; }
  double epsilon() const { return epsilon_; }
  bool amsgrad() const { return amsgrad_; }

 protected:
  explicit BasicAdamOptions(LearningRate lr) : BasicOptimizerOptions<Derived>(std::move(lr)) {}

 private:
  double beta_1_ = 0.9, beta_2_ = 0.999, epsilon_ = 1e-7;
  bool amsgrad_ = false;
};

class AdamOptions : public BasicAdamOptions<AdamOptions> {
 public:
  AdamOptions(LearningRate learning_rate = 0.001) : BasicAdamOptions(std::move(learning_rate)) {}  // NOLINT
};

class AdamWOptions : public BasicAdamOptions<AdamWOptions> {
 public:
  AdamWOptions(LearningRate learning_rate = 0.001) : BasicAdamOptions(std::move(learning_rate)) {  // NOLINT
    weight_decay(0.004);
  }
};

template <typename T>
class Adam : public Optimizer<T> {
 public:
  // ValueError for beta_1 or beta_2 outside [0, 1), epsilon < 0, or invalid
  // common arguments.
  explicit Adam(const AdamOptions& options = {});
  std::string class_name() const override { return "Adam"; }
  std::vector<std::string> slot_names() const override;
  nlohmann::json get_config() const override;
  double beta_1() const { return beta_1_; }
  double beta_2() const { return beta_2_; }
  double epsilon() const { return epsilon_; }
  bool amsgrad() const { return amsgrad_; }

 protected:
  template <typename Options>
  Adam(const Options& options, std::string default_name);
  void update_step(const Tensor<T>& gradient, Tensor<T>& variable, std::vector<Tensor<T>>& slots,
                   double learning_rate) override;

 private:
  double beta_1_, beta_2_, epsilon_;
  bool amsgrad_;
};

template <typename T>
class AdamW : public Adam<T> {
 public:
  // As Adam; weight_decay must be set (Keras: "Argument `weight_decay` must be a float").
  explicit AdamW(const AdamWOptions& options = {});
  std::string class_name() const override { return "AdamW"; }
};

}  // namespace sepconv

#pragma once
// Stochastic gradient descent with optional (Nesterov) momentum, Keras 3's SGD:
//   momentum == 0:  w -= lr * g
//   momentum > 0:   m = momentum * m - lr * g
//                   w += m                        (nesterov: w += momentum * m - lr * g)
// The slot "momentum" exists only when momentum != 0, as in Keras.
#include "sepconv/optim/optimizer.h"

namespace sepconv {

class SGDOptions : public BasicOptimizerOptions<SGDOptions> {
 public:
  SGDOptions(LearningRate learning_rate = 0.01) : BasicOptimizerOptions(std::move(learning_rate)) {}  // NOLINT
  SGDOptions& momentum(double m) {
    momentum_ = m;
    return *this;
  }
  SGDOptions& nesterov(bool n) {
    nesterov_ = n;
    return *this;
  }
  double momentum() const { return momentum_; }
  bool nesterov() const { return nesterov_; }

 private:
  double momentum_ = 0.0;
  bool nesterov_ = false;
};

template <typename T>
class SGD : public Optimizer<T> {
 public:
  // ValueError for momentum outside [0, 1] or invalid common arguments.
  explicit SGD(const SGDOptions& options = {});
  std::string class_name() const override { return "SGD"; }
  std::vector<std::string> slot_names() const override;
  nlohmann::json get_config() const override;
  double momentum() const { return momentum_; }
  bool nesterov() const { return nesterov_; }

 protected:
  void update_step(const Tensor<T>& gradient, Tensor<T>& variable, std::vector<Tensor<T>>& slots,
                   double learning_rate) override;

 private:
  double momentum_;
  bool nesterov_;
};

}  // namespace sepconv

#pragma once
// Layer<T>: the Keras Layer contract in C++.
//  - A layer owns named weights; each carries its initializer, regularizer,
//    constraint and trainable flag (Keras's add_weight).
//  - build() runs on the first call, from the input shape.
//  - The regularization losses are the weight penalties plus the activity
//    penalty of the last call divided by the batch size (Keras >= 3.14).
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/variable.h"
#include "layers/constraints.h"
#include "layers/initializers.h"
#include "layers/regularizers.h"

namespace sepconv {

template <typename T>
struct Weight {
  std::string name;  // Keras's weight name: "depthwise_kernel", "kernel", "bias", ...
  Variable<T> variable;
  std::shared_ptr<Initializer> initializer;
  std::shared_ptr<Regularizer> regularizer;  // may be null
  std::shared_ptr<Constraint> constraint;    // may be null
  bool trainable = true;
};

template <typename T>
class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Builds on the first call, runs call(), records the activity penalty.
  Variable<T> operator()(const Variable<T>& x, bool training = false);
  virtual Variable<T> call(const Variable<T>& x, bool training) = 0;
  virtual void build(const Shape& input_shape) { built_ = true; }
  virtual Shape compute_output_shape(const Shape& input_shape) const = 0;
  virtual nlohmann::json get_config() const;
  virtual std::string class_name() const = 0;

  bool built() const { return built_; }
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  bool trainable() const { return trainable_; }
  void set_trainable(bool t) { trainable_ = t; }

  std::vector<Weight<T>>& weights() { return weights_; }
  const std::vector<Weight<T>>& weights() const { return weights_; }
  // Weights the optimizer updates: those marked trainable, when the layer is trainable.
  std::vector<Weight<T>*> trainable_weights();
  Weight<T>& weight(const std::string& name);  // throws ValueError if absent

  // Sum of the weight regularizers' penalties and the last call's activity
  // penalty / batch size, as a taped scalar (0 when there is none).
  Variable<T> regularization_loss() const;
  // Projects each weight through its constraint (after an optimizer step).
  void apply_constraints();

  void set_activity_regularizer(std::shared_ptr<Regularizer> r) { activity_regularizer_ = std::move(r); }
  const std::shared_ptr<Regularizer>& activity_regularizer() const { return activity_regularizer_; }

 protected:
  Weight<T>& add_weight(const std::string& name, const Shape& shape, std::shared_ptr<Initializer> initializer,
                        std::shared_ptr<Regularizer> regularizer = nullptr,
                        std::shared_ptr<Constraint> constraint = nullptr, bool trainable = true);
  bool built_ = false;

 private:
  std::string name_;
  bool trainable_ = true;
  std::vector<Weight<T>> weights_;
  std::shared_ptr<Regularizer> activity_regularizer_;
  std::vector<Variable<T>> activity_losses_;  // from the last call
};

// Unique default names per class, as Keras does: "separable_conv2d",
// "separable_conv2d_1", ...
std::string unique_layer_name(const std::string& base);

}  // namespace sepconv

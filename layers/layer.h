#pragma once
// Layer<T>: the Keras Layer contract in C++.
//  - A layer owns named weights; each carries its initializer, regularizer,
//    constraint and trainable flag (Keras's add_weight).
//  - build() runs on the first call, from the input shape.
//  - The regularization losses are the weight penalties plus the activity
//    penalty of the last call divided by the batch size (Keras >= 3.14).
//
// A subclass implements build() (creating its weights with add_weight and
// ending with Layer::build or setting built_), call(), compute_output_shape(),
// class_name(), and get_config() (extending Layer::get_config's
// {"name", "trainable", "dtype"}). A layer of several inputs (Add,
// Concatenate, ...) implements call_list() and build_list() instead.
//
// Called on KerasTensors (the functional API, layers/keras_tensor.h) a layer
// records a Node: its call with those inputs, run at once on the inputs'
// probes (a batch of one zero sample) so that the layer is built and the
// output shape known, and bad inputs (mismatched merge shapes) fail where the
// user wrote the call. A layer called that way must be owned by a shared_ptr.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/autograd/parameter.h"
#include "sepconv/autograd/variable.h"
#include "sepconv/layers/keras_tensor.h"
#include "sepconv/layers/constraints.h"
#include "sepconv/layers/initializers.h"
#include "sepconv/layers/regularizers.h"

namespace sepconv {

// A layer's weight: the optimizer's Parameter (name is Keras's weight name:
// "depthwise_kernel", "kernel", "bias", ...) with what the layer adds to it.
template <typename T>
struct Weight : Parameter<T> {
  std::shared_ptr<Initializer> initializer;
  std::shared_ptr<Regularizer> regularizer;  // may be null
  std::shared_ptr<Constraint> constraint;    // may be null; the optimizer's projection
  bool trainable = true;
  const Projection* projection() const override { return constraint.get(); }
};

// The most elements one weight may hold: 2^31, 8 GiB of float32. Far above
// any real layer (the largest Keras application's biggest kernel has about
// 10^8), and low enough that a shape read from a config by mistake (filters
// 10^12) is refused with the layer's name instead of failing to allocate.
inline constexpr int64_t kMaxWeightElements = int64_t{1} << 31;

template <typename T>
class Layer : public std::enable_shared_from_this<Layer<T>> {
 public:
  using value_type = T;
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Builds on the first call, runs call() (inside a NameScope of the layer's
  // name), and records the activity penalty of the output:
  // activity_regularizer(output) / batch_size (0 for an empty batch, as Keras's
  // divide_no_nan). A previous call's activity penalty is replaced.
  Variable<T> operator()(const Variable<T>& x, bool training = false);
  // The same for a layer of several inputs (or one, as a list of one).
  Variable<T> operator()(const std::vector<Variable<T>>& inputs, bool training = false);
  // Functional API: records the call and returns its symbolic output.
  KerasTensor<T> operator()(const KerasTensor<T>& x);
  KerasTensor<T> operator()(const std::vector<KerasTensor<T>>& inputs);

  virtual Variable<T> call(const Variable<T>& x, bool training) = 0;
  virtual void build(const Shape& input_shape) { built_ = true; }
  virtual Shape compute_output_shape(const Shape& input_shape) const = 0;
  // Several inputs: the default takes exactly one (ValueError otherwise).
  virtual Variable<T> call_list(const std::vector<Variable<T>>& inputs, bool training);
  virtual void build_list(const std::vector<Shape>& input_shapes);
  // Whether the layer takes its inputs as a list (merge layers): its Keras
  // config then passes them as one list argument.
  virtual bool takes_list() const { return false; }
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
  const Weight<T>& weight(const std::string& name) const;
  bool has_weight(const std::string& name) const;
  // Keras's get_weights / set_weights: values in weight-creation order (copies);
  // set_weights checks the count and every shape (ValueError naming the weight).
  std::vector<Tensor<T>> get_weights() const;
  void set_weights(const std::vector<Tensor<T>>& values);
  // "float32" or "float64".
  static const char* dtype() { return DTypeName<T>::value; }

  // Sum of the trainable weights' regularizer penalties (computed now, on the
  // current values, taped so their gradients reach the weights) and the last
  // call's activity penalty, as a scalar of shape () (0 when there is none).
  // Call it after the forward pass, in its own statement: C++ leaves the order
  // of function arguments unspecified, so `add(loss(layer(x)), layer.regularization_loss())`
  // may read the previous call's activity penalty.
  Variable<T> regularization_loss() const;
  // The weight penalties alone (a functional model adds the activity
  // penalties of each of a shared layer's calls itself).
  Variable<T> weight_regularization_loss() const;
  // The activity penalties of the last call (already divided by the batch size).
  const std::vector<Variable<T>>& activity_losses() const { return activity_losses_; }
  // Projects each trainable weight through its constraint, in place and
  // without recording (what the optimizer does after a step).
  void apply_constraints();

  void set_activity_regularizer(std::shared_ptr<Regularizer> r) { activity_regularizer_ = std::move(r); }
  const std::shared_ptr<Regularizer>& activity_regularizer() const { return activity_regularizer_; }

 protected:
  // Creates a weight initialized from `initializer` (null: glorot_uniform, as
  // Keras's add_weight for float weights). A shape of more than
  // kMaxWeightElements elements is a ShapeError naming the layer, the weight
  // and the shape, raised before anything is allocated. Its variable requires a gradient
  // when trainable and is named "<layer name>/<name>" (Keras's variable path).
  // The returned reference is valid until the next add_weight; keep the
  // Variable (a shared handle) rather than the reference.
  Weight<T>& add_weight(const std::string& name, const Shape& shape, std::shared_ptr<Initializer> initializer,
                        std::shared_ptr<Regularizer> regularizer = nullptr,
                        std::shared_ptr<Constraint> constraint = nullptr, bool trainable = true);
  bool built_ = false;

 private:
  Variable<T> finish_call(Variable<T> y);
  KerasTensor<T> call_symbolic(const std::vector<KerasTensor<T>>& inputs, bool as_list);
  std::string name_;
  bool trainable_ = true;
  std::vector<Weight<T>> weights_;
  std::shared_ptr<Regularizer> activity_regularizer_;
  std::vector<Variable<T>> activity_losses_;  // from the last call
  int64_t symbolic_calls_ = 0;
};

// Unique default names per class, as Keras does: "separable_conv2d",
// "separable_conv2d_1", ... `base` is the snake_case prefix; pass a class name
// through detail::to_snake_case (layers/identifier.h) first.
std::string unique_layer_name(const std::string& base);

}  // namespace sepconv

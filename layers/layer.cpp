#include "sepconv/layers/layer.h"

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"

namespace sepconv {

std::string unique_layer_name(const std::string& base) {
  // Keras's backend.get_uid: the first layer of a prefix gets the bare name.
  static std::mutex mutex;
  static std::map<std::string, int64_t> counts;
  std::lock_guard<std::mutex> lock(mutex);
  const int64_t n = counts[base]++;
  return n == 0 ? base : fmt::format("{}_{}", base, n);
}

template <typename T>
Variable<T> Layer<T>::operator()(const Variable<T>& x, bool training) {
  NameScope scope(name_);
  if (!built_) {
    build(x.shape());
    built_ = true;
  }
  return finish_call(call(x, training));
}

template <typename T>
Variable<T> Layer<T>::operator()(const std::vector<Variable<T>>& inputs, bool training) {
  NameScope scope(name_);
  if (!built_) {
    std::vector<Shape> shapes;
    for (const Variable<T>& x : inputs) shapes.push_back(x.shape());
    build_list(shapes);
    built_ = true;
  }
  return finish_call(call_list(inputs, training));
}

template <typename T>
Variable<T> Layer<T>::call_list(const std::vector<Variable<T>>& inputs, bool training) {
  if (inputs.size() != 1)
    throw ValueError(fmt::format("Layer '{}' ({}) takes exactly one input, received {} inputs", name_, class_name(),
                                 inputs.size()));
  return call(inputs[0], training);
}

template <typename T>
void Layer<T>::build_list(const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() != 1)
    throw ValueError(fmt::format("Layer '{}' ({}) takes exactly one input, received {} inputs", name_, class_name(),
                                 input_shapes.size()));
  build(input_shapes[0]);
}

template <typename T>
KerasTensor<T> Layer<T>::operator()(const KerasTensor<T>& x) {
  return call_symbolic({x}, false);
}

template <typename T>
KerasTensor<T> Layer<T>::operator()(const std::vector<KerasTensor<T>>& inputs) {
  return call_symbolic(inputs, true);
}

template <typename T>
KerasTensor<T> Layer<T>::call_symbolic(const std::vector<KerasTensor<T>>& inputs, bool as_list) {
  std::shared_ptr<Layer<T>> self = this->weak_from_this().lock();
  if (!self)
    throw ValueError(fmt::format("Layer '{}' ({}) was called on a KerasTensor but is not owned by a std::shared_ptr: "
                                 "create layers of a functional model with std::make_shared",
                                 name_, class_name()));
  if (inputs.empty()) throw ValueError(fmt::format("Layer '{}' ({}) was called on an empty list of inputs", name_, class_name()));
  auto node = std::make_shared<Node<T>>();
  node->layer = self;
  node->inputs = inputs;
  node->inputs_as_list = as_list;
  node->call_index = symbolic_calls_++;
  std::vector<Variable<T>> probes;
  for (const KerasTensor<T>& x : inputs) {
    if (!x.node()) throw ValueError(fmt::format("Layer '{}' ({}) was called on an empty KerasTensor", name_, class_name()));
    probes.emplace_back(x.probe());
  }
  NoGradGuard no_grad;
  Variable<T> y = as_list ? (*this)(probes, false) : (*this)(probes[0], false);
  node->output_probes.push_back(y.value());
  return KerasTensor<T>(std::move(node), 0);
}

template <typename T>
Variable<T> Layer<T>::finish_call(Variable<T> y) {
  // Covers inference too, where ops are not recorded and the tape checks nothing.
  check_finite(y.value(), class_name().c_str(), "output");
  activity_losses_.clear();
  if (activity_regularizer_) {
    Variable<T> penalty = (*activity_regularizer_)(y);
    if (y.value().rank() > 0) {
      // Keras >= 3.14 divides by the batch size with divide_no_nan.
      const T batch = static_cast<T>(y.shape()[0]);
      penalty = elementwise<T>(
          penalty, "activity_regularizer_batch_mean", [batch](T v) { return batch == T(0) ? T(0) : v / batch; },
          [batch](T, T) { return batch == T(0) ? T(0) : T(1) / batch; });
    }
    activity_losses_.push_back(penalty);
  }
  return y;
}

template <typename T>
nlohmann::json Layer<T>::get_config() const {
  // Keras 3 serializes the dtype as a DTypePolicy.
  return {{"name", name_},
          {"trainable", trainable_},
          {"dtype",
           {{"module", "keras"},
            {"class_name", "DTypePolicy"},
            {"config", {{"name", DTypeName<T>::value}}},
            {"registered_name", nullptr}}}};
}

template <typename T>
std::vector<Weight<T>*> Layer<T>::trainable_weights() {
  std::vector<Weight<T>*> out;
  if (!trainable_) return out;
  for (Weight<T>& w : weights_)
    if (w.trainable) out.push_back(&w);
  return out;
}

template <typename T>
Weight<T>& Layer<T>::weight(const std::string& name) {
  for (Weight<T>& w : weights_)
    if (w.name == name) return w;
  std::string names;
  for (const Weight<T>& w : weights_) names += (names.empty() ? "" : ", ") + w.name;
  throw ValueError(fmt::format("Layer '{}' has no weight named '{}'{} (its weights: {})", name_, name,
                               built_ ? "" : "; the layer is not built yet", names.empty() ? "none" : names));
}

template <typename T>
const Weight<T>& Layer<T>::weight(const std::string& name) const {
  return const_cast<Layer<T>*>(this)->weight(name);
}

template <typename T>
bool Layer<T>::has_weight(const std::string& name) const {
  for (const Weight<T>& w : weights_)
    if (w.name == name) return true;
  return false;
}

template <typename T>
std::vector<Tensor<T>> Layer<T>::get_weights() const {
  std::vector<Tensor<T>> out;
  for (const Weight<T>& w : weights_) out.push_back(w.variable.value().clone());
  return out;
}

template <typename T>
void Layer<T>::set_weights(const std::vector<Tensor<T>>& values) {
  if (values.size() != weights_.size())
    throw ValueError(fmt::format("Layer '{}' expects {} weight values, received {}{}", name_, weights_.size(),
                                 values.size(), built_ ? "" : " (the layer is not built yet)"));
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].shape() != weights_[i].variable.shape())
      throw ValueError(fmt::format("Layer '{}' weight '{}' has shape {}, received a value of shape {}", name_,
                                   weights_[i].name, shape_str(weights_[i].variable.shape()),
                                   shape_str(values[i].shape())));
  for (size_t i = 0; i < values.size(); ++i) weights_[i].variable.value().copy_from(values[i]);
}

template <typename T>
Variable<T> Layer<T>::regularization_loss() const {
  std::optional<Variable<T>> total;
  auto accumulate = [&total](Variable<T> term) {
    if (term.value().rank() != 0) term = reshape(term, Shape{});  // a user regularizer may return shape (1,)
    total = total ? add(*total, term) : term;
  };
  if (trainable_)
    for (const Weight<T>& w : weights_)
      if (w.trainable && w.regularizer) accumulate((*w.regularizer)(w.variable));
  for (const Variable<T>& a : activity_losses_) accumulate(a);
  return total ? *total : Variable<T>(Tensor<T>::scalar(T(0)));
}

template <typename T>
Variable<T> Layer<T>::weight_regularization_loss() const {
  std::optional<Variable<T>> total;
  if (trainable_)
    for (const Weight<T>& w : weights_)
      if (w.trainable && w.regularizer) {
        Variable<T> term = (*w.regularizer)(w.variable);
        if (term.value().rank() != 0) term = reshape(term, Shape{});
        total = total ? add(*total, term) : term;
      }
  return total ? *total : Variable<T>(Tensor<T>::scalar(T(0)));
}

template <typename T>
void Layer<T>::apply_constraints() {
  NoGradGuard no_grad;
  for (Weight<T>* w : trainable_weights())
    if (w->constraint) {
      Tensor<T> projected = (*w->constraint)(w->variable.value());
      if (projected.shape() != w->variable.shape())
        throw ShapeError(fmt::format("Constraint {} of weight '{}' returned shape {} for a weight of shape {}",
                                     w->constraint->class_name(), w->name, shape_str(projected.shape()),
                                     shape_str(w->variable.shape())));
      w->variable.value().copy_from(projected);
    }
}

template <typename T>
Weight<T>& Layer<T>::add_weight(const std::string& name, const Shape& shape, std::shared_ptr<Initializer> initializer,
                                std::shared_ptr<Regularizer> regularizer, std::shared_ptr<Constraint> constraint,
                                bool trainable) {
  if (has_weight(name)) throw ValueError(fmt::format("Layer '{}' already has a weight named '{}'", name_, name));
  // Checked before the initializer allocates: an absurd shape from a config
  // would otherwise end in a bare std::bad_alloc (or, past int64, an overflow).
  int64_t elements = 0;
  try {
    elements = shape_size(shape);
  } catch (const ShapeError& e) {
    throw ShapeError(fmt::format("Layer '{}' cannot create weight '{}': {}", name_, name, e.what()));
  }
  if (elements > kMaxWeightElements)
    throw ShapeError(fmt::format("Layer '{}' cannot create weight '{}' of shape {}: {} elements, more than the {} "
                                 "(2^31) one weight may hold",
                                 name_, name, shape_str(shape), elements, kMaxWeightElements));
  if (!initializer) initializer = get_initializer("glorot_uniform");
  Tensor<T> value = (*initializer)(shape, T{});
  if (value.shape() != shape)
    throw ShapeError(fmt::format("Initializer {} returned shape {} for weight '{}' of shape {}",
                                 initializer->class_name(), shape_str(value.shape()), name, shape_str(shape)));
  Weight<T> w;
  w.name = name;
  w.variable = Variable<T>(std::move(value), trainable, name_ + "/" + name);
  w.initializer = std::move(initializer);
  w.regularizer = std::move(regularizer);
  w.constraint = std::move(constraint);
  w.trainable = trainable;
  weights_.push_back(std::move(w));
  return weights_.back();
}

template class Layer<float>;
template class Layer<double>;

}  // namespace sepconv

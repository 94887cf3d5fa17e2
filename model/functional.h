#pragma once
// Model<T>: Keras's functional model, a graph of layer calls from Input
// tensors to outputs (keras.Model(inputs, outputs); its Keras class name is
// "Functional").
//
//   auto x = Input<float>({8, 8, 4});
//   auto a = (*std::make_shared<SeparableConv2D<float>>(SeparableConv2DOptions(4, 3).padding("same")))(x);
//   auto y = (*std::make_shared<Add<float>>())({a, x});   // a residual connection
//   Model<float> model(x, y);
//
// The graph is ordered as Keras's map_graph orders it: nodes by decreasing
// depth (distance from the outputs), the layers the same way, ties in the
// order a depth-first walk from the outputs meets them. A layer called more
// than once shares its weights; their gradients add up over the calls.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sepconv/layers/input_layer.h"
#include "sepconv/model/model_base.h"

namespace sepconv {

template <typename T>
class Model : public ModelBase<T> {
 public:
  // Every input must be the output of an Input (an InputLayer); every output
  // must depend on the inputs, and every input must reach an output
  // (ValueError naming the layers otherwise). Layer names must be unique.
  Model(std::vector<KerasTensor<T>> inputs, std::vector<KerasTensor<T>> outputs, std::string name = {});
  Model(const KerasTensor<T>& input, const KerasTensor<T>& output, std::string name = {});

  std::string class_name() const override { return "Functional"; }
  // The model is built by its construction; build() only checks the shape.
  void build(const Shape& input_shape) override;
  bool built() const override { return true; }
  Shape output_shape() const override;  // of the first output
  // One input, one output.
  Variable<T> operator()(const Variable<T>& x, bool training = false) override;
  // All inputs (in the order given at construction) to all outputs.
  std::vector<Variable<T>> call(const std::vector<Variable<T>>& inputs, bool training = false);

  Variable<T> regularization_loss() const override;
  std::string summary() const override;

  const std::vector<KerasTensor<T>>& inputs() const { return inputs_; }
  const std::vector<KerasTensor<T>>& outputs() const { return outputs_; }
  // The layer calls in execution order (InputLayer nodes included, first).
  const std::vector<std::shared_ptr<Node<T>>>& nodes() const { return nodes_; }
  // A node's index among its layer's calls in this model (Keras's node_index
  // of keras_history).
  int64_t node_index(const Node<T>* node) const { return node_index_.at(node); }
  // The calls of a layer in this model, in the order they were made.
  std::vector<std::shared_ptr<Node<T>>> nodes_of(const Layer<T>& layer) const;

 private:
  std::vector<KerasTensor<T>> inputs_, outputs_;
  std::vector<std::shared_ptr<Node<T>>> nodes_;
  std::map<const Node<T>*, int64_t> node_index_;
  // The activity penalties of the last call, one per layer call.
  mutable std::vector<Variable<T>> activity_losses_;
};

}  // namespace sepconv

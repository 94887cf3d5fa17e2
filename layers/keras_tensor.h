#pragma once
// KerasTensor<T>: a symbolic tensor of the functional API, as Keras's
// KerasTensor: the output of one call of a layer (a Node), with its shape
// (the batch axis -1, Keras's None) and the layer calls it came from.
//
//   auto x = Input<float>({28, 28, 1});
//   auto y = (*std::make_shared<Conv2D<float>>(Conv2DOptions(8, 3)))(x);
//
// The graph is held by shared_ptrs from outputs back to inputs: a Node owns
// its layer and its inbound tensors, never the other way round, so a graph
// frees itself when its last output goes.
#include <cstdint>
#include <memory>
#include <vector>

#include "sepconv/core/tensor.h"

namespace sepconv {

template <typename T>
class Layer;
template <typename T>
class KerasTensor;

// One call of a layer on symbolic inputs.
template <typename T>
struct Node {
  std::shared_ptr<Layer<T>> layer;
  std::vector<KerasTensor<T>> inputs;
  bool inputs_as_list = false;  // the layer was given a list (merge layers)
  int64_t call_index = 0;       // the layer's symbolic calls before this one
  // The outputs on a batch of one zero sample: the layer ran on them at the
  // call, which built it and fixed the output shapes.
  std::vector<Tensor<T>> output_probes;
  // The batch size a fixed-batch Input declared (InputLayer nodes only).
  int64_t declared_batch = -1;
};

template <typename T>
class KerasTensor {
 public:
  KerasTensor() = default;
  KerasTensor(std::shared_ptr<Node<T>> node, int64_t index) : node_(std::move(node)), index_(index) {}

  // The shape with -1 for the batch axis.
  Shape shape() const {
    Shape s = probe().shape();
    if (!s.empty()) s[0] = -1;
    return s;
  }
  const Tensor<T>& probe() const { return node_->output_probes.at(static_cast<size_t>(index_)); }
  const std::shared_ptr<Node<T>>& node() const { return node_; }
  int64_t index() const { return index_; }
  Layer<T>& layer() const { return *node_->layer; }
  bool operator==(const KerasTensor& o) const { return node_ == o.node_ && index_ == o.index_; }

 private:
  std::shared_ptr<Node<T>> node_;
  int64_t index_ = 0;
};

}  // namespace sepconv

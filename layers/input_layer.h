#pragma once
// Keras's InputLayer and Input(): the entry of a functional model.
//
//   KerasTensor<float> x = Input<float>({28, 28, 1});             // batch_shape (None, 28, 28, 1)
//   KerasTensor<float> y = Input<float>({8, 8, 4}, "image", 16);  // batch_shape (16, 8, 8, 4)
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sepconv/layers/layer.h"

namespace sepconv {

template <typename T>
class InputLayer : public Layer<T> {
 public:
  // `shape` without the batch axis; every dimension > 0. An empty name takes
  // Keras's unique default "input_layer", "input_layer_1", ...
  InputLayer(const Shape& shape, std::optional<int64_t> batch_size = std::nullopt, std::string name = {});
  // From {"batch_shape": [null, ...], "dtype", "sparse": false, "name"}.
  static std::shared_ptr<InputLayer> from_config(const nlohmann::json& config);

  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override { return input_shape; }
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "InputLayer"; }

  // Without the batch axis.
  const Shape& sample_shape() const { return shape_; }
  std::optional<int64_t> batch_size() const { return batch_size_; }
  // The layer's one output: a node without inputs whose probe is a batch of one zero sample.
  KerasTensor<T> output();

 private:
  Shape shape_;
  std::optional<int64_t> batch_size_;
  std::weak_ptr<Node<T>> node_;  // weak: the node owns this layer
};

template <typename T>
KerasTensor<T> Input(const Shape& shape, std::string name = {}, std::optional<int64_t> batch_size = std::nullopt);

}  // namespace sepconv

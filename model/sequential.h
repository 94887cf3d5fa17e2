#pragma once
// Sequential<T>: Keras's Sequential model, a stack of single-input layers.
//
//   Sequential<float> model;
//   model.add(std::make_shared<SeparableConv2D<float>>(SeparableConv2DOptions(32, 3).activation("relu")));
//   model.add(std::make_shared<Flatten<float>>());
//   model.add(std::make_shared<Dense<float>>(DenseOptions(10)));
//   model.build({28, 28, 1});  // the input shape without the batch axis
//   model.compile(std::make_shared<Adam<float>>(),
//                 {{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
//   History h = model.fit(x, y, FitOptions<float>().epochs(5).batch_size(64));
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sepconv/model/model_base.h"

namespace sepconv {

template <typename T>
class Sequential : public ModelBase<T> {
 public:
  // An empty name takes Keras's unique default: "sequential", "sequential_1", ...
  explicit Sequential(std::string name = {});
  Sequential(std::vector<std::shared_ptr<Layer<T>>> layers, std::optional<Shape> input_shape = std::nullopt,
             std::string name = {});

  std::string class_name() const override { return "Sequential"; }
  // Appends a layer; its name must be unique in the model (ValueError).
  void add(std::shared_ptr<Layer<T>> layer);

  // Builds every layer for inputs of this shape (without the batch axis) by
  // running a batch of one zero sample through the model in inference mode.
  void build(const Shape& input_shape) override;
  bool built() const override { return built_; }
  // Without the batch axis; empty before build.
  const Shape& input_shape() const { return input_shape_; }
  Shape output_shape() const override;
  // Runs the layers in order. Builds on the first call.
  Variable<T> operator()(const Variable<T>& x, bool training = false) override;
  std::string summary() const override;

 private:
  Shape input_shape_;
  std::vector<Shape> output_shapes_;  // per layer, batch axis -1
  bool built_ = false;
};

}  // namespace sepconv

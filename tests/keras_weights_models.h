#pragma once
// The models of the Keras weight-file tests (test_keras_weights.cpp and
// keras_weights_driver.cpp, whose files tests/keras_weights_h5py.py checks with
// h5py), and the values the tests give their weights: a formula both sides of
// a check compute on their own, never values read back from our writer.
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/sepconv.h"

namespace sepconv::keras_weights_test {

// Functional, in Keras's map_graph order: input_layer, separable_conv2d (sep_a),
// batch_normalization (bn), separable_conv2d_1 (sep_b), add, depthwise_conv2d (dw),
// conv2d (conv), global_average_pooling2d, dense (out).
template <typename T>
std::unique_ptr<Model<T>> functional_model() {
  KerasTensor<T> input = Input<T>({6, 6, 3});
  KerasTensor<T> x = (*std::make_shared<SeparableConv2D<T>>(SeparableConv2DOptions(4, 3).padding("same").name("sep_a")))(input);
  x = (*std::make_shared<BatchNormalization<T>>(BatchNormalizationOptions().name("bn")))(x);
  KerasTensor<T> h = (*std::make_shared<SeparableConv2D<T>>(SeparableConv2DOptions(4, 3).padding("same").name("sep_b")))(x);
  x = (*std::make_shared<Add<T>>())({x, h});
  x = (*std::make_shared<DepthwiseConv2D<T>>(DepthwiseConv2DOptions(3).name("dw")))(x);
  x = (*std::make_shared<Conv2D<T>>(Conv2DOptions(5, 1).name("conv")))(x);
  x = (*std::make_shared<GlobalAveragePooling2D<T>>())(x);
  return std::make_unique<Model<T>>(input, (*std::make_shared<Dense<T>>(DenseOptions(3).name("out")))(x));
}

// Sequential (no InputLayer in its layers): separable_conv2d, batch_normalization,
// separable_conv2d_1, flatten, dense.
template <typename T>
std::unique_ptr<Sequential<T>> sequential_model() {
  auto m = std::make_unique<Sequential<T>>();
  m->add(std::make_shared<SeparableConv2D<T>>(SeparableConv2DOptions(4, 3).name("s1")));
  m->add(std::make_shared<BatchNormalization<T>>(BatchNormalizationOptions().name("n1")));
  m->add(std::make_shared<SeparableConv2D<T>>(SeparableConv2DOptions(2, 1).name("s2")));
  m->add(std::make_shared<Flatten<T>>());
  m->add(std::make_shared<Dense<T>>(DenseOptions(3).name("d1")));
  m->build({5, 5, 2});
  return m;
}

// The test value of element k of weight j of layer i (keras_weights_h5py.py
// computes the same): moving variances stay positive.
inline double test_value(int64_t layer, int64_t weight, int64_t k, double salt, bool positive) {
  double v = 0.5 * std::sin(0.37 * static_cast<double>(k) + 1.3 * static_cast<double>(weight) +
                            2.1 * static_cast<double>(layer) + salt);
  return positive ? 1.0 + std::fabs(v) : v;
}

template <typename T>
void fill_weights(ModelBase<T>& model, double salt) {
  for (size_t i = 0; i < model.layers().size(); ++i) {
    auto& weights = model.layers()[i]->weights();
    for (size_t j = 0; j < weights.size(); ++j) {
      Tensor<T>& t = weights[j].variable.value();
      for (int64_t k = 0; k < t.size(); ++k)
        t[k] = static_cast<T>(test_value(static_cast<int64_t>(i), static_cast<int64_t>(j), k, salt,
                                         weights[j].name == "moving_variance"));
    }
  }
}

// Deterministic inputs and class targets for a model's input shape.
template <typename T>
void test_batch(const Shape& input_shape, int64_t n, Tensor<T>& x, Tensor<T>& y) {
  Shape s{n};
  s.insert(s.end(), input_shape.begin(), input_shape.end());
  x = Tensor<T>(s);
  for (int64_t k = 0; k < x.size(); ++k) x[k] = static_cast<T>(std::cos(0.11 * static_cast<double>(k)));
  y = Tensor<T>(Shape{n});
  for (int64_t k = 0; k < n; ++k) y[k] = static_cast<T>(k % 3);
}

// Loss identifier the tests compile with.
inline const nlohmann::json kLoss = {{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}};

// Copies of a model's weights, in model.weights() order.
template <typename T>
std::vector<Tensor<T>> snapshot(ModelBase<T>& m) {
  std::vector<Tensor<T>> out;
  for (auto& [name, w] : m.weights()) {
    Tensor<T> t(w->variable.shape());
    t.copy_from(w->variable.value());
    out.push_back(t);
  }
  return out;
}

// Bit for bit (so -0 differs from 0 and a NaN equals itself).
template <typename T>
bool same(const std::vector<Tensor<T>>& a, const std::vector<Tensor<T>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape()) return false;
    if (std::memcmp(a[i].data(), b[i].data(), static_cast<size_t>(a[i].size()) * sizeof(T)) != 0) return false;
  }
  return true;
}

}  // namespace sepconv::keras_weights_test

#pragma once
// Keras's ReLU layer: keras.activations.relu with its three arguments,
//   f(x) = max_value                    for x >= max_value,
//          x                            for threshold < x < max_value,
//          negative_slope * (x - threshold) otherwise.
//
//   auto relu6 = std::make_shared<ReLU<float>>(ReLUOptions().max_value(6));
//   auto leaky = std::make_shared<ReLU<float>>(ReLUOptions().negative_slope(0.1));
#include <memory>
#include <optional>
#include <string>

#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// Keras's ReLU arguments, checked when the layer is made.
class ReLUOptions : public LayerOptions<ReLUOptions> {
 public:
  // From a Keras config: max_value, negative_slope, threshold, name, trainable, dtype.
  static ReLUOptions from_config(const nlohmann::json& config);
  // The largest output; none (default) leaves it unbounded. Must be >= 0.
  ReLUOptions& max_value(double v) { max_value_ = v; return *this; }
  ReLUOptions& max_value(std::optional<double> v) { max_value_ = v; return *this; }
  // The slope below the threshold; default 0. Must be >= 0.
  ReLUOptions& negative_slope(double v) { negative_slope_ = v; return *this; }
  // Where the output starts to follow x; default 0. Must be >= 0.
  ReLUOptions& threshold(double v) { threshold_ = v; return *this; }

  const std::optional<double>& max_value() const { return max_value_; }
  double negative_slope() const { return negative_slope_; }
  double threshold() const { return threshold_; }

 private:
  std::optional<double> max_value_;
  double negative_slope_ = 0.0;
  double threshold_ = 0.0;
};

// keras.activations.relu(x, negative_slope, max_value, threshold) as one
// elementwise op, in the order Keras computes it:
//   upper = threshold != 0 ? x * (x > threshold) : relu(x), clipped to
//   [0, max_value] when there is a max; y = upper - negative_slope * relu(threshold - x).
// The derivative is taken per branch as TensorFlow's gradients of those ops:
// at x == threshold it is 0 (the mask x > threshold and relu'(0) = 0), except
// for the plain leaky case (threshold 0, no max_value: tf.nn.leaky_relu) where
// it is negative_slope; clip_by_value passes the gradient at x == max_value,
// except for max_value 6 at threshold 0 (tf.nn.relu6: 1 only strictly inside (0, 6)).
template <typename T>
Variable<T> relu(const Variable<T>& x, std::optional<double> max_value, double negative_slope, double threshold);

template <typename T>
class ReLU : public Layer<T> {
 public:
  // ValueError for a negative (or NaN) max_value, negative_slope or threshold.
  explicit ReLU(const ReLUOptions& options = {});
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override { return input_shape; }
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "ReLU"; }
  // From a Keras config (ReLUOptions::from_config).
  static std::shared_ptr<ReLU<T>> from_config(const nlohmann::json& config);

  std::optional<double> max_value() const { return max_value_; }
  double negative_slope() const { return negative_slope_; }
  double threshold() const { return threshold_; }

 private:
  std::optional<double> max_value_;
  double negative_slope_, threshold_;
};

}  // namespace sepconv

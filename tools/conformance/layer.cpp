// The "layer" and "error" case kinds: a SeparableConv2D built from the case's
// Keras config, given the case's weights, run forward and backward.
#include <optional>
#include <string>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "conformance/case_io.h"
#include "conformance/kinds.h"
#include "sepconv/layers/separable_conv2d.h"

namespace sepconv::conformance {

using nlohmann::json;

namespace {
template <typename T>
Tensor<T> grad_or_zeros(const Variable<T>& v) {
  return v.has_grad() ? v.grad().clone() : Tensor<T>(v.shape());
}

// L = sum(output * upstream) (+ the layer's regularization loss); backward;
// returns nothing, the gradients are left on the variables.
template <typename T>
Variable<T> objective(SeparableConv2D<T>& layer, const Variable<T>& x, const Tensor<T>& upstream, bool with_reg) {
  Variable<T> y = layer(x);
  if (y.shape() != upstream.shape())
    throw ShapeError(fmt::format("The layer's output has shape {} but the case's upstream gradient has shape {}",
                                 shape_str(y.shape()), shape_str(upstream.shape())));
  Variable<T> loss = sum(mul(y, Variable<T>(upstream)));
  if (with_reg) loss = add(loss, layer.regularization_loss());
  backward(loss);
  return y;
}
}  // namespace

template <typename T>
json run_layer_case(const json& c) {
  Tape<T>::current().clear();
  SeparableConv2D<T> layer(SeparableConv2DOptions::from_config(c.at("layer")));
  const Tensor<T> input = case_tensor<T>(c, "input");
  layer.build(input.shape());

  std::vector<Tensor<T>> given{case_tensor<T>(c, "depthwise_kernel"), case_tensor<T>(c, "pointwise_kernel")};
  if (layer.use_bias()) given.push_back(case_tensor<T>(c, "bias"));
  layer.set_weights(given);

  Variable<T> x(input.clone(), true, "input");
  const Shape out_shape = layer.compute_output_shape(input.shape());
  const Tensor<T> upstream =
      case_has_tensor(c, "upstream") ? case_tensor<T>(c, "upstream") : Tensor<T>::full(out_shape, T(1));

  std::vector<std::pair<std::string, Variable<T>>> vars{{"input", x},
                                                        {"depthwise_kernel", layer.depthwise_kernel()},
                                                        {"pointwise_kernel", layer.pointwise_kernel()}};
  if (layer.use_bias()) vars.emplace_back("bias", layer.bias());

  json result;
  // Pass 1: L = sum(output * upstream).
  for (auto& [name, v] : vars) v.zero_grad();
  const Variable<T> y = objective(layer, x, upstream, false);
  result["output"] = tensor_to_json(y.value());
  for (auto& [name, v] : vars) result["grad_" + name] = tensor_to_json(grad_or_zeros(v));

  // Pass 2: L + regularization_loss (weight penalties + activity penalty / batch).
  for (auto& [name, v] : vars) v.zero_grad();
  {
    Variable<T> y2 = layer(x);
    Variable<T> reg = layer.regularization_loss();
    result["regularization_loss"] = static_cast<double>(reg.value().item());
    Variable<T> loss = add(sum(mul(y2, Variable<T>(upstream))), reg);
    backward(loss);
  }
  for (auto& [name, v] : vars) result["grad_with_regularization_" + name] = tensor_to_json(grad_or_zeros(v));
  for (auto& [name, v] : vars) v.zero_grad();

  // Each constraint applied once to the given weights.
  const char* names[] = {"depthwise_kernel", "pointwise_kernel", "bias"};
  for (size_t i = 0; i < given.size(); ++i) {
    const auto& constraint = layer.weight(names[i]).constraint;
    result[std::string("constrained_") + names[i]] = tensor_to_json(constraint ? (*constraint)(given[i]) : given[i]);
  }
  return result;
}

template <typename T>
json run_error_case(const json& c) {
  Tape<T>::current().clear();
  const json& js = c.at("input_shape");
  Shape shape;
  for (const json& d : js) shape.push_back(d.get<int64_t>());
  SeparableConv2D<T> layer(SeparableConv2DOptions::from_config(c.at("layer")));
  NoGradGuard no_grad;
  Variable<T> y = layer(Variable<T>(Tensor<T>(shape)));
  // No error: report that, with what came out, so a comparison fails visibly.
  return json{{"error", nullptr}, {"output_shape", y.shape()}};
}

template json run_layer_case<float>(const json&);
template json run_layer_case<double>(const json&);
template json run_error_case<float>(const json&);
template json run_error_case<double>(const json&);

}  // namespace sepconv::conformance

// The conformance runner's optimizer and train kinds (see
// tests/data/oracle/FORMAT.md): both run the library's own optimizers, losses
// and layer exactly as a user would.
#include <fmt/format.h>

#include "sepconv/autograd/losses.h"
#include "sepconv/autograd/ops.h"
#include "conformance/case_io.h"
#include "conformance/kinds.h"
#include "sepconv/layers/separable_conv2d.h"
#include "sepconv/optim/optimizer.h"

namespace sepconv::conformance {

using nlohmann::json;

namespace {
// c["steps"], when present, must agree with what the case supplies.
int64_t case_steps(const json& c, int64_t supplied, const char* what) {
  if (!c.contains("steps")) return supplied;
  const json& s = c.at("steps");
  if (!s.is_number_integer() || s.get<int64_t>() < 0)
    throw ValueError(fmt::format("Case '{}': `steps` must be a non-negative int, received {}",
                                 c.value("name", std::string("?")), s.dump()));
  const int64_t steps = s.get<int64_t>();
  if (supplied >= 0 && steps != supplied)
    throw ValueError(fmt::format("Case '{}': `steps` is {} but the case holds {} {}", c.value("name", std::string("?")),
                                 steps, supplied, what));
  return steps;
}

template <typename T>
void set_weight(Layer<T>& layer, const std::string& name, const Tensor<T>& value) {
  Weight<T>& w = layer.weight(name);
  if (w.variable.shape() != value.shape())
    throw ShapeError(fmt::format("Case tensor '{}' has shape {} but the layer's weight has shape {}", name,
                                 shape_str(value.shape()), shape_str(w.variable.shape())));
  w.variable.value().copy_from(value);
}
}  // namespace

template <typename T>
json run_optimizer_case(const json& c) {
  std::unique_ptr<Optimizer<T>> optimizer = make_optimizer<T>(c.at("optimizer"));
  const Tensor<T> initial = case_tensor<T>(c, "initial");
  if (!case_has_tensor(c, "gradients"))
    throw ValueError(fmt::format("Case '{}' has no tensor list 'gradients'", c.value("name", std::string("?"))));
  const std::vector<Tensor<T>> gradients = tensors_from_json<T>(c.at("tensors").at("gradients"), "gradients");
  case_steps(c, static_cast<int64_t>(gradients.size()), "gradients");

  Variable<T> variable(initial.clone(), true, "variable");
  json after = json::array();
  for (const Tensor<T>& g : gradients) {
    optimizer->apply({g}, {variable});
    after.push_back(tensor_to_json(variable.value()));
  }
  return json{{"after_step", std::move(after)}};
}

template <typename T>
json run_train_case(const json& c) {
  std::unique_ptr<SeparableConv2D<T>> layer = SeparableConv2D<T>::from_config(c.at("layer"));
  const Tensor<T> input = case_tensor<T>(c, "input");
  const Tensor<T> target = case_tensor<T>(c, "target");
  layer->build(input.shape());
  set_weight<T>(*layer, "depthwise_kernel", case_tensor<T>(c, "depthwise_kernel"));
  set_weight<T>(*layer, "pointwise_kernel", case_tensor<T>(c, "pointwise_kernel"));
  if (layer->use_bias()) set_weight<T>(*layer, "bias", case_tensor<T>(c, "bias"));

  const LossFunction<T> loss = get_loss<T>(c.at("loss"));
  std::unique_ptr<Optimizer<T>> optimizer = make_optimizer<T>(c.at("optimizer"));
  if (!c.contains("steps")) throw ValueError(fmt::format("Case '{}' has no `steps`", c.value("name", std::string("?"))));
  const int64_t steps = case_steps(c, -1, "");

  const Variable<T> x(input);
  const Variable<T> y_true(target);
  json loss_per_step = json::array();
  Tape<T>& tape = Tape<T>::current();
  for (int64_t step = 0; step < steps; ++step) {
    tape.clear();
    for (Weight<T>& w : layer->weights()) w.variable.zero_grad();
    Variable<T> y = (*layer)(x, /*training=*/true);
    Variable<T> objective = add(loss(y_true, y), layer->regularization_loss());
    loss_per_step.push_back(static_cast<double>(objective.value().item()));
    tape.backward(objective);
    optimizer->apply(layer->trainable_weights());  // constraints come after the update
  }

  json out{{"loss_per_step", std::move(loss_per_step)},
           {"final_depthwise_kernel", tensor_to_json(layer->weight("depthwise_kernel").variable.value())},
           {"final_pointwise_kernel", tensor_to_json(layer->weight("pointwise_kernel").variable.value())}};
  if (layer->use_bias()) out["final_bias"] = tensor_to_json(layer->weight("bias").variable.value());
  return out;
}

template json run_optimizer_case<float>(const json&);
template json run_optimizer_case<double>(const json&);
template json run_train_case<float>(const json&);
template json run_train_case<double>(const json&);

}  // namespace sepconv::conformance

// The conformance runner's whole-model kinds, `model` and `model_train`
// (tests/data/oracle/FORMAT.md "Whole models"): the model is rebuilt from its
// Keras 3 config, its weights loaded by layer and weight name, and run as a
// user would run it.
#include <map>
#include <set>

#include <fmt/format.h>

#include "conformance/case_io.h"
#include "conformance/kinds.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/model/keras_json.h"
#include "sepconv/optim/optimizer.h"

namespace sepconv::conformance {

using nlohmann::json;

namespace {

std::string case_name(const json& c) { return c.value("name", std::string("?")); }

// Every weight of the model from c["weights"][layer][weight]; the case must
// give each weight exactly once and nothing else.
template <typename T>
void load_weights(const json& c, ModelBase<T>& model) {
  if (!c.contains("weights") || !c.at("weights").is_object())
    throw ValueError(fmt::format("Case '{}' has no object `weights`", case_name(c)));
  const json& weights = c.at("weights");
  for (auto it = weights.begin(); it != weights.end(); ++it) {
    Layer<T>& layer = model.layer(it.key());
    if (!it.value().is_object())
      throw ValueError(fmt::format("Case '{}': weights of layer '{}' must be an object", case_name(c), it.key()));
    for (auto w = it.value().begin(); w != it.value().end(); ++w) {
      Weight<T>& weight = layer.weight(w.key());
      const Tensor<T> value = tensor_from_json<T>(w.value(), it.key() + "/" + w.key());
      if (value.shape() != weight.variable.shape())
        throw ShapeError(fmt::format("Case '{}': weight {}/{} has shape {} but the layer's weight has shape {}",
                                     case_name(c), it.key(), w.key(), shape_str(value.shape()),
                                     shape_str(weight.variable.shape())));
      weight.variable.value().copy_from(value);
    }
  }
  for (const auto& [path, w] : model.weights()) {
    const std::string layer = path.substr(0, path.rfind('/'));
    if (!weights.contains(layer) || !weights.at(layer).contains(w->name))
      throw ValueError(fmt::format("Case '{}' gives no value for weight {}", case_name(c), path));
  }
}

template <typename T>
std::unique_ptr<ModelBase<T>> case_model(const json& c) {
  if (!c.contains("model")) throw ValueError(fmt::format("Case '{}' has no `model`", case_name(c)));
  std::unique_ptr<ModelBase<T>> model = model_from_config<T>(c.at("model"));
  load_weights(c, *model);
  return model;
}

// {layer: {weight: f(weight)}} over the weights `keep` selects.
template <typename T, typename Keep, typename Value>
json per_layer(ModelBase<T>& model, Keep keep, Value value) {
  json out = json::object();
  for (const auto& l : model.layers())
    for (Weight<T>& w : l->weights())
      if (keep(*l, w)) out[l->name()][w.name] = tensor_to_json(value(w));
  return out;
}

template <typename T>
bool is_trainable(const Layer<T>& l, const Weight<T>& w) {
  return l.trainable() && w.trainable;
}

// The gradients of sum(output_training * upstream) (+ the regularization
// losses) with respect to the input and the trainable weights.
template <typename T>
std::pair<Tensor<T>, json> gradients(ModelBase<T>& model, const Tensor<T>& input, const Tensor<T>& upstream,
                                     bool with_regularization, Tensor<T>* output_training) {
  Tape<T>& tape = Tape<T>::current();
  tape.clear();
  for (Weight<T>* w : model.trainable_weights()) w->variable.zero_grad();
  Variable<T> x(input.clone(), true, "input");
  Variable<T> y = model(x, true);
  if (y.shape() != upstream.shape())
    throw ShapeError(fmt::format("The model's output has shape {} but `upstream` has shape {}", shape_str(y.shape()),
                                 shape_str(upstream.shape())));
  Variable<T> objective = sum(mul(y, Variable<T>(upstream)));
  if (with_regularization) objective = add(objective, model.regularization_loss());
  if (output_training) *output_training = y.value().clone();
  tape.backward(objective);
  Tensor<T> gx = x.has_grad() ? x.grad().clone() : Tensor<T>(input.shape());
  json gw = per_layer(model, is_trainable<T>, [](Weight<T>& w) {
    return w.variable.has_grad() ? w.variable.grad().clone() : Tensor<T>(w.variable.shape());
  });
  return {gx, gw};
}

}  // namespace

template <typename T>
json run_model_case(const json& c) {
  std::unique_ptr<ModelBase<T>> model = case_model<T>(c);
  const Tensor<T> input = case_tensor<T>(c, "input");
  const Tensor<T> upstream = case_tensor<T>(c, "upstream");
  json out;
  {
    NoGradGuard no_grad;
    out["output"] = tensor_to_json((*model)(Variable<T>(input), false).value());
  }
  // The non-trainable state (moving statistics) before the training call: a
  // second training call, for the gradients with regularization, starts
  // from it again, so the statistics reported are those of one call.
  std::vector<std::pair<Weight<T>*, Tensor<T>>> state;
  for (auto& [path, w] : model->weights())
    if (!w->trainable) state.emplace_back(w, w->variable.value().clone());

  Tensor<T> output_training;
  auto [gx, gw] = gradients(*model, input, upstream, false, &output_training);
  out["output_training"] = tensor_to_json(output_training);
  out["grad_input"] = tensor_to_json(gx);
  out["grad_weights"] = gw;
  const double reg = [&] {
    NoGradGuard no_grad;
    return static_cast<double>(model->regularization_loss().value().item());
  }();
  out["regularization_loss"] = reg;
  json moving = json::object();
  for (const auto& l : model->layers())
    if (l->has_weight("moving_mean") && l->has_weight("moving_variance"))
      moving[l->name()] = {{"moving_mean", tensor_to_json(l->weight("moving_mean").variable.value())},
                           {"moving_variance", tensor_to_json(l->weight("moving_variance").variable.value())}};
  out["moving_stats"] = moving;
  if (reg != 0.0) {
    std::vector<std::pair<Weight<T>*, Tensor<T>>> after;
    for (auto& [w, v] : state) {
      after.emplace_back(w, w->variable.value().clone());
      w->variable.value().copy_from(v);
    }
    auto [gx2, gw2] = gradients<T>(*model, input, upstream, true, nullptr);
    out["grad_weights_with_regularization"] = gw2;
    for (auto& [w, v] : after) w->variable.value().copy_from(v);
  }
  return out;
}

template <typename T>
json run_model_train_case(const json& c) {
  std::unique_ptr<ModelBase<T>> model = case_model<T>(c);
  const Tensor<T> input = case_tensor<T>(c, "input");
  const Tensor<T> target = case_tensor<T>(c, "target");
  if (!c.contains("loss")) throw ValueError(fmt::format("Case '{}' has no `loss`", case_name(c)));
  if (!c.contains("optimizer")) throw ValueError(fmt::format("Case '{}' has no `optimizer`", case_name(c)));
  if (!c.contains("steps") || !c.at("steps").is_number_integer() || c.at("steps").get<int64_t>() < 0)
    throw ValueError(fmt::format("Case '{}': `steps` must be a non-negative int", case_name(c)));
  const int64_t steps = c.at("steps").get<int64_t>();
  std::shared_ptr<Optimizer<T>> optimizer = make_optimizer<T>(c.at("optimizer"));
  // Keras's fit on one whole batch per step, without shuffling: train_step is it.
  model->compile(optimizer, c.at("loss"), {});
  json loss_per_step = json::array();
  for (int64_t step = 0; step < steps; ++step) loss_per_step.push_back(model->train_step(input, target));
  json final_weights = per_layer(*model, [](const Layer<T>&, const Weight<T>&) { return true; },
                                 [](Weight<T>& w) { return w.variable.value(); });
  return json{{"loss_per_step", std::move(loss_per_step)}, {"final_weights", std::move(final_weights)}};
}

template json run_model_case<float>(const json&);
template json run_model_case<double>(const json&);
template json run_model_train_case<float>(const json&);
template json run_model_train_case<double>(const json&);

}  // namespace sepconv::conformance

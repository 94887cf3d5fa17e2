#include "sepconv/layers/dense.h"

#include <fmt/format.h>

#include "sepconv/autograd/nn_ops.h"
#include "sepconv/layers/layer_checks.h"
#include "sepconv/layers/config_reader.h"

namespace sepconv {

DenseOptions::DenseOptions(int64_t units) : units_(units) {}

DenseOptions& DenseOptions::activation(const nlohmann::json& id) {
  activation_ = canonical_activation_name(id);  // throws for an unknown name
  return *this;
}
template <typename T>
Dense<T>::Dense(const DenseOptions& o)
    : Layer<T>(layer_name_from(o, "dense")), options_(o), activation_(get_activation<T>(o.activation())) {
  apply_layer_arguments(*this, o, "Dense").positive("units", o.units());
  this->set_activity_regularizer(o.activity_regularizer());
}

template <typename T>
Shape Dense<T>::compute_output_shape(const Shape& s) const {
  layer_detail::require_input_min_ndim(this->name(), s, 2);
  if (this->built()) layer_detail::require_input_axis(this->name(), s, -1, this->weight("kernel").variable.shape()[0]);
  Shape out = s;
  out.back() = options_.units();
  return out;
}

template <typename T>
void Dense<T>::build(const Shape& s) {
  layer_detail::require_input_min_ndim(this->name(), s, 2);
  if (s.back() <= 0)
    throw ShapeError(fmt::format("Layer \"{}\": the last dimension of the inputs to a Dense layer should be defined "
                                 "and positive. Received input shape {}",
                                 this->name(), shape_str(s)));
  this->add_weight("kernel", {s.back(), options_.units()}, options_.kernel_initializer(), options_.kernel_regularizer(),
                   options_.kernel_constraint());
  if (options_.use_bias())
    this->add_weight("bias", {options_.units()}, options_.bias_initializer(), options_.bias_regularizer(),
                     options_.bias_constraint());
  this->built_ = true;
}

template <typename T>
Variable<T> Dense<T>::call(const Variable<T>& x, bool) {
  compute_output_shape(x.shape());
  std::optional<Variable<T>> b;
  if (options_.use_bias()) b = bias();
  return activation_(dense<T>(x, kernel(), b));
}

template <typename T>
nlohmann::json Dense<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["units"] = options_.units();
  c["activation"] = options_.activation();
  c["use_bias"] = options_.use_bias();
  options_.write_kernel_bias_arguments(c, this->activity_regularizer());
  return c;
}

DenseOptions DenseOptions::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "Dense");
  DenseOptions o(r.required_integer("units"));
  o.read_layer_arguments(r);
  if (r.has("activation")) o.activation(r.raw("activation"));
  o.use_bias(r.boolean("use_bias", true));
  o.read_kernel_bias_arguments(r);
  // Keras >= 3.4 writes these; only their "off" values are supported.
  if (r.integer("lora_rank", 0) != 0) r.fail("lora_rank", "null or 0 (LoRA is not supported)");
  r.optional_number("lora_alpha");
  if (r.has("quantization_config")) r.fail("quantization_config", "null (quantization is not supported)");
  r.finish();
  return o;
}

template <typename T>
std::shared_ptr<Dense<T>> Dense<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<Dense<T>>(DenseOptions::from_config(config));
}

template class Dense<float>;
template class Dense<double>;

}  // namespace sepconv

#include "sepconv/layers/input_layer.h"

#include <fmt/format.h>

#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/layer_checks.h"

namespace sepconv {

template <typename T>
InputLayer<T>::InputLayer(const Shape& shape, std::optional<int64_t> batch_size, std::string name)
    : Layer<T>(name.empty() ? unique_layer_name("input_layer") : std::move(name)), shape_(shape),
      batch_size_(batch_size) {
  const layer_detail::ArgumentCheck check{"InputLayer", this->name()};
  for (int64_t d : shape)
    if (d <= 0)
      check.fail("shape", "positive integer dimensions (a variable size is not supported)", shape_str(shape));
  if (batch_size) check.positive("batch_size", *batch_size);
  this->built_ = true;
}

template <typename T>
std::shared_ptr<InputLayer<T>> InputLayer<T>::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "InputLayer");
  const std::string name = r.name();
  r.trainable();
  r.dtype();
  if (r.boolean("sparse", false)) r.fail("sparse", "false (sparse inputs are not supported)");
  if (r.boolean("ragged", false)) r.fail("ragged", "false (ragged inputs are not supported)");
  if (r.boolean("optional", false)) r.fail("optional", "false (optional inputs are not supported)");
  const nlohmann::json& bs = r.raw("batch_shape");
  const nlohmann::json& legacy = r.raw("batch_input_shape");  // Keras 2's key
  const nlohmann::json& given = bs.is_null() ? legacy : bs;
  const char* key = bs.is_null() ? "batch_input_shape" : "batch_shape";
  if (!given.is_array() || given.empty()) r.fail(key, "a list [batch, dims...] with a null or positive batch");
  std::optional<int64_t> batch;
  if (!given[0].is_null()) {
    if (!given[0].is_number_integer()) r.fail(key, "a list [batch, dims...] with a null or positive batch");
    batch = given[0].get<int64_t>();
  }
  Shape shape;
  for (size_t i = 1; i < given.size(); ++i) {
    if (!given[i].is_number_integer()) r.fail(key, "positive integer dimensions after the batch axis");
    shape.push_back(given[i].get<int64_t>());
  }
  r.finish();
  return std::make_shared<InputLayer<T>>(shape, batch, name);
}

template <typename T>
Variable<T> InputLayer<T>::call(const Variable<T>& x, bool) {
  const Shape& s = x.shape();
  if (s.size() != shape_.size() + 1 || !std::equal(shape_.begin(), shape_.end(), s.begin() + 1)) {
    Shape expected{-1};
    expected.insert(expected.end(), shape_.begin(), shape_.end());
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: expected shape={}, found "
                                 "shape={}",
                                 this->name(), shape_str(expected), shape_str(s)));
  }
  return x;
}

template <typename T>
nlohmann::json InputLayer<T>::get_config() const {
  nlohmann::json batch_shape = nlohmann::json::array();
  batch_shape.push_back(batch_size_ ? nlohmann::json(*batch_size_) : nlohmann::json(nullptr));
  for (int64_t d : shape_) batch_shape.push_back(d);
  // Keras 3's InputLayer config: no "trainable", the dtype as a plain name.
  return {{"batch_shape", batch_shape}, {"dtype", DTypeName<T>::value}, {"sparse", false}, {"name", this->name()}};
}

template <typename T>
KerasTensor<T> InputLayer<T>::output() {
  std::shared_ptr<Node<T>> node = node_.lock();
  if (!node) {
    std::shared_ptr<Layer<T>> self = this->weak_from_this().lock();
    if (!self)
      throw ValueError(fmt::format("InputLayer '{}' must be owned by a std::shared_ptr to give its output",
                                   this->name()));
    node = std::make_shared<Node<T>>();
    node->layer = self;
    Shape probe{1};
    probe.insert(probe.end(), shape_.begin(), shape_.end());
    node->output_probes.push_back(Tensor<T>(probe));
    node->declared_batch = batch_size_.value_or(-1);
    node_ = node;
  }
  return KerasTensor<T>(node, 0);
}

template <typename T>
KerasTensor<T> Input(const Shape& shape, std::string name, std::optional<int64_t> batch_size) {
  return std::make_shared<InputLayer<T>>(shape, batch_size, std::move(name))->output();
}

template class InputLayer<float>;
template class InputLayer<double>;
template KerasTensor<float> Input<float>(const Shape&, std::string, std::optional<int64_t>);
template KerasTensor<double> Input<double>(const Shape&, std::string, std::optional<int64_t>);

}  // namespace sepconv

#include "sepconv/model/sequential.h"


#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/model/summary.h"

namespace sepconv {

template <typename T>
Sequential<T>::Sequential(std::string name)
    : ModelBase<T>(name.empty() ? unique_layer_name("sequential") : std::move(name)) {}

template <typename T>
Sequential<T>::Sequential(std::vector<std::shared_ptr<Layer<T>>> layers, std::optional<Shape> input_shape,
                          std::string name)
    : Sequential(std::move(name)) {
  for (auto& l : layers) add(std::move(l));
  if (input_shape) build(*input_shape);
}

template <typename T>
void Sequential<T>::add(std::shared_ptr<Layer<T>> layer) {
  if (!layer) throw ValueError("Sequential.add: the layer is null");
  for (const auto& l : this->layers_)
    if (l->name() == layer->name())
      throw ValueError(fmt::format("All layers added to a Sequential model should have unique names. Name \"{}\" is "
                                   "already the name of a layer in this model. Update the `name` argument to pass a "
                                   "unique name.",
                                   layer->name()));
  this->layers_.push_back(std::move(layer));
  if (built_) {  // extend the build to the new layer
    const Shape in = input_shape_;
    built_ = false;
    build(in);
  }
}

template <typename T>
void Sequential<T>::build(const Shape& input_shape) {
  if (this->layers_.empty()) throw ValueError(fmt::format("Sequential model '{}' has no layers to build", this->name_));
  for (int64_t d : input_shape)
    if (d <= 0)
      throw ValueError(fmt::format("Sequential.build: every dimension of the input shape (without the batch axis) "
                                   "must be positive. Received: input_shape={}",
                                   shape_str(input_shape)));
  Shape batch_shape{1};
  batch_shape.insert(batch_shape.end(), input_shape.begin(), input_shape.end());
  NoGradGuard no_grad;
  Variable<T> x{Tensor<T>(batch_shape)};
  std::vector<Shape> shapes;
  for (auto& l : this->layers_) {
    x = (*l)(x, false);
    Shape s = x.shape();
    if (!s.empty()) s[0] = -1;
    shapes.push_back(s);
  }
  input_shape_ = input_shape;
  output_shapes_ = std::move(shapes);
  built_ = true;
}

template <typename T>
Shape Sequential<T>::output_shape() const {
  if (!built_) throw ValueError(fmt::format("Sequential model '{}' has not been built yet", this->name_));
  return output_shapes_.back();
}

template <typename T>
Variable<T> Sequential<T>::operator()(const Variable<T>& x, bool training) {
  if (x.value().rank() < 1) throw ShapeError("Sequential: the input needs a batch axis, received a scalar");
  const Shape sample(x.shape().begin() + 1, x.shape().end());
  if (!built_) build(sample);
  if (sample != input_shape_) {
    Shape expected{-1};
    expected.insert(expected.end(), input_shape_.begin(), input_shape_.end());
    throw ShapeError(fmt::format("Input 0 of layer \"{}\" is incompatible with the layer: expected shape={}, found "
                                 "shape={}",
                                 this->name_, shape_with_none(expected), shape_str(x.shape())));
  }
  Variable<T> y = x;
  for (auto& l : this->layers_) y = (*l)(y, training);
  return y;
}

template <typename T>
std::string Sequential<T>::summary() const {
  if (!built_)
    throw ValueError(fmt::format("Model '{}' has not yet been built. Build the model first by calling `build()` or "
                                 "by calling the model on a batch of data.",
                                 this->name_));
  std::vector<SummaryRow> rows;
  for (size_t i = 0; i < this->layers_.size(); ++i) {
    int64_t n = 0;
    for (const Weight<T>& w : this->layers_[i]->weights()) n += w.variable.value().size();
    rows.push_back({fmt::format("{} ({})", this->layers_[i]->name(), this->layers_[i]->class_name()),
                    shape_with_none(output_shapes_[i]), n, {}});
  }
  return render_summary(this->name_, rows, false, this->count_params(), this->count_trainable_params(), sizeof(T));
}

template class Sequential<float>;
template class Sequential<double>;

}  // namespace sepconv

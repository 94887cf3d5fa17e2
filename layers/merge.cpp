#include "sepconv/layers/merge.h"

#include <fmt/format.h>

#include "sepconv/autograd/array_ops.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/core/error.h"
#include "sepconv/layers/config_reader.h"

namespace sepconv {

namespace {
std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string s = "[";
  for (size_t i = 0; i < shapes.size(); ++i) s += (i ? ", " : "") + shape_str(shapes[i]);
  return s + "]";
}
Shape per_sample(const Shape& s) { return s.empty() ? s : Shape(s.begin() + 1, s.end()); }
template <typename T>
std::vector<Shape> shapes_of(const std::vector<Variable<T>>& xs) {
  std::vector<Shape> out;
  for (const Variable<T>& x : xs) out.push_back(x.shape());
  return out;
}
}  // namespace

template <typename T>
Merge<T>::Merge(const MergeOptions& o, const char* default_name, const char* class_name)
    : Layer<T>(layer_name_from(o, default_name)) {
  apply_layer_arguments(*this, o, class_name);
}

template <typename T>
Shape Merge<T>::compute_output_shape(const Shape& input_shape) const {
  throw ValueError(fmt::format("Layer \"{}\" ({}): A merge layer should be called on a list of inputs. Received: "
                               "input_shape={} (not a list of shapes)",
                               this->name(), this->class_name(), shape_str(input_shape)));
}

template <typename T>
Variable<T> Merge<T>::call(const Variable<T>& x, bool) {
  compute_output_shape(x.shape());
  return x;  // not reached
}

template <typename T>
void Merge<T>::check_count(size_t count) const {
  if (count < 2)
    throw ValueError(fmt::format("Layer \"{}\" ({}): A merge layer should be called on a list of at least 2 inputs. "
                                 "Got {} inputs.",
                                 this->name(), this->class_name(), count));
}

template <typename T>
Shape Merge<T>::compute_output_shape(const std::vector<Shape>& shapes) const {
  check_count(shapes.size());
  // Keras compares the shapes without the batch axis, then the batch sizes.
  for (size_t i = 1; i < shapes.size(); ++i)
    if (per_sample(shapes[i]) != per_sample(shapes[0]))
      throw ValueError(fmt::format("Layer \"{}\" ({}): Inputs have incompatible shapes. Received shapes {} and {}",
                                   this->name(), this->class_name(), shape_str(per_sample(shapes[0])),
                                   shape_str(per_sample(shapes[i]))));
  for (size_t i = 1; i < shapes.size(); ++i)
    if (shapes[i] != shapes[0])
      throw ValueError(fmt::format("Layer \"{}\" ({}): Cannot merge tensors with different batch sizes. Received "
                                   "tensors with shapes {}",
                                   this->name(), this->class_name(), shapes_str(shapes)));
  return shapes[0];
}

template <typename T>
void Merge<T>::build_list(const std::vector<Shape>& input_shapes) {
  compute_output_shape(input_shapes);
  this->built_ = true;
}

template <typename T>
Variable<T> Merge<T>::call_list(const std::vector<Variable<T>>& inputs, bool) {
  compute_output_shape(shapes_of(inputs));  // a built layer checks every call's shapes
  return merge(inputs);
}

// Name, trainable and dtype: all a merge layer's Keras config holds.
MergeOptions MergeOptions::from_config(const nlohmann::json& config, const std::string& class_name) {
  ConfigReader reader(config, class_name);
  MergeOptions options;
  options.read_layer_arguments(reader);
  reader.finish();
  return options;
}

namespace {
template <typename T, typename F>
Variable<T> fold(const std::vector<Variable<T>>& xs, F f) {
  Variable<T> out = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) out = f(out, xs[i]);
  return out;
}
}  // namespace

#define SEPCONV_MERGE_COMMON(Class)                                                        \
  template <typename T>                                                                    \
  std::shared_ptr<Class<T>> Class<T>::from_config(const nlohmann::json& config) {          \
    return std::make_shared<Class<T>>(MergeOptions::from_config(config, #Class));          \
  }
SEPCONV_MERGE_COMMON(Add)
SEPCONV_MERGE_COMMON(Subtract)
SEPCONV_MERGE_COMMON(Multiply)
SEPCONV_MERGE_COMMON(Average)
SEPCONV_MERGE_COMMON(Maximum)
SEPCONV_MERGE_COMMON(Minimum)
#undef SEPCONV_MERGE_COMMON

template <typename T>
void Subtract<T>::check_count(size_t count) const {
  if (count != 2)
    throw ValueError(fmt::format("Layer \"{}\" (Subtract): A `Subtract` layer should be called on exactly 2 inputs. "
                                 "Got {} inputs.",
                                 this->name(), count));
}

template <typename T>
Variable<T> Add<T>::merge(const std::vector<Variable<T>>& xs) const {
  return fold(xs, [](const Variable<T>& a, const Variable<T>& b) { return add(a, b); });
}
template <typename T>
Variable<T> Subtract<T>::merge(const std::vector<Variable<T>>& xs) const {
  return sub(xs[0], xs[1]);
}
template <typename T>
Variable<T> Multiply<T>::merge(const std::vector<Variable<T>>& xs) const {
  return fold(xs, [](const Variable<T>& a, const Variable<T>& b) { return mul(a, b); });
}
template <typename T>
Variable<T> Average<T>::merge(const std::vector<Variable<T>>& xs) const {
  // Keras divides the sum by the count (not a multiply by its inverse).
  const T count = static_cast<T>(xs.size());
  return elementwise<T>(
      fold(xs, [](const Variable<T>& a, const Variable<T>& b) { return add(a, b); }), "average",
      [count](T v) { return v / count; }, [count](T, T) { return T(1) / count; });
}
template <typename T>
Variable<T> Maximum<T>::merge(const std::vector<Variable<T>>& xs) const {
  return fold(xs, [](const Variable<T>& a, const Variable<T>& b) { return maximum(a, b); });
}
template <typename T>
Variable<T> Minimum<T>::merge(const std::vector<Variable<T>>& xs) const {
  return fold(xs, [](const Variable<T>& a, const Variable<T>& b) { return minimum(a, b); });
}

template <typename T>
Concatenate<T>::Concatenate(const ConcatenateOptions& o)
    : Merge<T>(MergeOptions().name(o.name()).trainable(o.trainable()).dtype(o.dtype()), "concatenate", "Concatenate"),
      axis_(o.axis()) {}

template <typename T>
Shape Concatenate<T>::compute_output_shape(const std::vector<Shape>& shapes) const {
  this->check_count(shapes.size());
  const int64_t rank = static_cast<int64_t>(shapes[0].size());
  if (axis_ < -rank || axis_ >= rank)
    layer_detail::invalid_argument(
        "axis", fmt::format("an axis in [{}, {}) of the inputs (input_shape={})", -rank, rank, shapes_str(shapes)),
        std::to_string(axis_), "Concatenate", this->name());
  const int64_t a = axis_ < 0 ? axis_ + rank : axis_;
  Shape out = shapes[0];
  for (size_t i = 1; i < shapes.size(); ++i) {
    bool ok = static_cast<int64_t>(shapes[i].size()) == rank;
    for (int64_t d = 0; ok && d < rank; ++d) ok = d == a || shapes[i][d] == shapes[0][d];
    if (!ok)
      throw ValueError(fmt::format("Layer \"{}\" (Concatenate): A `Concatenate` layer requires inputs with matching "
                                   "shapes except for the concatenation axis. Received: input_shape={}",
                                   this->name(), shapes_str(shapes)));
    out[a] += shapes[i][a];
  }
  return out;
}

template <typename T>
Variable<T> Concatenate<T>::merge(const std::vector<Variable<T>>& xs) const {
  return concatenate(xs, axis_);
}

template <typename T>
nlohmann::json Concatenate<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["axis"] = axis_;
  return c;
}

ConcatenateOptions ConcatenateOptions::from_config(const nlohmann::json& config) {
  ConfigReader reader(config, "Concatenate");
  ConcatenateOptions options;
  options.read_layer_arguments(reader);
  options.axis(reader.integer("axis", -1));
  reader.finish();
  return options;
}

template <typename T>
std::shared_ptr<Concatenate<T>> Concatenate<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<Concatenate<T>>(ConcatenateOptions::from_config(config));
}

#define SEPCONV_MERGE_INSTANTIATE(T) \
  template class Merge<T>;           \
  template class Add<T>;             \
  template class Subtract<T>;        \
  template class Multiply<T>;        \
  template class Average<T>;         \
  template class Maximum<T>;         \
  template class Minimum<T>;         \
  template class Concatenate<T>;
SEPCONV_MERGE_INSTANTIATE(float)
SEPCONV_MERGE_INSTANTIATE(double)
#undef SEPCONV_MERGE_INSTANTIATE

}  // namespace sepconv

#pragma once
// Keras's merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum
// and Concatenate. Each is called on a list of at least two tensors:
//
//   auto add = std::make_shared<Add<float>>();
//   Variable<float> y = (*add)({a, b, c});
//   auto cat = std::make_shared<Concatenate<float>>(ConcatenateOptions().axis(1));
//
// The elementwise ones need inputs of one shape: Keras would also broadcast
// axes of size 1 and inputs of lower rank, which is not supported here (a
// ValueError naming the layer and both shapes). Called on one tensor, a merge
// layer throws Keras's "A merge layer should be called on a list of inputs".
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// The arguments every merge layer takes (Keras's **kwargs of Layer).
class MergeOptions : public LayerOptions<MergeOptions> {
 public:
  // From a Keras config of `class_name` ("Add", ...): name, trainable, dtype
  // (ValueError for any other key).
  static MergeOptions from_config(const nlohmann::json& config, const std::string& class_name);
};

// Shared by the merge layers: the list checks and the single-input refusal.
template <typename T>
class Merge : public Layer<T> {
 public:
  bool takes_list() const override { return true; }
  Variable<T> call(const Variable<T>& x, bool training) override;
  Variable<T> call_list(const std::vector<Variable<T>>& inputs, bool training) override;
  void build_list(const std::vector<Shape>& input_shapes) override;
  // A merge layer has no output shape for a single input: throws as call().
  Shape compute_output_shape(const Shape& input_shape) const override;
  // The output shape for these inputs (ValueError when they do not merge).
  virtual Shape compute_output_shape(const std::vector<Shape>& input_shapes) const;

 protected:
  Merge(const MergeOptions& options, const char* default_name, const char* class_name);
  // The merge of inputs already checked by compute_output_shape.
  virtual Variable<T> merge(const std::vector<Variable<T>>& inputs) const = 0;
  // At least two inputs; Subtract asks for exactly two.
  virtual void check_count(size_t count) const;
};

#define SEPCONV_ELEMENTWISE_MERGE(Class, snake)                                                    \
  template <typename T>                                                                            \
  class Class : public Merge<T> {                                                                  \
   public:                                                                                         \
    explicit Class(const MergeOptions& options = {}) : Merge<T>(options, snake, #Class) {}         \
    std::string class_name() const override { return #Class; }                                     \
    /* From a Keras config: name, trainable, dtype (ValueError for any other key). */             \
    static std::shared_ptr<Class<T>> from_config(const nlohmann::json& config);                    \
                                                                                                   \
   protected:                                                                                      \
    Variable<T> merge(const std::vector<Variable<T>>& inputs) const override;                      \
  };

// The sum of the inputs.
SEPCONV_ELEMENTWISE_MERGE(Add, "add")
// The elementwise product.
SEPCONV_ELEMENTWISE_MERGE(Multiply, "multiply")
// The sum divided by the number of inputs.
SEPCONV_ELEMENTWISE_MERGE(Average, "average")
// The elementwise max; where inputs tie, the gradient goes to the earliest
// (TensorFlow's rule, see autograd/array_ops.h).
SEPCONV_ELEMENTWISE_MERGE(Maximum, "maximum")
// The elementwise min, ties as Maximum.
SEPCONV_ELEMENTWISE_MERGE(Minimum, "minimum")
#undef SEPCONV_ELEMENTWISE_MERGE

// inputs[0] - inputs[1], of exactly two inputs.
template <typename T>
class Subtract : public Merge<T> {
 public:
  explicit Subtract(const MergeOptions& options = {}) : Merge<T>(options, "subtract", "Subtract") {}
  std::string class_name() const override { return "Subtract"; }
  // From a Keras config: name, trainable, dtype (ValueError for any other key).
  static std::shared_ptr<Subtract<T>> from_config(const nlohmann::json& config);

 protected:
  Variable<T> merge(const std::vector<Variable<T>>& inputs) const override;
  void check_count(size_t count) const override;
};

class ConcatenateOptions : public LayerOptions<ConcatenateOptions> {
 public:
  // From a Keras config: axis, name, trainable, dtype.
  static ConcatenateOptions from_config(const nlohmann::json& config);
  // The axis to join along, negative from the end; default -1. Axis 0 (the
  // batch) is allowed, as in Keras. Checked against the inputs' rank.
  ConcatenateOptions& axis(int64_t a) { axis_ = a; return *this; }
  int64_t axis() const { return axis_; }

 private:
  int64_t axis_ = -1;
};

// Joins the inputs along `axis`; they must match on every other axis.
template <typename T>
class Concatenate : public Merge<T> {
 public:
  explicit Concatenate(const ConcatenateOptions& options = {});
  std::string class_name() const override { return "Concatenate"; }
  using Merge<T>::compute_output_shape;
  Shape compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  nlohmann::json get_config() const override;
  // From a Keras config (ConcatenateOptions::from_config).
  static std::shared_ptr<Concatenate<T>> from_config(const nlohmann::json& config);
  int64_t axis() const { return axis_; }

 protected:
  Variable<T> merge(const std::vector<Variable<T>>& inputs) const override;

 private:
  int64_t axis_;
};

}  // namespace sepconv

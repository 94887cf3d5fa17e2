#pragma once
// Parameter<T>: what an optimizer needs of a weight, and nothing of layers:
// the variable it updates, a path that names its slots in checkpoints, and the
// projection Keras applies inside optimizer.apply right after the update (a
// layer's weight constraint). layers/ derives its Weight from this, so
// optim/ can take a layer's weights without knowing what a layer is.
#include <string>

#include "sepconv/autograd/variable.h"

namespace sepconv {

// A map of a tensor onto an allowed set (MaxNorm, NonNeg, ...): returns the
// projected tensor, of the same shape; the input is not modified.
class Projection {
 public:
  virtual ~Projection() = default;
  virtual Tensor<float> operator()(const Tensor<float>& w) const = 0;
  virtual Tensor<double> operator()(const Tensor<double>& w) const = 0;
  virtual std::string class_name() const = 0;  // names it in error messages
};

template <typename T>
struct Parameter {
  virtual ~Parameter() = default;
  std::string name;  // the weight's own name ("kernel", "bias", ...); the path falls back to it
  Variable<T> variable;
  // Applied after each optimizer step; null for none.
  virtual const Projection* projection() const { return nullptr; }
};

}  // namespace sepconv

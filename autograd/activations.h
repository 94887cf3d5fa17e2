#pragma once
// Keras's activation functions (keras.activations) as differentiable ops, each
// with its forward and its explicit derivative; float and double. Formulas are
// Keras 3's; the numerically delicate ones use stable forms:
//   sigmoid(x)  = 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) otherwise
//   softplus(x) = max(x, 0) + log1p(e^-|x|)
//   log_softmax = x - max - log(sum(e^(x - max)))
// Derivatives at kinks follow TensorFlow: relu'(0) = 0, leaky_relu'(0) = slope,
// relu6' = 1 only strictly inside (0, 6), hard_sigmoid' = 1/6 strictly inside (-3, 3).
//
// Note: `tanh` here is the op on variables; code in namespace sepconv that
// wants the scalar function should call std::tanh.
#include <cstdint>

#include "sepconv/autograd/variable.h"

namespace sepconv {

template <typename T>
Variable<T> relu(const Variable<T>& x);
template <typename T>
Variable<T> relu6(const Variable<T>& x);
// x for x > 0, negative_slope * x otherwise (Keras default slope 0.2).
template <typename T>
Variable<T> leaky_relu(const Variable<T>& x, double negative_slope = 0.2);
// x for x > 0, alpha * (e^x - 1) otherwise.
template <typename T>
Variable<T> elu(const Variable<T>& x, double alpha = 1.0);
// scale * elu(x, alpha) with Keras's constants.
template <typename T>
Variable<T> selu(const Variable<T>& x);
// Exact: 0.5 x (1 + erf(x / sqrt 2)) (Keras's default, approximate=False);
// approximate: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <typename T>
Variable<T> gelu(const Variable<T>& x, bool approximate = false);
// x * sigmoid(x); also called swish.
template <typename T>
Variable<T> silu(const Variable<T>& x);
template <typename T>
Variable<T> softplus(const Variable<T>& x);
// x / (|x| + 1)
template <typename T>
Variable<T> softsign(const Variable<T>& x);
template <typename T>
Variable<T> sigmoid(const Variable<T>& x);
// relu6(x + 3) / 6
template <typename T>
Variable<T> hard_sigmoid(const Variable<T>& x);
// x * hard_sigmoid(x); also called hard_swish.
template <typename T>
Variable<T> hard_silu(const Variable<T>& x);
template <typename T>
Variable<T> tanh(const Variable<T>& x);
// x * tanh(softplus(x))
template <typename T>
Variable<T> mish(const Variable<T>& x);
// e^x
template <typename T>
Variable<T> exponential(const Variable<T>& x);
// The identity: returns x itself, as Keras's linear does.
template <typename T>
Variable<T> linear(const Variable<T>& x);
// Over one axis (negative counts from the end; Keras's default is the last).
template <typename T>
Variable<T> softmax(const Variable<T>& x, int64_t axis = -1);
template <typename T>
Variable<T> log_softmax(const Variable<T>& x, int64_t axis = -1);

// Later Keras 3 additions with default arguments (elementwise, shape-preserving).
// alpha * (e^(x/alpha) - 1) for x <= 0, x otherwise.
template <typename T>
Variable<T> celu(const Variable<T>& x, double alpha = 1.0);
// clip(x, -1, 1)
template <typename T>
Variable<T> hard_tanh(const Variable<T>& x);
// x - tanh(x)
template <typename T>
Variable<T> tanh_shrink(const Variable<T>& x);
// log(sigmoid(x)) = -softplus(-x)
template <typename T>
Variable<T> log_sigmoid(const Variable<T>& x);
// (x + sqrt(x^2 + b)) / 2, b = 4
template <typename T>
Variable<T> squareplus(const Variable<T>& x, double b = 4.0);
// x - t for x > t, x + t for x < -t, else 0 (t = 0.5)
template <typename T>
Variable<T> soft_shrink(const Variable<T>& x, double threshold = 0.5);
// x for |x| > t, else 0 (t = 0.5)
template <typename T>
Variable<T> hard_shrink(const Variable<T>& x, double threshold = 0.5);
// 0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1
template <typename T>
Variable<T> sparse_plus(const Variable<T>& x);

}  // namespace sepconv

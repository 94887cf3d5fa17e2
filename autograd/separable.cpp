#include "autograd/separable.h"

#include "autograd/ops.h"

namespace sepconv {

// Composition of the unfused ops; each piece is gradient-checked on its own.
template <typename T>
Variable<T> separable_conv2d(const Variable<T>& x, const Variable<T>& depthwise_kernel,
                             const Variable<T>& pointwise_kernel, const std::optional<Variable<T>>& bias,
                             std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding) {
  Variable<T> y = pointwise_conv2d(depthwise_conv2d(x, depthwise_kernel, strides, dilation, padding), pointwise_kernel);
  return bias ? bias_add(y, *bias) : y;
}

template Variable<float> separable_conv2d(const Variable<float>&, const Variable<float>&, const Variable<float>&,
                                          const std::optional<Variable<float>>&, std::array<int64_t, 2>,
                                          std::array<int64_t, 2>, Padding);
template Variable<double> separable_conv2d(const Variable<double>&, const Variable<double>&, const Variable<double>&,
                                           const std::optional<Variable<double>>&, std::array<int64_t, 2>,
                                           std::array<int64_t, 2>, Padding);

}  // namespace sepconv

#pragma once
// The separable convolution as one op: depthwise (k x k per channel) then
// pointwise (1 x 1 across channels) then an optional bias, on NHWC data.
// It is the seam where the fused kernels plug in: the layer calls this op,
// and its implementation may keep or recompute the depthwise intermediate.
#include <array>
#include <optional>

#include "autograd/variable.h"
#include "core/geometry.h"

namespace sepconv {

// x: (batch, h, w, channels); depthwise_kernel: (kh, kw, channels, depth_multiplier);
// pointwise_kernel: (1, 1, channels * depth_multiplier, filters); bias: (filters) or none.
// Returns (batch, out_h, out_w, filters).
template <typename T>
Variable<T> separable_conv2d(const Variable<T>& x, const Variable<T>& depthwise_kernel,
                             const Variable<T>& pointwise_kernel, const std::optional<Variable<T>>& bias,
                             std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding);

}  // namespace sepconv

#pragma once
// The separable convolution as one op: depthwise (k x k per channel) then
// pointwise (1 x 1 across channels) then an optional bias (and relu), on NHWC
// data (or NCHW, see the data_format argument). It calls the kernels of
// core/kernels/separable.h, which may fuse the steps and recompute the
// depthwise intermediate in backward instead of keeping it; the gradients are
// those of the composition depthwise_conv2d -> pointwise_conv2d -> bias_add
// (-> relu), and do not depend on the thread count.
#include <array>
#include <optional>

#include "sepconv/autograd/variable.h"
#include "sepconv/core/geometry.h"

namespace sepconv {

// An activation the op can apply as it stores its output (saving a pass over
// it forward and backward). Others are applied by the caller as separate ops.
enum class SeparableActivation { None, Relu };

// x: (batch, h, w, channels); depthwise_kernel: (kh, kw, channels, depth_multiplier);
// pointwise_kernel: (1, 1, channels * depth_multiplier, filters); bias: (filters) or none.
// Returns (batch, out_h, out_w, filters).
template <typename T>
Variable<T> separable_conv2d(const Variable<T>& x, const Variable<T>& depthwise_kernel,
                             const Variable<T>& pointwise_kernel, const std::optional<Variable<T>>& bias,
                             std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding);

// The same, followed by `activation` (relu(z) = max(z, 0), with relu'(0) = 0 as
// in TensorFlow). With DataFormat::ChannelsFirst, x is (batch, channels, h, w)
// and the result (batch, filters, out_h, out_w); the fused kernels then change
// the layout band by band in cache instead of transposing x and y whole.
template <typename T>
Variable<T> separable_conv2d(const Variable<T>& x, const Variable<T>& depthwise_kernel,
                             const Variable<T>& pointwise_kernel, const std::optional<Variable<T>>& bias,
                             std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding,
                             SeparableActivation activation, DataFormat data_format = DataFormat::ChannelsLast);

}  // namespace sepconv

#pragma once
// The Conv2D op: y = conv(x, kernel) + bias on NHWC data, Keras's kernel
// layout [kernel_h, kernel_w, in_channels / groups, filters], "same" padding
// split as TensorFlow's (the odd pixel at the bottom/right).
#include <array>
#include <cstdint>
#include <optional>

#include "sepconv/autograd/tape.h"
#include "sepconv/core/geometry.h"

namespace sepconv {

// x (batch, h, w, in_channels) -> (batch, out_h, out_w, filters). `groups`
// must divide in_channels and filters; the kernel's third axis must be
// in_channels / groups (ValueError/ShapeError naming the argument otherwise).
template <typename T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& kernel, const std::optional<Variable<T>>& bias,
                   std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding,
                   int64_t groups = 1);

}  // namespace sepconv

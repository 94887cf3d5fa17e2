#pragma once
// Depthwise 2-D convolution kernels over a ConvGeometry.
//
// Layouts: input NHWC (batch, in_h, in_w, channels); kernel Keras's
// (kernel_h, kernel_w, channels, depth_multiplier); output NHWC
// (batch, out_h, out_w, channels * depth_multiplier), where output channel
// c * depth_multiplier + m reads input channel c through kernel[.., .., c, m].
// Every kernel overwrites its output buffer.
//
// The *_reference kernels are the plain loops, kept as the definition that the
// fast kernels are tested against. depthwise_forward / _backward_* pick the
// fastest implementation for this CPU; their results match the reference to
// rounding and do not depend on the thread count.
#include "sepconv/core/geometry.h"

namespace sepconv {

template <typename T>
void depthwise_forward_reference(const ConvGeometry& g, const T* input, const T* kernel, T* output);
template <typename T>
void depthwise_backward_input_reference(const ConvGeometry& g, const T* grad_output, const T* kernel, T* grad_input);
template <typename T>
void depthwise_backward_kernel_reference(const ConvGeometry& g, const T* input, const T* grad_output,
                                         T* grad_kernel);

template <typename T>
void depthwise_forward(const ConvGeometry& g, const T* input, const T* kernel, T* output);
template <typename T>
void depthwise_backward_input(const ConvGeometry& g, const T* grad_output, const T* kernel, T* grad_input);
template <typename T>
void depthwise_backward_kernel(const ConvGeometry& g, const T* input, const T* grad_output, T* grad_kernel);

}  // namespace sepconv

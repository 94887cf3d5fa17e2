#pragma once
// Conv2D kernels on NHWC data with Keras's kernel layout
// [kernel_h, kernel_w, in_channels / groups, filters]: output channel f of
// group g = f / (filters / groups) reads input channels
// [g * in_channels / groups, (g + 1) * in_channels / groups).
//
// The fast path is implicit GEMM: a tile of output rows gathers its input
// windows (im2col) into a buffer of at most about 1 MB, which one GEMM per
// group multiplies by the kernel; a 1x1 stride-1 unpadded convolution is one
// GEMM over the whole batch, without a gather. Backward runs the same tiles
// the other way (the input gradient scattered back from the tile's gradient,
// col2im). Tiles run in a fixed order and the GEMM splits only its M and N
// axes, so results do not depend on the thread count.
// The *_reference functions are the plain loops (in double) they are tested against.
#include <cstdint>

#include "sepconv/core/geometry.h"

namespace sepconv::kernels {

struct Conv2DGeometry {
  ConvGeometry conv;  // depth_multiplier 1: sizes, strides, dilation, padding
  int64_t filters = 0, groups = 1;

  int64_t in_channels() const { return conv.channels; }
  int64_t group_in() const { return conv.channels / groups; }
  int64_t group_out() const { return filters / groups; }
  // The im2col row length: one output position's window of one group.
  int64_t window() const { return conv.kernel_h * conv.kernel_w * group_in(); }
  int64_t output_size() const { return conv.batch * conv.out_h * conv.out_w * filters; }
  int64_t kernel_size() const { return conv.kernel_h * conv.kernel_w * group_in() * filters; }
  // 1x1, stride 1, no padding, one group: the convolution is a matrix product.
  bool is_pointwise() const;
};

// y = conv(x, kernel) (+ bias[f] when bias is not null); y is overwritten.
template <typename T>
void conv2d_forward(const Conv2DGeometry& g, const T* x, const T* kernel, const T* bias, T* y);
// gx = the input gradient of gy (overwritten).
template <typename T>
void conv2d_backward_input(const Conv2DGeometry& g, const T* gy, const T* kernel, T* gx);
// gk = the kernel gradient (overwritten).
template <typename T>
void conv2d_backward_kernel(const Conv2DGeometry& g, const T* x, const T* gy, T* gk);
// gb[f] = the sum of gy over every position of channel f (overwritten), in double.
template <typename T>
void conv2d_backward_bias(const Conv2DGeometry& g, const T* gy, T* gb);

// The plain loops; each overwrites its output.
template <typename T>
void conv2d_forward_reference(const Conv2DGeometry& g, const T* x, const T* kernel, const T* bias, T* y);
template <typename T>
void conv2d_backward_input_reference(const Conv2DGeometry& g, const T* gy, const T* kernel, T* gx);
template <typename T>
void conv2d_backward_kernel_reference(const Conv2DGeometry& g, const T* x, const T* gy, T* gk);

}  // namespace sepconv::kernels

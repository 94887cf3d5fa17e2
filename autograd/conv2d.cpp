#include "sepconv/autograd/conv2d.h"

#include <fmt/format.h>

#include "sepconv/core/kernels/conv2d.h"

namespace sepconv {

namespace {
template <typename T>
kernels::Conv2DGeometry conv2d_geometry(const Variable<T>& x, const Variable<T>& kernel,
                                        const std::optional<Variable<T>>& bias, std::array<int64_t, 2> strides,
                                        std::array<int64_t, 2> dilation, Padding padding, int64_t groups) {
  if (x.value().rank() != 4)
    throw ShapeError(fmt::format("conv2d: `x` must be rank 4 (batch, height, width, channels), received shape {}",
                                 shape_str(x.shape())));
  if (kernel.value().rank() != 4)
    throw ShapeError(fmt::format("conv2d: `kernel` must be rank 4 (kernel_h, kernel_w, in_channels / groups, "
                                 "filters), received shape {}",
                                 shape_str(kernel.shape())));
  const Shape& xs = x.shape();
  const Shape& ks = kernel.shape();
  if (groups <= 0)
    throw ValueError(fmt::format("Invalid value for argument `groups`: expected a positive integer. Received: "
                                 "groups={}",
                                 groups));
  if (xs[3] % groups != 0 || ks[3] % groups != 0)
    throw ValueError(fmt::format("Invalid value for argument `groups`: it must divide the input channels and the "
                                 "filters. Received: groups={} for {} input channels and {} filters",
                                 groups, xs[3], ks[3]));
  if (ks[2] * groups != xs[3])
    throw ShapeError(fmt::format("conv2d: a kernel of shape {} with groups={} expects {} input channels, the input "
                                 "has shape {}",
                                 shape_str(ks), groups, ks[2] * groups, shape_str(xs)));
  if (bias && (bias->value().rank() != 1 || bias->shape()[0] != ks[3]))
    throw ShapeError(fmt::format("conv2d: `bias` must have shape ({},), received {}", ks[3],
                                 shape_str(bias->shape())));
  kernels::Conv2DGeometry g;
  g.conv = make_conv_geometry(xs[0], xs[1], xs[2], xs[3], 1, {ks[0], ks[1]}, strides, dilation, padding);
  g.filters = ks[3];
  g.groups = groups;
  return g;
}
}  // namespace

template <typename T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& kernel, const std::optional<Variable<T>>& bias,
                   std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding, int64_t groups) {
  const kernels::Conv2DGeometry g = conv2d_geometry(x, kernel, bias, strides, dilation, padding, groups);
  const ConvGeometry& c = g.conv;
  Variable<T> y(Tensor<T>::uninitialized({c.batch, c.out_h, c.out_w, g.filters}));
  kernels::conv2d_forward(g, x.value().data(), kernel.value().data(), bias ? bias->value().data() : nullptr,
                          y.value().data());
  const bool bias_grad = bias && grad_enabled() && bias->requires_grad();
  if (!needs_grad<T>(x, kernel) && !bias_grad) return y;
  y.set_requires_grad(true);
  Tape<T>::current().record("conv2d", y, [x, kernel, bias, y, g]() {
    if (!y.has_grad()) return;
    const T* gy = y.grad().data();
    if (x.requires_grad()) {
      Tensor<T> gx = Tensor<T>::uninitialized(x.shape());
      kernels::conv2d_backward_input(g, gy, kernel.value().data(), gx.data());
      x.add_grad_owned(std::move(gx), "conv2d");
    }
    if (kernel.requires_grad()) {
      Tensor<T> gk = Tensor<T>::uninitialized(kernel.shape());
      kernels::conv2d_backward_kernel(g, x.value().data(), gy, gk.data());
      kernel.add_grad_owned(std::move(gk), "conv2d");
    }
    if (bias && bias->requires_grad()) {
      Tensor<T> gb = Tensor<T>::uninitialized(bias->shape());
      kernels::conv2d_backward_bias(g, gy, gb.data());
      bias->add_grad_owned(std::move(gb), "conv2d");
    }
  });
  return y;
}

template Variable<float> conv2d(const Variable<float>&, const Variable<float>&, const std::optional<Variable<float>>&,
                                std::array<int64_t, 2>, std::array<int64_t, 2>, Padding, int64_t);
template Variable<double> conv2d(const Variable<double>&, const Variable<double>&,
                                 const std::optional<Variable<double>>&, std::array<int64_t, 2>,
                                 std::array<int64_t, 2>, Padding, int64_t);

}  // namespace sepconv

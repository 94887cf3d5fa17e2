#include "sepconv/autograd/separable.h"

#include <memory>

#include <fmt/format.h>

#include "sepconv/autograd/tape.h"
#include "sepconv/core/kernels/separable.h"

namespace sepconv {

namespace {

template <typename T>
kernels::SeparableGeometry check_shapes(const Variable<T>& x, const Variable<T>& dk, const Variable<T>& pk,
                                        const std::optional<Variable<T>>& bias, std::array<int64_t, 2> strides,
                                        std::array<int64_t, 2> dilation, Padding padding, DataFormat data_format) {
  auto rank = [](const Variable<T>& v, int64_t r, const char* arg) {
    if (v.value().rank() != r)
      throw ShapeError(fmt::format("separable_conv2d: `{}` must be rank {}, received shape {}", arg, r,
                                   shape_str(v.shape())));
  };
  rank(x, 4, "x");
  rank(dk, 4, "depthwise_kernel");
  rank(pk, 4, "pointwise_kernel");
  const bool nchw = data_format == DataFormat::ChannelsFirst;
  const Shape& xs = x.shape();
  const Shape& ks = dk.shape();
  const Shape& ps = pk.shape();
  const int64_t channels = xs[nchw ? 1 : 3], h = xs[nchw ? 2 : 1], w = xs[nchw ? 3 : 2];
  if (ks[2] != channels)
    throw ShapeError(fmt::format(
        "separable_conv2d: depthwise_kernel of shape {} expects {} input channels, input has shape {}",
        shape_str(ks), ks[2], shape_str(xs)));
  if (ps[0] != 1 || ps[1] != 1 || ps[2] != ks[2] * ks[3])
    throw ShapeError(fmt::format("separable_conv2d: pointwise_kernel must be (1, 1, {}, filters), received {}",
                                 ks[2] * ks[3], shape_str(ps)));
  if (bias) {
    rank(*bias, 1, "bias");
    if (bias->shape()[0] != ps[3])
      throw ShapeError(fmt::format("separable_conv2d: bias of shape {} does not match {} filters",
                                   shape_str(bias->shape()), ps[3]));
  }
  kernels::SeparableGeometry s;
  s.conv = make_conv_geometry(xs[0], h, w, channels, ks[3], {ks[0], ks[1]}, strides, dilation, padding);
  s.filters = ps[3];
  s.channels_first = nchw;
  return s;
}

// data() of a variable's value, or null when it is absent.
template <typename T>
const T* data_or_null(const std::optional<Variable<T>>& v) {
  return v ? v->value().data() : nullptr;
}

}  // namespace

template <typename T>
Variable<T> separable_conv2d(const Variable<T>& x, const Variable<T>& depthwise_kernel,
                             const Variable<T>& pointwise_kernel, const std::optional<Variable<T>>& bias,
                             std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding,
                             SeparableActivation activation, DataFormat data_format) {
  const kernels::SeparableGeometry s =
      check_shapes(x, depthwise_kernel, pointwise_kernel, bias, strides, dilation, padding, data_format);
  const kernels::SeparablePlan<T> plan(s, activation == SeparableActivation::Relu);
  const ConvGeometry& g = s.conv;
  Variable<T> y(Tensor<T>::uninitialized(s.channels_first ? Shape{g.batch, s.filters, g.out_h, g.out_w}
                                                          : Shape{g.batch, g.out_h, g.out_w, s.filters}));
  const bool record = needs_grad<T>(x, depthwise_kernel, pointwise_kernel) ||
                      (grad_enabled() && bias && bias->requires_grad());
  // relu's derivative as bits, when the plan's backward wants them: it spares
  // backward a pass over y (and does not depend on y staying unchanged).
  std::shared_ptr<kernels::ReluMask> mask;
  if (record && plan.wants_relu_mask()) mask = std::make_shared<kernels::ReluMask>();
  plan.forward(x.value().data(), depthwise_kernel.value().data(), pointwise_kernel.value().data(),
               data_or_null(bias), y.value().data(), mask.get());
  if (!record) return y;
  y.set_requires_grad(true);
  Tape<T>::current().record("separable_conv2d", y, [x, depthwise_kernel, pointwise_kernel, bias, y, plan, mask]() {
    if (!y.has_grad()) return;
    auto grad_of = [](const Variable<T>& v) {
      return v.requires_grad() ? Tensor<T>::uninitialized(v.shape()) : Tensor<T>();
    };
    auto data = [](Tensor<T>& t) { return t.empty() ? nullptr : t.data(); };
    Tensor<T> gx = grad_of(x), gdk = grad_of(depthwise_kernel), gpk = grad_of(pointwise_kernel);
    Tensor<T> gb = bias ? grad_of(*bias) : Tensor<T>();
    plan.backward(x.value().data(), depthwise_kernel.value().data(), pointwise_kernel.value().data(),
                  y.value().data(), mask.get(), y.grad().data(), data(gx), data(gdk), data(gpk), data(gb));
    if (x.requires_grad()) x.add_grad_owned(std::move(gx), "separable_conv2d");
    if (depthwise_kernel.requires_grad()) depthwise_kernel.add_grad_owned(std::move(gdk), "separable_conv2d");
    if (pointwise_kernel.requires_grad()) pointwise_kernel.add_grad_owned(std::move(gpk), "separable_conv2d");
    if (bias && bias->requires_grad()) bias->add_grad_owned(std::move(gb), "separable_conv2d");
  });
  return y;
}

template <typename T>
Variable<T> separable_conv2d(const Variable<T>& x, const Variable<T>& depthwise_kernel,
                             const Variable<T>& pointwise_kernel, const std::optional<Variable<T>>& bias,
                             std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding) {
  return separable_conv2d(x, depthwise_kernel, pointwise_kernel, bias, strides, dilation, padding,
                          SeparableActivation::None);
}

#define SEPCONV_INSTANTIATE(T)                                                                                     \
  template Variable<T> separable_conv2d(const Variable<T>&, const Variable<T>&, const Variable<T>&,               \
                                        const std::optional<Variable<T>>&, std::array<int64_t, 2>,                 \
                                        std::array<int64_t, 2>, Padding);                                          \
  template Variable<T> separable_conv2d(const Variable<T>&, const Variable<T>&, const Variable<T>&,               \
                                        const std::optional<Variable<T>>&, std::array<int64_t, 2>,                 \
                                        std::array<int64_t, 2>, Padding, SeparableActivation, DataFormat);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

#pragma once
// Differentiable ops: each is one free function that checks its inputs, runs
// the forward kernel and, when a gradient is needed, records a closure on the
// tape that captures only what its backward needs. Every op's backward is
// checked against central differences in tests/test_ops_gradcheck.cpp.
#include <array>
#include <functional>

#include "sepconv/autograd/tape.h"
#include "sepconv/core/geometry.h"
#include "sepconv/core/kernels/elementwise.h"

namespace sepconv {

// ---- convolution ------------------------------------------------------------
// x: NHWC (batch, h, w, channels); kernel: (kh, kw, channels, depth_multiplier).
template <typename T>
Variable<T> depthwise_conv2d(const Variable<T>& x, const Variable<T>& kernel, std::array<int64_t, 2> strides,
                             std::array<int64_t, 2> dilation, Padding padding);
// x: NHWC (..., in_channels); kernel: (1, 1, in_channels, filters).
template <typename T>
Variable<T> pointwise_conv2d(const Variable<T>& x, const Variable<T>& kernel);
// x: (..., C); bias: (C).
template <typename T>
Variable<T> bias_add(const Variable<T>& x, const Variable<T>& bias);

// ---- layout -----------------------------------------------------------------
template <typename T>
Variable<T> nchw_to_nhwc(const Variable<T>& x);
template <typename T>
Variable<T> nhwc_to_nchw(const Variable<T>& x);
template <typename T>
Variable<T> reshape(const Variable<T>& x, const Shape& shape);

// ---- arithmetic (same shapes; scalar variants broadcast a constant) ------------
template <typename T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b);
template <typename T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b);
template <typename T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b);
template <typename T>
Variable<T> scale(const Variable<T>& a, T factor);
template <typename T>
Variable<T> abs(const Variable<T>& a);
template <typename T>
Variable<T> square(const Variable<T>& a);

// ---- reductions to a scalar (shape ()) ----------------------------------------
template <typename T>
Variable<T> sum(const Variable<T>& a);
template <typename T>
Variable<T> mean(const Variable<T>& a);

// A generic elementwise op: y = f(x), dy/dx = df(x, y). Activations use it.
// A template over the callables (not std::function) so f and df inline into
// the loops: these run over every activation of every layer.
template <typename T, typename F, typename DF>
Variable<T> elementwise(const Variable<T>& x, const char* op, F f, DF df) {
  Variable<T> y{Tensor<T>::uninitialized(x.shape())};
  const int64_t n = x.value().size();
  kernels::map(n, x.value().data(), y.value().data(), f);
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record(op, y, [x, y, op, n, df]() {
      if (!y.has_grad()) return;
      Tensor<T> gx = Tensor<T>::uninitialized(x.shape());
      kernels::map_gradient(n, y.grad().data(), x.value().data(), y.value().data(), gx.data(), df);
      x.add_grad_owned(std::move(gx), op);
    });
  }
  return y;
}

}  // namespace sepconv

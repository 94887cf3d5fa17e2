#include "sepconv/autograd/ops.h"

#include <cmath>

#include <fmt/format.h>

#include "sepconv/autograd/checks.h"
#include "sepconv/core/kernels/depthwise.h"
#include "sepconv/core/kernels/gemm.h"

namespace sepconv {

namespace {
using op_checks::require_rank;
template <typename T>
void require_same_shape(const Variable<T>& a, const Variable<T>& b, const char* op) {
  if (a.shape() != b.shape())
    throw ShapeError(fmt::format("{}: shapes must match, received {} and {}", op, shape_str(a.shape()),
                                 shape_str(b.shape())));
}
}  // namespace

template <typename T>
Variable<T> depthwise_conv2d(const Variable<T>& x, const Variable<T>& kernel, std::array<int64_t, 2> strides,
                             std::array<int64_t, 2> dilation, Padding padding) {
  require_rank(x, 4, "depthwise_conv2d", "x");
  require_rank(kernel, 4, "depthwise_conv2d", "kernel");
  const Shape& xs = x.shape();
  const Shape& ks = kernel.shape();
  if (ks[2] != xs[3])
    throw ShapeError(fmt::format("depthwise_conv2d: kernel of shape {} expects {} input channels, input has shape {}",
                                 shape_str(ks), ks[2], shape_str(xs)));
  const ConvGeometry g = make_conv_geometry(xs[0], xs[1], xs[2], xs[3], ks[3], {ks[0], ks[1]}, strides, dilation, padding);
  Variable<T> y(Tensor<T>({g.batch, g.out_h, g.out_w, g.out_channels()}));
  depthwise_forward(g, x.value().data(), kernel.value().data(), y.value().data());
  if (needs_grad<T>(x, kernel)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("depthwise_conv2d", y, [x, kernel, y, g]() {
      if (!y.has_grad()) return;
      if (x.requires_grad()) {
        Tensor<T> gx(x.shape());
        depthwise_backward_input(g, y.grad().data(), kernel.value().data(), gx.data());
        x.add_grad(gx, "depthwise_conv2d");
      }
      if (kernel.requires_grad()) {
        Tensor<T> gk(kernel.shape());
        depthwise_backward_kernel(g, x.value().data(), y.grad().data(), gk.data());
        kernel.add_grad(gk, "depthwise_conv2d");
      }
    });
  }
  return y;
}

template <typename T>
Variable<T> pointwise_conv2d(const Variable<T>& x, const Variable<T>& kernel) {
  require_rank(kernel, 4, "pointwise_conv2d", "kernel");
  const Shape& ks = kernel.shape();
  if (ks[0] != 1 || ks[1] != 1 || x.value().rank() < 1 || x.shape().back() != ks[2])
    throw ShapeError(fmt::format("pointwise_conv2d: kernel must be (1, 1, {}, filters) for input of shape {}, received {}",
                                 x.value().rank() ? x.shape().back() : 0, shape_str(x.shape()), shape_str(ks)));
  const int64_t cin = ks[2], f = ks[3], rows = x.value().size() / std::max<int64_t>(cin, 1);
  Shape ys = x.shape();
  ys.back() = f;
  Variable<T> y{Tensor<T>(ys)};
  pointwise_forward(rows, cin, f, x.value().data(), kernel.value().data(), y.value().data());
  if (needs_grad<T>(x, kernel)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("pointwise_conv2d", y, [x, kernel, y, rows, cin, f]() {
      if (!y.has_grad()) return;
      if (x.requires_grad()) {
        Tensor<T> gx(x.shape());
        pointwise_backward_input(rows, cin, f, y.grad().data(), kernel.value().data(), gx.data());
        x.add_grad(gx, "pointwise_conv2d");
      }
      if (kernel.requires_grad()) {
        Tensor<T> gk(kernel.shape());
        pointwise_backward_kernel(rows, cin, f, x.value().data(), y.grad().data(), gk.data());
        kernel.add_grad(gk, "pointwise_conv2d");
      }
    });
  }
  return y;
}

template <typename T>
Variable<T> bias_add(const Variable<T>& x, const Variable<T>& bias) {
  require_rank(bias, 1, "bias_add", "bias");
  if (x.value().rank() < 1 || x.shape().back() != bias.shape()[0])
    throw ShapeError(fmt::format("bias_add: bias of shape {} does not match the last axis of input shape {}",
                                 shape_str(bias.shape()), shape_str(x.shape())));
  const int64_t c = bias.shape()[0], rows = c ? x.value().size() / c : 0;
  Variable<T> y(x.value().clone());
  T* yd = y.value().data();
  const T* b = bias.value().data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < c; ++k) yd[r * c + k] += b[k];
  if (needs_grad<T>(x, bias)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("bias_add", y, [x, bias, y, rows, c]() {
      if (!y.has_grad()) return;
      if (x.requires_grad()) x.add_grad(y.grad(), "bias_add");
      if (bias.requires_grad()) {
        Tensor<T> gb(bias.shape());
        const T* g = y.grad().data();
        for (int64_t r = 0; r < rows; ++r)  // fixed order: reproducible whatever the thread count
          for (int64_t k = 0; k < c; ++k) gb[k] += g[r * c + k];
        bias.add_grad(gb, "bias_add");
      }
    });
  }
  return y;
}

template <typename T>
Variable<T> nchw_to_nhwc(const Variable<T>& x) {
  require_rank(x, 4, "nchw_to_nhwc", "x");
  Variable<T> y(sepconv::nchw_to_nhwc(x.value()));
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("nchw_to_nhwc", y, [x, y]() {
      if (y.has_grad()) x.add_grad_owned(sepconv::nhwc_to_nchw(y.grad()), "nchw_to_nhwc");
    });
  }
  return y;
}

template <typename T>
Variable<T> nhwc_to_nchw(const Variable<T>& x) {
  require_rank(x, 4, "nhwc_to_nchw", "x");
  Variable<T> y(sepconv::nhwc_to_nchw(x.value()));
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("nhwc_to_nchw", y, [x, y]() {
      if (y.has_grad()) x.add_grad_owned(sepconv::nchw_to_nhwc(y.grad()), "nhwc_to_nchw");
    });
  }
  return y;
}

template <typename T>
Variable<T> reshape(const Variable<T>& x, const Shape& shape) {
  // A copy, not a view: later in-place updates of x must not change y.
  Variable<T> y(x.value().clone().reshape(shape));
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("reshape", y, [x, y]() {
      if (y.has_grad()) x.add_grad(y.grad().reshape(x.shape()), "reshape");
    });
  }
  return y;
}

namespace {
// Shared body of the same-shape binary ops: y = f(a, b); backward gets (g, a, b)
// and returns the two partial-derivative factors.
template <typename T, typename F, typename DA, typename DB>
Variable<T> binary(const Variable<T>& a, const Variable<T>& b, const char* op, F f, DA da, DB db) {
  require_same_shape(a, b, op);
  Variable<T> y{Tensor<T>(a.shape())};
  const int64_t n = a.value().size();
  for (int64_t i = 0; i < n; ++i) y.value()[i] = f(a.value()[i], b.value()[i]);
  if (needs_grad<T>(a, b)) {
    y.set_requires_grad(true);
    Tape<T>::current().record(op, y, [a, b, y, op, n, da, db]() {
      if (!y.has_grad()) return;
      const Tensor<T>& g = y.grad();
      if (a.requires_grad()) {
        Tensor<T> ga(a.shape());
        for (int64_t i = 0; i < n; ++i) ga[i] = g[i] * da(a.value()[i], b.value()[i]);
        a.add_grad(ga, op);
      }
      if (b.requires_grad()) {
        Tensor<T> gb(b.shape());
        for (int64_t i = 0; i < n; ++i) gb[i] = g[i] * db(a.value()[i], b.value()[i]);
        b.add_grad(gb, op);
      }
    });
  }
  return y;
}
}  // namespace

template <typename T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b) {
  return binary(a, b, "add", [](T x, T y) { return x + y; }, [](T, T) { return T(1); }, [](T, T) { return T(1); });
}
template <typename T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b) {
  return binary(a, b, "sub", [](T x, T y) { return x - y; }, [](T, T) { return T(1); }, [](T, T) { return T(-1); });
}
template <typename T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b) {
  return binary(a, b, "mul", [](T x, T y) { return x * y; }, [](T, T y) { return y; }, [](T x, T) { return x; });
}

template <typename T>
Variable<T> scale(const Variable<T>& a, T factor) {
  return elementwise<T>(a, "scale", [factor](T v) { return v * factor; }, [factor](T, T) { return factor; });
}
template <typename T>
Variable<T> abs(const Variable<T>& a) {
  // d|x|/dx = sign(x), 0 at 0 (as TensorFlow and PyTorch define it).
  return elementwise<T>(a, "abs", [](T v) { return std::abs(v); },
                        [](T v, T) { return v > 0 ? T(1) : (v < 0 ? T(-1) : T(0)); });
}
template <typename T>
Variable<T> square(const Variable<T>& a) {
  return elementwise<T>(a, "square", [](T v) { return v * v; }, [](T v, T) { return 2 * v; });
}

template <typename T>
Variable<T> sum(const Variable<T>& a) {
  // Accumulate in double for float inputs: regularizer sums over many weights.
  double s = 0;
  for (int64_t i = 0; i < a.value().size(); ++i) s += a.value()[i];
  Variable<T> y(Tensor<T>::scalar(static_cast<T>(s)));
  if (needs_grad<T>(a)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("sum", y, [a, y]() {
      if (y.has_grad()) a.add_grad_owned(Tensor<T>::full(a.shape(), y.grad().item()), "sum");
    });
  }
  return y;
}

template <typename T>
Variable<T> mean(const Variable<T>& a) {
  const int64_t n = a.value().size();
  if (n == 0) throw ShapeError("mean: input has no elements");
  return scale(sum(a), static_cast<T>(1.0 / static_cast<double>(n)));
}

#define SEPCONV_INSTANTIATE(T)                                                                                       \
  template Variable<T> depthwise_conv2d(const Variable<T>&, const Variable<T>&, std::array<int64_t, 2>,             \
                                        std::array<int64_t, 2>, Padding);                                            \
  template Variable<T> pointwise_conv2d(const Variable<T>&, const Variable<T>&);                                     \
  template Variable<T> bias_add(const Variable<T>&, const Variable<T>&);                                             \
  template Variable<T> nchw_to_nhwc(const Variable<T>&);                                                             \
  template Variable<T> nhwc_to_nchw(const Variable<T>&);                                                             \
  template Variable<T> reshape(const Variable<T>&, const Shape&);                                                    \
  template Variable<T> add(const Variable<T>&, const Variable<T>&);                                                  \
  template Variable<T> sub(const Variable<T>&, const Variable<T>&);                                                  \
  template Variable<T> mul(const Variable<T>&, const Variable<T>&);                                                  \
  template Variable<T> scale(const Variable<T>&, T);                                                                 \
  template Variable<T> abs(const Variable<T>&);                                                                      \
  template Variable<T> square(const Variable<T>&);                                                                   \
  template Variable<T> sum(const Variable<T>&);                                                                      \
  template Variable<T> mean(const Variable<T>&);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

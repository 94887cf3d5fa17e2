#include "sepconv/autograd/activations.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"

namespace sepconv {

namespace {
template <typename T>
T stable_sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
template <typename T>
T stable_softplus(T x) {
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
}  // namespace

template <typename T>
Variable<T> relu(const Variable<T>& x) {
  return elementwise<T>(x, "relu", [](T v) { return v > 0 ? v : T(0); }, [](T v, T) { return v > 0 ? T(1) : T(0); });
}

template <typename T>
Variable<T> relu6(const Variable<T>& x) {
  return elementwise<T>(
      x, "relu6", [](T v) { return std::min(std::max(v, T(0)), T(6)); },
      [](T v, T) { return (v > 0 && v < 6) ? T(1) : T(0); });
}

template <typename T>
Variable<T> leaky_relu(const Variable<T>& x, double negative_slope) {
  const T s = static_cast<T>(negative_slope);
  return elementwise<T>(x, "leaky_relu", [s](T v) { return v > 0 ? v : s * v; }, [s](T v, T) { return v > 0 ? T(1) : s; });
}

template <typename T>
Variable<T> elu(const Variable<T>& x, double alpha) {
  const T a = static_cast<T>(alpha);
  return elementwise<T>(
      x, "elu", [a](T v) { return v > 0 ? v : a * std::expm1(v); },
      [a](T v, T) { return v > 0 ? T(1) : a * std::exp(v); });
}

template <typename T>
Variable<T> selu(const Variable<T>& x) {
  const T a = static_cast<T>(kSeluAlpha), s = static_cast<T>(kSeluScale);
  return elementwise<T>(
      x, "selu", [a, s](T v) { return v > 0 ? s * v : s * a * std::expm1(v); },
      [a, s](T v, T) { return v > 0 ? s : s * a * std::exp(v); });
}

template <typename T>
Variable<T> gelu(const Variable<T>& x, bool approximate) {
  if (!approximate) {
    const T inv_sqrt2 = static_cast<T>(0.70710678118654752440084436210485);
    const T inv_sqrt_2pi = static_cast<T>(0.39894228040143267793994605993438);
    return elementwise<T>(
        x, "gelu", [=](T v) { return T(0.5) * v * (T(1) + std::erf(v * inv_sqrt2)); },
        [=](T v, T) { return T(0.5) * (T(1) + std::erf(v * inv_sqrt2)) + v * inv_sqrt_2pi * std::exp(T(-0.5) * v * v); });
  }
  const T c = static_cast<T>(0.79788456080286535587989211986876);  // sqrt(2 / pi)
  const T k = static_cast<T>(0.044715);
  return elementwise<T>(
      x, "gelu_approximate", [=](T v) { return T(0.5) * v * (T(1) + std::tanh(c * (v + k * v * v * v))); },
      [=](T v, T) {
        const T t = std::tanh(c * (v + k * v * v * v));
        return T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * c * (T(1) + T(3) * k * v * v);
      });
}

template <typename T>
Variable<T> silu(const Variable<T>& x) {
  return elementwise<T>(
      x, "silu", [](T v) { return v * stable_sigmoid(v); },
      [](T v, T) {
        const T s = stable_sigmoid(v);
        return s * (T(1) + v * (T(1) - s));
      });
}

template <typename T>
Variable<T> softplus(const Variable<T>& x) {
  return elementwise<T>(x, "softplus", [](T v) { return stable_softplus(v); }, [](T v, T) { return stable_sigmoid(v); });
}

template <typename T>
Variable<T> softsign(const Variable<T>& x) {
  return elementwise<T>(
      x, "softsign", [](T v) { return v / (std::abs(v) + T(1)); },
      [](T v, T) {
        const T d = std::abs(v) + T(1);
        return T(1) / (d * d);
      });
}

template <typename T>
Variable<T> sigmoid(const Variable<T>& x) {
  return elementwise<T>(x, "sigmoid", [](T v) { return stable_sigmoid(v); }, [](T, T y) { return y * (T(1) - y); });
}

template <typename T>
Variable<T> hard_sigmoid(const Variable<T>& x) {
  return elementwise<T>(
      x, "hard_sigmoid", [](T v) { return std::min(std::max(v + T(3), T(0)), T(6)) / T(6); },
      [](T v, T) { return (v > -3 && v < 3) ? T(1) / T(6) : T(0); });
}

template <typename T>
Variable<T> hard_silu(const Variable<T>& x) {
  return elementwise<T>(
      x, "hard_silu", [](T v) { return v * (std::min(std::max(v + T(3), T(0)), T(6)) / T(6)); },
      [](T v, T) { return v <= -3 ? T(0) : (v >= 3 ? T(1) : (T(2) * v + T(3)) / T(6)); });
}

template <typename T>
Variable<T> tanh(const Variable<T>& x) {
  return elementwise<T>(x, "tanh", [](T v) { return std::tanh(v); }, [](T, T y) { return T(1) - y * y; });
}

template <typename T>
Variable<T> mish(const Variable<T>& x) {
  return elementwise<T>(
      x, "mish", [](T v) { return v * std::tanh(stable_softplus(v)); },
      [](T v, T) {
        const T t = std::tanh(stable_softplus(v));
        return t + v * (T(1) - t * t) * stable_sigmoid(v);
      });
}

template <typename T>
Variable<T> exponential(const Variable<T>& x) {
  return elementwise<T>(x, "exponential", [](T v) { return std::exp(v); }, [](T, T y) { return y; });
}

template <typename T>
Variable<T> linear(const Variable<T>& x) {
  return x;
}

template <typename T>
Variable<T> celu(const Variable<T>& x, double alpha) {
  const T a = static_cast<T>(alpha);
  return elementwise<T>(
      x, "celu", [a](T v) { return v > 0 ? v : a * std::expm1(v / a); },
      [a](T v, T) { return v > 0 ? T(1) : std::exp(v / a); });
}

template <typename T>
Variable<T> hard_tanh(const Variable<T>& x) {
  return elementwise<T>(
      x, "hard_tanh", [](T v) { return std::min(std::max(v, T(-1)), T(1)); },
      [](T v, T) { return (v > -1 && v < 1) ? T(1) : T(0); });
}

template <typename T>
Variable<T> tanh_shrink(const Variable<T>& x) {
  return elementwise<T>(
      x, "tanh_shrink", [](T v) { return v - std::tanh(v); },
      [](T v, T) {
        const T t = std::tanh(v);
        return t * t;
      });
}

template <typename T>
Variable<T> log_sigmoid(const Variable<T>& x) {
  return elementwise<T>(
      x, "log_sigmoid", [](T v) { return -stable_softplus(-v); }, [](T v, T) { return stable_sigmoid(-v); });
}

template <typename T>
Variable<T> squareplus(const Variable<T>& x, double b) {
  const T bb = static_cast<T>(b);
  return elementwise<T>(
      x, "squareplus", [bb](T v) { return (v + std::sqrt(v * v + bb)) / T(2); },
      [bb](T v, T) { return (T(1) + v / std::sqrt(v * v + bb)) / T(2); });
}

template <typename T>
Variable<T> soft_shrink(const Variable<T>& x, double threshold) {
  const T t = static_cast<T>(threshold);
  return elementwise<T>(
      x, "soft_shrink", [t](T v) { return v > t ? v - t : (v < -t ? v + t : T(0)); },
      [t](T v, T) { return (v > t || v < -t) ? T(1) : T(0); });
}

template <typename T>
Variable<T> hard_shrink(const Variable<T>& x, double threshold) {
  const T t = static_cast<T>(threshold);
  return elementwise<T>(
      x, "hard_shrink", [t](T v) { return std::abs(v) > t ? v : T(0); },
      [t](T v, T) { return std::abs(v) > t ? T(1) : T(0); });
}

template <typename T>
Variable<T> sparse_plus(const Variable<T>& x) {
  return elementwise<T>(
      x, "sparse_plus", [](T v) { return v <= -1 ? T(0) : (v >= 1 ? v : (v + 1) * (v + 1) / T(4)); },
      [](T v, T) { return v <= -1 ? T(0) : (v >= 1 ? T(1) : (v + 1) / T(2)); });
}

namespace {
// The tensor seen as (outer, n, inner) around `axis`.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
template <typename T>
AxisSplit split_axis(const Variable<T>& x, int64_t axis, const char* op) {
  const int64_t rank = x.value().rank();
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (rank == 0 || a < 0 || a >= rank)
    throw ValueError(fmt::format("{}: axis {} is out of bounds for input of shape {} (rank {})", op, axis,
                                 shape_str(x.shape()), rank));
  AxisSplit s;
  for (int64_t d = 0; d < a; ++d) s.outer *= x.shape()[d];
  s.n = x.shape()[a];
  for (int64_t d = a + 1; d < rank; ++d) s.inner *= x.shape()[d];
  return s;
}

// Shared body of softmax and log_softmax: forward per (outer, inner) line;
// backward
//   softmax:     gx = y * (g - sum(g * y))
//   log_softmax: gx = g - exp(y) * sum(g)
template <typename T>
Variable<T> softmax_impl(const Variable<T>& x, int64_t axis, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  const AxisSplit s = split_axis(x, axis, op);
  Variable<T> y{Tensor<T>(x.shape())};
  const T* xd = x.value().data();
  T* yd = y.value().data();
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      const int64_t base = o * s.n * s.inner + i;
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t k = 0; k < s.n; ++k) mx = std::max(mx, xd[base + k * s.inner]);
      if (!std::isfinite(mx)) mx = 0;  // all -inf (or +inf present): keep Keras's nan/inf propagation
      double total = 0;
      for (int64_t k = 0; k < s.n; ++k) total += std::exp(static_cast<double>(xd[base + k * s.inner] - mx));
      if (log) {
        const T lse = static_cast<T>(std::log(total));
        for (int64_t k = 0; k < s.n; ++k) yd[base + k * s.inner] = xd[base + k * s.inner] - mx - lse;
      } else {
        for (int64_t k = 0; k < s.n; ++k)
          yd[base + k * s.inner] = static_cast<T>(std::exp(static_cast<double>(xd[base + k * s.inner] - mx)) / total);
      }
    }
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record(op, y, [x, y, s, log, op]() {
      if (!y.has_grad()) return;
      Tensor<T> gx(x.shape());
      const T* g = y.grad().data();
      const T* yv = y.value().data();
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t i = 0; i < s.inner; ++i) {
          const int64_t base = o * s.n * s.inner + i;
          double acc = 0;
          if (log) {
            for (int64_t k = 0; k < s.n; ++k) acc += g[base + k * s.inner];
            for (int64_t k = 0; k < s.n; ++k) {
              const int64_t j = base + k * s.inner;
              gx[j] = static_cast<T>(g[j] - std::exp(static_cast<double>(yv[j])) * acc);
            }
          } else {
            for (int64_t k = 0; k < s.n; ++k) acc += static_cast<double>(g[base + k * s.inner]) * yv[base + k * s.inner];
            for (int64_t k = 0; k < s.n; ++k) {
              const int64_t j = base + k * s.inner;
              gx[j] = static_cast<T>(yv[j] * (g[j] - acc));
            }
          }
        }
      x.add_grad(gx, op);
    });
  }
  return y;
}
}  // namespace

template <typename T>
Variable<T> softmax(const Variable<T>& x, int64_t axis) {
  return softmax_impl(x, axis, false);
}
template <typename T>
Variable<T> log_softmax(const Variable<T>& x, int64_t axis) {
  return softmax_impl(x, axis, true);
}

#define SEPCONV_INSTANTIATE(T)                                         \
  template Variable<T> relu(const Variable<T>&);                       \
  template Variable<T> relu6(const Variable<T>&);                      \
  template Variable<T> leaky_relu(const Variable<T>&, double);         \
  template Variable<T> elu(const Variable<T>&, double);                \
  template Variable<T> selu(const Variable<T>&);                       \
  template Variable<T> gelu(const Variable<T>&, bool);                 \
  template Variable<T> silu(const Variable<T>&);                       \
  template Variable<T> softplus(const Variable<T>&);                   \
  template Variable<T> softsign(const Variable<T>&);                   \
  template Variable<T> sigmoid(const Variable<T>&);                    \
  template Variable<T> hard_sigmoid(const Variable<T>&);               \
  template Variable<T> hard_silu(const Variable<T>&);                  \
  template Variable<T> tanh(const Variable<T>&);                       \
  template Variable<T> mish(const Variable<T>&);                       \
  template Variable<T> exponential(const Variable<T>&);                \
  template Variable<T> linear(const Variable<T>&);                     \
  template Variable<T> softmax(const Variable<T>&, int64_t);           \
  template Variable<T> log_softmax(const Variable<T>&, int64_t);       \
  template Variable<T> celu(const Variable<T>&, double);               \
  template Variable<T> hard_tanh(const Variable<T>&);                  \
  template Variable<T> tanh_shrink(const Variable<T>&);                \
  template Variable<T> log_sigmoid(const Variable<T>&);                \
  template Variable<T> squareplus(const Variable<T>&, double);         \
  template Variable<T> soft_shrink(const Variable<T>&, double);        \
  template Variable<T> hard_shrink(const Variable<T>&, double);        \
  template Variable<T> sparse_plus(const Variable<T>&);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

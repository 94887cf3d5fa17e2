#include "sepconv/autograd/nn_ops.h"

#include <cmath>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "sepconv/autograd/checks.h"
#include "sepconv/core/kernels/elementwise.h"
#include "sepconv/core/kernels/gemm.h"
#include "sepconv/core/kernels/normalization.h"
#include "sepconv/core/kernels/pooling.h"

namespace sepconv {

namespace {

using op_checks::require_rank;

template <typename T>
void require_channels(const std::optional<Variable<T>>& v, int64_t channels, const char* op, const char* arg,
                      const Shape& input) {
  if (v && (v->value().rank() != 1 || v->shape()[0] != channels))
    throw ShapeError(fmt::format("{}: `{}` must have shape ({},) for input of shape {}, received {}", op, arg,
                                 channels, shape_str(input), shape_str(v->shape())));
}

template <typename T>
void require_channels(const Tensor<T>& v, int64_t channels, const char* op, const char* arg, const Shape& input) {
  if (v.rank() != 1 || v.shape()[0] != channels)
    throw ShapeError(fmt::format("{}: `{}` must have shape ({},) for input of shape {}, received {}", op, arg,
                                 channels, shape_str(input), shape_str(v.shape())));
}

// Hands `write(dst, accumulate)` the gradient buffer of x: a fresh tensor to
// overwrite (adopted without a copy) when x has no gradient yet, else the
// existing one to add to. Saves the zero-fill and the read of a fresh buffer.
template <typename T, typename F>
void write_grad(const Variable<T>& x, const char* op, F write) {
  if (x.has_grad()) {
    write(x.grad_buffer().data(), true);
    return;
  }
  Tensor<T> g = Tensor<T>::uninitialized(x.shape());
  write(g.data(), false);
  x.add_grad_owned(std::move(g), op);
}

}  // namespace

// ---- dense ----------------------------------------------------------------------

template <typename T>
Variable<T> dense(const Variable<T>& x, const Variable<T>& kernel, const std::optional<Variable<T>>& bias) {
  require_rank(kernel, 2, "dense", "kernel");
  if (x.value().rank() < 2 || x.shape().back() != kernel.shape()[0])
    throw ShapeError(fmt::format(
        "dense: input must have rank >= 2 and a last axis of {} to match kernel of shape {}, received input shape {}",
        kernel.shape()[0], shape_str(kernel.shape()), shape_str(x.shape())));
  const int64_t in = kernel.shape()[0], units = kernel.shape()[1];
  require_channels(bias, units, "dense", "bias", x.shape());
  const int64_t rows = in ? x.value().size() / in : shape_size(Shape(x.shape().begin(), x.shape().end() - 1));
  Shape ys = x.shape();
  ys.back() = units;
  Variable<T> y{in > 0 ? Tensor<T>::uninitialized(ys) : Tensor<T>(ys)};
  T* yd = y.value().data();
  if (in > 0) gemm<T>(false, false, rows, units, in, T(1), x.value().data(), in, kernel.value().data(), units, T(0), yd, units);
  if (bias) {
    const T* b = bias->value().data();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t u = 0; u < units; ++u) yd[r * units + u] += b[u];
  }
  const bool bias_grad = bias && bias->requires_grad();
  if (needs_grad<T>(x, kernel) || (grad_enabled() && bias_grad)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("dense", y, [x, kernel, bias, y, rows, in, units]() {
      if (!y.has_grad()) return;
      const T* gy = y.grad().data();
      if (x.requires_grad() && in > 0)  // gx (+)= gy @ kernel^T
        write_grad(x, "dense", [&](T* gx, bool acc) {
          gemm<T>(false, true, rows, in, units, T(1), gy, units, kernel.value().data(), units, acc ? T(1) : T(0), gx, in);
        });
      if (kernel.requires_grad() && in > 0) {  // gk += x^T @ gy
        T* gk = kernel.grad_buffer().data();
        if (rows > 0) gemm<T>(true, false, in, units, rows, T(1), x.value().data(), in, gy, units, T(1), gk, units);
      }
      if (bias && bias->requires_grad()) {
        const std::vector<double> s = kernels::column_sums(gy, rows, units);
        T* gb = bias->grad_buffer().data();
        for (int64_t u = 0; u < units; ++u) gb[u] += static_cast<T>(s[u]);
      }
    });
  }
  return y;
}

template <typename T>
Variable<T> matmul(const Variable<T>& a, const Variable<T>& b) {
  require_rank(a, 2, "matmul", "a");
  require_rank(b, 2, "matmul", "b");
  if (a.shape()[1] != b.shape()[0])
    throw ShapeError(fmt::format("matmul: inner dimensions differ, received shapes {} and {}", shape_str(a.shape()),
                                 shape_str(b.shape())));
  return dense<T>(a, b, std::nullopt);
}

// ---- pooling --------------------------------------------------------------------

PoolGeometry make_pool_geometry(const Shape& input, std::array<int64_t, 2> pool_size, std::array<int64_t, 2> strides,
                                Padding padding, const char* op) {
  if (input.size() != 4)
    throw ShapeError(fmt::format("{}: input must be rank 4 (batch, height, width, channels), received shape {}", op,
                                 shape_str(input)));
  if (pool_size[0] <= 0 || pool_size[1] <= 0)
    throw ValueError(fmt::format("Invalid value for argument `pool_size`: pool_size must be > 0. Received: "
                                 "pool_size=({}, {})",
                                 pool_size[0], pool_size[1]));
  if (strides[0] <= 0 || strides[1] <= 0)
    throw ValueError(fmt::format("Invalid value for argument `strides`: strides must be > 0. Received: "
                                 "strides=({}, {})",
                                 strides[0], strides[1]));
  // The conv geometry computes the same output sizes and the same "same" split.
  const ConvGeometry c = make_conv_geometry(input[0], input[1], input[2], input[3], 1, pool_size, strides, {1, 1}, padding);
  PoolGeometry g;
  g.batch = c.batch;
  g.in_h = c.in_h;
  g.in_w = c.in_w;
  g.channels = c.channels;
  g.pool_h = pool_size[0];
  g.pool_w = pool_size[1];
  g.stride_h = strides[0];
  g.stride_w = strides[1];
  g.pad_top = c.pad_top;
  g.pad_left = c.pad_left;
  g.out_h = c.out_h;
  g.out_w = c.out_w;
  return g;
}

template <typename T>
Variable<T> max_pool2d(const Variable<T>& x, std::array<int64_t, 2> pool_size, std::array<int64_t, 2> strides,
                       Padding padding) {
  const kernels::PoolPlan<T> plan(make_pool_geometry(x.shape(), pool_size, strides, padding, "max_pool2d"));
  const PoolGeometry& g = plan.geometry();
  Variable<T> y{Tensor<T>::uninitialized({g.batch, g.out_h, g.out_w, g.channels})};
  plan.max_forward(x.value().data(), y.value().data());
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    // No argmax buffer: backward finds each window's first element equal to the output.
    Tape<T>::current().record("max_pool2d", y, [x, y, plan]() {
      if (!y.has_grad()) return;
      write_grad(x, "max_pool2d", [&](T* gx, bool accumulate) {
        plan.max_backward(x.value().data(), y.value().data(), y.grad().data(), gx, accumulate);
      });
    });
  }
  return y;
}

template <typename T>
Variable<T> avg_pool2d(const Variable<T>& x, std::array<int64_t, 2> pool_size, std::array<int64_t, 2> strides,
                       Padding padding) {
  const kernels::PoolPlan<T> plan(make_pool_geometry(x.shape(), pool_size, strides, padding, "avg_pool2d"));
  const PoolGeometry& g = plan.geometry();
  Variable<T> y{Tensor<T>::uninitialized({g.batch, g.out_h, g.out_w, g.channels})};
  plan.avg_forward(x.value().data(), y.value().data());
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("avg_pool2d", y, [x, y, plan]() {
      if (!y.has_grad()) return;
      plan.avg_backward_add(y.grad().data(), x.grad_buffer().data());
    });
  }
  return y;
}

template <typename T>
Variable<T> global_average_pool2d(const Variable<T>& x, bool keepdims) {
  require_rank(x, 4, "global_average_pool2d", "x");
  const int64_t N = x.shape()[0], HW = x.shape()[1] * x.shape()[2], C = x.shape()[3];
  if (HW == 0)
    throw ShapeError(fmt::format("global_average_pool2d: input has no positions, received shape {}",
                                 shape_str(x.shape())));
  Variable<T> y{Tensor<T>::uninitialized(keepdims ? Shape{N, 1, 1, C} : Shape{N, C})};
  kernels::global_avg_pool_forward(N, HW, C, x.value().data(), y.value().data());
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("global_average_pool2d", y, [x, y, N, HW, C]() {
      if (!y.has_grad()) return;
      write_grad(x, "global_average_pool2d", [&](T* gx, bool acc) {
        kernels::global_avg_pool_backward(N, HW, C, y.grad().data(), gx, acc);
      });
    });
  }
  return y;
}

// ---- batch normalization ----------------------------------------------------------

namespace {
template <typename T>
int64_t bn_channels(const Variable<T>& x, const char* op) {
  if (x.value().rank() < 1 || x.shape().back() == 0)
    throw ShapeError(fmt::format("{}: input needs a non-empty last (channel) axis, received shape {}", op,
                                 shape_str(x.shape())));
  return x.shape().back();
}

// Backward of y = x * scale + shift (scale = gamma * inv_std) for both modes.
// In training mode the statistics depend on x, which adds the two mean terms.
template <typename T>
void bn_backward(const Variable<T>& x, const std::optional<Variable<T>>& gamma, const std::optional<Variable<T>>& beta,
                 const Variable<T>& y, const std::vector<T>& mean, const std::vector<T>& inv_std, bool training) {
  if (!y.has_grad()) return;
  const int64_t C = static_cast<int64_t>(mean.size()), rows = x.value().size() / C;
  const T* xd = x.value().data();
  const T* gy = y.grad().data();
  const T* is = inv_std.data();
  // sums[c] = sum(dy), sums[C + c] = sum(dy * xhat)
  const std::vector<double> sums = kernels::batch_norm_backward_sums(xd, gy, rows, C, mean.data(), is);
  if (beta && beta->requires_grad()) {
    T* gb = beta->grad_buffer().data();
    for (int64_t c = 0; c < C; ++c) gb[c] += static_cast<T>(sums[c]);
  }
  if (gamma && gamma->requires_grad()) {
    T* gg = gamma->grad_buffer().data();
    for (int64_t c = 0; c < C; ++c) gg[c] += static_cast<T>(sums[C + c]);
  }
  if (!x.requires_grad()) return;
  std::vector<T> scale(static_cast<size_t>(C)), mean_dy(static_cast<size_t>(C), T(0)),
      mean_dy_xhat(static_cast<size_t>(C), T(0));
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = (gamma ? gamma->value()[c] : T(1)) * is[c];
    if (training) {
      mean_dy[c] = static_cast<T>(sums[c] / static_cast<double>(rows));
      mean_dy_xhat[c] = static_cast<T>(sums[C + c] / static_cast<double>(rows));
    }
  }
  write_grad(x, "batch_norm", [&](T* gx, bool acc) {
    kernels::batch_norm_backward_input(xd, gy, rows, C, mean.data(), is, scale.data(), mean_dy.data(),
                                       mean_dy_xhat.data(), training, gx, acc);
  });
}

// y = x * scale + shift per channel.
template <typename T>
Variable<T> bn_apply(const Variable<T>& x, const std::optional<Variable<T>>& gamma,
                     const std::optional<Variable<T>>& beta, const std::vector<T>& mean,
                     const std::vector<T>& inv_std) {
  const int64_t C = static_cast<int64_t>(mean.size()), rows = x.value().size() / C;
  std::vector<T> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = (gamma ? gamma->value()[c] : T(1)) * inv_std[c];
    shift[c] = (beta ? beta->value()[c] : T(0)) - mean[c] * scale[c];
  }
  Variable<T> y{Tensor<T>::uninitialized(x.shape())};
  kernels::scale_shift(x.value().data(), rows, C, scale.data(), shift.data(), y.value().data());
  return y;
}

template <typename T>
bool bn_needs_grad(const Variable<T>& x, const std::optional<Variable<T>>& gamma,
                   const std::optional<Variable<T>>& beta) {
  return grad_enabled() &&
         (x.requires_grad() || (gamma && gamma->requires_grad()) || (beta && beta->requires_grad()));
}
}  // namespace

template <typename T>
BatchNormOutput<T> batch_norm_training(const Variable<T>& x, const std::optional<Variable<T>>& gamma,
                                       const std::optional<Variable<T>>& beta, double epsilon) {
  const int64_t C = bn_channels(x, "batch_norm");
  require_channels(gamma, C, "batch_norm", "gamma", x.shape());
  require_channels(beta, C, "batch_norm", "beta", x.shape());
  const int64_t rows = x.value().size() / C;
  if (rows == 0)
    throw ShapeError(fmt::format("batch_norm: training mode needs at least one sample, received shape {}",
                                 shape_str(x.shape())));
  std::vector<double> mean_d, var_d;
  kernels::batch_moments(x.value().data(), rows, C, mean_d, var_d);
  BatchNormOutput<T> out{Variable<T>(), Tensor<T>({C}), Tensor<T>({C})};
  std::vector<T> mean(static_cast<size_t>(C)), inv_std(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double var = var_d[c];
    mean[c] = static_cast<T>(mean_d[c]);
    inv_std[c] = static_cast<T>(1.0 / std::sqrt(var + epsilon));
    out.mean[c] = mean[c];
    out.variance[c] = static_cast<T>(var);
  }
  out.y = bn_apply(x, gamma, beta, mean, inv_std);
  if (bn_needs_grad(x, gamma, beta)) {
    out.y.set_requires_grad(true);
    Tape<T>::current().record("batch_norm", out.y, [x, gamma, beta, y = out.y, mean, inv_std]() {
      bn_backward(x, gamma, beta, y, mean, inv_std, true);
    });
  }
  return out;
}

template <typename T>
Variable<T> batch_norm_inference(const Variable<T>& x, const Tensor<T>& mean, const Tensor<T>& variance,
                                 const std::optional<Variable<T>>& gamma, const std::optional<Variable<T>>& beta,
                                 double epsilon) {
  const int64_t C = bn_channels(x, "batch_norm");
  require_channels(mean, C, "batch_norm", "moving_mean", x.shape());
  require_channels(variance, C, "batch_norm", "moving_variance", x.shape());
  require_channels(gamma, C, "batch_norm", "gamma", x.shape());
  require_channels(beta, C, "batch_norm", "beta", x.shape());
  std::vector<T> m(mean.begin(), mean.end()), inv_std(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c)
    inv_std[c] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(variance[c]) + epsilon));
  Variable<T> y = bn_apply(x, gamma, beta, m, inv_std);
  if (bn_needs_grad(x, gamma, beta)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("batch_norm", y, [x, gamma, beta, y, m, inv_std]() {
      bn_backward(x, gamma, beta, y, m, inv_std, false);
    });
  }
  return y;
}

// ---- dropout ----------------------------------------------------------------------

template <typename T>
Tensor<T> dropout_mask(const Shape& shape, double rate, uint64_t seed, uint64_t counter) {
  if (!(rate >= 0.0 && rate <= 1.0))
    throw ValueError(fmt::format(
        "Invalid value received for argument `rate`. Expected a float value between 0 and 1. Received: rate={}", rate));
  if (rate >= 1.0) return Tensor<T>(shape);  // everything dropped
  Tensor<T> mask = Tensor<T>::uninitialized(shape);
  // Counter-based: element i's draw depends only on (seed, counter, i), so the
  // mask is the same whatever the thread count.
  kernels::dropout_mask(mask.size(), rate, seed, counter, static_cast<T>(1.0 / (1.0 - rate)), mask.data());
  return mask;
}

template <typename T>
Variable<T> apply_mask(const Variable<T>& x, const Tensor<T>& mask) {
  if (mask.shape() != x.shape())
    throw ShapeError(fmt::format("apply_mask: mask of shape {} does not match input of shape {}",
                                 shape_str(mask.shape()), shape_str(x.shape())));
  Variable<T> y{Tensor<T>::uninitialized(x.shape())};
  const int64_t n = x.value().size();
  kernels::multiply(n, x.value().data(), mask.data(), y.value().data());
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("dropout", y, [x, y, mask, n]() {
      if (!y.has_grad()) return;
      write_grad(x, "dropout",
                 [&](T* gx, bool acc) { kernels::multiply_add(n, y.grad().data(), mask.data(), gx, acc); });
    });
  }
  return y;
}

template <typename T>
Variable<T> dropout(const Variable<T>& x, double rate, uint64_t seed, uint64_t counter) {
  return apply_mask(x, dropout_mask<T>(x.shape(), rate, seed, counter));
}

// ---- image flips -------------------------------------------------------------------

template <typename T>
Variable<T> flip_images(const Variable<T>& x, const std::vector<uint8_t>& flip_h, const std::vector<uint8_t>& flip_w) {
  require_rank(x, 4, "flip_images", "x");
  const int64_t N = x.shape()[0], H = x.shape()[1], W = x.shape()[2], C = x.shape()[3];
  if (static_cast<int64_t>(flip_h.size()) != N || static_cast<int64_t>(flip_w.size()) != N)
    throw ShapeError(fmt::format("flip_images: need one flag per image ({}), received {} and {}", N, flip_h.size(),
                                 flip_w.size()));
  Variable<T> y{Tensor<T>::uninitialized(x.shape())};
  kernels::flip_images(x.value().data(), y.value().data(), N, H, W, C, flip_h, flip_w, false);
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("flip_images", y, [x, y, flip_h, flip_w, N, H, W, C]() {
      if (!y.has_grad()) return;
      write_grad(x, "flip_images",
                 [&](T* gx, bool acc) { kernels::flip_images(y.grad().data(), gx, N, H, W, C, flip_h, flip_w, acc); });
    });
  }
  return y;
}

// ---- image translations ------------------------------------------------------------

template <typename T>
Variable<T> translate_images(const Variable<T>& x, const std::vector<float>& shift_h, const std::vector<float>& shift_w,
                             kernels::Interpolation interpolation, kernels::FillMode fill_mode, double fill_value) {
  require_rank(x, 4, "translate_images", "x");
  const int64_t N = x.shape()[0];
  if (static_cast<int64_t>(shift_h.size()) != N || static_cast<int64_t>(shift_w.size()) != N)
    throw ShapeError(fmt::format("translate_images: need one shift per image ({}), received {} and {}", N,
                                 shift_h.size(), shift_w.size()));
  // Bounded so that every neighbour index fits an int64_t (a layer's shifts are at most the image size).
  constexpr float kMaxShift = 2147483648.0f;
  for (size_t i = 0; i < shift_h.size(); ++i)
    if (!(std::abs(shift_h[i]) <= kMaxShift && std::abs(shift_w[i]) <= kMaxShift))
      throw ValueError(fmt::format("translate_images: shifts must be finite and at most 2^31 pixels, received "
                                   "({}, {}) for image {}",
                                   shift_h[i], shift_w[i], i));
  const kernels::TranslateSpec spec{N, x.shape()[1], x.shape()[2], x.shape()[3], interpolation, fill_mode, fill_value};
  Variable<T> y{Tensor<T>::uninitialized(x.shape())};
  kernels::translate_images(x.value().data(), y.value().data(), spec, shift_h.data(), shift_w.data());
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("translate_images", y, [x, y, spec, shift_h, shift_w]() {
      if (!y.has_grad()) return;
      write_grad(x, "translate_images", [&](T* gx, bool acc) {
        kernels::translate_images_backward(y.grad().data(), gx, spec, shift_h.data(), shift_w.data(), acc);
      });
    });
  }
  return y;
}

#define SEPCONV_INSTANTIATE(T)                                                                                    \
  template Variable<T> dense(const Variable<T>&, const Variable<T>&, const std::optional<Variable<T>>&);          \
  template Variable<T> matmul(const Variable<T>&, const Variable<T>&);                                            \
  template Variable<T> max_pool2d(const Variable<T>&, std::array<int64_t, 2>, std::array<int64_t, 2>, Padding);   \
  template Variable<T> avg_pool2d(const Variable<T>&, std::array<int64_t, 2>, std::array<int64_t, 2>, Padding);   \
  template Variable<T> global_average_pool2d(const Variable<T>&, bool);                                           \
  template BatchNormOutput<T> batch_norm_training(const Variable<T>&, const std::optional<Variable<T>>&,          \
                                                  const std::optional<Variable<T>>&, double);                     \
  template Variable<T> batch_norm_inference(const Variable<T>&, const Tensor<T>&, const Tensor<T>&,               \
                                            const std::optional<Variable<T>>&, const std::optional<Variable<T>>&, \
                                            double);                                                              \
  template Tensor<T> dropout_mask<T>(const Shape&, double, uint64_t, uint64_t);                                   \
  template Variable<T> apply_mask(const Variable<T>&, const Tensor<T>&);                                          \
  template Variable<T> dropout(const Variable<T>&, double, uint64_t, uint64_t);                                   \
  template Variable<T> flip_images(const Variable<T>&, const std::vector<uint8_t>&, const std::vector<uint8_t>&);   \
  template Variable<T> translate_images(const Variable<T>&, const std::vector<float>&, const std::vector<float>&,     \
                                        kernels::Interpolation, kernels::FillMode, double);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

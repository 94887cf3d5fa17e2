#include "sepconv/autograd/nn_ops.h"

#include <algorithm>
#include <bit>
#include <type_traits>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "sepconv/core/kernels/gemm.h"

namespace sepconv {

namespace {

template <typename T>
void require_rank(const Variable<T>& x, int64_t rank, const char* op, const char* arg) {
  if (x.value().rank() != rank)
    throw ShapeError(fmt::format("{}: `{}` must be rank {}, received shape {}", op, arg, rank, shape_str(x.shape())));
}

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

// Rows per partial sum of the channel reductions. Fixed (not derived from the
// thread count) so the order of every floating-point addition is fixed too.
constexpr int64_t kReduceBlock = 256;

// out[s * channels + c] = sum over rows of what `accumulate(begin, end, acc)`
// adds into acc[s * channels + c] (nsums sums per channel, in double).
// Blocks of rows run in parallel; their partial sums are combined in block order.
template <typename F>
std::vector<double> reduce_rows(int64_t rows, int64_t channels, int64_t nsums, F accumulate) {
  const int64_t width = nsums * channels;
  const int64_t blocks = (rows + kReduceBlock - 1) / kReduceBlock;
  std::vector<double> partial(static_cast<size_t>(blocks * width), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b)
    accumulate(b * kReduceBlock, std::min(rows, (b + 1) * kReduceBlock), partial.data() + b * width);
  std::vector<double> out(static_cast<size_t>(width), 0.0);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < width; ++i) out[i] += partial[b * width + i];
  return out;
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

// Column sums of a (rows, channels) matrix, in a fixed order.
template <typename T>
std::vector<double> column_sums(const T* m, int64_t rows, int64_t channels) {
  return reduce_rows(rows, channels, 1, [&](int64_t r0, int64_t r1, double* acc) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = m + r * channels;
      for (int64_t c = 0; c < channels; ++c) acc[c] += row[c];
    }
  });
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
        const std::vector<double> s = column_sums(gy, rows, units);
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

namespace {
// The part of an output position's window that lies inside the input.
struct Window {
  int64_t h0, h1, w0, w1;
};
inline Window window(const PoolGeometry& g, int64_t oh, int64_t ow) {
  const int64_t hs = oh * g.stride_h - g.pad_top, ws = ow * g.stride_w - g.pad_left;
  return {std::max<int64_t>(hs, 0), std::min(hs + g.pool_h, g.in_h), std::max<int64_t>(ws, 0),
          std::min(ws + g.pool_w, g.in_w)};
}
}  // namespace

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
// The library is built for baseline x86-64, where these channel loops run 4
// floats at a time; the loader picks an AVX-512 or AVX2 build of them instead
// (GCC function multiversioning). Max and select are exact: every build gives
// the same bits. Measured on the Fashion-MNIST reference model (2 x 2 pools of
// 32 and 64 channels): pooling was 14% of an epoch before.
#define SEPCONV_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SEPCONV_VECTOR_CLONES
#endif

// y_row[ow, c] = the maximum of x_image[h, w, c] over window (oh, ow), for one output row.
template <typename T>
SEPCONV_VECTOR_CLONES void max_pool_row(const PoolGeometry& g, const T* __restrict x_image, int64_t oh,
                                        T* __restrict y_row) {
  const int64_t C = g.channels, W = g.in_w;
  for (int64_t ow = 0; ow < g.out_w; ++ow) {
    const Window wd = window(g, oh, ow);
    T* __restrict best = y_row + ow * C;
    const T* __restrict first = x_image + (wd.h0 * W + wd.w0) * C;
    for (int64_t c = 0; c < C; ++c) best[c] = first[c];
    for (int64_t h = wd.h0; h < wd.h1; ++h)
      for (int64_t w = wd.w0; w < wd.w1; ++w) {
        const T* __restrict xp = x_image + (h * W + w) * C;
        for (int64_t c = 0; c < C; ++c) best[c] = xp[c] > best[c] ? xp[c] : best[c];
      }
  }
}

// The gradient of one output row: each window's gradient goes to its first
// element equal to the maximum (the maximum was copied from it, so the match
// is exact; TensorFlow's max-pool gradient picks the same element), through
// `pending`, which holds it until an element takes it (compare-and-blend, so
// the channel loop vectorizes). A window whose maximum is NaN passes nothing.
// With `overwrite` (windows that tile the input), the covered elements of
// gx_image are written rather than added to (as if zero-filled first).
template <typename T>
SEPCONV_VECTOR_CLONES void max_pool_row_backward(const PoolGeometry& g, const T* __restrict x_image,
                                                 const T* __restrict y_row, const T* __restrict gy_row, int64_t oh,
                                                 bool overwrite, T* __restrict gx_image, T* __restrict pending) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const int64_t C = g.channels, W = g.in_w;
  for (int64_t ow = 0; ow < g.out_w; ++ow) {
    const Window wd = window(g, oh, ow);
    const T* __restrict m = y_row + ow * C;
    const T* __restrict gy = gy_row + ow * C;
    for (int64_t c = 0; c < C; ++c) pending[c] = gy[c];
    for (int64_t h = wd.h0; h < wd.h1; ++h)
      for (int64_t w = wd.w0; w < wd.w1; ++w) {
        const T* __restrict xp = x_image + (h * W + w) * C;
        T* __restrict gp = gx_image + (h * W + w) * C;
        // Two instances of one loop, so that neither reads gp[c] needlessly.
        auto take = [&](auto overwrite_c) __attribute__((always_inline)) {
          for (int64_t c = 0; c < C; ++c) {  // bit masks instead of branches
            const U hit = U(0) - static_cast<U>(xp[c] == m[c]);
            const U bits = std::bit_cast<U>(pending[c]);
            gp[c] = (overwrite_c ? T(0) : gp[c]) + std::bit_cast<T>(bits & hit);
            pending[c] = std::bit_cast<T>(bits & ~hit);
          }
        };
        if (overwrite)
          take(std::true_type{});
        else
          take(std::false_type{});
      }
  }
}

// Whether the windows cover every input element exactly once (none overlap,
// none is left out): then the gradient can be written without a zero-fill.
bool windows_tile_input(const PoolGeometry& g) {
  if (g.stride_h < g.pool_h || g.stride_w < g.pool_w) return false;
  int64_t rows = 0, cols = 0;
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const Window wd = window(g, oh, 0);
    rows += wd.h1 - wd.h0;
  }
  for (int64_t ow = 0; ow < g.out_w; ++ow) {
    const Window wd = window(g, 0, ow);
    cols += wd.w1 - wd.w0;
  }
  return rows == g.in_h && cols == g.in_w;
}

template <typename T>
Variable<T> max_pool2d(const Variable<T>& x, std::array<int64_t, 2> pool_size, std::array<int64_t, 2> strides,
                       Padding padding) {
  const PoolGeometry g = make_pool_geometry(x.shape(), pool_size, strides, padding, "max_pool2d");
  const int64_t image = g.in_h * g.in_w * g.channels, out_row = g.out_w * g.channels;
  Variable<T> y{Tensor<T>::uninitialized({g.batch, g.out_h, g.out_w, g.channels})};
  const T* xd = x.value().data();
  T* yd = y.value().data();
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < g.batch * g.out_h; ++row)
    max_pool_row(g, xd + row / g.out_h * image, row % g.out_h, yd + row * out_row);
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    // No argmax buffer: backward finds each window's first element equal to the output.
    Tape<T>::current().record("max_pool2d", y, [x, y, g]() {
      if (!y.has_grad()) return;
      const int64_t image = g.in_h * g.in_w * g.channels, out_row = g.out_w * g.channels;
      const T* xd = x.value().data();
      const T* yd = y.value().data();
      const T* gy = y.grad().data();
      const bool tiled = windows_tile_input(g);
      write_grad(x, "max_pool2d", [&](T* gx, bool accumulate) {
        const bool overwrite = tiled && !accumulate;
        if (!accumulate && !tiled) std::fill(gx, gx + g.batch * image, T(0));
        // One image per iteration: windows may overlap, but never across images.
#pragma omp parallel
        {
          std::vector<T> pending(static_cast<size_t>(g.channels));
#pragma omp for schedule(static)
          for (int64_t n = 0; n < g.batch; ++n)
            for (int64_t oh = 0; oh < g.out_h; ++oh) {
              const int64_t row = n * g.out_h + oh;
              max_pool_row_backward(g, xd + n * image, yd + row * out_row, gy + row * out_row, oh, overwrite,
                                    gx + n * image, pending.data());
            }
        }
      });
    });
  }
  return y;
}

template <typename T>
Variable<T> avg_pool2d(const Variable<T>& x, std::array<int64_t, 2> pool_size, std::array<int64_t, 2> strides,
                       Padding padding) {
  const PoolGeometry g = make_pool_geometry(x.shape(), pool_size, strides, padding, "avg_pool2d");
  const int64_t C = g.channels, H = g.in_h, W = g.in_w, OH = g.out_h, OW = g.out_w;
  Variable<T> y{Tensor<T>({g.batch, OH, OW, C})};
  const T* xd = x.value().data();
  T* yd = y.value().data();
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < g.batch * OH; ++row) {
    const int64_t n = row / OH, oh = row % OH;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const Window wd = window(g, oh, ow);
      T* __restrict out = yd + ((n * OH + oh) * OW + ow) * C;
      for (int64_t h = wd.h0; h < wd.h1; ++h)
        for (int64_t w = wd.w0; w < wd.w1; ++w) {
          const T* __restrict xp = xd + ((n * H + h) * W + w) * C;
          for (int64_t c = 0; c < C; ++c) out[c] += xp[c];
        }
      const T inv = T(1) / static_cast<T>((wd.h1 - wd.h0) * (wd.w1 - wd.w0));
      for (int64_t c = 0; c < C; ++c) out[c] *= inv;
    }
  }
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("avg_pool2d", y, [x, y, g]() {
      if (!y.has_grad()) return;
      const int64_t C = g.channels, H = g.in_h, W = g.in_w, OH = g.out_h, OW = g.out_w;
      const T* gy = y.grad().data();
      T* gx = x.grad_buffer().data();
#pragma omp parallel for schedule(static)
      for (int64_t n = 0; n < g.batch; ++n)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            const Window wd = window(g, oh, ow);
            const T inv = T(1) / static_cast<T>((wd.h1 - wd.h0) * (wd.w1 - wd.w0));
            const T* __restrict go = gy + ((n * OH + oh) * OW + ow) * C;
            for (int64_t h = wd.h0; h < wd.h1; ++h)
              for (int64_t w = wd.w0; w < wd.w1; ++w) {
                T* __restrict gp = gx + ((n * H + h) * W + w) * C;
                for (int64_t c = 0; c < C; ++c) gp[c] += go[c] * inv;
              }
          }
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
  const T* xd = x.value().data();
  T* yd = y.value().data();
  const double inv = 1.0 / static_cast<double>(HW);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> acc(static_cast<size_t>(C), 0.0);
    for (int64_t p = 0; p < HW; ++p) {
      const T* xp = xd + (n * HW + p) * C;
      for (int64_t c = 0; c < C; ++c) acc[c] += xp[c];
    }
    for (int64_t c = 0; c < C; ++c) yd[n * C + c] = static_cast<T>(acc[c] * inv);
  }
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("global_average_pool2d", y, [x, y, N, HW, C]() {
      if (!y.has_grad()) return;
      const T* gy = y.grad().data();
      const T inv = T(1) / static_cast<T>(HW);
      write_grad(x, "global_average_pool2d", [&](T* gx, bool acc) {
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t p = 0; p < HW; ++p) {
            T* __restrict gp = gx + (n * HW + p) * C;
            const T* __restrict g = gy + n * C;
            for (int64_t c = 0; c < C; ++c) gp[c] = (acc ? gp[c] : T(0)) + g[c] * inv;
          }
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
  const T* m = mean.data();
  const T* is = inv_std.data();
  // sums[c] = sum(dy), sums[C + c] = sum(dy * xhat)
  const std::vector<double> sums = reduce_rows(rows, C, 2, [&](int64_t r0, int64_t r1, double* acc) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict xr = xd + r * C;
      const T* __restrict gr = gy + r * C;
      for (int64_t c = 0; c < C; ++c) {
        acc[c] += gr[c];
        acc[C + c] += static_cast<double>(gr[c]) * static_cast<double>((xr[c] - m[c]) * is[c]);
      }
    }
  });
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
  const T* sc = scale.data();
  const T* md = mean_dy.data();
  const T* mdx = mean_dy_xhat.data();
  write_grad(x, "batch_norm", [&](T* gx, bool acc) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const T* __restrict xr = xd + r * C;
      const T* __restrict gr = gy + r * C;
      T* __restrict gxr = gx + r * C;
      if (training)
        for (int64_t c = 0; c < C; ++c) {
          const T v = sc[c] * (gr[c] - md[c] - (xr[c] - m[c]) * is[c] * mdx[c]);
          gxr[c] = acc ? gxr[c] + v : v;
        }
      else
        for (int64_t c = 0; c < C; ++c) gxr[c] = acc ? gxr[c] + sc[c] * gr[c] : sc[c] * gr[c];
    }
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
  const T* __restrict xd = x.value().data();
  T* __restrict yd = y.value().data();
  const T* __restrict sc = scale.data();
  const T* __restrict sh = shift.data();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) yd[r * C + c] = xd[r * C + c] * sc[c] + sh[c];
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
  const T* xd = x.value().data();
  // Two passes (mean, then squared deviations) in double: no cancellation.
  const std::vector<double> s1 = reduce_rows(rows, C, 1, [&](int64_t r0, int64_t r1, double* acc) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < C; ++c) acc[c] += xd[r * C + c];
  });
  std::vector<double> mean_d(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) mean_d[c] = s1[c] / static_cast<double>(rows);
  const double* md = mean_d.data();
  const std::vector<double> s2 = reduce_rows(rows, C, 1, [&](int64_t r0, int64_t r1, double* acc) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < C; ++c) {
        const double d = xd[r * C + c] - md[c];
        acc[c] += d * d;
      }
  });
  BatchNormOutput<T> out{Variable<T>(), Tensor<T>({C}), Tensor<T>({C})};
  std::vector<T> mean(static_cast<size_t>(C)), inv_std(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double var = s2[c] / static_cast<double>(rows);
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

namespace {
inline uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

template <typename T>
Tensor<T> dropout_mask(const Shape& shape, double rate, uint64_t seed, uint64_t counter) {
  if (!(rate >= 0.0 && rate <= 1.0))
    throw ValueError(fmt::format(
        "Invalid value received for argument `rate`. Expected a float value between 0 and 1. Received: rate={}", rate));
  if (rate >= 1.0) return Tensor<T>(shape);  // everything dropped
  Tensor<T> mask = Tensor<T>::uninitialized(shape);
  const int64_t n = mask.size();
  const T keep = static_cast<T>(1.0 / (1.0 - rate));
  // Counter-based: element i's draw depends only on (seed, counter, i), so the
  // mask is the same whatever the thread count.
  // Each 64-bit hash gives four 16-bit draws (the hash is the costly part);
  // an element is kept when its draw is >= round(rate * 65536), so the rate is
  // applied to within 2^-17.
  const uint64_t key = splitmix64(seed ^ splitmix64(counter + 0x632be59bd9b4e019ULL));
  const uint64_t threshold = static_cast<uint64_t>(std::llround(rate * 65536.0));
  T* md = mask.data();
  const int64_t groups = (n + 3) / 4;
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < groups; ++q) {
    const uint64_t r = splitmix64(key + static_cast<uint64_t>(q));
    for (int64_t k = 0; k < 4 && 4 * q + k < n; ++k)
      md[4 * q + k] = ((r >> (16 * k)) & 0xffffULL) >= threshold ? keep : T(0);
  }
  return mask;
}

template <typename T>
Variable<T> apply_mask(const Variable<T>& x, const Tensor<T>& mask) {
  if (mask.shape() != x.shape())
    throw ShapeError(fmt::format("apply_mask: mask of shape {} does not match input of shape {}",
                                 shape_str(mask.shape()), shape_str(x.shape())));
  Variable<T> y{Tensor<T>::uninitialized(x.shape())};
  const int64_t n = x.value().size();
  const T* xd = x.value().data();
  const T* md = mask.data();
  T* yd = y.value().data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) yd[i] = xd[i] * md[i];
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("dropout", y, [x, y, mask, n]() {
      if (!y.has_grad()) return;
      const T* gy = y.grad().data();
      const T* md = mask.data();
      write_grad(x, "dropout", [&](T* gx, bool acc) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; ++i) gx[i] = (acc ? gx[i] : T(0)) + gy[i] * md[i];
      });
    });
  }
  return y;
}

template <typename T>
Variable<T> dropout(const Variable<T>& x, double rate, uint64_t seed, uint64_t counter) {
  return apply_mask(x, dropout_mask<T>(x.shape(), rate, seed, counter));
}

// ---- image flips -------------------------------------------------------------------

namespace {
// dst = src with each image's rows and/or columns reversed; its own inverse.
template <typename T>
void flip_copy(const T* src, T* dst, int64_t N, int64_t H, int64_t W, int64_t C, const std::vector<uint8_t>& fh,
               const std::vector<uint8_t>& fw, bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < N * H; ++row) {
    const int64_t n = row / H, h = row % H, sh = fh[n] ? H - 1 - h : h;
    for (int64_t w = 0; w < W; ++w) {
      const int64_t sw = fw[n] ? W - 1 - w : w;
      const T* __restrict s = src + ((n * H + sh) * W + sw) * C;
      T* __restrict d = dst + ((n * H + h) * W + w) * C;
      if (accumulate)
        for (int64_t c = 0; c < C; ++c) d[c] += s[c];
      else
        for (int64_t c = 0; c < C; ++c) d[c] = s[c];
    }
  }
}
}  // namespace

template <typename T>
Variable<T> flip_images(const Variable<T>& x, const std::vector<uint8_t>& flip_h, const std::vector<uint8_t>& flip_w) {
  require_rank(x, 4, "flip_images", "x");
  const int64_t N = x.shape()[0], H = x.shape()[1], W = x.shape()[2], C = x.shape()[3];
  if (static_cast<int64_t>(flip_h.size()) != N || static_cast<int64_t>(flip_w.size()) != N)
    throw ShapeError(fmt::format("flip_images: need one flag per image ({}), received {} and {}", N, flip_h.size(),
                                 flip_w.size()));
  Variable<T> y{Tensor<T>::uninitialized(x.shape())};
  flip_copy(x.value().data(), y.value().data(), N, H, W, C, flip_h, flip_w, false);
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("flip_images", y, [x, y, flip_h, flip_w, N, H, W, C]() {
      if (!y.has_grad()) return;
      write_grad(x, "flip_images",
                 [&](T* gx, bool acc) { flip_copy(y.grad().data(), gx, N, H, W, C, flip_h, flip_w, acc); });
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
  template Variable<T> flip_images(const Variable<T>&, const std::vector<uint8_t>&, const std::vector<uint8_t>&);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

#include "sepconv/autograd/array_ops.h"

#include <fmt/format.h>

#include "sepconv/core/kernels/layout.h"

namespace sepconv {

template <typename T>
Variable<T> concatenate(const std::vector<Variable<T>>& xs, int64_t axis) {
  if (xs.empty()) throw ShapeError("concatenate: needs at least one input, received none");
  const Shape& first = xs[0].shape();
  const int64_t rank = static_cast<int64_t>(first.size());
  if (axis < -rank || axis >= rank || rank == 0)
    throw ShapeError(fmt::format("concatenate: axis {} is out of range for inputs of rank {} (shape {})", axis, rank,
                                 shape_str(first)));
  const int64_t a = axis < 0 ? axis + rank : axis;
  Shape out = first;
  out[a] = 0;
  for (const Variable<T>& x : xs) {
    const Shape& s = x.shape();
    bool ok = static_cast<int64_t>(s.size()) == rank;
    for (int64_t d = 0; ok && d < rank; ++d) ok = d == a || s[d] == first[d];
    if (!ok)
      throw ShapeError(fmt::format("concatenate: inputs must match on every axis but {}, received shapes {} and {}",
                                   axis, shape_str(first), shape_str(s)));
    out[a] += s[a];
  }
  int64_t outer = 1, inner = 1;  // the axes before `a`, and after it
  for (int64_t d = 0; d < a; ++d) outer *= first[d];
  for (int64_t d = a + 1; d < rank; ++d) inner *= first[d];
  const int64_t row = out[a] * inner;  // one outer step of the output
  Variable<T> y{Tensor<T>::uninitialized(out)};
  std::vector<int64_t> offsets;
  int64_t offset = 0;
  for (const Variable<T>& x : xs) {
    const int64_t cols = x.shape()[a] * inner;
    kernels::copy_rows(outer, cols, x.value().data(), cols, y.value().data() + offset, row);
    offsets.push_back(offset);
    offset += cols;
  }
  bool any = false;
  for (const Variable<T>& x : xs) any = any || needs_grad<T>(x);
  if (any) {
    y.set_requires_grad(true);
    Tape<T>::current().record("concatenate", y, [xs, y, a, outer, inner, row, offsets]() {
      if (!y.has_grad()) return;
      for (size_t i = 0; i < xs.size(); ++i) {
        if (!xs[i].requires_grad()) continue;
        const int64_t cols = xs[i].shape()[a] * inner;
        Tensor<T> g = Tensor<T>::uninitialized(xs[i].shape());
        kernels::copy_rows(outer, cols, y.grad().data() + offsets[i], row, g.data(), cols);
        xs[i].add_grad_owned(std::move(g), "concatenate");
      }
    });
  }
  return y;
}

namespace {
// y = pick_a(a, b) ? a : b; the gradient follows the picked side.
template <typename T, typename PickA>
Variable<T> select_binary(const Variable<T>& a, const Variable<T>& b, const char* op, PickA pick_a) {
  if (a.shape() != b.shape())
    throw ShapeError(fmt::format("{}: shapes must match, received {} and {}", op, shape_str(a.shape()),
                                 shape_str(b.shape())));
  const int64_t n = a.value().size();
  Variable<T> y{Tensor<T>::uninitialized(a.shape())};
  const T* ad = a.value().data();
  const T* bd = b.value().data();
  T* yd = y.value().data();
  for (int64_t i = 0; i < n; ++i) yd[i] = pick_a(ad[i], bd[i]) ? ad[i] : bd[i];
  if (needs_grad<T>(a, b)) {
    y.set_requires_grad(true);
    Tape<T>::current().record(op, y, [a, b, y, op, n, pick_a]() {
      if (!y.has_grad()) return;
      const T* g = y.grad().data();
      const T* av = a.value().data();
      const T* bv = b.value().data();
      if (a.requires_grad()) {
        Tensor<T> ga = Tensor<T>::uninitialized(a.shape());
        for (int64_t i = 0; i < n; ++i) ga[i] = pick_a(av[i], bv[i]) ? g[i] : T(0);
        a.add_grad_owned(std::move(ga), op);
      }
      if (b.requires_grad()) {
        Tensor<T> gb = Tensor<T>::uninitialized(b.shape());
        for (int64_t i = 0; i < n; ++i) gb[i] = pick_a(av[i], bv[i]) ? T(0) : g[i];
        b.add_grad_owned(std::move(gb), op);
      }
    });
  }
  return y;
}
}  // namespace

template <typename T>
Variable<T> maximum(const Variable<T>& a, const Variable<T>& b) {
  return select_binary(a, b, "maximum", [](T x, T y) { return x >= y; });
}

template <typename T>
Variable<T> minimum(const Variable<T>& a, const Variable<T>& b) {
  return select_binary(a, b, "minimum", [](T x, T y) { return x <= y; });
}

template <typename T>
Variable<T> zero_pad2d(const Variable<T>& x, std::array<std::array<int64_t, 2>, 2> padding) {
  if (x.value().rank() != 4)
    throw ShapeError(fmt::format("zero_pad2d: `x` must be rank 4 (NHWC), received shape {}", shape_str(x.shape())));
  const int64_t top = padding[0][0], bottom = padding[0][1], left = padding[1][0], right = padding[1][1];
  if (top < 0 || bottom < 0 || left < 0 || right < 0)
    throw ShapeError(fmt::format("zero_pad2d: paddings must be >= 0, received (({}, {}), ({}, {}))", top, bottom,
                                 left, right));
  const Shape& s = x.shape();
  const int64_t n = s[0], h = s[1], w = s[2], c = s[3];
  Variable<T> y{Tensor<T>::uninitialized({n, h + top + bottom, w + left + right, c})};
  kernels::zero_pad_nhwc(n, h, w, c, top, bottom, left, right, x.value().data(), y.value().data());
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("zero_pad2d", y, [x, y, n, h, w, c, top, bottom, left, right]() {
      if (!y.has_grad()) return;
      Tensor<T> g = Tensor<T>::uninitialized(x.shape());
      kernels::crop_nhwc(n, h, w, c, top, bottom, left, right, y.grad().data(), g.data());
      x.add_grad_owned(std::move(g), "zero_pad2d");
    });
  }
  return y;
}

template <typename T>
Variable<T> global_max_pool2d(const Variable<T>& x, bool keepdims) {
  if (x.value().rank() != 4)
    throw ShapeError(fmt::format("global_max_pool2d: `x` must be rank 4 (NHWC), received shape {}",
                                 shape_str(x.shape())));
  const int64_t n = x.shape()[0], hw = x.shape()[1] * x.shape()[2], c = x.shape()[3];
  if (hw == 0)
    throw ShapeError(fmt::format("global_max_pool2d: input has no positions, received shape {}", shape_str(x.shape())));
  Variable<T> y{Tensor<T>::uninitialized(keepdims ? Shape{n, 1, 1, c} : Shape{n, c})};
  kernels::global_max_nhwc(n, hw, c, x.value().data(), y.value().data());
  if (needs_grad<T>(x)) {
    y.set_requires_grad(true);
    Tape<T>::current().record("global_max_pool2d", y, [x, y, n, hw, c]() {
      if (!y.has_grad()) return;
      Tensor<T> g = Tensor<T>::uninitialized(x.shape());
      kernels::global_max_nhwc_backward(n, hw, c, x.value().data(), y.value().data(), y.grad().data(), g.data());
      x.add_grad_owned(std::move(g), "global_max_pool2d");
    });
  }
  return y;
}

#define SEPCONV_ARRAY_OPS_INSTANTIATE(T)                                                         \
  template Variable<T> concatenate<T>(const std::vector<Variable<T>>&, int64_t);                 \
  template Variable<T> maximum<T>(const Variable<T>&, const Variable<T>&);                       \
  template Variable<T> minimum<T>(const Variable<T>&, const Variable<T>&);                       \
  template Variable<T> zero_pad2d<T>(const Variable<T>&, std::array<std::array<int64_t, 2>, 2>); \
  template Variable<T> global_max_pool2d<T>(const Variable<T>&, bool);
SEPCONV_ARRAY_OPS_INSTANTIATE(float)
SEPCONV_ARRAY_OPS_INSTANTIATE(double)
#undef SEPCONV_ARRAY_OPS_INSTANTIATE

}  // namespace sepconv

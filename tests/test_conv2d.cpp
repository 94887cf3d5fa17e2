#define BOOST_TEST_MODULE conv2d
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

#include "sepconv/autograd/conv2d.h"
#include "sepconv/autograd/gradcheck.h"
#include "sepconv/core/kernels/conv2d.h"
#include "sepconv/layers/conv2d.h"

using namespace sepconv;

namespace {
Tensor<double> random_tensor(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(-1.0, 1.0);
  Tensor<double> t(shape);
  for (auto& v : t) v = d(rng);
  return t;
}

Tensor<float> to_float(const Tensor<double>& t) {
  Tensor<float> f(t.shape());
  for (int64_t i = 0; i < t.size(); ++i) f[i] = static_cast<float>(t[i]);
  return f;
}

using V = std::vector<Variable<double>>;
using Pair = std::array<int64_t, 2>;

struct Case {
  Shape x, kernel;
  Pair strides, dilation;
  Padding padding;
  int64_t groups;
};

// The configurations every test runs: paddings, strides, dilation, groups,
// rectangular kernels, 1x1 (the GEMM path) and strided 1x1.
const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {{2, 5, 6, 3}, {3, 3, 3, 4}, {1, 1}, {1, 1}, Padding::Valid, 1},
      {{2, 5, 6, 3}, {3, 3, 3, 4}, {1, 1}, {1, 1}, Padding::Same, 1},
      {{1, 7, 6, 2}, {3, 2, 2, 3}, {2, 2}, {1, 1}, Padding::Same, 1},
      {{1, 7, 7, 2}, {3, 3, 2, 2}, {1, 1}, {2, 2}, Padding::Same, 1},
      {{2, 6, 5, 4}, {3, 3, 2, 6}, {1, 2}, {1, 1}, Padding::Valid, 2},
      {{2, 4, 4, 3}, {1, 1, 3, 5}, {1, 1}, {1, 1}, Padding::Valid, 1},
      {{2, 5, 5, 4}, {1, 1, 4, 3}, {2, 2}, {1, 1}, Padding::Same, 1},
      {{1, 6, 6, 4}, {2, 2, 1, 4}, {2, 2}, {1, 1}, Padding::Same, 4},
  };
  return c;
}
}  // namespace

// 1 channel, 3x3 input, 2x2 kernel of ones, valid: each output is the sum of
// its window; with bias 10.
BOOST_AUTO_TEST_CASE(forward_matches_hand_computation) {
  Variable<double> x(Tensor<double>({1, 3, 3, 1}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  Variable<double> k(Tensor<double>({2, 2, 1, 1}, std::vector<double>{1, 1, 1, 1}));
  Variable<double> b(Tensor<double>({1}, std::vector<double>{10}));
  const Tensor<double> y = conv2d<double>(x, k, b, {1, 1}, {1, 1}, Padding::Valid).value();
  BOOST_TEST((y.shape() == Shape{1, 2, 2, 1}));
  BOOST_TEST(y[0] == 1 + 2 + 4 + 5 + 10);
  BOOST_TEST(y[1] == 2 + 3 + 5 + 6 + 10);
  BOOST_TEST(y[2] == 4 + 5 + 7 + 8 + 10);
  BOOST_TEST(y[3] == 5 + 6 + 8 + 9 + 10);
  // "same" with stride 2 on 3x3 and a 2x2 kernel: out 2x2, total padding 1,
  // all of it at the bottom/right (TensorFlow's split).
  const Tensor<double> s = conv2d<double>(x, k, std::nullopt, {2, 2}, {1, 1}, Padding::Same).value();
  BOOST_TEST((s.shape() == Shape{1, 2, 2, 1}));
  BOOST_TEST(s[0] == 1 + 2 + 4 + 5);
  BOOST_TEST(s[1] == 3 + 6);
  BOOST_TEST(s[2] == 7 + 8);
  BOOST_TEST(s[3] == 9);
}

// Two groups of one channel each, two filters: each filter sees its own channel only.
BOOST_AUTO_TEST_CASE(groups_keep_channels_apart) {
  Variable<double> x(Tensor<double>({1, 1, 1, 2}, std::vector<double>{3, 5}));
  Variable<double> k(Tensor<double>({1, 1, 1, 2}, std::vector<double>{2, 7}));
  const Tensor<double> y = conv2d<double>(x, k, std::nullopt, {1, 1}, {1, 1}, Padding::Valid, 2).value();
  BOOST_TEST(y[0] == 3 * 2);
  BOOST_TEST(y[1] == 5 * 7);
}

BOOST_AUTO_TEST_CASE(fast_kernels_match_reference_twins) {
  for (const Case& c : cases())
    BOOST_TEST_CONTEXT("x " << shape_str(c.x) << " kernel " << shape_str(c.kernel) << " groups " << c.groups) {
      kernels::Conv2DGeometry g;
      g.conv = make_conv_geometry(c.x[0], c.x[1], c.x[2], c.x[3], 1, {c.kernel[0], c.kernel[1]}, c.strides,
                                  c.dilation, c.padding);
      g.filters = c.kernel[3];
      g.groups = c.groups;
      const Tensor<double> x = random_tensor(c.x, 1), k = random_tensor(c.kernel, 2);
      const Tensor<double> b = random_tensor({c.kernel[3]}, 3);
      const Tensor<double> gy = random_tensor({c.x[0], g.conv.out_h, g.conv.out_w, c.kernel[3]}, 4);
      Tensor<double> y(gy.shape()), yr(gy.shape()), gx(c.x), gxr(c.x), gk(c.kernel), gkr(c.kernel);
      kernels::conv2d_forward(g, x.data(), k.data(), b.data(), y.data());
      kernels::conv2d_forward_reference(g, x.data(), k.data(), b.data(), yr.data());
      kernels::conv2d_backward_input(g, gy.data(), k.data(), gx.data());
      kernels::conv2d_backward_input_reference(g, gy.data(), k.data(), gxr.data());
      kernels::conv2d_backward_kernel(g, x.data(), gy.data(), gk.data());
      kernels::conv2d_backward_kernel_reference(g, x.data(), gy.data(), gkr.data());
      for (int64_t i = 0; i < y.size(); ++i) BOOST_TEST(std::fabs(y[i] - yr[i]) <= 1e-12, "y[" << i << "]");
      for (int64_t i = 0; i < gx.size(); ++i) BOOST_TEST(std::fabs(gx[i] - gxr[i]) <= 1e-12, "gx[" << i << "]");
      for (int64_t i = 0; i < gk.size(); ++i) BOOST_TEST(std::fabs(gk[i] - gkr[i]) <= 1e-12, "gk[" << i << "]");
      // float: the fast kernels against the double reference, to float rounding.
      Tensor<float> yf(gy.shape());
      const Tensor<float> xf = to_float(x), kf = to_float(k), bf = to_float(b);
      kernels::conv2d_forward(g, xf.data(), kf.data(), bf.data(), yf.data());
      for (int64_t i = 0; i < y.size(); ++i) BOOST_TEST(std::fabs(yf[i] - yr[i]) <= 1e-5, "yf[" << i << "]");
    }
}

BOOST_AUTO_TEST_CASE(gradients_match_central_differences) {
  for (const Case& c : cases())
    BOOST_TEST_CONTEXT("x " << shape_str(c.x) << " kernel " << shape_str(c.kernel) << " groups " << c.groups) {
      const GradCheckResult r = gradcheck(
          [&](const V& v) { return conv2d<double>(v[0], v[1], v[2], c.strides, c.dilation, c.padding, c.groups); },
          {random_tensor(c.x, 5), random_tensor(c.kernel, 6), random_tensor({c.kernel[3]}, 7)});
      BOOST_TEST(r.ok, r.report);
    }
}

BOOST_AUTO_TEST_CASE(bad_arguments_name_the_argument) {
  Variable<double> x(Tensor<double>({1, 4, 4, 3}));
  Variable<double> k(Tensor<double>({3, 3, 3, 4}));
  auto message = [](auto f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  BOOST_TEST(message([&] { conv2d<double>(x, k, std::nullopt, {1, 1}, {1, 1}, Padding::Valid, 2); }).find("groups") !=
             std::string::npos);
  BOOST_TEST(message([&] { conv2d<double>(x, k, std::nullopt, {1, 1}, {1, 1}, Padding::Valid, 0); }).find("groups=0") !=
             std::string::npos);
  Variable<double> k2(Tensor<double>({3, 3, 2, 4}));
  BOOST_TEST(message([&] { conv2d<double>(x, k2, std::nullopt, {1, 1}, {1, 1}, Padding::Valid); }).find("input channels") !=
             std::string::npos);
  Variable<double> b(Tensor<double>({3}));
  BOOST_TEST(message([&] { conv2d<double>(x, k, b, {1, 1}, {1, 1}, Padding::Valid); }).find("bias") != std::string::npos);
  Variable<double> big(Tensor<double>({5, 5, 3, 4}));
  BOOST_TEST(message([&] { conv2d<double>(x, big, std::nullopt, {1, 1}, {1, 1}, Padding::Valid); }) != "no exception");
}

// ---- the layer --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(layer_follows_keras_arguments_and_checks) {
  Conv2D<double> layer(Conv2DOptions(6, 3).strides(2).padding("same").groups(3).use_bias(true).name("stem"));
  Variable<double> x(random_tensor({2, 9, 9, 3}, 8));
  const Variable<double> y = layer(x);
  BOOST_TEST((y.shape() == Shape{2, 5, 5, 6}));
  BOOST_TEST((layer.kernel().shape() == Shape{3, 3, 1, 6}));  // [kh, kw, in / groups, filters]
  const nlohmann::json c = layer.get_config();
  BOOST_TEST(c.at("groups") == 3);
  BOOST_TEST(c.at("padding") == "same");
  BOOST_TEST((c.at("strides") == nlohmann::json::array({2, 2})));
  auto again = Conv2D<double>::from_config(c);
  BOOST_TEST(again->get_config() == c);
  // Checked when the layer is made, as Keras's constructor checks.
  BOOST_CHECK_THROW(Conv2D<double>(Conv2DOptions(0, 3)), ValueError);
  BOOST_CHECK_THROW(Conv2D<double>(Conv2DOptions(6, 3).groups(4)), ValueError);  // 6 filters in 4 groups
  BOOST_CHECK_THROW(Conv2D<double>(Conv2DOptions(4, 3).strides(2).dilation_rate(2)), ValueError);
  Conv2D<double> grouped(Conv2DOptions(4, 3).groups(2));
  BOOST_CHECK_THROW(grouped(Variable<double>(Tensor<double>({1, 5, 5, 3}))), ValueError);  // 3 channels in 2 groups
  nlohmann::json bad = c;
  bad["filters"] = "six";
  BOOST_CHECK_THROW(Conv2D<double>::from_config(bad), ValueError);
  bad = c;
  bad["unknown_argument"] = 1;
  BOOST_CHECK_THROW(Conv2D<double>::from_config(bad), ValueError);
}

BOOST_AUTO_TEST_CASE(layer_channels_first_matches_channels_last) {
  Conv2D<double> last(Conv2DOptions(4, 3).padding("same").data_format("channels_last"));
  Conv2D<double> first(Conv2DOptions(4, 3).padding("same").data_format("channels_first"));
  const Tensor<double> x = random_tensor({2, 5, 6, 3}, 9);
  const Variable<double> yl = last(Variable<double>(x));
  // The same weights, and the input transposed to NCHW.
  Tensor<double> xt({2, 3, 5, 6});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t w = 0; w < 6; ++w)
        for (int64_t c = 0; c < 3; ++c) xt[((n * 3 + c) * 5 + h) * 6 + w] = x[((n * 5 + h) * 6 + w) * 3 + c];
  first.build({2, 3, 5, 6});
  first.weight("kernel").variable.value().copy_from(last.weight("kernel").variable.value());
  const Variable<double> yf = first(Variable<double>(xt));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t w = 0; w < 6; ++w)
        for (int64_t f = 0; f < 4; ++f)
          BOOST_TEST(yf.value()[((n * 4 + f) * 5 + h) * 6 + w] == yl.value()[((n * 5 + h) * 6 + w) * 4 + f]);
}

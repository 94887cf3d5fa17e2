// Every core op's backward against central differences, in double.
#define BOOST_TEST_MODULE ops_gradcheck
#include <boost/test/unit_test.hpp>

#include <random>

#include "sepconv/autograd/gradcheck.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/separable.h"

using namespace sepconv;
using V = Variable<double>;
using Vs = std::vector<V>;

namespace {
Tensor<double> randn(const Shape& s, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  Tensor<double> t(s);
  for (auto& v : t) v = nd(rng);
  return t;
}
void check(const GradFunction& f, const std::vector<Tensor<double>>& inputs) {
  GradCheckResult r = gradcheck(f, inputs);
  BOOST_TEST(r.ok, r.report);
}
}  // namespace

BOOST_AUTO_TEST_CASE(depthwise_conv2d_all_geometries) {
  struct G {
    Shape x, k;
    std::array<int64_t, 2> s, d;
    Padding p;
  };
  for (const G& g : {G{{2, 5, 6, 3}, {3, 3, 3, 1}, {1, 1}, {1, 1}, Padding::Valid},
                     G{{1, 6, 5, 2}, {3, 2, 2, 2}, {2, 1}, {1, 1}, Padding::Same},
                     G{{1, 7, 7, 2}, {4, 4, 2, 1}, {2, 2}, {1, 1}, Padding::Same},
                     G{{1, 7, 8, 1}, {3, 3, 1, 3}, {1, 1}, {2, 2}, Padding::Same},
                     G{{2, 7, 7, 2}, {2, 3, 2, 1}, {1, 1}, {2, 1}, Padding::Valid}}) {
    check([&](const Vs& v) { return depthwise_conv2d(v[0], v[1], g.s, g.d, g.p); }, {randn(g.x, 1), randn(g.k, 2)});
  }
}

BOOST_AUTO_TEST_CASE(pointwise_and_bias) {
  check([](const Vs& v) { return pointwise_conv2d(v[0], v[1]); }, {randn({2, 3, 3, 4}, 3), randn({1, 1, 4, 5}, 4)});
  check([](const Vs& v) { return bias_add(v[0], v[1]); }, {randn({2, 3, 3, 4}, 5), randn({4}, 6)});
}

BOOST_AUTO_TEST_CASE(separable_op) {
  check(
      [](const Vs& v) {
        return separable_conv2d<double>(v[0], v[1], v[2], v[3], {2, 2}, {1, 1}, Padding::Same);
      },
      {randn({2, 5, 5, 3}, 7), randn({3, 3, 3, 2}, 8), randn({1, 1, 6, 4}, 9), randn({4}, 10)});
  check(
      [](const Vs& v) {
        return separable_conv2d<double>(v[0], v[1], v[2], std::nullopt, {1, 1}, {2, 2}, Padding::Valid);
      },
      {randn({1, 7, 6, 2}, 11), randn({3, 2, 2, 1}, 12), randn({1, 1, 2, 3}, 13)});
}

BOOST_AUTO_TEST_CASE(layout_and_reshape) {
  check([](const Vs& v) { return nchw_to_nhwc(v[0]); }, {randn({2, 3, 4, 5}, 14)});
  check([](const Vs& v) { return nhwc_to_nchw(v[0]); }, {randn({2, 3, 4, 5}, 15)});
  check([](const Vs& v) { return reshape(v[0], {6, 4}); }, {randn({2, 3, 4}, 16)});
}

BOOST_AUTO_TEST_CASE(arithmetic_and_reductions) {
  std::vector<Tensor<double>> ab = {randn({3, 4}, 17), randn({3, 4}, 18)};
  check([](const Vs& v) { return add(v[0], v[1]); }, ab);
  check([](const Vs& v) { return sub(v[0], v[1]); }, ab);
  check([](const Vs& v) { return mul(v[0], v[1]); }, ab);
  check([](const Vs& v) { return scale(v[0], 0.37); }, {ab[0]});
  check([](const Vs& v) { return abs(v[0]); }, {ab[0]});  // random normals are never within eps of 0
  check([](const Vs& v) { return square(v[0]); }, {ab[0]});
  check([](const Vs& v) { return sum(v[0]); }, {ab[0]});
  check([](const Vs& v) { return mean(v[0]); }, {ab[0]});
  // a composite: the gradient of one input reused twice accumulates
  check([](const Vs& v) { return sum(mul(add(v[0], v[1]), v[0])); }, ab);
}

BOOST_AUTO_TEST_CASE(gradcheck_detects_a_wrong_backward) {
  // An op whose backward is deliberately wrong (derivative 3x instead of 2x) must fail.
  GradFunction wrong = [](const Vs& v) {
    return elementwise<double>(v[0], "wrong_square", [](double x) { return x * x; },
                               [](double x, double) { return 3 * x; });
  };
  BOOST_TEST(!gradcheck(wrong, {randn({4}, 19)}).ok);
}

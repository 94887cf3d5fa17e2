// Every activation op and regularizer: derivative against central differences
// (double), and forward values against independent closed forms.
#define BOOST_TEST_MODULE activations_gradcheck
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <random>

#include "sepconv/autograd/activations.h"
#include "sepconv/autograd/gradcheck.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/layers/activations.h"
#include "sepconv/layers/regularizers.h"

using namespace sepconv;
using V = Variable<double>;
using Vs = std::vector<V>;

namespace {
// Values in [-lo, lo] at least `gap` away from every kink of the piecewise
// activations (0, +-0.5, +-1, +-3, 6), so central differences are valid.
Tensor<double> away_from_kinks(const Shape& s, unsigned seed, double range = 7.0, double gap = 1e-2) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-range, range);
  Tensor<double> t(s);
  for (auto& v : t) {
    for (;;) {
      v = u(rng);
      bool ok = true;
      for (double k : {0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0}) ok = ok && std::abs(v - k) > gap;
      if (ok) break;
    }
  }
  return t;
}

void check(const std::string& name, const std::function<V(const V&)>& f, const Tensor<double>& x) {
  BOOST_TEST_CONTEXT(name) {
    GradCheckResult r = gradcheck([&](const Vs& v) { return f(v[0]); }, {x});
    BOOST_TEST(r.ok, r.report);
  }
}

double value_of(const std::function<V(const V&)>& f, double x) { return f(V(Tensor<double>({1}, x))).value()[0]; }
}  // namespace

BOOST_AUTO_TEST_CASE(elementwise_activations_gradcheck) {
  const Tensor<double> x = away_from_kinks({3, 4, 5}, 7);
  check("relu", [](const V& v) { return relu(v); }, x);
  check("relu6", [](const V& v) { return relu6(v); }, x);
  check("leaky_relu", [](const V& v) { return leaky_relu(v); }, x);
  check("leaky_relu(0.05)", [](const V& v) { return leaky_relu(v, 0.05); }, x);
  check("elu", [](const V& v) { return elu(v); }, x);
  check("elu(0.5)", [](const V& v) { return elu(v, 0.5); }, x);
  check("selu", [](const V& v) { return selu(v); }, x);
  check("gelu", [](const V& v) { return gelu(v); }, x);
  check("gelu approximate", [](const V& v) { return gelu(v, true); }, x);
  check("silu", [](const V& v) { return silu(v); }, x);
  check("softplus", [](const V& v) { return softplus(v); }, x);
  check("softsign", [](const V& v) { return softsign(v); }, x);
  check("sigmoid", [](const V& v) { return sigmoid(v); }, x);
  check("hard_sigmoid", [](const V& v) { return hard_sigmoid(v); }, x);
  check("hard_silu", [](const V& v) { return hard_silu(v); }, x);
  check("tanh", [](const V& v) { return sepconv::tanh(v); }, x);
  check("mish", [](const V& v) { return mish(v); }, x);
  check("exponential", [](const V& v) { return exponential(v); }, away_from_kinks({3, 4}, 8, 3.0));
  check("linear", [](const V& v) { return linear(v); }, x);
  check("celu", [](const V& v) { return celu(v, 0.7); }, x);
  check("hard_tanh", [](const V& v) { return hard_tanh(v); }, x);
  check("tanh_shrink", [](const V& v) { return tanh_shrink(v); }, x);
  check("log_sigmoid", [](const V& v) { return log_sigmoid(v); }, x);
  check("squareplus", [](const V& v) { return squareplus(v); }, x);
  check("soft_shrink", [](const V& v) { return soft_shrink(v); }, x);
  check("hard_shrink", [](const V& v) { return hard_shrink(v); }, x);
  check("sparse_plus", [](const V& v) { return sparse_plus(v); }, x);
}

BOOST_AUTO_TEST_CASE(registry_functions_gradcheck) {
  // The functions the registry hands out are the same ops (e.g. the layer's).
  const Tensor<double> x = away_from_kinks({2, 3, 4}, 9);
  for (const std::string& name : activation_names())
    check("registry " + name, get_activation<double>(name), x);
}

BOOST_AUTO_TEST_CASE(softmax_family_gradcheck_every_axis) {
  const Tensor<double> x = away_from_kinks({2, 3, 4}, 11, 3.0);
  for (int64_t axis : {-1, 0, 1, 2, -2}) {
    check("softmax axis " + std::to_string(axis), [axis](const V& v) { return softmax(v, axis); }, x);
    check("log_softmax axis " + std::to_string(axis), [axis](const V& v) { return log_softmax(v, axis); }, x);
  }
}

BOOST_AUTO_TEST_CASE(forward_values_match_closed_forms) {
  auto near = [](double a, double b, double tol = 1e-14) { return std::abs(a - b) <= tol * std::max(1.0, std::abs(b)); };
  // gelu(1) = Phi(1) = 0.841344746068542948585232545632...
  BOOST_TEST(near(value_of([](const V& v) { return gelu(v); }, 1.0), 0.8413447460685429));
  // selu(-1) = 1.0507009873554805 * 1.6732632423543772 * (e^-1 - 1)
  BOOST_TEST(near(value_of([](const V& v) { return selu(v); }, -1.0), 1.0507009873554805 * 1.6732632423543772 * std::expm1(-1.0)));
  BOOST_TEST(near(value_of([](const V& v) { return selu(v); }, 2.0), 2 * 1.0507009873554805));
  BOOST_TEST(near(value_of([](const V& v) { return elu(v); }, -2.0), std::exp(-2.0) - 1));
  BOOST_TEST(near(value_of([](const V& v) { return leaky_relu(v); }, -2.0), -0.4));
  BOOST_TEST(near(value_of([](const V& v) { return relu6(v); }, 7.5), 6.0));
  BOOST_TEST(near(value_of([](const V& v) { return hard_sigmoid(v); }, 1.5), 0.75));
  BOOST_TEST(near(value_of([](const V& v) { return hard_sigmoid(v); }, -4.0), 0.0));
  BOOST_TEST(near(value_of([](const V& v) { return hard_silu(v); }, 1.5), 1.125));
  BOOST_TEST(near(value_of([](const V& v) { return softsign(v); }, -3.0), -0.75));
  BOOST_TEST(near(value_of([](const V& v) { return silu(v); }, 2.0), 2.0 / (1 + std::exp(-2.0))));
  BOOST_TEST(near(value_of([](const V& v) { return mish(v); }, 1.0), std::tanh(std::log1p(std::exp(1.0)))));
  // Stable forms: no overflow or cancellation at large magnitudes.
  BOOST_TEST(value_of([](const V& v) { return softplus(v); }, 1000.0) == 1000.0);
  BOOST_TEST(near(value_of([](const V& v) { return softplus(v); }, -50.0), std::exp(-50.0), 1e-12));
  BOOST_TEST(value_of([](const V& v) { return sigmoid(v); }, -1000.0) == 0.0);
  BOOST_TEST(value_of([](const V& v) { return sigmoid(v); }, 1000.0) == 1.0);
  BOOST_TEST(near(value_of([](const V& v) { return sigmoid(v); }, -40.0), std::exp(-40.0) / (1 + std::exp(-40.0)), 1e-12));
  // Softmax over the last axis; log_softmax of huge logits stays finite.
  V logits(Tensor<double>({2, 3}, std::vector<double>{1, 2, 3, 1000, 1000, -1000}));
  Tensor<double> s = softmax(logits).value();
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  BOOST_TEST(near(s[0], std::exp(1.0) / z));
  BOOST_TEST(near(s[2], std::exp(3.0) / z));
  BOOST_TEST(near(s[3], 0.5));
  BOOST_TEST(s[5] == 0.0);
  Tensor<double> ls = log_softmax(logits).value();
  BOOST_TEST(near(ls[3], -std::log(2.0)));
  BOOST_TEST(near(ls[5], -2000.0 - std::log(2.0)));
  // Softmax over axis 0 of (2, 3): columns sum to 1.
  Tensor<double> s0 = softmax(logits, 0).value();
  for (int c = 0; c < 3; ++c) BOOST_TEST(near(s0[c] + s0[3 + c], 1.0));
  BOOST_CHECK_THROW(softmax(logits, 2), ValueError);
  // linear is the identity: the same variable.
  BOOST_TEST(linear(logits).same_as(logits));
}

BOOST_AUTO_TEST_CASE(float_and_double_agree) {
  const Tensor<double> xd = away_from_kinks({50}, 13);
  const Tensor<float> xf = cast<float>(xd);
  for (const std::string& name : activation_names()) {
    const Tensor<double> yd = get_activation<double>(name)(V(xd)).value();
    const Tensor<float> yf = get_activation<float>(name)(Variable<float>(xf)).value();
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < yd.size(); ++i) {
      worst = std::max(worst, std::abs(double(yf[i]) - yd[i]));
      scale = std::max(scale, std::abs(yd[i]));
    }
    BOOST_TEST(worst <= 1e-5 * std::max(scale, 1.0), name << ": float32 off by " << worst);
  }
}

BOOST_AUTO_TEST_CASE(regularizers_gradcheck_and_values) {
  const Tensor<double> w = away_from_kinks({3, 2, 4}, 17, 2.0);
  double sum_abs = 0, sum_sq = 0;
  for (double v : w) {
    sum_abs += std::abs(v);
    sum_sq += v * v;
  }
  const L1 l1(0.03);
  const L2 l2(0.02);
  const L1L2 l1l2(0.003, 0.02);
  BOOST_TEST(std::abs(l1(V(w)).value().item() - 0.03 * sum_abs) < 1e-14);
  BOOST_TEST(std::abs(l2(V(w)).value().item() - 0.02 * sum_sq) < 1e-14);
  BOOST_TEST(std::abs(l1l2(V(w)).value().item() - (0.003 * sum_abs + 0.02 * sum_sq)) < 1e-14);
  BOOST_TEST(L1L2()(V(w)).value().item() == 0.0);
  BOOST_TEST(l1(V(w)).value().rank() == 0);
  for (const Regularizer* r : std::initializer_list<const Regularizer*>{&l1, &l2, &l1l2}) {
    GradCheckResult res = gradcheck([r](const Vs& v) { return (*r)(v[0]); }, {w});
    BOOST_TEST(res.ok, r->class_name() << ": " << res.report);
  }
}

// Gradient checking a function of your own.
//
// gradcheck() runs your function on the tape, back-propagates a random
// projection of its output, and compares every input element's gradient with
// a central difference (f(x + eps) - f(x - eps)) / (2 eps), in double.
// Use it whenever you write a new op: it is how every op in this library is tested.
#include <cmath>
#include <cstdio>
#include <random>

#include "sepconv/autograd/gradcheck.h"
#include "sepconv/autograd/ops.h"

using namespace sepconv;
using Vars = std::vector<Variable<double>>;

// A user-defined op: softsign(x) = x / (1 + |x|), built with `elementwise`,
// which takes the forward function and its derivative dy/dx given (x, y).
Variable<double> softsign(const Variable<double>& x) {
  return elementwise<double>(
      x, "softsign", [](double v) { return v / (1 + std::fabs(v)); },
      [](double v, double) { return 1 / ((1 + std::fabs(v)) * (1 + std::fabs(v))); });
}

// The same op with a classic mistake in its derivative (forgot the square).
Variable<double> softsign_buggy(const Variable<double>& x) {
  return elementwise<double>(
      x, "softsign_buggy", [](double v) { return v / (1 + std::fabs(v)); },
      [](double v, double) { return 1 / (1 + std::fabs(v)); });
}

int main() {
  std::mt19937 rng(42);
  std::normal_distribution<double> normal;
  auto randn = [&](const Shape& s) {
    Tensor<double> t(s);
    for (auto& v : t) v = normal(rng);
    return t;
  };
  const Tensor<double> x = randn({2, 6, 6, 3});       // NHWC input
  const Tensor<double> k = randn({3, 3, 3, 2});       // depthwise kernel, depth_multiplier 2
  const Tensor<double> w = randn({1, 1, 6, 4});       // pointwise kernel

  // f(x, k, w) = mean(softsign(pointwise(depthwise(x, k), w))^2), a small separable block.
  auto block = [](auto act) {
    return [act](const Vars& v) {
      Variable<double> d = depthwise_conv2d(v[0], v[1], {1, 1}, {1, 1}, Padding::Same);
      return mean(square(act(pointwise_conv2d(d, v[2]))));
    };
  };

  GradCheckResult good = gradcheck(block(softsign), {x, k, w});
  std::printf("correct softsign:\n%s=> %s (max abs error %.2e)\n\n", good.report.c_str(), good.ok ? "PASS" : "FAIL",
              good.max_abs_error);

  GradCheckResult bad = gradcheck(block(softsign_buggy), {x, k, w});
  std::printf("buggy softsign (derivative missing its square):\n%.600s...\n=> %s (max abs error %.2e)\n",
              bad.report.c_str(), bad.ok ? "PASS" : "FAIL", bad.max_abs_error);
  // The example succeeds when the checker accepts the right op and catches the wrong one.
  return good.ok && !bad.ok ? 0 : 1;
}

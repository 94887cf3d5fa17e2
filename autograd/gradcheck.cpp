#include "sepconv/autograd/gradcheck.h"

#include <cmath>
#include <random>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"

namespace sepconv {

namespace {
double project(const Tensor<double>& y, const Tensor<double>& w) {
  double s = 0;
  for (int64_t i = 0; i < y.size(); ++i) s += y[i] * w[i];
  return s;
}
}  // namespace

GradCheckResult gradcheck(const GradFunction& f, const std::vector<Tensor<double>>& inputs,
                          const GradCheckOptions& options) {
  GradCheckResult result;
  Tape<double>& tape = Tape<double>::current();
  tape.clear();

  std::vector<Variable<double>> vars;
  for (size_t i = 0; i < inputs.size(); ++i)
    vars.emplace_back(inputs[i].clone(), true, fmt::format("input{}", i));
  Variable<double> y = f(vars);
  std::mt19937 rng(options.seed);
  std::uniform_real_distribution<double> dist(0.5, 1.5);
  Tensor<double> w(y.shape());
  for (auto& v : w) v = dist(rng) * (rng() % 2 ? 1 : -1);
  tape.backward(y, w);

  for (size_t i = 0; i < vars.size(); ++i) {
    Tensor<double> analytic = vars[i].has_grad() ? vars[i].grad() : Tensor<double>(vars[i].shape());
    double worst = 0;
    int64_t worst_at = -1;
    for (int64_t k = 0; k < inputs[i].size(); ++k) {
      std::vector<Variable<double>> probe;
      for (size_t j = 0; j < inputs.size(); ++j) probe.emplace_back(inputs[j].clone());
      NoGradGuard no_grad;
      probe[i].value()[k] = inputs[i][k] + options.eps;
      const double plus = project(f(probe).value(), w);
      probe[i].value()[k] = inputs[i][k] - options.eps;
      const double minus = project(f(probe).value(), w);
      const double numeric = (plus - minus) / (2 * options.eps);
      const double err = std::fabs(analytic[k] - numeric);
      if (!(err <= options.atol + options.rtol * std::fabs(numeric))) {
        if (result.ok || result.report.size() < 2000)
          result.report += fmt::format("input {} element {}: analytic {:.10g}, numeric {:.10g}\n", i, k, analytic[k],
                                       numeric);
        result.ok = false;
      }
      if (!(err <= worst)) {
        worst = err;
        worst_at = k;
      }
    }
    result.max_abs_error = std::max(result.max_abs_error, worst);
    result.report += fmt::format("input {} {}: max abs error {:.3g} at element {}\n", i, shape_str(inputs[i].shape()),
                                 worst, worst_at);
  }
  return result;
}

}  // namespace sepconv

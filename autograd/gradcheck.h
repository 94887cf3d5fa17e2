#pragma once
// A gradient checker users can call on their own functions: compares the
// tape's gradients with central differences, in double.
#include <functional>
#include <string>
#include <vector>

#include "sepconv/autograd/variable.h"

namespace sepconv {

struct GradCheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-6;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-5;
  unsigned seed = 0;   // for the random projection of a non-scalar output
};

struct GradCheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string report;  // the worst element of each input, and the failures
};

// f maps input variables to an output of any shape. The output is reduced to
// the scalar L = sum(f(x) * w), w a fixed random tensor, so every output
// element is weighted differently; dL/dx from the tape is compared with
// (L(x + eps) - L(x - eps)) / (2 eps) for every element of every input.
using GradFunction = std::function<Variable<double>(const std::vector<Variable<double>>&)>;
GradCheckResult gradcheck(const GradFunction& f, const std::vector<Tensor<double>>& inputs,
                          const GradCheckOptions& options = {});

}  // namespace sepconv

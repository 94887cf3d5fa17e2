// Regularizers and constraints on one SeparableConv2D, watched while it trains.
//
// A fixed random "teacher" SeparableConv2D turns random NHWC inputs into
// targets; three "student" layers, identical at the start, learn to imitate it
// with Adam and a mean-squared-error loss:
//   (a) plain        no regularization, no constraint
//   (b) regularized  depthwise_regularizer L2(1e-2), pointwise_regularizer "l1"
//                    (L1(0.01)), activity_regularizer L2(1e-3)
//   (c) constrained  depthwise_constraint MaxNorm(0.5, axis=[0, 1]),
//                    pointwise_constraint UnitNorm(axis=[0, 1, 2]),
//                    bias_constraint "non_neg"
// Every few steps it prints the data loss, the regularization loss, their sum
// and the weight statistics the penalties and projections act on. At the end
// it checks what they promise and exits non-zero if a check fails.
//
// The training step, the part to copy:
//   Variable<float> y = layer(x, /*training=*/true);            // 1. forward
//   Variable<float> data_loss = mean_squared_error(target, y);
//   Variable<float> reg_loss = layer.regularization_loss();      // 2. AFTER the forward
//   Variable<float> total = add(data_loss, reg_loss);
//   for (Weight<float>* w : layer.trainable_weights()) w->variable.zero_grad();
//   backward(total);                                             // 3. gradients
//   optimizer.apply(layer.trainable_weights());                  // 4. update, then constraints
//
// Step 2 must come after step 1, in its own statement: the activity penalty is
// recorded by the forward call, so regularization_loss() read before it (or in
// the same expression, where C++ leaves the order open) sees the previous
// step's output.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sepconv/autograd/losses.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/layers/constraints.h"
#include "sepconv/layers/initializers.h"
#include "sepconv/layers/regularizers.h"
#include "sepconv/layers/separable_conv2d.h"
#include "sepconv/optim/adam.h"

using namespace sepconv;

namespace {

// Problem size: small enough that 3 x 150 steps take well under a second.
constexpr int64_t kBatch = 32, kSize = 12, kChannels = 4;
constexpr int64_t kFilters = 8, kKernel = 3, kDepthMultiplier = 2;
constexpr int kSteps = 150, kReportEvery = 25;
constexpr double kLearningRate = 0.02;

// The constraint settings of run (c), named once because the checks reuse them.
constexpr double kMaxNorm = 0.5;
// A pointwise weight this close to 0 counts as "zero" (Adam moves a weight by
// about the learning rate per step, so an L1-pinned weight jitters around 0 at
// that scale rather than landing exactly on it).
constexpr double kNearZero = 0.02;

// ---- weight statistics (plain tensors, no tape) ----------------------------------
double l2_norm(const Tensor<float>& t) {
  double s = 0;
  for (float v : t) s += double(v) * v;
  return std::sqrt(s);
}
double l1_norm(const Tensor<float>& t) {
  double s = 0;
  for (float v : t) s += std::fabs(double(v));
  return s;
}
double sum_squares(const Tensor<float>& t) {
  double s = 0;
  for (float v : t) s += double(v) * v;
  return s;
}
double fraction_near_zero(const Tensor<float>& t) {
  int64_t n = 0;
  for (float v : t) n += std::fabs(v) < kNearZero;
  return double(n) / double(t.size());
}
double min_value(const Tensor<float>& t) { return *std::min_element(t.begin(), t.end()); }
// The largest / smallest norm over `axis`, the quantity MaxNorm / UnitNorm
// bound. norms_over_axes is the helper the constraints themselves use: it
// broadcasts each norm back over the elements it covers, so max/min over the
// result are the max/min over the groups.
double max_norm_over(const Tensor<float>& t, const NormAxis& axis) {
  Tensor<float> n = norms_over_axes(t, axis);
  return *std::max_element(n.begin(), n.end());
}
double min_norm_over(const Tensor<float>& t, const NormAxis& axis) {
  Tensor<float> n = norms_over_axes(t, axis);
  return *std::min_element(n.begin(), n.end());
}

// Depthwise kernel (kh, kw, in_channels, depth_multiplier): axes [0, 1] give
// one norm per 3x3 filter, i.e. per (input channel, multiplier) pair. (Keras's
// usual MaxNorm axis=[0, 1, 2] is for Conv2D kernels, where it gives one norm
// per output filter; on a depthwise kernel it would lump all input channels of
// one multiplier together.)
const NormAxis kDepthwiseFilterAxes{0, 1};
// Pointwise kernel (1, 1, in_channels * depth_multiplier, filters): axes
// [0, 1, 2] give one norm per output filter.
const NormAxis kPointwiseFilterAxes{0, 1, 2};

// A tensor of N(0, 1) values, reproducible across platforms: a seeded Keras
// initializer, unlike std::normal_distribution, draws the same numbers with
// every standard library.
Tensor<float> random_normal(const Shape& shape, uint64_t seed) {
  return RandomNormal(0.0, 1.0, seed)(shape, float{});
}

// ---- one student run ---------------------------------------------------------
struct Run {
  std::string label;
  std::unique_ptr<SeparableConv2D<float>> layer;
  std::unique_ptr<Adam<float>> optimizer;
  double first_data_loss = 0, data_loss = 0, reg_loss = 0;
};

// Every student starts from the same seeded weights, so the runs differ only by
// their regularizers and constraints.
SeparableConv2DOptions student_options(const std::string& name) {
  return SeparableConv2DOptions(kFilters, kKernel)
      .padding("same")
      .depth_multiplier(kDepthMultiplier)
      .depthwise_initializer(std::make_shared<GlorotUniform>(11))
      .pointwise_initializer(std::make_shared<GlorotUniform>(12))
      .name(name);
}

Run make_run(std::string label, const SeparableConv2DOptions& options) {
  Run r;
  r.label = std::move(label);
  r.layer = std::make_unique<SeparableConv2D<float>>(options);
  r.optimizer = std::make_unique<Adam<float>>(AdamOptions(kLearningRate));
  return r;
}

// One optimizer step on the whole (fixed) data set; records the losses.
void train_step(Run& r, const Variable<float>& x, const Variable<float>& target) {
  SeparableConv2D<float>& layer = *r.layer;
  // 1. Forward. This also records the activity penalty of this output.
  Variable<float> y = layer(x, /*training=*/true);
  Variable<float> data_loss = mean_squared_error(target, y);
  // 2. Weight penalties on the current weights + this call's activity penalty.
  Variable<float> reg_loss = layer.regularization_loss();
  Variable<float> total = add(data_loss, reg_loss);
  // 3. Gradients accumulate into the weights' grad, so clear last step's first.
  std::vector<Weight<float>*> weights = layer.trainable_weights();
  for (Weight<float>* w : weights) w->variable.zero_grad();
  backward(total);
  // 4. Adam's update, then each weight's constraint (Keras's order).
  r.optimizer->apply(weights);

  r.data_loss = data_loss.value().item();
  r.reg_loss = reg_loss.value().item();
}

void print_header() {
  fmt::print("{:>5}  {:<12} {:>9} {:>9} {:>9} | {:>7} {:>7} {:>7} {:>9} {:>9} {:>8}\n", "step", "run", "data",
             "reg", "total", "|dw|_2", "|pw|_1", "pw~0", "max|dw_f|", "pw_f norm", "min bias");
}

// One line of statistics. The losses are those of the step's forward pass
// (before its update); the weight statistics are after the update.
void print_row(int step, const Run& r) {
  SeparableConv2D<float>& layer = *r.layer;
  const Tensor<float>& dw = layer.depthwise_kernel().value();
  const Tensor<float>& pw = layer.pointwise_kernel().value();
  const Tensor<float>& b = layer.bias().value();
  fmt::print("{:>5}  {:<12} {:>9.5f} {:>9.5f} {:>9.5f} | {:>7.4f} {:>7.3f} {:>6.0f}% {:>9.4f} {:>4.2f}-{:<4.2f} {:>8.4f}\n",
             step, r.label, r.data_loss, r.reg_loss, r.data_loss + r.reg_loss, l2_norm(dw), l1_norm(pw),
             100 * fraction_near_zero(pw), max_norm_over(dw, kDepthwiseFilterAxes),
             min_norm_over(pw, kPointwiseFilterAxes), max_norm_over(pw, kPointwiseFilterAxes), min_value(b));
}

// ---- checks --------------------------------------------------------------------
int failures = 0;
void check(bool ok, const std::string& what) {
  fmt::print("  [{}] {}\n", ok ? "PASS" : "FAIL", what);
  if (!ok) ++failures;
}

}  // namespace

int main() {
  try {
    // ---- the data: random inputs, targets from a fixed teacher ----------------
    Variable<float> x(random_normal({kBatch, kSize, kSize, kChannels}, /*seed=*/1));

    // The teacher is chosen so that every penalty and projection has work to do:
    // its 3x3 depthwise filters have norms around 1.5 (far above the MaxNorm limit
    // of 0.5), its pointwise kernel is sparse (three of every four weights are
    // 0, which L1 can find) and two of its biases are negative (which NonNeg
    // forbids the student).
    SeparableConv2D<float> teacher(SeparableConv2DOptions(kFilters, kKernel)
                                       .padding("same")
                                       .depth_multiplier(kDepthMultiplier)
                                       .depthwise_initializer(std::make_shared<RandomNormal>(0.0, 0.5, 2))
                                       .pointwise_initializer(std::make_shared<RandomNormal>(0.0, 0.5, 3))
                                       .name("teacher"));
    teacher.build(x.shape());
    {
      Tensor<float>& pw = teacher.pointwise_kernel().value();  // edited in place
      for (int64_t i = 0; i < pw.size(); ++i)
        if (i % 4 != 0) pw[i] = 0.0f;
      Tensor<float>& b = teacher.bias().value();
      for (int64_t i = 0; i < b.size(); ++i) b[i] = 0.1f * float(i % 4) - 0.05f;  // -0.05, 0.05, 0.15, 0.25, ...
      b[1] = -0.4f;
      b[5] = -0.3f;
    }
    Variable<float> target;
    {
      NoGradGuard no_grad;  // the teacher is not trained: record nothing
      target = teacher(x);
    }

    // ---- the three students -------------------------------------------------------
    std::vector<Run> runs;
    runs.push_back(make_run("(a) plain", student_options("plain")));
    runs.push_back(make_run("(b) regular.", student_options("regularized")
                                                .depthwise_regularizer(std::make_shared<L2>(1e-2))
                                                .pointwise_regularizer("l1")  // Keras's default: L1(0.01)
                                                .activity_regularizer(std::make_shared<L2>(1e-3))));
    runs.push_back(make_run("(c) constr.",
                            student_options("constrained")
                                .depthwise_constraint(std::make_shared<MaxNorm>(kMaxNorm, kDepthwiseFilterAxes))
                                .pointwise_constraint(std::make_shared<UnitNorm>(kPointwiseFilterAxes))
                                .bias_constraint("non_neg")));

    fmt::print("Teacher: |dw|_2 {:.4f}, |pw|_1 {:.3f}, pw~0 {:.0f}%, max|dw_f| {:.4f}, min bias {:.4f}\n",
               l2_norm(teacher.depthwise_kernel().value()), l1_norm(teacher.pointwise_kernel().value()),
               100 * fraction_near_zero(teacher.pointwise_kernel().value()),
               max_norm_over(teacher.depthwise_kernel().value(), kDepthwiseFilterAxes),
               min_value(teacher.bias().value()));
    fmt::print("Columns: |dw|_2 = L2 norm of the depthwise kernel; |pw|_1 = L1 norm of the pointwise kernel;\n"
               "pw~0 = pointwise weights with |w| < {}; max|dw_f| = largest 3x3 depthwise filter norm\n"
               "(MaxNorm limit {} in run c); pw_f norm = range of the pointwise per-filter norms (UnitNorm: 1).\n\n",
               kNearZero, kMaxNorm);
    print_header();

    // ---- training -------------------------------------------------------------------
    for (int step = 1; step <= kSteps; ++step) {
      for (Run& r : runs) {
        train_step(r, x, target);
        if (step == 1) r.first_data_loss = r.data_loss;
      }
      if (step == 1 || step % kReportEvery == 0) {
        for (const Run& r : runs) print_row(step, r);
        fmt::print("\n");
      }
    }

    // ---- final evaluation, and the checks -------------------------------------------
    // One more forward pass on the final weights, without recording, to compare
    // the layer's regularization loss with the penalties computed by hand.
    fmt::print("Final (after {} Adam steps, lr {}):\n", kSteps, kLearningRate);
    std::vector<double> final_data(runs.size()), final_reg(runs.size());
    double activity_sum_squares = 0;  // sum(y^2) of run (b)'s output
    {
      NoGradGuard no_grad;
      for (size_t i = 0; i < runs.size(); ++i) {
        Variable<float> y = (*runs[i].layer)(x);
        final_data[i] = mean_squared_error(target, y).value().item();
        final_reg[i] = runs[i].layer->regularization_loss().value().item();  // after the forward, as always
        if (i == 1) activity_sum_squares = sum_squares(y.value());
      }
    }
    for (size_t i = 0; i < runs.size(); ++i) {
      SeparableConv2D<float>& m = *runs[i].layer;
      fmt::print("  {:<12} data {:.5f}  reg {:.5f}  |dw|_2 {:.4f}  |pw|_1 {:.3f}  pw~0 {:>3.0f}%  max|dw_f| {:.4f}  "
                 "min bias {:+.4f}\n",
                 runs[i].label, final_data[i], final_reg[i], l2_norm(m.depthwise_kernel().value()),
                 l1_norm(m.pointwise_kernel().value()), 100 * fraction_near_zero(m.pointwise_kernel().value()),
                 max_norm_over(m.depthwise_kernel().value(), kDepthwiseFilterAxes), min_value(m.bias().value()));
    }

    SeparableConv2D<float>& plain = *runs[0].layer;
    SeparableConv2D<float>& regularized = *runs[1].layer;
    SeparableConv2D<float>& constrained = *runs[2].layer;
    const Tensor<float>& dw_a = plain.depthwise_kernel().value();
    const Tensor<float>& pw_a = plain.pointwise_kernel().value();
    const Tensor<float>& dw_b = regularized.depthwise_kernel().value();
    const Tensor<float>& pw_b = regularized.pointwise_kernel().value();
    const Tensor<float>& dw_c = constrained.depthwise_kernel().value();
    const Tensor<float>& pw_c = constrained.pointwise_kernel().value();

    fmt::print("\nChecks:\n");
    // Training itself works (otherwise the comparisons below mean nothing).
    check(final_data[0] < 0.1 * runs[0].first_data_loss,
          fmt::format("(a) data loss fell below 10% of its first value: {:.5f} -> {:.5f}", runs[0].first_data_loss,
                      final_data[0]));
    check(final_reg[0] == 0.0, fmt::format("(a) has no regularization loss: {}", final_reg[0]));

    // The regularization loss is exactly the sum of the configured penalties:
    // L2(1e-2) on the depthwise kernel, L1(0.01) on the pointwise kernel, and
    // L2(1e-3) on the output divided by the batch size (Keras >= 3.14).
    const double expected_reg = 1e-2 * sum_squares(dw_b) + 0.01 * l1_norm(pw_b) +
                                1e-3 * activity_sum_squares / double(kBatch);
    check(std::fabs(final_reg[1] - expected_reg) <= 1e-4 * expected_reg,
          fmt::format("(b) regularization_loss() = 1e-2*sum(dw^2) + 0.01*sum|pw| + 1e-3*sum(y^2)/batch: "
                      "{:.6f} vs {:.6f}",
                      final_reg[1], expected_reg));
    // The penalties shrink what they penalize, compared with the plain run.
    check(l2_norm(dw_b) < l2_norm(dw_a),
          fmt::format("(b) L2 shrinks the depthwise kernel: |dw|_2 {:.4f} < {:.4f} (plain)", l2_norm(dw_b),
                      l2_norm(dw_a)));
    check(l1_norm(pw_b) < l1_norm(pw_a),
          fmt::format("(b) L1 shrinks the pointwise kernel: |pw|_1 {:.3f} < {:.3f} (plain)", l1_norm(pw_b),
                      l1_norm(pw_a)));
    check(fraction_near_zero(pw_b) > fraction_near_zero(pw_a),
          fmt::format("(b) L1 makes the pointwise kernel sparser: {:.0f}% of |w| < {} vs {:.0f}% (plain)",
                      100 * fraction_near_zero(pw_b), kNearZero, 100 * fraction_near_zero(pw_a)));

    // The projections hold after every step, so they hold at the end.
    check(max_norm_over(dw_c, kDepthwiseFilterAxes) <= kMaxNorm + 1e-6,
          fmt::format("(c) MaxNorm: every depthwise filter norm <= {}: max {:.7f}", kMaxNorm,
                      max_norm_over(dw_c, kDepthwiseFilterAxes)));
    check(max_norm_over(dw_a, kDepthwiseFilterAxes) > kMaxNorm,
          fmt::format("(c) ...and the limit binds: the plain run's max filter norm is {:.4f} > {}",
                      max_norm_over(dw_a, kDepthwiseFilterAxes), kMaxNorm));
    check(std::fabs(min_norm_over(pw_c, kPointwiseFilterAxes) - 1) <= 1e-5 &&
              std::fabs(max_norm_over(pw_c, kPointwiseFilterAxes) - 1) <= 1e-5,
          fmt::format("(c) UnitNorm: every pointwise filter norm is 1 (+-1e-5): [{:.7f}, {:.7f}]",
                      min_norm_over(pw_c, kPointwiseFilterAxes), max_norm_over(pw_c, kPointwiseFilterAxes)));
    check(min_value(constrained.bias().value()) >= 0.0,
          fmt::format("(c) NonNeg: min bias >= 0: {:.6f}", min_value(constrained.bias().value())));
    check(min_value(plain.bias().value()) < 0.0,
          fmt::format("(c) ...and it binds: the plain run's min bias is {:+.4f}", min_value(plain.bias().value())));

    if (failures) {
      fmt::print("\n{} check(s) FAILED\n", failures);
      return 1;
    }
    fmt::print("\nAll checks passed.\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_regularized_layer: %s\n", e.what());
    return 2;
  }
  return 0;
}

#define BOOST_TEST_MODULE losses
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

#include "sepconv/autograd/gradcheck.h"
#include "sepconv/autograd/losses.h"

using namespace sepconv;

namespace {

Tensor<double> uniform(const Shape& shape, double lo, double hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Tensor<double> t(shape);
  for (auto& v : t) v = dist(rng);
  return t;
}

// Rows of a (rows, k) tensor that each sum to 1 (a soft target).
Tensor<double> distribution(const Shape& shape, unsigned seed) {
  Tensor<double> t = uniform(shape, 0.1, 1.0, seed);
  const int64_t k = shape.back(), rows = t.size() / k;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += t[r * k + j];
    for (int64_t j = 0; j < k; ++j) t[r * k + j] /= s;
  }
  return t;
}

Tensor<double> one_hot(const std::vector<int>& ids, int64_t k) {
  Tensor<double> t({static_cast<int64_t>(ids.size()), k});
  for (size_t i = 0; i < ids.size(); ++i) t[int64_t(i) * k + ids[i]] = 1.0;
  return t;
}

void expect_gradcheck(const GradFunction& f, const std::vector<Tensor<double>>& inputs) {
  const GradCheckResult r = gradcheck(f, inputs);
  BOOST_TEST(r.ok, r.report);
}

double value(const Variable<double>& v) { return v.value().item(); }

}  // namespace

// ---- gradient checks, double ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mse_gradcheck) {
  expect_gradcheck([](const std::vector<Variable<double>>& v) { return mean_squared_error(v[0], v[1]); },
                   {uniform({3, 4, 2}, -1, 1, 1), uniform({3, 4, 2}, -1, 1, 2)});
}

BOOST_AUTO_TEST_CASE(binary_crossentropy_gradcheck) {
  // Logits, with the target differentiable too.
  expect_gradcheck([](const std::vector<Variable<double>>& v) { return binary_crossentropy(v[0], v[1], true); },
                   {uniform({4, 3}, 0, 1, 3), uniform({4, 3}, -4, 4, 4)});
  // Probabilities well inside (eps, 1 - eps), so no element sits on a clip edge.
  expect_gradcheck([](const std::vector<Variable<double>>& v) { return binary_crossentropy(v[0], v[1], false); },
                   {uniform({4, 3}, 0, 1, 5), uniform({4, 3}, 0.05, 0.95, 6)});
}

BOOST_AUTO_TEST_CASE(categorical_crossentropy_gradcheck) {
  expect_gradcheck([](const std::vector<Variable<double>>& v) { return categorical_crossentropy(v[0], v[1], true); },
                   {distribution({5, 4}, 7), uniform({5, 4}, -3, 3, 8)});
  // Unnormalized probabilities: the gradient goes through Keras's p / sum(p).
  expect_gradcheck([](const std::vector<Variable<double>>& v) { return categorical_crossentropy(v[0], v[1], false); },
                   {distribution({5, 4}, 9), uniform({5, 4}, 0.2, 1.5, 10)});
  // Rank 3: the mean runs over both leading axes.
  expect_gradcheck([](const std::vector<Variable<double>>& v) { return categorical_crossentropy(v[0], v[1], true); },
                   {distribution({2, 3, 4}, 11), uniform({2, 3, 4}, -3, 3, 12)});
}

BOOST_AUTO_TEST_CASE(sparse_categorical_crossentropy_gradcheck) {
  const std::vector<int> ids = {0, 3, 1, 3, 2};
  expect_gradcheck(
      [&](const std::vector<Variable<double>>& v) { return sparse_categorical_crossentropy(ids, v[0], true); },
      {uniform({5, 4}, -3, 3, 13)});
  expect_gradcheck(
      [&](const std::vector<Variable<double>>& v) { return sparse_categorical_crossentropy(ids, v[0], false); },
      {uniform({5, 4}, 0.2, 1.5, 14)});
}

// ---- known values ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(uniform_logits_give_log_k) {
  for (int64_t k : {2, 5, 10}) {
    Variable<double> logits(Tensor<double>({3, k}, 0.0));
    const std::vector<int> ids = {0, int(k) - 1, 1};
    BOOST_TEST(value(categorical_crossentropy(Variable<double>(one_hot(ids, k)), logits, true)) == std::log(double(k)),
               boost::test_tools::tolerance(1e-14));
    BOOST_TEST(value(sparse_categorical_crossentropy(ids, logits, true)) == std::log(double(k)),
               boost::test_tools::tolerance(1e-14));
    // Uniform probabilities too, even unnormalized (Keras divides by the sum).
    Variable<double> probs(Tensor<double>({3, k}, 7.0));
    BOOST_TEST(value(categorical_crossentropy(Variable<double>(one_hot(ids, k)), probs, false)) == std::log(double(k)),
               boost::test_tools::tolerance(1e-14));
    BOOST_TEST(value(sparse_categorical_crossentropy(ids, probs, false)) == std::log(double(k)),
               boost::test_tools::tolerance(1e-14));
  }
}

BOOST_AUTO_TEST_CASE(cross_entropy_of_a_confident_right_answer_is_small) {
  // logits (10, 0): -log softmax = log(1 + e^-10).
  Variable<double> logits(Tensor<double>({1, 2}, std::vector<double>{10, 0}));
  BOOST_TEST(value(sparse_categorical_crossentropy(std::vector<int>{0}, logits, true)) == std::log1p(std::exp(-10.0)),
             boost::test_tools::tolerance(1e-10));
  BOOST_TEST(value(sparse_categorical_crossentropy(std::vector<int>{1}, logits, true)) == 10 + std::log1p(std::exp(-10.0)),
             boost::test_tools::tolerance(1e-12));
  // Huge logits stay finite (log-sum-exp with the max taken out).
  Variable<double> huge(Tensor<double>({1, 2}, std::vector<double>{1000, -1000}));
  BOOST_TEST(value(sparse_categorical_crossentropy(std::vector<int>{1}, huge, true)) == 2000.0,
             boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(binary_crossentropy_values) {
  // Logit 0 and probability 0.5 both give log 2 whatever the target.
  Variable<double> t(Tensor<double>({2, 2}, std::vector<double>{0, 1, 0.3, 1}));
  BOOST_TEST(value(binary_crossentropy(t, Variable<double>(Tensor<double>({2, 2}, 0.0)), true)) == std::log(2.0),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(value(binary_crossentropy(t, Variable<double>(Tensor<double>({2, 2}, 0.5)), false)) == std::log(2.0),
             boost::test_tools::tolerance(1e-14));
  // Large logits: max(x, 0) - x z + log1p(e^-|x|) without overflow.
  Variable<double> z(Tensor<double>({2}, std::vector<double>{0, 1}));
  Variable<double> x(Tensor<double>({2}, std::vector<double>{800, -800}));
  BOOST_TEST(value(binary_crossentropy(z, x, true)) == 800.0, boost::test_tools::tolerance(1e-12));
  // Probabilities 0 and 1 are clipped to eps / 1 - eps: -log(1e-7) each, and
  // the clipped elements pass no gradient.
  Variable<double> p(Tensor<double>({2}, std::vector<double>{0, 1}), true);
  Variable<double> loss = binary_crossentropy(Variable<double>(Tensor<double>({2}, std::vector<double>{1, 0})), p);
  BOOST_TEST(value(loss) == -std::log(1e-7), boost::test_tools::tolerance(1e-9));
  backward(loss);
  BOOST_TEST(p.grad()[0] == 0.0);
  BOOST_TEST(p.grad()[1] == 0.0);
}

BOOST_AUTO_TEST_CASE(mean_squared_error_values) {
  Variable<double> t(Tensor<double>({2, 2}, std::vector<double>{0, 0, 1, 1}));
  Variable<double> p(Tensor<double>({2, 2}, std::vector<double>{1, 3, 1, -1}), true);
  Variable<double> loss = mean_squared_error(t, p);
  BOOST_TEST(value(loss) == (1 + 9 + 0 + 4) / 4.0, boost::test_tools::tolerance(1e-15));
  backward(loss);
  const std::vector<double> g = {0.5, 1.5, 0.0, -1.0};  // 2 (p - t) / 4
  for (int i = 0; i < 4; ++i) BOOST_TEST(p.grad()[i] == g[i], boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(reduction_is_the_mean_over_the_batch) {
  // Sample losses log(2) (uniform) and log(1 + e^-10): the loss is their mean.
  Variable<double> logits(Tensor<double>({2, 2}, std::vector<double>{0, 0, 10, 0}));
  const double expected = 0.5 * (std::log(2.0) + std::log1p(std::exp(-10.0)));
  BOOST_TEST(value(sparse_categorical_crossentropy(std::vector<int>{1, 0}, logits, true)) == expected,
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(value(categorical_crossentropy(Variable<double>(one_hot({1, 0}, 2)), logits, true)) == expected,
             boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(softmax_gradient_is_probabilities_minus_one_hot) {
  Variable<double> logits(Tensor<double>({1, 3}, std::vector<double>{1, 2, 3}), true);
  Variable<double> loss = sparse_categorical_crossentropy(std::vector<int>{2}, logits, true);
  backward(loss);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  BOOST_TEST(logits.grad()[0] == std::exp(1.0) / z, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(logits.grad()[1] == std::exp(2.0) / z, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(logits.grad()[2] == std::exp(3.0) / z - 1, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  const Tensor<double> xd = uniform({6, 5}, -3, 3, 21), td = distribution({6, 5}, 22);
  const std::vector<int> ids = {0, 1, 2, 3, 4, 0};
  Variable<float> xf(cast<float>(xd), true);
  Variable<float> tf(cast<float>(td));
  Variable<float> lf = categorical_crossentropy(tf, xf, true);
  const double ld = value(categorical_crossentropy(Variable<double>(td), Variable<double>(xd), true));
  BOOST_TEST(double(lf.value().item()) == ld, boost::test_tools::tolerance(1e-6));
  backward(lf);
  BOOST_TEST(xf.has_grad());
  BOOST_TEST(double(sparse_categorical_crossentropy(ids, Variable<float>(cast<float>(xd)), true).value().item()) ==
                 value(sparse_categorical_crossentropy(ids, Variable<double>(xd), true)),
             boost::test_tools::tolerance(1e-6));
}

// ---- sparse targets -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sparse_targets_as_tensors) {
  const Tensor<double> x = uniform({2, 3, 4}, -2, 2, 31);
  const std::vector<int> ids = {0, 3, 2, 1, 1, 0};
  const double expected = value(sparse_categorical_crossentropy(ids, Variable<double>(x), true));
  // (2, 3), (2, 3, 1) and flat (6) id tensors all mean the same.
  for (const Shape& s : {Shape{2, 3}, Shape{2, 3, 1}, Shape{6}}) {
    Tensor<double> t(s, std::vector<double>(ids.begin(), ids.end()));
    BOOST_TEST(value(sparse_categorical_crossentropy(t, Variable<double>(x), true)) == expected,
               boost::test_tools::tolerance(1e-15));
  }
  BOOST_CHECK_THROW(sparse_categorical_crossentropy(Tensor<double>({3, 2}), Variable<double>(x), true), ShapeError);
  BOOST_CHECK_THROW(sparse_categorical_crossentropy(std::vector<int>{0, 1}, Variable<double>(x), true), ShapeError);
  // Ids outside [0, classes) or not integers name the value.
  try {
    sparse_categorical_crossentropy(std::vector<int>{0, 4, 0, 0, 0, 0}, Variable<double>(x), true);
    BOOST_ERROR("expected ValueError");
  } catch (const ValueError& e) {
    BOOST_TEST(std::string(e.what()).find("4") != std::string::npos);
  }
  BOOST_CHECK_THROW(sparse_categorical_crossentropy(std::vector<int>{0, -1, 0, 0, 0, 0}, Variable<double>(x), true),
                    ValueError);
  BOOST_CHECK_THROW(sparse_categorical_crossentropy(Tensor<double>({6}, 0.5), Variable<double>(x), true), ValueError);
}

BOOST_AUTO_TEST_CASE(shape_mismatches_are_shape_errors) {
  Variable<double> a(Tensor<double>({2, 3})), b(Tensor<double>({3, 2}));
  BOOST_CHECK_THROW(mean_squared_error(a, b), ShapeError);
  BOOST_CHECK_THROW(binary_crossentropy(a, b), ShapeError);
  BOOST_CHECK_THROW(categorical_crossentropy(a, b), ShapeError);
  BOOST_CHECK_THROW(mean_squared_error(Variable<double>(Tensor<double>({0})), Variable<double>(Tensor<double>({0}))),
                    ShapeError);
}

// ---- registry ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(get_loss_names_and_configs) {
  const Tensor<double> x = uniform({4, 3}, -2, 2, 41);
  Variable<double> logits(x);
  Variable<double> ids(Tensor<double>({4}, std::vector<double>{2, 0, 1, 2}));
  const double sparse = value(sparse_categorical_crossentropy(std::vector<int>{2, 0, 1, 2}, logits, true));
  auto from_config = get_loss<double>(
      nlohmann::json{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
  BOOST_TEST(value(from_config(ids, logits)) == sparse, boost::test_tools::tolerance(1e-15));

  Variable<double> t(uniform({4, 3}, -1, 1, 42));
  const double mse = value(mean_squared_error(t, logits));
  for (const char* name : {"mean_squared_error", "mse", "MeanSquaredError"})
    BOOST_TEST(value(get_loss<double>(name)(t, logits)) == mse);
  const Variable<double> probs(uniform({4, 3}, 0.1, 0.9, 43));
  BOOST_TEST(value(get_loss<double>("binary_crossentropy")(t, probs)) == value(binary_crossentropy(t, probs)));
  BOOST_TEST(value(get_loss<double>("CategoricalCrossentropy")(t, probs)) == value(categorical_crossentropy(t, probs)));

  try {
    get_loss<double>("hinge_squared");
    BOOST_ERROR("expected ValueError");
  } catch (const ValueError& e) {
    BOOST_TEST(std::string(e.what()) == "Could not interpret loss identifier: hinge_squared");
  }
  BOOST_CHECK_THROW(get_loss<double>(nlohmann::json{{"class_name", "BinaryCrossentropy"}, {"config", {{"reduction", "sum"}}}}),
                    ValueError);
  BOOST_CHECK_THROW(get_loss<double>(nlohmann::json{{"class_name", "BinaryCrossentropy"}, {"config", {{"bogus", 1}}}}),
                    ValueError);
  BOOST_CHECK_THROW(get_loss<double>(nlohmann::json(3)), ValueError);
}

// ---- metrics -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(accuracy_metrics) {
  // Rows' argmax: 2, 0 (tie between 0 and 1 goes to the first), 1.
  Tensor<float> scores({3, 3}, std::vector<float>{0.1f, 0.2f, 0.7f, 0.5f, 0.5f, 0.0f, -1.0f, 3.0f, 2.0f});
  const std::vector<int64_t> am = argmax_last_axis(scores);
  BOOST_TEST((am == std::vector<int64_t>{2, 0, 1}));
  BOOST_TEST(sparse_categorical_accuracy(std::vector<int>{2, 1, 1}, scores) == 2.0 / 3.0,
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(sparse_categorical_accuracy(Tensor<float>({3, 1}, std::vector<float>{2, 0, 1}), scores) == 1.0);
  Tensor<float> onehot({3, 3}, std::vector<float>{0, 0, 1, 0, 1, 0, 1, 0, 0});
  BOOST_TEST(categorical_accuracy(onehot, scores) == 1.0 / 3.0, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(binary_accuracy(Tensor<float>({4}, std::vector<float>{1, 0, 1, 0}),
                             Tensor<float>({4}, std::vector<float>{0.9f, 0.2f, 0.4f, 0.6f})) == 0.5);
  BOOST_CHECK_THROW(sparse_categorical_accuracy(std::vector<int>{1}, scores), ShapeError);
}

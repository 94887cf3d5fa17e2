#define BOOST_TEST_MODULE optim
#include <boost/test/unit_test.hpp>

#include <boost/mpl/list.hpp>
#include <cmath>
#include <numbers>

#include "oracle_cases.h"
#include "sepconv/layers/constraints.h"
#include "sepconv/layers/layer.h"
#include "sepconv/optim/adam.h"
#include "sepconv/optim/schedules.h"
#include "sepconv/optim/sgd.h"

using namespace sepconv;
using Dtypes = boost::mpl::list<float, double>;

namespace {

template <typename T>
Variable<T> var(std::vector<T> values, std::string name = {}) {
  const int64_t n = static_cast<int64_t>(values.size());
  return Variable<T>(Tensor<T>(Shape{n}, values), true, std::move(name));
}
template <typename T>
Tensor<T> vec(std::vector<T> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return Tensor<T>(Shape{n}, values);
}
template <typename T>
constexpr double tol() {
  return sizeof(T) == 8 ? 1e-12 : 1e-6;
}

// Checks that `f` throws ValueError whose message mentions every word.
template <typename F>
void expect_value_error(F f, std::vector<std::string> words) {
  try {
    f();
    BOOST_ERROR("no ValueError thrown; expected one mentioning " << words.front());
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    for (const auto& w : words) BOOST_TEST(msg.find(w) != std::string::npos, "'" << w << "' missing from: " << msg);
  }
}

// Clamps every value into [-limit, limit]: a projection whose effect shows
// whether it ran before or after the update.
class ClampConstraint : public Constraint {
 public:
  explicit ClampConstraint(double limit) : limit_(limit) {}
  Tensor<float> operator()(const Tensor<float>& w) const override { return apply(w); }
  Tensor<double> operator()(const Tensor<double>& w) const override { return apply(w); }
  std::string class_name() const override { return "Clamp"; }
  nlohmann::json get_config() const override { return {{"limit", limit_}}; }

 private:
  template <typename T>
  Tensor<T> apply(const Tensor<T>& w) const {
    Tensor<T> out = w.clone();
    for (T& v : out) v = std::clamp(v, T(-limit_), T(limit_));
    return out;
  }
  double limit_;
};

}  // namespace

// ---- the reference cases ------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(oracle_optimizer_cases, T, Dtypes) {
  const auto cases = test::oracle_cases("opt_");
  BOOST_TEST_REQUIRE(cases.size() >= 8u);
  for (const std::string& path : cases) {
    BOOST_TEST_CONTEXT(path << " in " << DTypeName<T>::value) {
      const nlohmann::json c = test::load_case(path);
      BOOST_TEST_REQUIRE(c.at("kind").get<std::string>() == "optimizer");
      auto optimizer = make_optimizer<T>(c.at("optimizer"));
      Variable<T> w(test::json_tensor<T>(c.at("tensors").at("initial")), true, "w");
      const auto& grads = c.at("tensors").at("gradients");
      const auto& expected = c.at("expected").at("after_step");
      BOOST_TEST_REQUIRE(grads.size() == expected.size());
      for (size_t s = 0; s < grads.size(); ++s) {
        optimizer->apply({test::json_tensor<T>(grads[s])}, {w});
        const double err = test::relative_error(w.value(), test::json_tensor<T>(expected[s]));
        BOOST_TEST(err <= test::single_step_tolerance<T>(), "step " << s << ": relative error " << err);
      }
      BOOST_TEST(optimizer->iterations() == static_cast<int64_t>(grads.size()));
    }
  }
}

// AdamW is Adam with decoupled weight decay: on the Adam-with-weight_decay
// case it must give the same steps.
BOOST_AUTO_TEST_CASE_TEMPLATE(adamw_matches_the_adam_weight_decay_case, T, Dtypes) {
  const auto cases = test::oracle_cases("opt_adam_weight_decay");
  BOOST_TEST_REQUIRE(cases.size() == 1u);
  const nlohmann::json c = test::load_case(cases[0]);
  const nlohmann::json& config = c.at("optimizer").at("config");
  AdamW<T> adamw{AdamWOptions(config.at("learning_rate").get<double>()).weight_decay(config.at("weight_decay").get<double>())};
  Variable<T> w(test::json_tensor<T>(c.at("tensors").at("initial")), true);
  const auto& grads = c.at("tensors").at("gradients");
  for (size_t s = 0; s < grads.size(); ++s) {
    adamw.apply({test::json_tensor<T>(grads[s])}, {w});
    const double err = test::relative_error(w.value(), test::json_tensor<T>(c.at("expected").at("after_step")[s]));
    BOOST_TEST(err <= test::single_step_tolerance<T>(), "step " << s << ": relative error " << err);
  }
}

// ---- update rules by hand -------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(sgd_plain_momentum_nesterov, T, Dtypes) {
  {  // w -= lr * g
    SGD<T> sgd(SGDOptions(0.1));
    Variable<T> w = var<T>({1, -2});
    sgd.apply({vec<T>({0.5, 1})}, {w});
    BOOST_TEST(w.value()[0] == T(0.95), boost::test_tools::tolerance(T(tol<T>())));
    BOOST_TEST(w.value()[1] == T(-2.1), boost::test_tools::tolerance(T(tol<T>())));
    BOOST_TEST(sgd.slot_names().empty());  // no momentum slot when momentum == 0
  }
  {  // m = 0.9 m - 0.1 g; w += m.  g = 1, 1: m = -0.1, -0.19; w = -0.1, -0.29
    SGD<T> sgd(SGDOptions(0.1).momentum(0.9));
    Variable<T> w = var<T>({0});
    sgd.apply({vec<T>({1})}, {w});
    BOOST_TEST(double(w.value()[0]) == -0.1, boost::test_tools::tolerance(tol<T>()));
    sgd.apply({vec<T>({1})}, {w});
    BOOST_TEST(double(w.value()[0]) == -0.29, boost::test_tools::tolerance(tol<T>()));
  }
  {  // nesterov: w += 0.9 m - 0.1 g: step 1: m = -0.1, w = -0.19; step 2: m = -0.19, w = -0.19 - 0.171 - 0.1
    SGD<T> sgd(SGDOptions(0.1).momentum(0.9).nesterov(true));
    Variable<T> w = var<T>({0});
    sgd.apply({vec<T>({1})}, {w});
    BOOST_TEST(double(w.value()[0]) == -0.19, boost::test_tools::tolerance(tol<T>()));
    sgd.apply({vec<T>({1})}, {w});
    BOOST_TEST(double(w.value()[0]) == -0.461, boost::test_tools::tolerance(tol<T>()));
  }
}

BOOST_AUTO_TEST_CASE(adam_first_steps_by_hand) {
  // Two steps of Adam written out from Kingma & Ba with Keras's epsilon placement.
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-7;
  Adam<double> adam{AdamOptions(lr)};
  Variable<double> w = var<double>({1.0});
  double m = 0, v = 0, x = 1.0;
  for (int t = 1; t <= 2; ++t) {
    const double g = t == 1 ? 0.5 : -2.0;
    adam.apply({vec<double>({g})}, {w});
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    x -= lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t)) * m / (std::sqrt(v) + eps);
    BOOST_TEST(w.value()[0] == x, boost::test_tools::tolerance(1e-13));
  }
  // The slots hold m and v.
  auto state = adam.state(std::vector<Variable<double>>{w});
  BOOST_TEST_REQUIRE(state.size() == 2u);
  BOOST_TEST(state[0].first == "variable_0/momentum");
  BOOST_TEST(state[1].first == "variable_0/velocity");
  BOOST_TEST((*state[0].second)[0] == m, boost::test_tools::tolerance(1e-14));
  BOOST_TEST((*state[1].second)[0] == v, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(adam_amsgrad_keeps_the_largest_velocity) {
  // A large gradient then small ones: with amsgrad the denominator keeps the
  // early velocity, so later steps are smaller than plain Adam's.
  Adam<double> plain(AdamOptions(0.1));
  Adam<double> ams(AdamOptions(0.1).amsgrad(true));
  BOOST_TEST(ams.slot_names().size() == 3u);
  Variable<double> a = var<double>({0}), b = var<double>({0});
  const std::vector<double> grads = {10, 0.1, 0.1, 0.1};
  double v = 0, v_hat = 0, m = 0, x = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    plain.apply({vec<double>({grads[i]})}, {a});
    ams.apply({vec<double>({grads[i]})}, {b});
    const int t = int(i) + 1;
    m = 0.9 * m + 0.1 * grads[i];
    v = 0.999 * v + 0.001 * grads[i] * grads[i];
    v_hat = std::max(v_hat, v);
    x -= 0.1 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t)) * m / (std::sqrt(v_hat) + 1e-7);
    BOOST_TEST(b.value()[0] == x, boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(std::fabs(b.value()[0]) < std::fabs(a.value()[0]));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(adamw_decays_before_the_update, T, Dtypes) {
  AdamW<T> adamw(AdamWOptions(0.1));
  BOOST_TEST(*adamw.weight_decay() == 0.004);  // Keras's default
  BOOST_TEST(adamw.get_config().at("weight_decay").template get<double>() == 0.004);
  // A zero gradient leaves Adam's update at 0, so only the decay shows:
  // w -= w * 0.004 * 0.1.
  Variable<T> w = var<T>({2, -1});
  adamw.apply({vec<T>({0, 0})}, {w});
  BOOST_TEST(double(w.value()[0]) == 2 * (1 - 0.0004), boost::test_tools::tolerance(tol<T>()));
  BOOST_TEST(double(w.value()[1]) == -1 * (1 - 0.0004), boost::test_tools::tolerance(tol<T>()));
  // AdamW requires a decay.
  expect_value_error([] { AdamW<T>(AdamWOptions().weight_decay(std::nullopt)); }, {"weight_decay"});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(weight_decay_uses_the_pre_update_value, T, Dtypes) {
  // SGD lr 0.1, decay 0.5, g = 1: w = 1 - 1 * 0.5 * 0.1 = 0.95, then - 0.1 * 1 = 0.85.
  SGD<T> sgd(SGDOptions(0.1).weight_decay(0.5));
  Variable<T> w = var<T>({1});
  sgd.apply({vec<T>({1})}, {w});
  BOOST_TEST(double(w.value()[0]) == 0.85, boost::test_tools::tolerance(tol<T>()));
}

// ---- clipping -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(clipnorm_per_tensor, T, Dtypes) {
  // ||(3, 4)|| = 5 -> scaled to norm 1: (0.6, 0.8); ||(0.3, 0.4)|| = 0.5 < 1 stays.
  SGD<T> sgd(SGDOptions(1.0).clipnorm(1.0));
  Variable<T> a = var<T>({0, 0}), b = var<T>({0, 0});
  sgd.apply({vec<T>({3, 4}), vec<T>({0.3, 0.4})}, {a, b});
  BOOST_TEST(double(a.value()[0]) == -0.6, boost::test_tools::tolerance(tol<T>()));
  BOOST_TEST(double(a.value()[1]) == -0.8, boost::test_tools::tolerance(tol<T>()));
  BOOST_TEST(double(b.value()[0]) == -0.3, boost::test_tools::tolerance(tol<T>()));
  BOOST_TEST(double(b.value()[1]) == -0.4, boost::test_tools::tolerance(tol<T>()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(global_clipnorm_scales_all_gradients_together, T, Dtypes) {
  // Global norm of (3) and (4) is 5; clip 2.5 halves both. Per-tensor
  // clipnorm 2.5 would leave the 3 at 2.5 and the 4 at 2.5 instead.
  SGD<T> sgd(SGDOptions(1.0).global_clipnorm(2.5));
  Variable<T> a = var<T>({0}), b = var<T>({0});
  sgd.apply({vec<T>({3}), vec<T>({4})}, {a, b});
  BOOST_TEST(double(a.value()[0]) == -1.5, boost::test_tools::tolerance(tol<T>()));
  BOOST_TEST(double(b.value()[0]) == -2.0, boost::test_tools::tolerance(tol<T>()));
  // Below the threshold nothing changes.
  SGD<T> loose(SGDOptions(1.0).global_clipnorm(10.0));
  Variable<T> c = var<T>({0}), d = var<T>({0});
  loose.apply({vec<T>({3}), vec<T>({4})}, {c, d});
  BOOST_TEST(double(c.value()[0]) == -3.0, boost::test_tools::tolerance(tol<T>()));
  BOOST_TEST(double(d.value()[0]) == -4.0, boost::test_tools::tolerance(tol<T>()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(clipvalue_clamps_each_element, T, Dtypes) {
  SGD<T> sgd(SGDOptions(1.0).clipvalue(1.0));
  Variable<T> a = var<T>({0, 0, 0});
  sgd.apply({vec<T>({-2, 0.25, 5})}, {a});
  BOOST_TEST(double(a.value()[0]) == 1.0);
  BOOST_TEST(double(a.value()[1]) == -0.25);
  BOOST_TEST(double(a.value()[2]) == -1.0);
}

BOOST_AUTO_TEST_CASE(clipping_leaves_the_variables_gradients_alone) {
  SGD<double> sgd(SGDOptions(1.0).clipnorm(1.0));
  Variable<double> w = var<double>({0, 0});
  w.add_grad(vec<double>({3, 4}), "test");
  sgd.apply(std::vector<Variable<double>>{w});
  BOOST_TEST(w.grad()[0] == 3.0);
  BOOST_TEST(w.value()[0] == -0.6, boost::test_tools::tolerance(1e-12));
}

// ---- constraints, skipped weights, step order ------------------------------------------

template <typename T>
Weight<T> make_weight(std::string name, Variable<T> variable, std::shared_ptr<Constraint> constraint = nullptr) {
  Weight<T> weight;
  weight.name = std::move(name);
  weight.variable = std::move(variable);
  weight.constraint = std::move(constraint);
  return weight;
}

BOOST_AUTO_TEST_CASE_TEMPLATE(constraints_apply_after_the_update, T, Dtypes) {
  // w = 0, g = -2, lr 1: the update gives 2, then the clamp projects to 0.5.
  // Clamping first would leave 0 and the update would still give 2.
  Weight<T> weight = make_weight<T>("kernel", Variable<T>(vec<T>({0, 0.1}), true, "layer/kernel"),
                                    std::make_shared<ClampConstraint>(0.5));
  weight.variable.add_grad(vec<T>({-2, 0.1}), "test");
  SGD<T> sgd(SGDOptions(1.0));
  sgd.apply(std::vector<Weight<T>*>{&weight});
  BOOST_TEST(double(weight.variable.value()[0]) == 0.5);
  BOOST_TEST(double(weight.variable.value()[1]) == 0.0, boost::test_tools::tolerance(tol<T>()));
  BOOST_TEST(sgd.iterations() == 1);
}

BOOST_AUTO_TEST_CASE(weights_without_gradients_are_skipped_entirely) {
  // Keras filters None gradients first: no decay, no update, no constraint.
  Weight<double> with = make_weight<double>("a", Variable<double>(vec<double>({1}), true, "l/a"));
  Weight<double> without = make_weight<double>("b", Variable<double>(vec<double>({5}), true, "l/b"),
                                               std::make_shared<ClampConstraint>(1.0));
  with.variable.add_grad(vec<double>({1}), "test");
  SGD<double> sgd(SGDOptions(0.1).weight_decay(0.5));
  sgd.apply(std::vector<Weight<double>*>{&with, &without});
  BOOST_TEST(with.variable.value()[0] == 0.85, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(without.variable.value()[0] == 5.0);
  BOOST_TEST(sgd.iterations() == 1);

  // Nothing to do at all is Keras's ValueError, and the step is not counted.
  with.variable.zero_grad();
  expect_value_error([&] { sgd.apply(std::vector<Weight<double>*>{&with, &without}); }, {"No gradients provided"});
  BOOST_TEST(sgd.iterations() == 1);
}

BOOST_AUTO_TEST_CASE(unknown_variables_and_bad_gradient_shapes) {
  SGD<double> sgd(SGDOptions(0.1).momentum(0.5));
  Variable<double> a = var<double>({1, 2}, "a"), b = var<double>({3}, "b");
  sgd.apply({vec<double>({1, 1})}, {a});
  expect_value_error([&] { sgd.apply({vec<double>({1})}, {b}); }, {"Unknown variable", "'b'"});
  BOOST_CHECK_THROW(sgd.apply({vec<double>({1, 1, 1})}, {a}), ShapeError);
  BOOST_CHECK_THROW(sgd.apply({vec<double>({1}), vec<double>({1})}, {a}), ValueError);
}

BOOST_AUTO_TEST_CASE(state_names_and_restoring_slots) {
  Variable<double> k(Tensor<double>(Shape{2, 2}, 1.0), true, "dense/kernel");
  Variable<double> bias(Tensor<double>(Shape{2}, 0.0), true, "dense/bias");
  Weight<double> wk = make_weight<double>("kernel", k), wb = make_weight<double>("bias", bias);
  Adam<double> adam(AdamOptions(0.1).amsgrad(true));
  auto state = adam.state(std::vector<Weight<double>*>{&wk, &wb});  // builds the slots
  std::vector<std::string> names;
  for (auto& [name, t] : state) names.push_back(name);
  const std::vector<std::string> expected = {"dense/kernel/momentum", "dense/kernel/velocity",
                                             "dense/kernel/velocity_hat", "dense/bias/momentum",
                                             "dense/bias/velocity", "dense/bias/velocity_hat"};
  BOOST_TEST(names == expected, boost::test_tools::per_element());
  BOOST_TEST((state[0].second->shape() == Shape{2, 2}));
  BOOST_TEST(max_abs(*state[0].second) == 0.0);  // slots start at zero

  // An optimizer restored from another's state and iteration count continues identically.
  Variable<double> w1 = var<double>({1.0, -1.0}, "w"), w2 = var<double>({1.0, -1.0}, "w");
  Adam<double> first(AdamOptions(0.05)), second(AdamOptions(0.05));
  first.apply({vec<double>({0.3, -0.7})}, {w1});
  second.apply({vec<double>({0.3, -0.7})}, {w2});
  first.apply({vec<double>({-0.2, 0.4})}, {w1});

  Variable<double> w3 = var<double>({0, 0}, "w");
  w3.value().copy_from(w2.value());
  Adam<double> restored(AdamOptions(0.05));
  auto from = second.state(std::vector<Variable<double>>{w2});
  auto to = restored.state(std::vector<Variable<double>>{w3});
  BOOST_TEST_REQUIRE(from.size() == to.size());
  for (size_t i = 0; i < from.size(); ++i) {
    BOOST_TEST(from[i].first == to[i].first);
    to[i].second->copy_from(*from[i].second);
  }
  restored.set_iterations(second.iterations());
  restored.apply({vec<double>({-0.2, 0.4})}, {w3});
  BOOST_TEST(max_abs_diff(w3.value(), w1.value()) == 0.0);

  // Two weights with the same path cannot be told apart in a checkpoint.
  Variable<double> same1 = var<double>({1}, "x"), same2 = var<double>({1}, "x");
  Adam<double> dup;
  expect_value_error([&] { dup.state(std::vector<Variable<double>>{same1, same2}); }, {"'x'"});
}

// ---- schedules --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(exponential_decay_values) {
  ExponentialDecay smooth(0.1, 10, 0.5);
  BOOST_TEST(smooth(0) == 0.1, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(smooth(5) == 0.1 * std::sqrt(0.5), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(smooth(20) == 0.025, boost::test_tools::tolerance(1e-15));
  ExponentialDecay stairs(0.1, 10, 0.5, true);
  BOOST_TEST(stairs(9) == 0.1, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(stairs(15) == 0.05, boost::test_tools::tolerance(1e-15));
  expect_value_error([] { ExponentialDecay(0.1, 0, 0.5); }, {"decay_steps", "0"});
}

BOOST_AUTO_TEST_CASE(cosine_decay_values) {
  CosineDecay cos(1.0, 10, 0.1);
  BOOST_TEST(cos(0) == 1.0, boost::test_tools::tolerance(1e-15));
  // Halfway, cos(pi/2) = 0: 0.9 * 0.5 + 0.1.
  BOOST_TEST(cos(5) == 0.55, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(cos(10) == 0.1, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(cos(25) == 0.1, boost::test_tools::tolerance(1e-14));  // constant after decay_steps
  // Warmup from 0 to 1 over 4 steps, then decay over 10 to alpha = 0.
  CosineDecay warm(0.0, 10, 0.0, 1.0, 4);
  BOOST_TEST(warm(0) == 0.0, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(warm(2) == 0.5, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(warm(4) == 1.0, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(warm(9) == 0.5, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(std::fabs(warm(14)) < 1e-15);
  BOOST_TEST(std::fabs(warm(100)) < 1e-15);
  expect_value_error([] { CosineDecay(1.0, -3); }, {"decay_steps", "-3"});
  expect_value_error([] { CosineDecay(1.0, 3, 0.0, 1.0, -1); }, {"warmup_steps"});
}

BOOST_AUTO_TEST_CASE(piecewise_constant_values) {
  PiecewiseConstantDecay pc({5, 10}, {1.0, 0.5, 0.1});
  BOOST_TEST(pc(0) == 1.0);
  BOOST_TEST(pc(5) == 1.0);
  BOOST_TEST(pc(6) == 0.5);
  BOOST_TEST(pc(10) == 0.5);
  BOOST_TEST(pc(11) == 0.1);
  expect_value_error([] { PiecewiseConstantDecay({5}, {1.0}); }, {"boundaries"});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(optimizer_follows_its_schedule, T, Dtypes) {
  // lr = 0.5^step: steps at lr 1, 0.5, 0.25 with g = 1 -> w = -1, -1.5, -1.75.
  SGD<T> sgd(SGDOptions(std::make_shared<ExponentialDecay>(1.0, 1, 0.5)));
  Variable<T> w = var<T>({0});
  const double expected[] = {-1.0, -1.5, -1.75};
  for (double e : expected) {
    sgd.apply({vec<T>({1})}, {w});
    BOOST_TEST(double(w.value()[0]) == e, boost::test_tools::tolerance(tol<T>()));
  }
  BOOST_TEST(sgd.learning_rate() == 0.125, boost::test_tools::tolerance(1e-15));
  expect_value_error([&] { sgd.set_learning_rate(0.1); }, {"LearningRateSchedule"});
  const auto config = sgd.get_config();
  BOOST_TEST(config.at("learning_rate").at("class_name").template get<std::string>() == "ExponentialDecay");
  // The schedule's decay also drives weight decay's learning rate.
  auto again = make_optimizer<T>({{"class_name", "SGD"}, {"config", config}});
  BOOST_TEST(again->learning_rate() == 1.0);
}

// ---- arguments -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_hyperparameters_are_value_errors) {
  using D = double;
  expect_value_error([] { SGD<D>(SGDOptions(-0.1)); }, {"learning_rate", "-0.1"});
  expect_value_error([] { SGD<D>(SGDOptions(NAN)); }, {"learning_rate"});
  expect_value_error([] { SGD<D>(SGDOptions().momentum(1.5)); }, {"momentum", "1.5"});
  expect_value_error([] { SGD<D>(SGDOptions().momentum(-0.1)); }, {"momentum"});
  expect_value_error([] { Adam<D>(AdamOptions().beta_1(1.0)); }, {"beta_1", "1"});
  expect_value_error([] { Adam<D>(AdamOptions().beta_2(-0.5)); }, {"beta_2", "-0.5"});
  expect_value_error([] { Adam<D>(AdamOptions().epsilon(-1e-7)); }, {"epsilon"});
  expect_value_error([] { Adam<D>(AdamOptions().weight_decay(-0.1)); }, {"weight_decay", "-0.1"});
  expect_value_error([] { SGD<D>(SGDOptions().clipnorm(0.0)); }, {"clipnorm", "0"});
  expect_value_error([] { SGD<D>(SGDOptions().clipvalue(-1.0)); }, {"clipvalue", "-1"});
  expect_value_error([] { SGD<D>(SGDOptions().global_clipnorm(0.0)); }, {"global_clipnorm"});
  expect_value_error([] { SGD<D>(SGDOptions().clipnorm(1.0).clipvalue(1.0)); },
                     {"Only one of", "clipnorm=1", "clipvalue=1"});
  expect_value_error([] { Adam<D>(AdamOptions().clipnorm(1.0).global_clipnorm(1.0)); }, {"Only one of"});
  SGD<D> ok(SGDOptions(0.0).momentum(1.0));  // the closed bounds are allowed
  expect_value_error([&] { ok.set_learning_rate(-1); }, {"learning_rate"});
  expect_value_error([&] { ok.set_iterations(-1); }, {"iterations"});
}

BOOST_AUTO_TEST_CASE(make_optimizer_identifiers) {
  auto sgd = make_optimizer<float>("sgd");
  BOOST_TEST(sgd->class_name() == "SGD");
  BOOST_TEST(sgd->learning_rate() == 0.01, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(make_optimizer<float>("Adam")->learning_rate() == 0.001, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(make_optimizer<double>("adamw")->class_name() == "AdamW");

  const nlohmann::json config = {{"class_name", "Adam"},
                                 {"config", {{"learning_rate", 0.02}, {"beta_1", 0.8}, {"amsgrad", true}, {"clipvalue", 0.5}}}};
  auto adam = make_optimizer<double>(config);
  auto* as_adam = dynamic_cast<Adam<double>*>(adam.get());
  BOOST_TEST_REQUIRE(as_adam);
  BOOST_TEST(as_adam->beta_1() == 0.8);
  BOOST_TEST(as_adam->amsgrad());
  BOOST_TEST(*adam->clipvalue() == 0.5);
  // get_config round-trips through the factory.
  const auto round = make_optimizer<double>({{"class_name", adam->class_name()}, {"config", adam->get_config()}});
  BOOST_TEST(round->get_config() == adam->get_config());
  BOOST_TEST(adam->get_config().at("name").get<std::string>() == "adam");

  // A schedule given as a Keras config.
  nlohmann::json schedule = {{"class_name", "CosineDecay"},
                             {"config", {{"initial_learning_rate", 0.4}, {"decay_steps", 10}}}};
  nlohmann::json sgd_config = {{"class_name", "SGD"}, {"config", {{"learning_rate", schedule}}}};
  auto scheduled = make_optimizer<double>(sgd_config);
  BOOST_TEST(scheduled->learning_rate() == 0.4, boost::test_tools::tolerance(1e-15));

  expect_value_error([] { make_optimizer<float>("rmsprop"); }, {"Could not interpret optimizer identifier", "rmsprop"});
  expect_value_error([] { make_optimizer<float>(42); }, {"Could not interpret optimizer identifier"});
  expect_value_error([] { make_optimizer<float>({{"class_name", "SGD"}, {"config", {{"momentun", 0.9}}}}); },
                     {"not recognized", "momentun"});
  expect_value_error([] { make_optimizer<float>({{"class_name", "SGD"}, {"config", {{"learning_rate", "fast"}}}}); },
                     {"learning_rate"});
  expect_value_error([] { make_optimizer<float>({{"class_name", "SGD"}, {"config", {{"use_ema", true}}}}); },
                     {"use_ema"});
  expect_value_error([] { make_optimizer<float>({{"class_name", "AdamW"}, {"config", {{"weight_decay", nullptr}}}}); },
                     {"weight_decay"});
  expect_value_error(
      [] {
        make_optimizer<float>({{"class_name", "SGD"},
                               {"config", {{"learning_rate", {{"class_name", "Warp"}, {"config", nlohmann::json::object()}}}}}});
      },
      {"Could not interpret learning rate schedule identifier"});
}

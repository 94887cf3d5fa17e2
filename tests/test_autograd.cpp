// The tape's semantics: recording, accumulation, no-grad scopes, retain, errors.
#define BOOST_TEST_MODULE autograd
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "sepconv/autograd/ops.h"

using namespace sepconv;

BOOST_AUTO_TEST_CASE(records_only_when_needed) {
  Tape<double>& tape = Tape<double>::current();
  tape.clear();
  Variable<double> a(Tensor<double>({2}, 1.0)), b(Tensor<double>({2}, 2.0));
  (void)add(a, b);
  BOOST_TEST(tape.size() == 0u);  // no input needs a gradient
  a.set_requires_grad(true);
  {
    NoGradGuard guard;
    (void)add(a, b);
    BOOST_TEST(!grad_enabled());
  }
  BOOST_TEST(grad_enabled());
  BOOST_TEST(tape.size() == 0u);
  Variable<double> y = sum(mul(a, b));
  BOOST_TEST(tape.size() == 2u);
  backward(y);
  BOOST_TEST(tape.size() == 0u);  // cleared after backward
  BOOST_TEST(a.grad()[0] == 2.0);
  BOOST_TEST(!b.has_grad());
}

BOOST_AUTO_TEST_CASE(accumulates_and_retains) {
  Tape<double>& tape = Tape<double>::current();
  tape.clear();
  Variable<double> a(Tensor<double>({3}, 3.0), true);
  Variable<double> y = sum(add(a, a));  // dy/da = 2
  tape.backward(y, /*retain_graph=*/true);
  BOOST_TEST(a.grad()[1] == 2.0);
  y.zero_grad();
  tape.backward(y);  // replayed again: gradients accumulate with +=
  BOOST_TEST(a.grad()[1] == 4.0);
  a.zero_grad();
  BOOST_TEST(!a.has_grad());
}

// backward(root, seed) adopts the seed without a copy; the seed must still never
// be written, even when the root's gradient is added to afterwards.
BOOST_AUTO_TEST_CASE(seed_is_never_written) {
  Tape<double>& tape = Tape<double>::current();
  tape.clear();
  Variable<double> a(Tensor<double>({3}, {1.0, 2.0, 3.0}), true);
  Variable<double> y = mul(a, a);  // dy/da = 2a
  const Tensor<double> seed({3}, {1.0, 10.0, 100.0});
  tape.backward(y, seed, /*retain_graph=*/true);
  BOOST_TEST(a.grad().to_vector() == std::vector<double>({2.0, 40.0, 600.0}), boost::test_tools::per_element());
  tape.backward(y, seed);  // the root's gradient accumulates: 2 * seed
  BOOST_TEST(y.grad().to_vector() == std::vector<double>({2.0, 20.0, 200.0}), boost::test_tools::per_element());
  BOOST_TEST(seed.to_vector() == std::vector<double>({1.0, 10.0, 100.0}), boost::test_tools::per_element());
  // a's gradient: 2a * seed from the first replay, 2a * (2 * seed) from the second.
  BOOST_TEST(a.grad().to_vector() == std::vector<double>({6.0, 120.0, 1800.0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(shape_mismatch_names_the_op) {
  Variable<double> a(Tensor<double>({2, 2}), true, "w");
  try {
    a.add_grad(Tensor<double>({3}), "my_op");
    BOOST_FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    std::string msg = e.what();
    BOOST_TEST(msg.find("my_op") != std::string::npos);
    BOOST_TEST(msg.find("'w'") != std::string::npos);
    BOOST_TEST(msg.find("(2, 2)") != std::string::npos);
  }
  Variable<double> v(Tensor<double>({2}), true);
  BOOST_CHECK_THROW(backward(v), ShapeError);  // a non-scalar root needs a seed
}

BOOST_AUTO_TEST_CASE(op_input_errors) {
  Variable<float> x(Tensor<float>({1, 4, 4, 2})), k(Tensor<float>({3, 3, 3, 1}));
  BOOST_CHECK_THROW(depthwise_conv2d(x, k, {1, 1}, {1, 1}, Padding::Valid), ShapeError);  // channel mismatch
  Variable<float> x3(Tensor<float>({4, 4, 2}));
  BOOST_CHECK_THROW(depthwise_conv2d(x3, k, {1, 1}, {1, 1}, Padding::Valid), ShapeError);
  Variable<float> pk(Tensor<float>({1, 1, 3, 4}));
  BOOST_CHECK_THROW(pointwise_conv2d(x, pk), ShapeError);
  BOOST_CHECK_THROW(bias_add(x, Variable<float>(Tensor<float>({3}))), ShapeError);
  BOOST_CHECK_THROW(add(x, x3), ShapeError);
}

BOOST_AUTO_TEST_CASE(check_numerics_names_op_and_scope) {
  Tape<double>::current().clear();
  Variable<double> a(Tensor<double>({2}, 1.0), true);
  Variable<double> z(Tensor<double>({2}, 0.0));
  auto div = [](const Variable<double>& x, const Variable<double>& y) {
    return elementwise<double>(mul(x, y), "log", [](double v) { return std::log(v); },
                               [](double v, double) { return 1 / v; });
  };
  (void)div(a, z);  // -inf, but checking is off: no error
  Tape<double>::current().clear();
  set_check_numerics(true);
  try {
    NameScope scope("my_layer");
    (void)div(a, z);
    BOOST_FAIL("expected NumericsError");
  } catch (const NumericsError& e) {
    std::string msg = e.what();
    BOOST_TEST(msg.find("'log'") != std::string::npos, msg);
    BOOST_TEST(msg.find("my_layer") != std::string::npos, msg);
  }
  set_check_numerics(false);
  Tape<double>::current().clear();
}

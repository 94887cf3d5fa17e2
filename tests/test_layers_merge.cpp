// The merge layers (Add ... Concatenate), ReLU, ZeroPadding2D, Reshape,
// Rescaling and the pooling layers' configs: the ops' and layers' gradients
// against float64 central differences, forward values worked out by hand,
// Keras 3 configs parsed and round-tripped, and every bad input's error.
#define BOOST_TEST_MODULE layers_merge
#include <boost/test/unit_test.hpp>

#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sepconv/autograd/array_ops.h"
#include "sepconv/autograd/gradcheck.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/layers/merge.h"
#include "sepconv/layers/pooling.h"
#include "sepconv/layers/relu.h"
#include "sepconv/layers/rescaling.h"
#include "sepconv/layers/reshaping.h"

using namespace sepconv;
using nlohmann::json;

namespace {
Tensor<double> random_tensor(const Shape& shape, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  Tensor<double> t(shape);
  for (auto& v : t) v = d(rng);
  return t;
}
void check(const GradFunction& f, const std::vector<Tensor<double>>& inputs) {
  const GradCheckResult r = gradcheck(f, inputs);
  BOOST_TEST(r.ok, r.report);
}
using V = std::vector<Variable<double>>;
Variable<double> var(const Shape& s, std::vector<double> v, bool grad = false) {
  return Variable<double>(Tensor<double>(s, v), grad);
}
std::vector<double> values(const Variable<double>& x) { return std::vector<double>(x.value().begin(), x.value().end()); }
std::vector<double> grads(const Variable<double>& x) { return std::vector<double>(x.grad().begin(), x.grad().end()); }
// d(sum(y))/dx for each x.
void backward_of_sum(const Variable<double>& y) {
  Variable<double> s = sum(y);
  backward(s);
}

// Runs f, which must throw E; returns the message.
template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    BOOST_ERROR("wrong exception type: " << e.what());
    return e.what();
  }
  BOOST_ERROR("no exception thrown");
  return "";
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
#define CHECK_MESSAGE(E, expr, part)                              \
  do {                                                            \
    const std::string m_ = message_of<E>([&]() { (void)(expr); }); \
    BOOST_TEST(contains(m_, part), "message: " << m_);            \
  } while (0)

std::set<std::string> keys(const json& c) {
  std::set<std::string> k;
  for (auto it = c.begin(); it != c.end(); ++it) k.insert(it.key());
  return k;
}
const json kFloat32Policy = {{"module", "keras"},
                             {"class_name", "DTypePolicy"},
                             {"config", {{"name", "float32"}}},
                             {"registered_name", nullptr}};
// A Keras 3 layer config: the Layer base keys and the layer's own.
json keras_config(const std::string& name, json own) {
  json c = {{"name", name}, {"trainable", true}, {"dtype", kFloat32Policy}};
  c.update(own);
  return c;
}
template <typename L>
void check_round_trip(const L& layer) {
  const json c = layer.get_config();
  BOOST_TEST(L::from_config(c)->get_config() == c, c.dump());
}
}  // namespace

// ---- ops: gradients ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(concatenate_gradcheck) {
  for (int64_t axis : {0, 1, 2, -1, -3}) {
    Shape a{2, 3, 4}, b{2, 3, 4}, c{2, 3, 4};
    const int64_t k = axis < 0 ? axis + 3 : axis;
    b[k] = 1;
    c[k] = 2;
    check([axis](const V& v) { return concatenate<double>(v, axis); },
          {random_tensor(a, 1), random_tensor(b, 2), random_tensor(c, 3)});
  }
  check([](const V& v) { return concatenate<double>(v, 0); }, {random_tensor({3}, 4), random_tensor({2}, 5)});
}

BOOST_AUTO_TEST_CASE(maximum_minimum_gradcheck) {
  // Random values: no ties, so the functions are smooth around them.
  check([](const V& v) { return maximum<double>(v[0], v[1]); }, {random_tensor({3, 4}, 6), random_tensor({3, 4}, 7)});
  check([](const V& v) { return minimum<double>(v[0], v[1]); }, {random_tensor({3, 4}, 8), random_tensor({3, 4}, 9)});
}

BOOST_AUTO_TEST_CASE(zero_pad2d_gradcheck) {
  check([](const V& v) { return zero_pad2d<double>(v[0], {{{1, 2}, {0, 3}}}); }, {random_tensor({2, 3, 2, 3}, 10)});
  check([](const V& v) { return zero_pad2d<double>(v[0], {{{0, 0}, {0, 0}}}); }, {random_tensor({1, 2, 2, 1}, 11)});
}

BOOST_AUTO_TEST_CASE(global_max_pool2d_gradcheck) {
  check([](const V& v) { return global_max_pool2d<double>(v[0], false); }, {random_tensor({2, 3, 4, 3}, 12)});
  check([](const V& v) { return global_max_pool2d<double>(v[0], true); }, {random_tensor({2, 2, 3, 2}, 13)});
}

BOOST_AUTO_TEST_CASE(relu_op_gradcheck) {
  // Inputs in [-4, 8] cross every kink; no input lies within eps of one.
  const Tensor<double> x = random_tensor({4, 25}, 14, -4.0, 8.0);
  struct Args {
    std::optional<double> max_value;
    double slope, threshold;
  };
  for (const Args& a : {Args{std::nullopt, 0.0, 0.0}, Args{6.0, 0.0, 0.0}, Args{3.0, 0.2, 0.0},
                        Args{std::nullopt, 0.3, 0.0}, Args{std::nullopt, 0.0, 1.5}, Args{2.5, 0.5, 1.0},
                        Args{6.0, 0.1, 0.0}})
    check([a](const V& v) { return relu<double>(v[0], a.max_value, a.slope, a.threshold); }, {x});
}

// ---- ops: values and errors ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(concatenate_values) {
  Variable<double> a = var({1, 2, 2}, {0, 1, 2, 3});
  Variable<double> b = var({1, 2, 1}, {9, 8});
  Variable<double> c = var({1, 1, 2}, {4, 5});
  Variable<double> last = concatenate<double>({a, b}, -1);
  BOOST_TEST((last.shape() == Shape{1, 2, 3}));
  BOOST_TEST(values(last) == (std::vector<double>{0, 1, 9, 2, 3, 8}), boost::test_tools::per_element());
  Variable<double> mid = concatenate<double>({a, c}, 1);
  BOOST_TEST((mid.shape() == Shape{1, 3, 2}));
  BOOST_TEST(values(mid) == (std::vector<double>{0, 1, 2, 3, 4, 5}), boost::test_tools::per_element());
  BOOST_CHECK_THROW(concatenate<double>({a, c}, -1), ShapeError);
  BOOST_CHECK_THROW(concatenate<double>({a, b}, 3), ShapeError);
  BOOST_CHECK_THROW(concatenate<double>({}, 0), ShapeError);
}

BOOST_AUTO_TEST_CASE(maximum_ties_give_the_gradient_to_the_first_input) {
  Variable<double> a = var({3}, {1, 2, 3}, true);
  Variable<double> b = var({3}, {1, 5, 0}, true);
  backward_of_sum(maximum<double>(a, b));
  BOOST_TEST(grads(a) == (std::vector<double>{1, 0, 1}), boost::test_tools::per_element());
  BOOST_TEST(grads(b) == (std::vector<double>{0, 1, 0}), boost::test_tools::per_element());
  Variable<double> c = var({3}, {1, 2, 3}, true);
  Variable<double> d = var({3}, {1, 5, 0}, true);
  Variable<double> m = minimum<double>(c, d);
  BOOST_TEST(values(m) == (std::vector<double>{1, 2, 0}), boost::test_tools::per_element());
  backward_of_sum(m);
  BOOST_TEST(grads(c) == (std::vector<double>{1, 1, 0}), boost::test_tools::per_element());
  BOOST_TEST(grads(d) == (std::vector<double>{0, 0, 1}), boost::test_tools::per_element());
  BOOST_CHECK_THROW(maximum<double>(a, var({2}, {1, 2})), ShapeError);
}

BOOST_AUTO_TEST_CASE(zero_pad2d_values) {
  Variable<double> x = var({1, 2, 2, 1}, {1, 2, 3, 4}, true);
  Variable<double> y = zero_pad2d<double>(x, {{{1, 0}, {0, 2}}});
  BOOST_TEST((y.shape() == Shape{1, 3, 4, 1}));
  BOOST_TEST(values(y) == (std::vector<double>{0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0}), boost::test_tools::per_element());
  BOOST_CHECK_THROW(zero_pad2d<double>(var({2, 2}, {1, 2, 3, 4}), {{{1, 1}, {1, 1}}}), ShapeError);
  BOOST_CHECK_THROW(zero_pad2d<double>(x, {{{-1, 0}, {0, 0}}}), ShapeError);
}

BOOST_AUTO_TEST_CASE(global_max_pool2d_values_and_ties) {
  // positions (c0, c1): (1, 2), (7, 2), (3, 0), (-1, 1): max (7, 2), c1 ties at positions 0 and 1.
  Variable<double> x = var({1, 2, 2, 2}, {1, 2, 7, 2, 3, 0, -1, 1}, true);
  Variable<double> y = global_max_pool2d<double>(x, false);
  BOOST_TEST((y.shape() == Shape{1, 2}));
  BOOST_TEST(values(y) == (std::vector<double>{7, 2}), boost::test_tools::per_element());
  backward_of_sum(y);
  BOOST_TEST(grads(x) == (std::vector<double>{0, 0.5, 1, 0.5, 0, 0, 0, 0}), boost::test_tools::per_element());
  BOOST_TEST((global_max_pool2d<double>(x, true).shape() == Shape{1, 1, 1, 2}));
  BOOST_CHECK_THROW(global_max_pool2d<double>(var({1, 0, 2, 1}, {}), false), ShapeError);
}

// ---- merge layers ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(elementwise_merge_values) {
  Variable<double> a = var({1, 2}, {1, 2}), b = var({1, 2}, {3, 6}), c = var({1, 2}, {10, -4});
  BOOST_TEST(values(Add<double>()({a, b, c})) == (std::vector<double>{14, 4}), boost::test_tools::per_element());
  BOOST_TEST(values(Subtract<double>()({b, a})) == (std::vector<double>{2, 4}), boost::test_tools::per_element());
  BOOST_TEST(values(Multiply<double>()({a, b, c})) == (std::vector<double>{30, -48}), boost::test_tools::per_element());
  BOOST_TEST(values(Average<double>()({a, b})) == (std::vector<double>{2, 4}), boost::test_tools::per_element());
  // (1 + 3 + 10) / 3 and (2 + 6 - 4) / 3, as Keras: the sum divided by the count.
  const std::vector<double> avg3 = values(Average<double>()({a, b, c}));
  BOOST_TEST(avg3[0] == 14.0 / 3.0);
  BOOST_TEST(avg3[1] == 4.0 / 3.0);
  BOOST_TEST(values(Maximum<double>()({a, b, c})) == (std::vector<double>{10, 6}), boost::test_tools::per_element());
  BOOST_TEST(values(Minimum<double>()({a, b, c})) == (std::vector<double>{1, -4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(maximum_layer_ties_go_to_the_earliest_input) {
  Variable<double> a = var({2}, {1, 1}, true), b = var({2}, {1, 0}, true), c = var({2}, {1, 1}, true);
  backward_of_sum(Maximum<double>()({a, b, c}));
  BOOST_TEST(grads(a) == (std::vector<double>{1, 1}), boost::test_tools::per_element());
  const bool b_zero = !b.has_grad() || grads(b) == std::vector<double>{0, 0};
  const bool c_zero = !c.has_grad() || grads(c) == std::vector<double>{0, 0};
  BOOST_TEST(b_zero);
  BOOST_TEST(c_zero);
}

BOOST_AUTO_TEST_CASE(merge_layers_gradcheck) {
  const std::vector<Tensor<double>> three = {random_tensor({2, 3, 2}, 20), random_tensor({2, 3, 2}, 21),
                                             random_tensor({2, 3, 2}, 22)};
  auto add = std::make_shared<Add<double>>();
  auto subtract = std::make_shared<Subtract<double>>();
  auto multiply = std::make_shared<Multiply<double>>();
  auto average = std::make_shared<Average<double>>();
  auto maximum_layer = std::make_shared<Maximum<double>>();
  auto minimum_layer = std::make_shared<Minimum<double>>();
  check([&](const V& v) { return (*add)(v); }, three);
  check([&](const V& v) { return (*subtract)(v); }, {three[0], three[1]});
  check([&](const V& v) { return (*multiply)(v); }, three);
  check([&](const V& v) { return (*average)(v); }, three);
  check([&](const V& v) { return (*maximum_layer)(v); }, three);
  check([&](const V& v) { return (*minimum_layer)(v); }, three);
  auto cat = std::make_shared<Concatenate<double>>(ConcatenateOptions().axis(1));
  check([&](const V& v) { return (*cat)(v); },
        {random_tensor({2, 1, 2}, 23), random_tensor({2, 3, 2}, 24), random_tensor({2, 2, 2}, 25)});
}

BOOST_AUTO_TEST_CASE(concatenate_layer_shapes) {
  Concatenate<double> cat;
  BOOST_TEST((cat.compute_output_shape(std::vector<Shape>{{2, 8, 8, 4}, {2, 8, 8, 6}}) == Shape{2, 8, 8, 10}));
  Variable<double> y = cat({Variable<double>(Tensor<double>({2, 3, 1}, 1.0)), Variable<double>(Tensor<double>({2, 3, 2}, 2.0))});
  BOOST_TEST((y.shape() == Shape{2, 3, 3}));
  BOOST_TEST(values(y) == (std::vector<double>{1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2}),
             boost::test_tools::per_element());
  Concatenate<double> batch_axis(ConcatenateOptions().axis(0));
  BOOST_TEST((batch_axis.compute_output_shape(std::vector<Shape>{{2, 3}, {5, 3}}) == Shape{7, 3}));
}

BOOST_AUTO_TEST_CASE(merge_layer_errors) {
  Variable<double> a(Tensor<double>({2, 8, 8, 4}, 1.0)), b(Tensor<double>({2, 8, 8, 6}, 1.0));
  Add<double> add(MergeOptions().name("my_add"));
  const std::string m = message_of<ValueError>([&] { add({a, b}); });
  BOOST_TEST(contains(m, "Inputs have incompatible shapes. Received shapes (8, 8, 4) and (8, 8, 6)"), m);
  BOOST_TEST(contains(m, "my_add"), m);
  CHECK_MESSAGE(ValueError, add(a), "A merge layer should be called on a list of inputs");
  CHECK_MESSAGE(ValueError, add(std::vector<Variable<double>>{a}), "at least 2 inputs");
  Variable<double> c(Tensor<double>({3, 8, 8, 4}, 1.0));
  CHECK_MESSAGE(ValueError, add({a, c}), "Cannot merge tensors with different batch sizes");
  Subtract<double> subtract;
  CHECK_MESSAGE(ValueError, subtract({a, a, a}), "A `Subtract` layer should be called on exactly 2 inputs");
  Concatenate<double> cat(ConcatenateOptions().name("my_cat"));
  Variable<double> d(Tensor<double>({2, 8, 7, 6}, 1.0));
  const std::string mc = message_of<ValueError>([&] { cat({a, d}); });
  BOOST_TEST(contains(mc, "requires inputs with matching shapes except for the concatenation axis"), mc);
  BOOST_TEST(contains(mc, "(2, 8, 8, 4), (2, 8, 7, 6)"), mc);
  BOOST_TEST(contains(mc, "my_cat"), mc);
  CHECK_MESSAGE(ValueError, Concatenate<double>(ConcatenateOptions().axis(4))({a, a}), "`axis`");
  // A built layer still checks each call.
  Multiply<double> mul;
  mul({a, a});
  CHECK_MESSAGE(ValueError, mul({a, b}), "Inputs have incompatible shapes");
}

BOOST_AUTO_TEST_CASE(merge_layer_configs) {
  for (const char* cls : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}) {
    const json c = keras_config("m", json::object());
    json out;
    const std::string k = cls;
    if (k == "Add") out = Add<float>::from_config(c)->get_config();
    if (k == "Subtract") out = Subtract<float>::from_config(c)->get_config();
    if (k == "Multiply") out = Multiply<float>::from_config(c)->get_config();
    if (k == "Average") out = Average<float>::from_config(c)->get_config();
    if (k == "Maximum") out = Maximum<float>::from_config(c)->get_config();
    if (k == "Minimum") out = Minimum<float>::from_config(c)->get_config();
    BOOST_TEST(out == c, cls << ": " << out.dump());
  }
  check_round_trip(Add<double>());
  check_round_trip(Maximum<double>(MergeOptions().name("mx")));
  const json keras_cat = keras_config("concatenate_7", {{"axis", 1}});
  auto cat = Concatenate<float>::from_config(keras_cat);
  BOOST_TEST(cat->axis() == 1);
  BOOST_TEST(cat->name() == "concatenate_7");
  BOOST_TEST(cat->get_config() == keras_cat);
  BOOST_TEST((keys(Concatenate<float>().get_config()) == std::set<std::string>{"name", "trainable", "dtype", "axis"}));
  BOOST_TEST(Concatenate<float>::from_config(json::object())->axis() == -1);
  auto frozen = Add<float>::from_config({{"trainable", false}});
  BOOST_TEST(!frozen->trainable());
  CHECK_MESSAGE(ValueError, Add<float>::from_config({{"foo", 3}}), "Unrecognized keyword argument passed to Add: 'foo'");
  CHECK_MESSAGE(ValueError, Concatenate<float>::from_config({{"axis", "x"}}), "`axis`");
  CHECK_MESSAGE(ValueError, Concatenate<float>::from_config({{"axis", 1.5}}), "Concatenate");
}

BOOST_AUTO_TEST_CASE(merge_layers_on_keras_tensors) {
  // Symbolic inputs as an Input would make them: a node whose probe is one zero sample.
  auto input = [](const Shape& s) {
    auto node = std::make_shared<Node<double>>();
    node->output_probes.push_back(Tensor<double>(s, 0.0));
    return KerasTensor<double>(node, 0);
  };
  const KerasTensor<double> a = input({1, 8, 8, 4}), b = input({1, 8, 8, 4}), c = input({1, 8, 8, 6});
  auto add = std::make_shared<Add<double>>(MergeOptions().name("sym_add"));
  const KerasTensor<double> sum_ab = (*add)(std::vector<KerasTensor<double>>{a, b});
  BOOST_TEST((sum_ab.shape() == Shape{-1, 8, 8, 4}));
  BOOST_TEST(sum_ab.node()->inputs_as_list);
  auto cat = std::make_shared<Concatenate<double>>();
  BOOST_TEST(((*cat)(std::vector<KerasTensor<double>>{a, c}).shape() == Shape{-1, 8, 8, 10}));
  // A mismatch fails where the call is written.
  auto other = std::make_shared<Add<double>>(MergeOptions().name("sym_add_bad"));
  const std::string m = message_of<ValueError>([&] { (*other)(std::vector<KerasTensor<double>>{a, c}); });
  BOOST_TEST(contains(m, "Received shapes (8, 8, 4) and (8, 8, 6)"), m);
  BOOST_TEST(contains(m, "sym_add_bad"), m);
  CHECK_MESSAGE(ValueError, (*std::make_shared<Multiply<double>>())(a), "A merge layer should be called on a list");
}

// ---- ReLU --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(relu_values_from_keras_docs) {
  // keras.layers.ReLU's docstring examples on [-3, -1, 0, 2].
  Variable<double> x = var({4}, {-3, -1, 0, 2});
  BOOST_TEST(values(ReLU<double>()(x)) == (std::vector<double>{0, 0, 0, 2}), boost::test_tools::per_element());
  BOOST_TEST(values(ReLU<double>(ReLUOptions().max_value(1.0))(x)) == (std::vector<double>{0, 0, 0, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(values(ReLU<double>(ReLUOptions().negative_slope(1.0))(x)) == (std::vector<double>{-3, -1, 0, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(values(ReLU<double>(ReLUOptions().threshold(1.5))(x)) == (std::vector<double>{0, 0, 0, 2}),
             boost::test_tools::per_element());
  // All three: negative_slope * (x - threshold) below 1, x up to 2, then 2.
  Variable<double> z = var({5}, {-2, 0.5, 1, 1.5, 3});
  BOOST_TEST(values(ReLU<double>(ReLUOptions().threshold(1).negative_slope(0.5).max_value(2.0))(z)) ==
                 (std::vector<double>{-1.5, -0.25, 0, 1.5, 2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(relu_values_from_keras_3_tests) {
  // keras/src/layers/activations/relu_test.py's correctness cases.
  Variable<double> x = var({5}, {-10, -5, 0, 5, 10});
  BOOST_TEST(values(ReLU<double>(ReLUOptions().max_value(10.0))(x)) == (std::vector<double>{0, 0, 0, 5, 10}),
             boost::test_tools::per_element());
  BOOST_TEST(values(ReLU<double>(ReLUOptions().max_value(10.0).negative_slope(0.5))(x)) ==
                 (std::vector<double>{-5, -2.5, 0, 5, 10}),
             boost::test_tools::per_element());
  Variable<double> t = var({5}, {6, 7, 0, 5, 10});
  BOOST_TEST(values(ReLU<double>(ReLUOptions().max_value(8.0).threshold(5))(t)) == (std::vector<double>{6, 7, 0, 0, 8}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(relu_derivatives_at_the_kinks_follow_tensorflow) {
  auto grad_at = [](double v, std::optional<double> max_value, double slope, double threshold) {
    Variable<double> x = var({1}, {v}, true);
    backward_of_sum(relu<double>(x, max_value, slope, threshold));
    return x.grad()[0];
  };
  BOOST_TEST(grad_at(0, std::nullopt, 0, 0) == 0.0);    // tf.nn.relu: 0 at 0
  BOOST_TEST(grad_at(0, std::nullopt, 0.2, 0) == 0.2);  // tf.nn.leaky_relu: the slope at 0
  BOOST_TEST(grad_at(6, 6.0, 0, 0) == 0.0);             // tf.nn.relu6: 0 at 6
  BOOST_TEST(grad_at(3, 3.0, 0, 0) == 1.0);             // clip_by_value passes at the bound
  BOOST_TEST(grad_at(1, std::nullopt, 0.5, 1) == 0.0);  // x > threshold is false, relu'(0) = 0
  BOOST_TEST(grad_at(0.5, std::nullopt, 0.5, 1) == 0.5);
  BOOST_TEST(grad_at(5, 3.0, 0.5, 1) == 0.0);
}

BOOST_AUTO_TEST_CASE(relu_layer_gradcheck_and_config) {
  auto layer = std::make_shared<ReLU<double>>(ReLUOptions().max_value(2.0).negative_slope(0.1).threshold(0.5));
  check([&](const V& v) { return (*layer)(v[0]); }, {random_tensor({3, 7}, 30, -3.0, 4.0)});
  check_round_trip(*layer);
  check_round_trip(ReLU<double>());
  const json keras = keras_config("re_lu", {{"max_value", 6.0}, {"negative_slope", 0.0}, {"threshold", 0.0}});
  auto parsed = ReLU<float>::from_config(keras);
  BOOST_TEST(*parsed->max_value() == 6.0);
  BOOST_TEST(parsed->get_config() == keras);
  BOOST_TEST(ReLU<float>::from_config(json::object())->get_config()["max_value"].is_null());
  BOOST_TEST((keys(ReLU<float>().get_config()) ==
              std::set<std::string>{"name", "trainable", "dtype", "max_value", "negative_slope", "threshold"}));
  CHECK_MESSAGE(ValueError, ReLU<float>(ReLUOptions().max_value(-1.0)),
                "Invalid value for argument `max_value` of ReLU layer 're_lu");
  CHECK_MESSAGE(ValueError, ReLU<float>(ReLUOptions().max_value(-1.0)), "Received: max_value=-1");
  CHECK_MESSAGE(ValueError, ReLU<float>(ReLUOptions().negative_slope(-0.1)),
                "Invalid value for argument `negative_slope` of ReLU layer 're_lu");
  CHECK_MESSAGE(ValueError, ReLU<float>(ReLUOptions().negative_slope(-0.1)), "Received: negative_slope=-0.1");
  CHECK_MESSAGE(ValueError, ReLU<float>(ReLUOptions().threshold(-2)), "Invalid value for argument `threshold` of ReLU");
  CHECK_MESSAGE(ValueError, ReLU<float>(ReLUOptions().threshold(-2)), "Received: threshold=-2");
  CHECK_MESSAGE(ValueError, ReLU<float>::from_config({{"threshold", "high"}}), "`threshold`");
  CHECK_MESSAGE(ValueError, ReLU<float>::from_config({{"negative_slope", nullptr}}), "Received: negative_slope=null");
  CHECK_MESSAGE(ValueError, ReLU<float>::from_config({{"alpha", 0.1}}), "Unrecognized keyword argument passed to ReLU: 'alpha'");
}

// ---- ZeroPadding2D -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(zero_padding2d_values_both_formats) {
  ZeroPadding2D<double> last(ZeroPadding2DOptions().padding(Padding2D{{{1, 0}, {0, 2}}}).data_format("channels_last"));
  Variable<double> x = var({1, 2, 2, 1}, {1, 2, 3, 4});
  Variable<double> y = last(x);
  BOOST_TEST((y.shape() == Shape{1, 3, 4, 1}));
  BOOST_TEST(values(y) == (std::vector<double>{0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0}), boost::test_tools::per_element());
  // channels_first, two channels: each plane padded alike.
  ZeroPadding2D<double> first(ZeroPadding2DOptions().padding(std::array<int64_t, 2>{0, 1}).data_format("channels_first"));
  Variable<double> xc = var({1, 2, 1, 2}, {1, 2, 3, 4});
  Variable<double> yc = first(xc);
  BOOST_TEST((yc.shape() == Shape{1, 2, 1, 4}));
  BOOST_TEST(values(yc) == (std::vector<double>{0, 1, 2, 0, 0, 3, 4, 0}), boost::test_tools::per_element());
  BOOST_TEST((ZeroPadding2D<double>().compute_output_shape({2, 5, 6, 3}) == Shape{2, 7, 8, 3}));
}

BOOST_AUTO_TEST_CASE(zero_padding2d_gradcheck) {
  auto last = std::make_shared<ZeroPadding2D<double>>(
      ZeroPadding2DOptions().padding(Padding2D{{{2, 1}, {0, 1}}}).data_format("channels_last"));
  auto first = std::make_shared<ZeroPadding2D<double>>(
      ZeroPadding2DOptions().padding(Padding2D{{{2, 1}, {0, 1}}}).data_format("channels_first"));
  check([&](const V& v) { return (*last)(v[0]); }, {random_tensor({2, 3, 2, 3}, 31)});
  check([&](const V& v) { return (*first)(v[0]); }, {random_tensor({2, 3, 2, 3}, 32)});
}

BOOST_AUTO_TEST_CASE(zero_padding2d_configs_and_errors) {
  const json keras = keras_config("zero_padding2d", {{"padding", {{1, 1}, {2, 2}}}, {"data_format", "channels_last"}});
  auto parsed = ZeroPadding2D<float>::from_config(keras);
  BOOST_TEST(parsed->get_config() == keras);
  BOOST_TEST(ZeroPadding2D<float>::from_config({{"padding", 3}})->padding()[1][1] == 3);
  const Padding2D sym = ZeroPadding2D<float>::from_config({{"padding", {1, 2}}})->padding();
  BOOST_TEST((sym == Padding2D{{{1, 1}, {2, 2}}}));
  const Padding2D mixed = ZeroPadding2D<float>::from_config({{"padding", json::array({1, {0, 4}})}})->padding();
  BOOST_TEST((mixed == Padding2D{{{1, 1}, {0, 4}}}));
  BOOST_TEST((ZeroPadding2D<float>::from_config({{"data_format", "channels_first"}})->data_format() ==
              DataFormat::ChannelsFirst));
  check_round_trip(ZeroPadding2D<double>(ZeroPadding2DOptions().padding(Padding2D{{{0, 1}, {2, 3}}})));
  BOOST_TEST((keys(ZeroPadding2D<float>().get_config()) ==
              std::set<std::string>{"name", "trainable", "dtype", "padding", "data_format"}));
  CHECK_MESSAGE(ValueError, ZeroPadding2D<float>(ZeroPadding2DOptions().padding(Padding2D{{{-1, 0}, {0, 0}}})),
                "Invalid value for argument `padding` of ZeroPadding2D layer 'zero_padding2d");
  CHECK_MESSAGE(ValueError, ZeroPadding2D<float>(ZeroPadding2DOptions().padding(Padding2D{{{-1, 0}, {0, 0}}})),
                "Received: padding=((-1, 0), (0, 0))");
  CHECK_MESSAGE(ValueError, ZeroPadding2D<float>::from_config({{"padding", {1, 2, 3}}}),
                "`padding` should have two elements");
  CHECK_MESSAGE(ValueError, ZeroPadding2D<float>::from_config({{"padding", "same"}}), "`padding`");
  CHECK_MESSAGE(ValueError, ZeroPadding2D<float>::from_config({{"data_format", "nhwc"}}), "nhwc");
  CHECK_MESSAGE(ValueError, ZeroPadding2D<float>::from_config({{"cropping", 1}}), "'cropping'");
  ZeroPadding2D<double> pad(ZeroPadding2DOptions().name("pad"));
  CHECK_MESSAGE(ShapeError, pad(Variable<double>(Tensor<double>({2, 3, 4}, 0.0))), "\"pad\"");
}

// ---- Reshape ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(reshape_layer) {
  Reshape<double> r(ReshapeOptions({3, -1}));
  Variable<double> x = var({2, 6}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  Variable<double> y = r(x);
  BOOST_TEST((y.shape() == Shape{2, 3, 2}));
  BOOST_TEST(values(y) == values(x), boost::test_tools::per_element());
  BOOST_TEST((Reshape<double>(ReshapeOptions({2, 3})).compute_output_shape({5, 3, 2}) == Shape{5, 2, 3}));
  auto layer = std::make_shared<Reshape<double>>(ReshapeOptions({-1, 2}));
  check([&](const V& v) { return (*layer)(v[0]); }, {random_tensor({2, 2, 3}, 33)});
  CHECK_MESSAGE(ValueError, Reshape<double>(ReshapeOptions({-1, -1})),
                "must not contain more than one `-1`). Received: target_shape=(-1, -1)");
  CHECK_MESSAGE(ValueError, Reshape<double>(ReshapeOptions({-2, 3})), "`target_shape`");
  Reshape<double> bad(ReshapeOptions({4, -1}).name("bad_reshape"));
  const std::string m = message_of<ValueError>([&] { bad(x); });
  BOOST_TEST(contains(m, "the input size 6 is not divisible by the specified dimensions 4"), m);
  BOOST_TEST(contains(m, "bad_reshape"), m);
  CHECK_MESSAGE(ValueError, Reshape<double>(ReshapeOptions({4}))(x),
                "The total size of the tensor must be unchanged. Received: input_shape=(6,), target_shape=(4,)");
}

BOOST_AUTO_TEST_CASE(reshape_configs) {
  const json keras = keras_config("reshape", {{"target_shape", {7, 7, 1}}});
  auto parsed = Reshape<float>::from_config(keras);
  BOOST_TEST((parsed->target_shape() == Shape{7, 7, 1}));
  BOOST_TEST(parsed->get_config() == keras);
  check_round_trip(Reshape<double>(ReshapeOptions({-1, 4})));
  CHECK_MESSAGE(ValueError, Reshape<float>::from_config(json::object()), "`target_shape`");
  CHECK_MESSAGE(ValueError, Reshape<float>::from_config({{"target_shape", "7x7"}}), "`target_shape`");
  CHECK_MESSAGE(ValueError, Reshape<float>::from_config({{"target_shape", {7}}, {"shape", 1}}), "'shape'");
}

// ---- Rescaling ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rescaling_layer) {
  Rescaling<double> r(RescalingOptions(0.5).offset(-1));
  BOOST_TEST(values(r(var({3}, {2, 4, -2}))) == (std::vector<double>{0, 1, -2}), boost::test_tools::per_element());
  auto layer = std::make_shared<Rescaling<double>>(RescalingOptions(1.0 / 127.5).offset(-1));
  check([&](const V& v) { return (*layer)(v[0]); }, {random_tensor({2, 5}, 34)});
  const json keras = keras_config("rescaling", {{"scale", 0.00392156862745098}, {"offset", 0.0}});
  auto parsed = Rescaling<float>::from_config(keras);
  BOOST_TEST(parsed->scale() == 0.00392156862745098);
  BOOST_TEST(parsed->get_config() == keras);
  check_round_trip(*layer);
  BOOST_TEST(Rescaling<float>::from_config({{"scale", 2}})->offset() == 0.0);
  CHECK_MESSAGE(ValueError, Rescaling<float>::from_config(json::object()), "`scale`");
  CHECK_MESSAGE(ValueError, Rescaling<float>::from_config({{"scale", {1, 2, 3}}}), "`scale`");
  CHECK_MESSAGE(ValueError, Rescaling<float>::from_config({{"scale", 1}, {"offset", "0"}}), "`offset`");
}

// ---- pooling ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(global_max_pooling2d_layer) {
  // NCHW (1, 2, 2, 2): channel 0 is [1, 5, 3, 2], channel 1 is [-4, -1, -2, -3].
  Variable<double> x = var({1, 2, 2, 2}, {1, 5, 3, 2, -4, -1, -2, -3});
  GlobalMaxPooling2D<double> cf(GlobalPooling2DOptions().data_format("channels_first"));
  BOOST_TEST(values(cf(x)) == (std::vector<double>{5, -1}), boost::test_tools::per_element());
  GlobalMaxPooling2D<double> cf_keep(GlobalPooling2DOptions().data_format("channels_first").keepdims(true));
  Variable<double> k = cf_keep(x);
  BOOST_TEST((k.shape() == Shape{1, 2, 1, 1}));
  BOOST_TEST(values(k) == (std::vector<double>{5, -1}), boost::test_tools::per_element());
  // The same numbers read as NHWC: positions (1, 5), (3, 2), (-4, -1), (-2, -3).
  GlobalMaxPooling2D<double> cl(GlobalPooling2DOptions().data_format("channels_last").keepdims(true));
  Variable<double> kl = cl(x);
  BOOST_TEST((kl.shape() == Shape{1, 1, 1, 2}));
  BOOST_TEST(values(kl) == (std::vector<double>{3, 5}), boost::test_tools::per_element());
  for (const char* f : {"channels_first", "channels_last"})
    for (bool keep : {false, true}) {
      auto layer = std::make_shared<GlobalMaxPooling2D<double>>(GlobalPooling2DOptions().data_format(f).keepdims(keep));
      check([&](const V& v) { return (*layer)(v[0]); }, {random_tensor({2, 3, 4, 2}, 35)});
    }
}

BOOST_AUTO_TEST_CASE(global_average_pooling2d_channels_first_keepdims) {
  Variable<double> x = var({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  GlobalAveragePooling2D<double> cf(GlobalPooling2DOptions().data_format("channels_first").keepdims(true));
  Variable<double> y = cf(x);
  BOOST_TEST((y.shape() == Shape{1, 2, 1, 1}));
  BOOST_TEST(values(y) == (std::vector<double>{2.5, 25}), boost::test_tools::per_element());
  auto layer = std::make_shared<GlobalAveragePooling2D<double>>(
      GlobalPooling2DOptions().data_format("channels_first").keepdims(true));
  check([&](const V& v) { return (*layer)(v[0]); }, {random_tensor({2, 3, 2, 2}, 36)});
}

BOOST_AUTO_TEST_CASE(windowed_pooling_channels_first) {
  // NCHW (1, 1, 2, 4): [[1, 5, 0, 2], [3, 2, 8, 1]], 2x2 windows with stride 2.
  Variable<double> x = var({1, 1, 2, 4}, {1, 5, 0, 2, 3, 2, 8, 1});
  MaxPooling2D<double> mp(Pooling2DOptions(2).data_format("channels_first"));
  BOOST_TEST(values(mp(x)) == (std::vector<double>{5, 8}), boost::test_tools::per_element());
  AveragePooling2D<double> ap(Pooling2DOptions(2).data_format("channels_first"));
  BOOST_TEST(values(ap(x)) == (std::vector<double>{2.75, 2.75}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pooling_configs) {
  const json keras_mp = keras_config(
      "max_pooling2d", {{"pool_size", {2, 2}}, {"padding", "valid"}, {"strides", {2, 2}}, {"data_format", "channels_last"}});
  auto mp = MaxPooling2D<float>::from_config(keras_mp);
  BOOST_TEST(mp->get_config() == keras_mp);
  const json keras_ap = keras_config("average_pooling2d", {{"pool_size", {3, 3}},
                                                           {"padding", "same"},
                                                           {"strides", {1, 1}},
                                                           {"data_format", "channels_first"}});
  auto ap = AveragePooling2D<float>::from_config(keras_ap);
  BOOST_TEST((ap->padding() == Padding::Same));
  BOOST_TEST(ap->get_config() == keras_ap);
  // strides null: the pool size, as Keras.
  auto defaults = MaxPooling2D<float>::from_config({{"pool_size", 3}, {"strides", nullptr}});
  BOOST_TEST((defaults->strides() == std::array<int64_t, 2>{3, 3}));
  BOOST_TEST((MaxPooling2D<float>::from_config(json::object())->pool_size() == std::array<int64_t, 2>{2, 2}));
  for (bool keep : {false, true}) {
    const json g = keras_config("global_max_pooling2d", {{"data_format", "channels_last"}, {"keepdims", keep}});
    BOOST_TEST(GlobalMaxPooling2D<float>::from_config(g)->get_config() == g);
    const json a = keras_config("global_average_pooling2d", {{"data_format", "channels_first"}, {"keepdims", keep}});
    BOOST_TEST(GlobalAveragePooling2D<float>::from_config(a)->get_config() == a);
  }
  check_round_trip(MaxPooling2D<double>(Pooling2DOptions({2, 3}).strides(1).padding("same")));
  check_round_trip(AveragePooling2D<double>());
  check_round_trip(GlobalMaxPooling2D<double>(GlobalPooling2DOptions().keepdims(true)));
  check_round_trip(GlobalAveragePooling2D<double>());
  CHECK_MESSAGE(ValueError, MaxPooling2D<float>::from_config({{"pool_size", "big"}}), "`pool_size`");
  CHECK_MESSAGE(ValueError, MaxPooling2D<float>::from_config({{"pool_size", {0, 2}}}), "pool_size");
  CHECK_MESSAGE(ValueError, AveragePooling2D<float>::from_config({{"padding", "full"}}), "full");
  CHECK_MESSAGE(ValueError, GlobalMaxPooling2D<float>::from_config({{"keepdims", 1}}), "`keepdims`");
  CHECK_MESSAGE(ValueError, GlobalAveragePooling2D<float>::from_config({{"pool_size", 2}}), "'pool_size'");
}

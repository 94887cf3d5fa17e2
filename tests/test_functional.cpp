#define BOOST_TEST_MODULE functional
#include <boost/test/unit_test.hpp>

#include <random>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/layers/core_layers.h"
#include "sepconv/layers/dense.h"
#include "sepconv/layers/input_layer.h"
#include "sepconv/layers/normalization.h"
#include "sepconv/layers/separable_conv2d.h"
#include "sepconv/model/functional.h"
#include "sepconv/model/keras_json.h"
#include "sepconv/optim/sgd.h"

using namespace sepconv;
using nlohmann::json;

namespace {

template <typename T>
Tensor<T> random_tensor(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Tensor<T> t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<T>(u(rng));
  return t;
}

template <typename T>
std::shared_ptr<Dense<T>> dense(int64_t units, const std::string& name) {
  return std::make_shared<Dense<T>>(DenseOptions(units).name(name).bias_initializer("glorot_uniform"));
}

bool message_has(const std::exception& e, const std::string& what) {
  return std::string(e.what()).find(what) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_outputs_run_each_branch) {
  auto x = Input<double>({6}, "features");
  auto a = dense<double>(4, "branch_a");
  auto b = dense<double>(3, "branch_b");
  Model<double> model({x}, {(*a)(x), (*b)(x)}, "two_heads");
  BOOST_TEST(model.layers().size() == 3u);
  BOOST_TEST(model.layers()[0]->name() == "features");
  const Tensor<double> in = random_tensor<double>({5, 6}, 1);
  NoGradGuard no_grad;
  const std::vector<Variable<double>> out = model.call({Variable<double>(in)});
  BOOST_TEST_REQUIRE(out.size() == 2u);
  // Each output is its layer on the input, nothing else.
  const Tensor<double> ya = (*a)(Variable<double>(in)).value(), yb = (*b)(Variable<double>(in)).value();
  BOOST_TEST(out[0].value().shape() == Shape({5, 4}));
  BOOST_TEST(out[1].value().shape() == Shape({5, 3}));
  for (int64_t i = 0; i < ya.size(); ++i) BOOST_TEST(out[0].value()[i] == ya[i]);
  for (int64_t i = 0; i < yb.size(); ++i) BOOST_TEST(out[1].value()[i] == yb[i]);
  const std::string s = model.summary();
  BOOST_TEST(s.find("Connected to") != std::string::npos);
  BOOST_TEST(s.find("features[0][0]") != std::string::npos);
  BOOST_TEST(s.find("Total params: 49") != std::string::npos);  // 6*4+4 + 6*3+3
}

// A layer called twice shares its weights: the gradient adds both calls'.
BOOST_AUTO_TEST_CASE(shared_layer_gradients_match_central_differences) {
  auto x = Input<double>({4});
  auto shared = dense<double>(4, "shared");
  Model<double> model(x, (*shared)((*shared)(x)));
  BOOST_TEST(model.layers().size() == 2u);
  BOOST_TEST(model.nodes_of(*shared).size() == 2u);
  const Tensor<double> in = random_tensor<double>({3, 4}, 2);
  Weight<double>& kernel = shared->weight("kernel");
  Weight<double>& bias = shared->weight("bias");
  const Tensor<double> k0 = kernel.variable.value().clone(), b0 = bias.variable.value().clone();
  const Tensor<double> w = random_tensor<double>({3, 4}, 3);
  auto loss = [&](const Tensor<double>& k, const Tensor<double>& b) {
    NoGradGuard no_grad;
    kernel.variable.value().copy_from(k);
    bias.variable.value().copy_from(b);
    const Tensor<double> y = model(Variable<double>(in), false).value();
    double s = 0;
    for (int64_t i = 0; i < y.size(); ++i) s += y[i] * w[i];
    return s;
  };
  Tape<double>& tape = Tape<double>::current();
  tape.clear();
  kernel.variable.value().copy_from(k0);
  bias.variable.value().copy_from(b0);
  kernel.variable.zero_grad();
  bias.variable.zero_grad();
  Variable<double> y = model(Variable<double>(in), true);
  Variable<double> objective = sum(mul(y, Variable<double>(w)));
  tape.backward(objective);
  const Tensor<double> gk = kernel.variable.grad().clone(), gb = bias.variable.grad().clone();
  const double eps = 1e-6;
  for (int64_t i = 0; i < k0.size(); ++i) {
    Tensor<double> kp = k0.clone(), km = k0.clone();
    kp[i] += eps;
    km[i] -= eps;
    const double numeric = (loss(kp, b0) - loss(km, b0)) / (2 * eps);
    BOOST_TEST(std::fabs(gk[i] - numeric) <= 1e-7 + 1e-6 * std::fabs(numeric), "kernel[" << i << "]");
  }
  for (int64_t i = 0; i < b0.size(); ++i) {
    Tensor<double> bp = b0.clone(), bm = b0.clone();
    bp[i] += eps;
    bm[i] -= eps;
    const double numeric = (loss(k0, bp) - loss(k0, bm)) / (2 * eps);
    BOOST_TEST(std::fabs(gb[i] - numeric) <= 1e-7 + 1e-6 * std::fabs(numeric), "bias[" << i << "]");
  }
}

BOOST_AUTO_TEST_CASE(disconnected_graph_names_the_layer) {
  auto x1 = Input<float>({3}, "first");
  auto x2 = Input<float>({3}, "second");
  auto y = (*dense<float>(2, "head"))(x2);
  try {
    Model<float> m(x1, y);
    BOOST_FAIL("expected a ValueError");
  } catch (const ValueError& e) {
    BOOST_TEST(message_has(e, "Graph disconnected"));
    BOOST_TEST(message_has(e, "second"));
  }
}

BOOST_AUTO_TEST_CASE(unused_input_is_an_error) {
  auto x1 = Input<float>({3}, "used");
  auto x2 = Input<float>({3}, "unused");
  auto y = (*dense<float>(2, "head2"))(x1);
  try {
    Model<float> m({x1, x2}, {y});
    BOOST_FAIL("expected a ValueError");
  } catch (const ValueError& e) {
    BOOST_TEST(message_has(e, "unused"));
    BOOST_TEST(message_has(e, "not connected"));
  }
}

BOOST_AUTO_TEST_CASE(inputs_must_come_from_input_layers) {
  auto x = Input<float>({3});
  auto h = (*dense<float>(3, "hidden"))(x);
  auto y = (*dense<float>(2, "out"))(h);
  BOOST_CHECK_THROW(Model<float>(h, y), ValueError);
}

BOOST_AUTO_TEST_CASE(a_layer_not_owned_by_a_shared_ptr_is_refused) {
  Dense<float> local(DenseOptions(2).name("local"));
  auto x = Input<float>({3});
  try {
    local(x);
    BOOST_FAIL("expected a ValueError");
  } catch (const ValueError& e) {
    BOOST_TEST(message_has(e, "local"));
    BOOST_TEST(message_has(e, "shared_ptr"));
  }
}

BOOST_AUTO_TEST_CASE(wrong_input_shape_names_the_input_layer) {
  auto x = Input<float>({3}, "the_input");
  Model<float> m(x, (*dense<float>(2, "d_shape"))(x));
  NoGradGuard no_grad;
  try {
    m(Variable<float>(Tensor<float>({2, 4})));
    BOOST_FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    BOOST_TEST(message_has(e, "the_input"));
  }
}

// A model rebuilt from its JSON has the same layers and, given the same
// weights, the same outputs.
BOOST_AUTO_TEST_CASE(json_round_trip_rebuilds_the_same_model) {
  auto x = Input<double>({6, 6, 3}, "image");
  auto s = std::make_shared<SeparableConv2D<double>>(
      SeparableConv2DOptions(4, 3).padding("same").name("sep").bias_initializer("glorot_uniform"));
  auto bn = std::make_shared<BatchNormalization<double>>(BatchNormalizationOptions().name("bn"));
  auto act = std::make_shared<ActivationLayer<double>>(ActivationOptions("relu").name("act"));
  auto flat = std::make_shared<Flatten<double>>(FlattenOptions().name("flat"));
  auto head = dense<double>(3, "head_rt");
  Model<double> model(x, (*head)((*flat)((*act)((*bn)((*s)(x))))), "round_trip");
  const std::string text = model_to_json(model);
  const json j = json::parse(text);
  BOOST_TEST(j.at("class_name") == "Functional");
  BOOST_TEST(j.at("config").at("layers").size() == 6u);
  BOOST_TEST(j.at("config").at("layers")[1].at("inbound_nodes")[0].at("args")[0].at("config").at("keras_history") ==
             json::array({"image", 0, 0}));
  std::unique_ptr<ModelBase<double>> back = model_from_json<double>(text);
  BOOST_TEST(back->class_name() == "Functional");
  BOOST_TEST_REQUIRE(back->layers().size() == model.layers().size());
  for (size_t i = 0; i < model.layers().size(); ++i) {
    BOOST_TEST(back->layers()[i]->name() == model.layers()[i]->name());
    BOOST_TEST(back->layers()[i]->class_name() == model.layers()[i]->class_name());
    BOOST_TEST(back->layers()[i]->get_config() == model.layers()[i]->get_config());
  }
  BOOST_TEST(model_to_json(*back) == text);
  for (auto& [path, w] : model.weights()) {
    const std::string layer = path.substr(0, path.find('/'));
    back->layer(layer).weight(w->name).variable.value().copy_from(w->variable.value());
  }
  const Tensor<double> in = random_tensor<double>({2, 6, 6, 3}, 4);
  NoGradGuard no_grad;
  const Tensor<double> a = model(Variable<double>(in)).value(), b = (*back)(Variable<double>(in)).value();
  BOOST_TEST_REQUIRE(a.shape() == b.shape());
  for (int64_t i = 0; i < a.size(); ++i) BOOST_TEST(a[i] == b[i]);
}

BOOST_AUTO_TEST_CASE(bad_model_json_is_a_clear_error) {
  auto x = Input<float>({3}, "in_bad");
  Model<float> model(x, (*dense<float>(2, "dense_bad"))(x), "bad");
  const json good = model_to_config(model);
  auto expect_error = [](const json& j, const std::string& words) {
    try {
      model_from_config<float>(j);
      BOOST_ERROR("expected a ValueError mentioning " << words);
    } catch (const ValueError& e) {
      BOOST_TEST(message_has(e, words), e.what());
    }
  };
  json j = good;
  j["config"]["layers"][1]["class_name"] = "NoSuchLayer";
  expect_error(j, "NoSuchLayer");
  j = good;
  j["config"]["layers"][1]["config"]["units"] = "two";
  expect_error(j, "units");
  j = good;
  j["config"]["layers"][1]["config"]["dtype"]["config"]["name"] = "mixed_float16";
  expect_error(j, "dtype");
  j = good;
  j["config"]["layers"][1]["config"]["surprise"] = 1;
  expect_error(j, "surprise");
  j = good;
  j["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "ghost";
  expect_error(j, "ghost");
  j = good;
  j["config"].erase("output_layers");
  expect_error(j, "output_layers");
  j = good;
  j["config"]["layers"][1].erase("inbound_nodes");
  expect_error(j, "inbound_nodes");
  expect_error(json::array(), "class_name");
}

// nlohmann's dump and destructor recurse: a deep value must be refused, not dumped.
BOOST_AUTO_TEST_CASE(deeply_nested_json_is_refused) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  try {
    model_from_json<float>(R"({"class_name": "Functional", "config": {"name": "m", "layers": )" + deep + "}}");
    BOOST_FAIL("expected a ValueError");
  } catch (const ValueError& e) {
    BOOST_TEST(message_has(e, "deeper than"));
  }
}

BOOST_AUTO_TEST_CASE(fit_trains_a_functional_model) {
  auto x = Input<float>({2});
  auto h = (*std::make_shared<Dense<float>>(DenseOptions(8).activation("tanh")))(x);
  Model<float> model(x, (*std::make_shared<Dense<float>>(DenseOptions(2)))(h));
  // Two separable classes: the sign of x0 + x1.
  Tensor<float> xs({256, 2}), ys({256});
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0, 1);
  for (int64_t i = 0; i < 256; ++i) {
    xs[2 * i] = n(rng);
    xs[2 * i + 1] = n(rng);
    ys[i] = xs[2 * i] + xs[2 * i + 1] > 0 ? 1.0f : 0.0f;
  }
  model.compile(std::make_shared<SGD<float>>(SGDOptions().learning_rate(0.1)),
                json{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
  History h1 = model.fit(xs, ys, FitOptions<float>().epochs(20).batch_size(32).verbose(0));
  BOOST_TEST(h1.history.at("loss").back() < h1.history.at("loss").front());
  BOOST_TEST(model.evaluate(xs, ys).accuracy.value() > 0.95);
}

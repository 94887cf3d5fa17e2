#define BOOST_TEST_MODULE oracle_train
#include <boost/test/unit_test.hpp>

#include <boost/mpl/list.hpp>

#include "sepconv/autograd/losses.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/layers/separable_conv2d.h"
#include "sepconv/optim/optimizer.h"
#include "oracle_cases.h"

using namespace sepconv;
using Dtypes = boost::mpl::list<float, double>;

namespace {

template <typename T>
void set_weight(Layer<T>& layer, const std::string& name, const Tensor<T>& value) {
  Weight<T>& w = layer.weight(name);
  BOOST_TEST_REQUIRE((w.variable.shape() == value.shape()), name << " shape");
  w.variable.value().copy_from(value);
}

}  // namespace

// The training loop a user writes: forward, objective = loss + the layer's
// regularization losses, backward, optimizer step (constraints after it).
BOOST_AUTO_TEST_CASE_TEMPLATE(oracle_train_cases, T, Dtypes) {
  const auto cases = test::oracle_cases("train_");
  BOOST_TEST_REQUIRE(cases.size() >= 2u);
  for (const std::string& path : cases) {
    BOOST_TEST_CONTEXT(path << " in " << DTypeName<T>::value) {
      const nlohmann::json c = test::load_case(path);
      const nlohmann::json& tensors = c.at("tensors");
      auto layer = SeparableConv2D<T>::from_config(c.at("layer"));
      const Tensor<T> input = test::json_tensor<T>(tensors.at("input"));
      layer->build(input.shape());
      set_weight<T>(*layer, "depthwise_kernel", test::json_tensor<T>(tensors.at("depthwise_kernel")));
      set_weight<T>(*layer, "pointwise_kernel", test::json_tensor<T>(tensors.at("pointwise_kernel")));
      if (layer->use_bias()) set_weight<T>(*layer, "bias", test::json_tensor<T>(tensors.at("bias")));
      const LossFunction<T> loss = get_loss<T>(c.at("loss"));
      auto optimizer = make_optimizer<T>(c.at("optimizer"));

      const Variable<T> x(input);
      const Variable<T> target(test::json_tensor<T>(tensors.at("target")));
      const auto& expected_losses = c.at("expected").at("loss_per_step");
      const int64_t steps = c.at("steps").get<int64_t>();
      BOOST_TEST_REQUIRE(expected_losses.size() == size_t(steps));
      for (int64_t step = 0; step < steps; ++step) {
        for (Weight<T>& w : layer->weights()) w.variable.zero_grad();
        // The forward pass must run before regularization_loss() reads its activity penalty.
        const Variable<T> y = (*layer)(x, true);
        Variable<T> objective = add(loss(target, y), layer->regularization_loss());
        const double got = objective.value().item(), want = expected_losses[size_t(step)].get<double>();
        BOOST_TEST(std::fabs(got - want) <= test::training_tolerance<T>() * std::fabs(want),
                   "step " << step << ": objective " << got << " vs " << want);
        backward(objective);
        optimizer->apply(layer->trainable_weights());
      }
      BOOST_TEST(optimizer->iterations() == steps);
      for (const char* name : {"depthwise_kernel", "pointwise_kernel", "bias"}) {
        const std::string key = std::string("final_") + name;
        if (!c.at("expected").contains(key)) continue;
        const double err =
            test::relative_error(layer->weight(name).variable.value(), test::json_tensor<T>(c.at("expected").at(key)));
        BOOST_TEST(err <= test::training_tolerance<T>(), name << ": relative error " << err);
      }
    }
  }
}

// The constraints in these cases must actually bind, or the cases would not
// test the step order: the max-norm case starts with a pointwise column of
// norm > 1 (so the first step's projection changes it), and the non-negative
// bias ends with zeros.
BOOST_AUTO_TEST_CASE(oracle_train_constraints_bind) {
  int checked = 0;
  for (const std::string& path : test::oracle_cases("train_")) {
    const nlohmann::json c = test::load_case(path);
    const auto& layer = c.at("layer");
    if (layer.at("bias_constraint") == "non_neg") {
      const Tensor<double> bias = test::json_tensor<double>(c.at("expected").at("final_bias"));
      BOOST_TEST(*std::min_element(bias.begin(), bias.end()) == 0.0, path);
      ++checked;
    }
    const auto& pc = layer.at("pointwise_constraint");
    if (pc.is_object() && pc.at("class_name") == "MaxNorm") {
      const Tensor<double> k = test::json_tensor<double>(c.at("tensors").at("pointwise_kernel"));
      const int64_t filters = k.dim(3), rows = k.size() / filters;
      double largest = 0;
      for (int64_t f = 0; f < filters; ++f) {
        double s = 0;
        for (int64_t r = 0; r < rows; ++r) s += k[r * filters + f] * k[r * filters + f];
        largest = std::max(largest, std::sqrt(s));
      }
      BOOST_TEST(largest > pc.at("config").at("max_value").get<double>(), path);
      ++checked;
    }
  }
  BOOST_TEST(checked >= 2);
}

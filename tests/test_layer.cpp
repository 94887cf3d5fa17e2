// SeparableConv2D and its supporting registries: shapes, every validation
// error, initializers (statistics, fans, seeds), regularizers, constraints,
// activations, keras.json's data format, and configs.
#define BOOST_TEST_MODULE layer
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/layers/activations.h"
#include "sepconv/layers/constraints.h"
#include "sepconv/layers/initializers.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/regularizers.h"
#include "sepconv/layers/separable_conv2d.h"

using namespace sepconv;
using nlohmann::json;
using Opts = SeparableConv2DOptions;

namespace {

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
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Expected conv output length, written from the definitions (not geometry.cpp).
int64_t expected_length(int64_t n, int64_t k, int64_t s, int64_t d, bool same) {
  if (same) return (n + s - 1) / s;
  const int64_t eff = (k - 1) * d + 1;
  return n >= eff ? (n - eff) / s + 1 : 0;
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::filesystem::path temp_dir(const std::string& tag) {
  auto p = std::filesystem::temp_directory_path() / ("sepconv_test_layer_" + tag + "_" + std::to_string(getpid()));
  std::filesystem::create_directories(p);
  return p;
}

Tensor<double> ramp(const Shape& s, double scale = 0.1) {
  Tensor<double> t(s);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = scale * std::sin(0.37 * double(i) + 0.1);
  return t;
}

}  // namespace

// ---- shapes ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(output_shapes_for_every_geometry) {
  struct G {
    int64_t h, w, kh, kw, sh, sw, dh, dw;
  };
  for (const G& g : {G{7, 6, 3, 3, 1, 1, 1, 1}, G{9, 8, 3, 3, 2, 2, 1, 1}, G{8, 9, 4, 4, 2, 2, 1, 1},
                     G{8, 9, 3, 3, 1, 1, 2, 2}, G{7, 7, 3, 2, 2, 1, 1, 1}, G{10, 10, 4, 4, 3, 3, 1, 1},
                     G{6, 11, 1, 1, 1, 3, 1, 1}, G{9, 9, 2, 3, 1, 1, 3, 1}})
    for (const char* padding : {"valid", "same"})
      for (DataFormat df : {DataFormat::ChannelsLast, DataFormat::ChannelsFirst})
        for (int64_t dm : {1, 2}) {
          const bool same = std::string(padding) == "same";
          const int64_t oh = expected_length(g.h, g.kh, g.sh, g.dh, same);
          const int64_t ow = expected_length(g.w, g.kw, g.sw, g.dw, same);
          if (oh <= 0 || ow <= 0) continue;
          SeparableConv2D<double> layer(Opts(5, {g.kh, g.kw})
                                            .strides(g.sh, g.sw)
                                            .dilation_rate(g.dh, g.dw)
                                            .padding(padding)
                                            .data_format(df)
                                            .depth_multiplier(dm));
          const bool last = df == DataFormat::ChannelsLast;
          const Shape in = last ? Shape{2, g.h, g.w, 3} : Shape{2, 3, g.h, g.w};
          const Shape expected = last ? Shape{2, oh, ow, 5} : Shape{2, 5, oh, ow};
          BOOST_TEST_CONTEXT(layer.get_config().dump()) {
            BOOST_TEST(shape_str(layer.compute_output_shape(in)) == shape_str(expected));
            Variable<double> y = layer(Variable<double>(ramp(in)));
            BOOST_TEST(shape_str(y.shape()) == shape_str(expected));
            // Keras's weight shapes, whatever the data format.
            BOOST_TEST(shape_str(layer.depthwise_kernel().shape()) == shape_str(Shape{g.kh, g.kw, 3, dm}));
            BOOST_TEST(shape_str(layer.pointwise_kernel().shape()) == shape_str(Shape{1, 1, 3 * dm, 5}));
            BOOST_TEST(shape_str(layer.bias().shape()) == "(5,)");
          }
        }
}

BOOST_AUTO_TEST_CASE(doc_example_shapes) {
  // SeparableConv2D(3, 4, strides=3) on (4, 10, 10, 12): valid (4, 3, 3, 3), same (4, 4, 4, 3).
  SeparableConv2D<float> valid(Opts(3, 4).strides(3).activation("relu"));
  BOOST_TEST(shape_str(valid(Variable<float>(Tensor<float>({4, 10, 10, 12}, 0.5f))).shape()) == "(4, 3, 3, 3)");
  SeparableConv2D<float> same(Opts(3, 4).strides(3).padding("same").activation("relu"));
  BOOST_TEST(shape_str(same(Variable<float>(Tensor<float>({4, 10, 10, 12}, 0.5f))).shape()) == "(4, 4, 4, 3)");
  // The doc's positional 2 lands in `padding`, which Keras rejects.
  const std::string m = message_of<ValueError>([] {
    Opts::from_config({{"filters", 3}, {"kernel_size", 4}, {"strides", 3}, {"padding", 2}});
  });
  BOOST_TEST(contains(m, "padding must be 'valid' or 'same'"));
  BOOST_TEST(contains(m, "padding=2"));
}

BOOST_AUTO_TEST_CASE(channels_first_equals_transposed_channels_last) {
  const Tensor<double> x = ramp({2, 6, 5, 3}, 1.0);
  SeparableConv2D<double> last(Opts(4, 3).padding("same").strides(2).activation("softplus"));
  SeparableConv2D<double> first(
      Opts(4, 3).padding("same").strides(2).activation("softplus").data_format("channels_first"));
  Variable<double> yl = last(Variable<double>(x));
  first.build({2, 3, 6, 5});
  first.set_weights(last.get_weights());
  Variable<double> yf = first(Variable<double>(nhwc_to_nchw(x)));
  BOOST_TEST(max_abs_diff(nhwc_to_nchw(yl.value()), yf.value()) < 1e-14);
}

BOOST_AUTO_TEST_CASE(forward_matches_a_direct_loop) {
  // depthwise (c * dm + m from channel c), pointwise, bias, relu, written out.
  const int64_t n = 1, h = 5, w = 4, c = 2, dm = 2, f = 3, k = 3;
  SeparableConv2D<double> layer(Opts(f, k).depth_multiplier(dm).padding("valid").activation("relu"));
  const Tensor<double> x = ramp({n, h, w, c}, 1.0);
  layer.build(x.shape());
  const Tensor<double> dk = ramp({k, k, c, dm}, 0.7), pk = ramp({1, 1, c * dm, f}, 0.9), b = ramp({f}, 0.3);
  layer.set_weights({dk, pk, b});
  const Tensor<double> y = layer(Variable<double>(x)).value();
  const int64_t oh = h - k + 1, ow = w - k + 1;
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j)
      for (int64_t o = 0; o < f; ++o) {
        double acc = b[o];
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t m = 0; m < dm; ++m) {
            double d = 0;
            for (int64_t a = 0; a < k; ++a)
              for (int64_t e = 0; e < k; ++e)
                d += x[((i + a) * w + (j + e)) * c + ch] * dk[((a * k + e) * c + ch) * dm + m];
            acc += d * pk[(ch * dm + m) * f + o];
          }
        BOOST_TEST(std::abs(y[(i * ow + j) * f + o] - std::max(acc, 0.0)) < 1e-12);
      }
}

// ---- validation -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(constructor_errors_name_argument_and_value) {
  auto make = [](const Opts& o) { SeparableConv2D<double> layer(o); };
  for (int64_t filters : {0, -1}) {
    const std::string m = message_of<ValueError>([&] { make(Opts(filters, 3)); });
    BOOST_TEST(contains(m, "filters must be > 0"));
    BOOST_TEST(contains(m, "filters=" + std::to_string(filters)));
  }
  std::string m = message_of<ValueError>([&] { make(Opts(2, {0, 3})); });
  BOOST_TEST(contains(m, "kernel_size"));
  BOOST_TEST(contains(m, "(0, 3)"));
  m = message_of<ValueError>([&] { make(Opts(2, 3).strides(1, -2)); });
  BOOST_TEST(contains(m, "strides"));
  BOOST_TEST(contains(m, "(1, -2)"));
  m = message_of<ValueError>([&] { make(Opts(2, 3).dilation_rate(0)); });
  BOOST_TEST(contains(m, "dilation_rate"));
  BOOST_TEST(contains(m, "(0, 0)"));
  m = message_of<ValueError>([&] { make(Opts(2, 3).depth_multiplier(0)); });
  BOOST_TEST(contains(m, "depth_multiplier must be > 0"));
  BOOST_TEST(contains(m, "depth_multiplier=0"));
  m = message_of<ValueError>([&] { make(Opts(2, 3).padding("full")); });
  BOOST_TEST(contains(m, "padding must be 'valid' or 'same'"));
  BOOST_TEST(contains(m, "full"));
  m = message_of<ValueError>([&] { make(Opts(2, 3).data_format("channels_middle")); });
  BOOST_TEST(contains(m, "data_format"));
  BOOST_TEST(contains(m, "channels_middle"));
  // Checked at construction, as Keras does, before any input is seen.
  m = message_of<ValueError>([&] { make(Opts(2, 3).strides(2, 1).dilation_rate(1, 2)); });
  BOOST_TEST(contains(m, "strides > 1 with dilation_rate > 1"));
  BOOST_TEST(contains(m, "strides=(2, 1)"));
  BOOST_TEST(contains(m, "dilation_rate=(1, 2)"));
  m = message_of<ValueError>([&] { make(Opts(2, 3).dtype("float32")); });
  BOOST_TEST(contains(m, "dtype"));
  BOOST_TEST(contains(m, "float32"));
  BOOST_CHECK_NO_THROW(make(Opts(2, 3).dtype("float64")));
  BOOST_CHECK_NO_THROW(SeparableConv2D<float>(Opts(2, 3).dtype("float32")));
  // Case-insensitive, as Keras standardizes.
  BOOST_CHECK_NO_THROW(make(Opts(2, 3).padding("SAME").data_format("Channels_First")));
  // nullptr means "none" / "the default" for every identifier.
  BOOST_CHECK_NO_THROW(make(Opts(2, 3).activation(nullptr).depthwise_regularizer(nullptr).bias_constraint(nullptr)
                                .depthwise_initializer(nullptr)));
}

BOOST_AUTO_TEST_CASE(call_errors_name_the_input) {
  SeparableConv2D<double> layer(Opts(2, 3).name("sep"));
  std::string m = message_of<ShapeError>([&] { layer(Variable<double>(Tensor<double>({8, 8, 3}))); });
  BOOST_TEST(contains(m, "input must be rank 4"));
  BOOST_TEST(contains(m, "(8, 8, 3)"));
  BOOST_TEST(contains(m, "sep"));
  BOOST_TEST(!layer.built());
  layer(Variable<double>(Tensor<double>({1, 8, 8, 3})));
  m = message_of<ShapeError>([&] { layer(Variable<double>(Tensor<double>({1, 8, 8, 4}))); });
  BOOST_TEST(contains(m, "expected axis -1 of input shape to have value 3"));
  BOOST_TEST(contains(m, "(1, 8, 8, 4)"));
  m = message_of<ShapeError>([&] { layer(Variable<double>(Tensor<double>({1, 2, 3, 4, 3}))); });
  BOOST_TEST(contains(m, "input must be rank 4"));
  // Kernel larger than the input with "valid".
  SeparableConv2D<double> big(Opts(2, 5));
  m = message_of<ValueError>([&] { big(Variable<double>(Tensor<double>({1, 4, 4, 3}))); });
  BOOST_TEST(contains(m, "output size would be <= 0"));
  m = message_of<ValueError>([&] { (void)big.compute_output_shape({1, 4, 4, 3}); });
  BOOST_TEST(contains(m, "output size would be <= 0"));
  // channels_first names axis 1.
  SeparableConv2D<double> cf(Opts(2, 3).data_format("channels_first"));
  cf(Variable<double>(Tensor<double>({1, 3, 8, 8})));
  m = message_of<ShapeError>([&] { cf(Variable<double>(Tensor<double>({1, 8, 8, 3}))); });
  BOOST_TEST(contains(m, "expected axis 1"));
}

BOOST_AUTO_TEST_CASE(from_config_errors) {
  std::string m = message_of<ValueError>([] { Opts::from_config({{"filters", 2}, {"kernel_size", 3}, {"bogus", 1}}); });
  BOOST_TEST(contains(m, "bogus"));
  m = message_of<ValueError>([] { Opts::from_config({{"kernel_size", 3}}); });
  BOOST_TEST(contains(m, "filters"));
  m = message_of<ValueError>([] { Opts::from_config({{"filters", 2}, {"kernel_size", {1, 2, 3}}}); });
  BOOST_TEST(contains(m, "kernel_size"));
  m = message_of<ValueError>([] { Opts::from_config({{"filters", 2}, {"kernel_size", 3.5}}); });
  BOOST_TEST(contains(m, "kernel_size"));
  m = message_of<ValueError>([] { Opts::from_config({{"filters", 2}, {"kernel_size", 3}, {"activation", "relux"}}); });
  BOOST_TEST(contains(m, "Could not interpret activation function identifier: 'relux'"));
  BOOST_TEST(contains(m, "unknown activation identifier"));
  // Ints and pairs both accepted; floats holding ints too.
  const Opts o = Opts::from_config({{"filters", 2.0}, {"kernel_size", 3}, {"strides", {2, 1}}});
  BOOST_TEST(o.kernel_size()[0] == 3);
  BOOST_TEST(o.kernel_size()[1] == 3);
  BOOST_TEST(o.strides()[0] == 2);
  BOOST_TEST(o.strides()[1] == 1);
}

// ---- config -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(get_config_is_keras_and_round_trips) {
  SeparableConv2D<float> layer(Opts(8, {3, 2})
                                   .strides(2)
                                   .padding("same")
                                   .data_format("channels_last")
                                   .depth_multiplier(2)
                                   .activation("swish")
                                   .depthwise_initializer("he_normal")
                                   .pointwise_regularizer("l2")
                                   .activity_regularizer(json{{"class_name", "L1"}, {"config", {{"l1", 0.5}}}})
                                   .bias_constraint("non_neg")
                                   .depthwise_constraint(std::make_shared<MaxNorm>(1.5, NormAxis{0, 1, 2}))
                                   .name("my_sep"));
  const json c = layer.get_config();
  BOOST_TEST(c.at("name") == "my_sep");
  BOOST_TEST(c.at("filters") == 8);
  BOOST_TEST(c.at("kernel_size") == json({3, 2}));
  BOOST_TEST(c.at("strides") == json({2, 2}));
  BOOST_TEST(c.at("dilation_rate") == json({1, 1}));
  BOOST_TEST(c.at("padding") == "same");
  BOOST_TEST(c.at("activation") == "silu");  // Keras serializes the function's own name
  BOOST_TEST(c.at("use_bias") == true);
  BOOST_TEST(c.at("depthwise_initializer").at("class_name") == "HeNormal");
  BOOST_TEST(c.at("pointwise_initializer").at("class_name") == "GlorotUniform");
  BOOST_TEST(c.at("bias_initializer").at("class_name") == "Zeros");
  BOOST_TEST(c.at("pointwise_regularizer").at("config").at("l2") == 0.01);
  BOOST_TEST(c.at("depthwise_regularizer").is_null());
  BOOST_TEST(c.at("activity_regularizer").at("config").at("l1") == 0.5);
  BOOST_TEST(c.at("depthwise_constraint").at("config").at("axis") == json({0, 1, 2}));
  BOOST_TEST(c.at("bias_constraint").at("class_name") == "NonNeg");
  BOOST_TEST(c.at("dtype").at("config").at("name") == "float32");
  SeparableConv2D<float> again(Opts::from_config(c));
  BOOST_TEST(again.get_config() == c);
}

BOOST_AUTO_TEST_CASE(default_names_are_unique) {
  SeparableConv2D<double> a(Opts(1, 1)), b(Opts(1, 1));
  BOOST_TEST(a.name() != b.name());
  BOOST_TEST(a.name().rfind("separable_conv2d", 0) == 0);
  BOOST_TEST(b.name().rfind("separable_conv2d_", 0) == 0);
  BOOST_TEST(unique_layer_name("zz_test_prefix") == "zz_test_prefix");
  BOOST_TEST(unique_layer_name("zz_test_prefix") == "zz_test_prefix_1");
}

// ---- regularization and constraints through the layer ----------------------------------

BOOST_AUTO_TEST_CASE(regularization_loss_and_activity_penalty) {
  SeparableConv2D<double> layer(Opts(2, 3)
                                    .padding("same")
                                    .depthwise_regularizer("l2")
                                    .bias_regularizer(json{{"class_name", "L1"}, {"config", {{"l1", 0.1}}}})
                                    .activity_regularizer(std::make_shared<L2>(0.001)));
  const Tensor<double> x = ramp({4, 5, 5, 3}, 1.0);
  Variable<double> y = layer(Variable<double>(x));
  layer.bias().value().fill(-0.25);
  double dk2 = 0, y2 = 0;
  for (double v : layer.depthwise_kernel().value()) dk2 += v * v;
  for (double v : y.value()) y2 += v * v;
  const double expected = 0.01 * dk2 + 0.1 * 2 * 0.25 + 0.001 * y2 / 4;  // activity / batch size
  BOOST_TEST(std::abs(layer.regularization_loss().value().item() - expected) < 1e-13);
  // The penalty's gradient reaches the weights: d(0.01 sum w^2)/dw = 0.02 w.
  Tape<double>::current().clear();
  layer.depthwise_kernel().zero_grad();
  Variable<double> reg = layer.regularization_loss();
  backward(reg);
  const Tensor<double>& g = layer.depthwise_kernel().grad();
  for (int64_t i = 0; i < g.size(); ++i) BOOST_TEST(std::abs(g[i] - 0.02 * layer.depthwise_kernel().value()[i]) < 1e-15);
  // A non-trainable layer contributes no weight penalty.
  layer.set_trainable(false);
  BOOST_TEST(std::abs(layer.regularization_loss().value().item() - 0.001 * y2 / 4) < 1e-13);
}

BOOST_AUTO_TEST_CASE(apply_constraints_projects_weights) {
  SeparableConv2D<double> layer(Opts(2, 2).bias_constraint("non_neg").depthwise_constraint("unit_norm"));
  layer.build({1, 4, 4, 2});
  layer.set_weights({ramp({2, 2, 2, 1}, 3.0), ramp({1, 1, 2, 2}), Tensor<double>({2}, std::vector<double>{-1, 2})});
  const Tensor<double> pk_before = layer.pointwise_kernel().value().clone();
  layer.apply_constraints();
  BOOST_TEST(layer.bias().value()[0] == 0.0);
  BOOST_TEST(layer.bias().value()[1] == 2.0);
  BOOST_TEST(max_abs_diff(layer.pointwise_kernel().value(), pk_before) == 0.0);
  // unit_norm over axis 0 (kh): each (kw, in, dm) column has norm 1 (up to eps).
  const Tensor<double>& dk = layer.depthwise_kernel().value();
  for (int64_t col = 0; col < 4; ++col) {
    const double n = std::sqrt(dk[col] * dk[col] + dk[4 + col] * dk[4 + col]);
    BOOST_TEST(std::abs(n - 1.0) < 1e-6);
  }
}

BOOST_AUTO_TEST_CASE(set_weights_checks_shapes) {
  SeparableConv2D<double> layer(Opts(2, 3).use_bias(false));
  layer.build({1, 5, 5, 3});
  BOOST_TEST(layer.weights().size() == 2u);
  BOOST_CHECK_THROW(layer.bias(), ValueError);
  const std::string m = message_of<ValueError>([&] {
    layer.set_weights({Tensor<double>({3, 3, 3, 1}), Tensor<double>({1, 1, 3, 3})});
  });
  BOOST_TEST(contains(m, "pointwise_kernel"));
  BOOST_CHECK_THROW(layer.set_weights({Tensor<double>({3, 3, 3, 1})}), ValueError);
}

// ---- registries ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(regularizer_registry) {
  auto l1 = std::dynamic_pointer_cast<L1L2>(get_regularizer("l1"));
  BOOST_TEST(l1->class_name() == "L1");
  BOOST_TEST(l1->l1() == 0.01);
  auto l2 = std::dynamic_pointer_cast<L1L2>(get_regularizer("L2"));
  BOOST_TEST(l2->l2() == 0.01);
  for (const char* id : {"l1l2", "l1_l2", "L1L2"}) {  // Keras 3: L1L2() has both factors 0
    auto r = std::dynamic_pointer_cast<L1L2>(get_regularizer(id));
    BOOST_TEST(r->class_name() == "L1L2");
    BOOST_TEST(r->l1() == 0.0);
    BOOST_TEST(r->l2() == 0.0);
  }
  auto c = std::dynamic_pointer_cast<L1L2>(get_regularizer(json{{"class_name", "L1L2"}, {"config", {{"l1", 0.003}}}}));
  BOOST_TEST(c->l1() == 0.003);
  BOOST_TEST(c->l2() == 0.0);
  BOOST_TEST(get_regularizer(json(nullptr)) == nullptr);
  BOOST_TEST(get_regularizer(serialize(*c))->get_config() == c->get_config());
  std::string m = message_of<ValueError>([] { get_regularizer("l3"); });
  BOOST_TEST(contains(m, "Could not interpret regularizer identifier: l3"));
  m = message_of<ValueError>([] { get_regularizer(json{{"class_name", "L2"}, {"config", {{"l1", 0.1}}}}); });
  BOOST_TEST(contains(m, "l1"));
  m = message_of<ValueError>([] { L2(-0.1); });
  BOOST_TEST(contains(m, "l2=-0.1"));
  BOOST_CHECK_THROW(L1(std::nan("")), ValueError);
}

BOOST_AUTO_TEST_CASE(constraint_registry_and_formulas) {
  auto mn = std::dynamic_pointer_cast<MaxNorm>(get_constraint("max_norm"));
  BOOST_TEST(mn->max_value() == 2.0);
  BOOST_TEST(mn->get_config().at("axis") == 0);
  BOOST_TEST(get_constraint("MaxNorm")->class_name() == "MaxNorm");
  BOOST_TEST(get_constraint("non_neg")->class_name() == "NonNeg");
  BOOST_TEST(get_constraint("UnitNorm")->class_name() == "UnitNorm");
  auto mm = std::dynamic_pointer_cast<MinMaxNorm>(get_constraint("min_max_norm"));
  BOOST_TEST(mm->min_value() == 0.0);
  BOOST_TEST(mm->max_value() == 1.0);
  BOOST_TEST(mm->rate() == 1.0);
  BOOST_TEST(get_constraint(json(nullptr)) == nullptr);
  BOOST_TEST(contains(message_of<ValueError>([] { get_constraint("max_nrm"); }),
                      "Could not interpret constraint identifier: max_nrm"));

  // w (2, 3): column norms over axis 0 are 5 (3,4), 1 (0,1), 0.5 (0.3,0.4).
  const Tensor<double> w({2, 3}, std::vector<double>{3, 0, 0.3, 4, 1, 0.4});
  const double eps = 1e-7;
  Tensor<double> out = MaxNorm(2.0, 0)(w);
  BOOST_TEST(std::abs(out[0] - 3 * 2 / (eps + 5)) < 1e-15);
  BOOST_TEST(std::abs(out[1] - 0 * 1 / (eps + 1)) < 1e-15);
  BOOST_TEST(std::abs(out[4] - 1 * 1 / (eps + 1)) < 1e-15);
  BOOST_TEST(std::abs(out[5] - 0.4 * 0.5 / (eps + 0.5)) < 1e-15);
  // axis 1 (rows) and negative axes: row norms sqrt(9.09), sqrt(17.16).
  out = UnitNorm(-1)(w);
  BOOST_TEST(std::abs(out[0] - 3 / (eps + std::sqrt(9.09))) < 1e-15);
  BOOST_TEST(std::abs(out[3] - 4 / (eps + std::sqrt(17.16))) < 1e-15);
  // Over both axes: one norm.
  out = UnitNorm(NormAxis{0, 1})(w);
  const double all = std::sqrt(9 + 0.09 + 16 + 1 + 0.16);
  BOOST_TEST(std::abs(out[2] - 0.3 / (eps + all)) < 1e-15);
  // MinMaxNorm(0.8, 2, rate 0.5): desired = 0.5 clip(n) + 0.5 n.
  out = MinMaxNorm(0.8, 2.0, 0.5, 0)(w);
  BOOST_TEST(std::abs(out[0] - 3 * (0.5 * 2 + 0.5 * 5) / (eps + 5)) < 1e-15);
  BOOST_TEST(std::abs(out[5] - 0.4 * (0.5 * 0.8 + 0.5 * 0.5) / (eps + 0.5)) < 1e-15);
  out = NonNeg()(Tensor<double>({3}, std::vector<double>{-1, 0, 2}));
  BOOST_TEST(out[0] == 0.0);
  BOOST_TEST(out[2] == 2.0);
  // Axis outside the weight's rank.
  std::string m = message_of<ValueError>([&] { MaxNorm(2.0, 2)(w); });
  BOOST_TEST(contains(m, "axis"));
  BOOST_TEST(contains(m, "2"));
  BOOST_CHECK_THROW(UnitNorm(-3)(w), ValueError);
  BOOST_CHECK_THROW(get_constraint(json{{"class_name", "MaxNorm"}, {"config", {{"axis", "x"}}}}), ValueError);
  // Config with a list axis, as the reference cases write it.
  auto fromcfg = get_constraint(json{{"class_name", "MaxNorm"}, {"config", {{"max_value", 0.5}, {"axis", {0, 1, 2}}}}});
  BOOST_TEST(fromcfg->get_config().at("axis") == json({0, 1, 2}));
  BOOST_TEST(get_constraint(serialize(*fromcfg))->get_config() == fromcfg->get_config());
}

BOOST_AUTO_TEST_CASE(activation_registry) {
  const Tensor<double> x({3}, std::vector<double>{-2, 0.5, 3});
  auto apply = [&](const json& id) { return get_activation<double>(id)(Variable<double>(x)).value(); };
  BOOST_TEST(apply("relu")[0] == 0.0);
  BOOST_TEST(apply(json{{"module", "keras.activations"}, {"class_name", "function"}, {"config", "relu"},
                        {"registered_name", nullptr}})[0] == 0.0);
  BOOST_TEST(max_abs_diff(apply("swish"), apply("silu")) == 0.0);
  BOOST_TEST(max_abs_diff(apply("hard_swish"), apply("hard_silu")) == 0.0);
  for (const json& id : {json(nullptr), json("linear"), json("None")}) BOOST_TEST(max_abs_diff(apply(id), x) == 0.0);
  BOOST_TEST(canonical_activation_name("swish") == "silu");
  BOOST_TEST(canonical_activation_name(nullptr) == "linear");
  for (const char* id : {"relux", "Relu", ""}) {
    const std::string m = message_of<ValueError>([&] { get_activation<float>(id); });
    BOOST_TEST(contains(m, std::string("Could not interpret activation function identifier: '") + id + "'"));
    BOOST_TEST(contains(m, "unknown activation identifier"));
  }
  BOOST_CHECK_THROW(get_activation<double>(json(3)), ValueError);
  // A user function, also through the layer.
  Activation<double> twice = [](const Variable<double>& v) { return scale(v, 2.0); };
  BOOST_TEST(get_activation<double>(twice)(Variable<double>(x)).value()[2] == 6.0);
  SeparableConv2D<double> layer(Opts(1, 1).activation(twice, "twice").use_bias(false));
  layer.build({1, 1, 1, 1});
  layer.set_weights({Tensor<double>({1, 1, 1, 1}, 1.0), Tensor<double>({1, 1, 1, 1}, 1.5)});
  BOOST_TEST(layer(Variable<double>(Tensor<double>({1, 1, 1, 1}, 2.0))).value()[0] == 6.0);
  BOOST_TEST(layer.get_config().at("activation") == "twice");
  BOOST_CHECK_THROW(SeparableConv2D<float>(Opts(1, 1).activation(twice)), ValueError);
}

BOOST_AUTO_TEST_CASE(initializer_registry) {
  for (const char* id : {"glorot_uniform", "GlorotUniform"}) BOOST_TEST(get_initializer(id)->class_name() == "GlorotUniform");
  const std::pair<const char*, const char*> names[] = {
      {"glorot_normal", "GlorotNormal"}, {"he_uniform", "HeUniform"}, {"he_normal", "HeNormal"},
      {"lecun_uniform", "LecunUniform"}, {"lecun_normal", "LecunNormal"}, {"zeros", "Zeros"}, {"zero", "Zeros"},
      {"ones", "Ones"}, {"one", "Ones"}, {"constant", "Constant"}, {"random_normal", "RandomNormal"},
      {"normal", "RandomNormal"}, {"random_uniform", "RandomUniform"}, {"uniform", "RandomUniform"},
      {"truncated_normal", "TruncatedNormal"}, {"variance_scaling", "VarianceScaling"}, {"identity", "Identity"},
      {"orthogonal", "OrthogonalInitializer"}};
  for (const auto& [id, cls] : names) BOOST_TEST(get_initializer(id)->class_name() == cls);
  auto c = get_initializer(json{{"class_name", "Constant"}, {"config", {{"value", 0.25}}}});
  BOOST_TEST(((*c)({2, 2}, float{}))[3] == 0.25f);
  auto vs = get_initializer(
      json{{"class_name", "VarianceScaling"}, {"config", {{"scale", 2.0}, {"mode", "fan_out"}, {"distribution", "uniform"}, {"seed", 5}}}});
  BOOST_TEST(vs->get_config().at("mode") == "fan_out");
  BOOST_TEST(vs->get_config().at("seed") == 5);
  BOOST_TEST(get_initializer(serialize(*vs))->get_config() == vs->get_config());
  BOOST_TEST(contains(message_of<ValueError>([] { get_initializer("glorot"); }),
                      "Could not interpret initializer identifier: glorot"));
  BOOST_CHECK_THROW(VarianceScaling(0.0), ValueError);
  BOOST_CHECK_THROW(VarianceScaling(1.0, "fan_sum"), ValueError);
  BOOST_CHECK_THROW(VarianceScaling(1.0, "fan_in", "cauchy"), ValueError);
  BOOST_TEST(VarianceScaling(1.0, "fan_in", "normal").distribution() == "truncated_normal");
  BOOST_CHECK_THROW(Identity()({2, 2, 2}, double{}), ValueError);
  const Tensor<double> eye = Identity(3.0)({2, 3}, double{});
  BOOST_TEST(eye[0] == 3.0);
  BOOST_TEST(eye[4] == 3.0);
  BOOST_TEST(eye[1] == 0.0);
}

BOOST_AUTO_TEST_CASE(compute_fans_as_keras) {
  Fans f = compute_fans({});
  BOOST_TEST((f.fan_in == 1 && f.fan_out == 1));
  f = compute_fans({7});
  BOOST_TEST((f.fan_in == 7 && f.fan_out == 7));
  f = compute_fans({3, 5});
  BOOST_TEST((f.fan_in == 3 && f.fan_out == 5));
  // Depthwise kernel (kh, kw, in, dm): fan_in = kh*kw*in, fan_out = kh*kw*dm.
  f = compute_fans({3, 3, 8, 2});
  BOOST_TEST(f.fan_in == 72);
  BOOST_TEST(f.fan_out == 18);
  f = compute_fans({1, 1, 16, 4});
  BOOST_TEST((f.fan_in == 16 && f.fan_out == 4));
}

namespace {
struct Stats {
  double mean = 0, var = 0, min = 1e300, max = -1e300;
};
Stats stats(const Tensor<double>& t) {
  Stats s;
  for (double v : t) {
    s.mean += v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  }
  s.mean /= double(t.size());
  for (double v : t) s.var += (v - s.mean) * (v - s.mean);
  s.var /= double(t.size() - 1);
  return s;
}
}  // namespace

BOOST_AUTO_TEST_CASE(initializer_statistics) {
  // A depthwise kernel shape: fan_in = 5*5*64 = 1600, fan_out = 5*5*4 = 100.
  const Shape shape{5, 5, 64, 4};
  const double fan_in = 1600, fan_out = 100, n = 6400;
  auto check_uniform = [&](const Initializer& init, double limit) {
    const Stats s = stats(init(shape, double{}));
    BOOST_TEST_CONTEXT(init.class_name()) {
      BOOST_TEST(s.min >= -limit);
      BOOST_TEST(s.max <= limit);
      BOOST_TEST(s.max > 0.99 * limit);
      BOOST_TEST(s.min < -0.99 * limit);
      BOOST_TEST(std::abs(s.mean) < 4 * limit / std::sqrt(3 * n));
      BOOST_TEST(std::abs(s.var / (limit * limit / 3) - 1) < 0.06);
    }
  };
  check_uniform(GlorotUniform(1), std::sqrt(6 / (fan_in + fan_out)));
  check_uniform(HeUniform(2), std::sqrt(6 / fan_in));
  check_uniform(LecunUniform(3), std::sqrt(3 / fan_in));
  check_uniform(VarianceScaling(3.0, "fan_out", "uniform", 4), std::sqrt(9 / fan_out));
  check_uniform(RandomUniform(-0.05, 0.05, 5), 0.05);
  auto check_truncated = [&](const Initializer& init, double target_std, double bound) {
    const Stats s = stats(init(shape, double{}));
    BOOST_TEST_CONTEXT(init.class_name()) {
      // Keras's 0.8796... correction makes the truncated draw's std the target.
      BOOST_TEST(std::abs(std::sqrt(s.var) / target_std - 1) < 0.03);
      BOOST_TEST(std::abs(s.mean) < 4 * target_std / std::sqrt(n));
      BOOST_TEST(s.max <= bound);
      BOOST_TEST(s.min >= -bound);
      BOOST_TEST(s.max > 0.95 * bound);
    }
  };
  const double c = 0.87962566103423978;
  check_truncated(GlorotNormal(6), std::sqrt(2 / (fan_in + fan_out)), 2 * std::sqrt(2 / (fan_in + fan_out)) / c);
  check_truncated(HeNormal(7), std::sqrt(2 / fan_in), 2 * std::sqrt(2 / fan_in) / c);
  check_truncated(LecunNormal(8), std::sqrt(1 / fan_in), 2 * std::sqrt(1 / fan_in) / c);
  // TruncatedNormal(stddev) truncates at 2 stddev; its std is 0.8796 stddev.
  check_truncated(TruncatedNormal(0.0, 0.05, 9), 0.05 * c, 0.1);
  const Stats rn = stats(RandomNormal(1.0, 0.05, 10)(shape, double{}));
  BOOST_TEST(std::abs(rn.mean - 1.0) < 0.005);
  BOOST_TEST(std::abs(std::sqrt(rn.var) / 0.05 - 1) < 0.03);
  BOOST_TEST(rn.max > 1.0 + 2.5 * 0.05);  // untruncated: tails beyond 2 stddev exist
  const Stats un = stats(VarianceScaling(1.0, "fan_avg", "untruncated_normal", 11)(shape, double{}));
  BOOST_TEST(std::abs(std::sqrt(un.var) / std::sqrt(2 / (fan_in + fan_out)) - 1) < 0.03);
  // Orthogonal: Q^T Q = I for (rows=12, cols=5) and Q Q^T = I for (3, 8).
  for (const Shape& s : {Shape{3, 4, 5}, Shape{3, 8}}) {
    const Tensor<double> q = OrthogonalInitializer(1.0, 12)(s, double{});
    const int64_t cols = s.back(), rows = q.size() / cols;
    const bool tall = rows >= cols;
    const int64_t k = tall ? cols : rows;
    double worst = 0;
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b) {
        double dot = 0;
        for (int64_t i = 0; i < (tall ? rows : cols); ++i)
          dot += tall ? q[i * cols + a] * q[i * cols + b] : q[a * cols + i] * q[b * cols + i];
        worst = std::max(worst, std::abs(dot - (a == b ? 1.0 : 0.0)));
      }
    BOOST_TEST(worst < 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(initializer_seeds_reproduce) {
  const Shape s{3, 3, 4, 2};
  BOOST_TEST(max_abs_diff(GlorotUniform(42)(s, double{}), GlorotUniform(42)(s, double{})) == 0.0);
  BOOST_TEST(max_abs_diff(GlorotUniform(42)(s, double{}), GlorotUniform(43)(s, double{})) > 0.0);
  const GlorotUniform seeded(7);
  BOOST_TEST(max_abs_diff(seeded(s, double{}), seeded(s, double{})) == 0.0);  // Keras 3: an int seed repeats
  const GlorotUniform unseeded;
  BOOST_TEST(max_abs_diff(unseeded(s, double{}), unseeded(s, double{})) > 0.0);
  // float and double draw the same values for one seed.
  BOOST_TEST(max_abs_diff(cast<double>(HeNormal(3)(s, float{})), HeNormal(3)(s, double{})) < 1e-7);
  // Through the layer: a seeded initializer gives the same weights twice.
  SeparableConv2D<double> a(Opts(4, 3).depthwise_initializer(json{{"class_name", "GlorotUniform"}, {"config", {{"seed", 1}}}}));
  SeparableConv2D<double> b(Opts(4, 3).depthwise_initializer(json{{"class_name", "GlorotUniform"}, {"config", {{"seed", 1}}}}));
  a.build({1, 5, 5, 3});
  b.build({1, 5, 5, 3});
  BOOST_TEST(max_abs_diff(a.depthwise_kernel().value(), b.depthwise_kernel().value()) == 0.0);
  // Default bias is zeros.
  BOOST_TEST(max_abs(a.bias().value()) == 0.0);
}

// ---- keras.json ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(data_format_default_from_keras_json) {
  const auto dir = temp_dir("keras_home");
  ScopedEnv env("KERAS_HOME", dir.string());
  std::filesystem::remove(dir / "keras.json");
  BOOST_TEST(image_data_format() == "channels_last");  // no file
  BOOST_TEST(keras_config_path() == (dir / "keras.json").string());
  {
    std::ofstream(dir / "keras.json") << R"({"floatx": "float32", "image_data_format": "channels_first"})";
  }
  BOOST_TEST(image_data_format() == "channels_first");
  SeparableConv2D<double> layer(Opts(2, 3));
  BOOST_TEST((layer.data_format() == DataFormat::ChannelsFirst));
  BOOST_TEST(shape_str(layer(Variable<double>(Tensor<double>({1, 3, 6, 6}))).shape()) == "(1, 2, 4, 4)");
  // An explicit data_format wins over the file.
  BOOST_TEST((SeparableConv2D<double>(Opts(2, 3).data_format("channels_last")).data_format() == DataFormat::ChannelsLast));
  // set_image_data_format overrides the file until cleared.
  set_image_data_format("channels_last");
  BOOST_TEST(image_data_format() == "channels_last");
  set_image_data_format(std::nullopt);
  BOOST_TEST(image_data_format() == "channels_first");
  BOOST_CHECK_THROW(set_image_data_format("nhwc"), ValueError);
  {
    std::ofstream(dir / "keras.json") << R"({"epsilon": 1e-07})";
  }
  BOOST_TEST(image_data_format() == "channels_last");  // key absent
  {
    std::ofstream(dir / "keras.json") << "{not json";
  }
  std::string m = message_of<ValueError>([] { image_data_format(); });
  BOOST_TEST(contains(m, (dir / "keras.json").string()));
  {
    std::ofstream(dir / "keras.json") << R"({"image_data_format": "channels_middle"})";
  }
  m = message_of<ValueError>([] { image_data_format(); });
  BOOST_TEST(contains(m, (dir / "keras.json").string()));
  BOOST_TEST(contains(m, "channels_middle"));
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(parse_data_format_is_case_insensitive) {
  BOOST_TEST((parse_data_format("CHANNELS_FIRST") == DataFormat::ChannelsFirst));
  BOOST_TEST((parse_data_format("channels_last") == DataFormat::ChannelsLast));
  const std::string m = message_of<ValueError>([] { parse_data_format("nchw"); });
  BOOST_TEST(contains(m, "data_format=nchw"));
  BOOST_TEST(epsilon() == 1e-7);
}

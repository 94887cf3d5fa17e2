#define BOOST_TEST_MODULE model
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <string>

#include "sepconv/autograd/nn_ops.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/io/atomic_file.h"
#include "sepconv/model/checkpoint.h"
#include "sepconv/model/data_parallel.h"
#include "sepconv/layers/core_layers.h"
#include "sepconv/layers/dense.h"
#include "sepconv/layers/depthwise_conv2d.h"
#include "sepconv/layers/normalization.h"
#include "sepconv/layers/pooling.h"
#include "sepconv/layers/separable_conv2d.h"
#include "sepconv/model/sequential.h"
#include "sepconv/optim/adam.h"
#include "sepconv/optim/sgd.h"

using namespace sepconv;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {
template <typename T = float>
Tensor<T> random_tensor(const Shape& shape, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  Tensor<T> t(shape);
  for (auto& v : t) v = static_cast<T>(d(rng));
  return t;
}

const json kLogitsLoss = {{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}};

std::shared_ptr<Initializer> seeded(uint64_t s) { return std::make_shared<GlorotUniform>(s); }

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / fs::path("sepconv_test_model_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Three Gaussian blobs in 2-D, labels 0..2.
void blobs(int64_t n, unsigned seed, Tensor<float>& x, Tensor<float>& y) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.35f);
  const float centers[3][2] = {{-1.5f, 0.0f}, {1.5f, 0.5f}, {0.0f, -1.8f}};
  x = Tensor<float>({n, 2});
  y = Tensor<float>({n});
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 3);
    x[2 * i] = centers[c][0] + noise(rng);
    x[2 * i + 1] = centers[c][1] + noise(rng);
    y[i] = static_cast<float>(c);
  }
}

// 8x8 one-channel images: a horizontal bar (class 0), a vertical bar (class 1)
// or a diagonal (class 2) at a random place, plus noise.
void bars(int64_t n, unsigned seed, Tensor<float>& x, Tensor<float>& y) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pos(1, 6);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  x = Tensor<float>({n, 8, 8, 1});
  y = Tensor<float>({n});
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 3), p = pos(rng);
    float* img = x.data() + i * 64;
    for (int k = 0; k < 64; ++k) img[k] = noise(rng);
    for (int k = 0; k < 8; ++k) {
      if (c == 0) img[p * 8 + k] += 1.0f;
      if (c == 1) img[k * 8 + p] += 1.0f;
      if (c == 2) img[k * 8 + k] += 1.0f;
    }
    y[i] = static_cast<float>(c);
  }
}

// A small convolutional model exercising every stateful piece (batch-norm
// statistics, dropout state, optimizer slots), with fixed names and seeds.
std::unique_ptr<Sequential<float>> conv_model(uint64_t seed, int64_t dense_units = 3, bool extra = false) {
  auto m = std::make_unique<Sequential<float>>("conv");
  m->add(std::make_shared<RandomFlip<float>>(RandomFlipOptions("horizontal").seed(seed + 5).name("flip")));
  m->add(std::make_shared<SeparableConv2D<float>>(SeparableConv2DOptions(8, 3)
                                                      .padding("same")
                                                      .depth_multiplier(2)
                                                      .depthwise_initializer(seeded(seed))
                                                      .pointwise_initializer(seeded(seed + 1))
                                                      .name("sep")));
  m->add(std::make_shared<BatchNormalization<float>>(BatchNormalizationOptions().name("bn")));
  m->add(std::make_shared<ActivationLayer<float>>(ActivationOptions("relu").name("act")));
  m->add(std::make_shared<MaxPooling2D<float>>(Pooling2DOptions(2).name("pool")));
  m->add(std::make_shared<Flatten<float>>(FlattenOptions().name("flat")));
  m->add(std::make_shared<Dropout<float>>(DropoutOptions(0.2).seed(seed + 2).name("drop")));
  if (extra) m->add(std::make_shared<Dense<float>>(DenseOptions(16).kernel_initializer(seeded(seed + 4)).name("extra")));
  m->add(std::make_shared<Dense<float>>(DenseOptions(dense_units).kernel_initializer(seeded(seed + 3)).name("out")));
  m->build({8, 8, 1});
  return m;
}

std::vector<uint8_t> file_bytes(const std::string& path) { return read_file(path); }
}  // namespace

// ---- layers ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(dense_layer) {
  Dense<double> d(DenseOptions(4).kernel_initializer("ones").bias_initializer(json{{"class_name", "Constant"}, {"config", {{"value", 0.5}}}}));
  Variable<double> x(Tensor<double>({2, 3}, std::vector<double>{1, 2, 3, -1, -2, -3}));
  Variable<double> y = d(x);
  BOOST_TEST((y.shape() == Shape{2, 4}));
  BOOST_TEST((d.weight("kernel").variable.shape() == Shape{3, 4}));
  BOOST_TEST((d.weight("bias").variable.shape() == Shape{4}));
  BOOST_TEST(y.value()[0] == 6.5);
  BOOST_TEST(y.value()[4] == -5.5);
  BOOST_TEST((d.compute_output_shape({-1, 5, 3}) == Shape{-1, 5, 4}));
  // relu activation and no bias
  Dense<double> r(DenseOptions(2).activation("relu").use_bias(false).kernel_initializer("ones"));
  Variable<double> yr = r(x);
  BOOST_TEST(yr.value()[0] == 6.0);
  BOOST_TEST(yr.value()[2] == 0.0);
  BOOST_TEST(!r.has_weight("bias"));
  const json c = d.get_config();
  BOOST_TEST(c.at("units") == 4);
  BOOST_TEST(c.at("activation") == "linear");
  BOOST_TEST(c.at("kernel_initializer").at("class_name") == "Ones");
  // errors
  BOOST_CHECK_THROW(Dense<double>(DenseOptions(0)), ValueError);  // checked by the layer, as Keras
  BOOST_CHECK_THROW(DenseOptions(3).activation("nope"), ValueError);
  BOOST_CHECK_THROW(d(Variable<double>(Tensor<double>({2, 5}))), ShapeError);  // built for 3 inputs
  Dense<double> fresh(DenseOptions(2));
  BOOST_CHECK_THROW(fresh(Variable<double>(Tensor<double>({3}))), ShapeError);
}

BOOST_AUTO_TEST_CASE(dense_kernel_regularizer_and_constraint) {
  Dense<double> d(DenseOptions(2).kernel_initializer("ones").kernel_regularizer(json{{"class_name", "L2"}, {"config", {{"l2", 0.1}}}})
                      .kernel_constraint("non_neg"));
  d(Variable<double>(Tensor<double>({1, 3})));
  // 0.1 * sum(1^2 over 6 weights)
  BOOST_TEST(d.regularization_loss().value().item() == 0.6, boost::test_tools::tolerance(1e-12));
  d.weight("kernel").variable.value()[0] = -2.0;
  d.apply_constraints();
  BOOST_TEST(d.weight("kernel").variable.value()[0] == 0.0);
}

BOOST_AUTO_TEST_CASE(flatten_layer) {
  Flatten<double> f;
  Tensor<double> t({2, 2, 3, 4});
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<double>(i);
  Variable<double> y = f(Variable<double>(t));
  BOOST_TEST((y.shape() == Shape{2, 24}));
  BOOST_TEST(max_abs_diff(y.value(), t.reshape({2, 24})) == 0.0);
  BOOST_TEST((f.compute_output_shape({-1, 7, 7, 128}) == Shape{-1, 6272}));
  // channels_first moves the channel axis last first, as Keras does
  Flatten<double> cf(FlattenOptions().data_format("channels_first"));
  Variable<double> yc = cf(Variable<double>(nhwc_to_nchw(t)));
  BOOST_TEST(max_abs_diff(yc.value(), t.reshape({2, 24})) == 0.0);
  BOOST_CHECK_THROW(Flatten<double>(FlattenOptions().data_format("nchw")), ValueError);
}

BOOST_AUTO_TEST_CASE(pooling_layers) {
  MaxPooling2D<double> mp;  // pool 2, strides 2, valid
  BOOST_TEST((mp.compute_output_shape({-1, 28, 28, 32}) == Shape{-1, 14, 14, 32}));
  BOOST_TEST((mp.compute_output_shape({-1, 7, 7, 3}) == Shape{-1, 3, 3, 3}));
  AveragePooling2D<double> ap(Pooling2DOptions({3, 3}).strides(2).padding("same"));
  BOOST_TEST((ap.compute_output_shape({1, 7, 7, 3}) == Shape{1, 4, 4, 3}));
  BOOST_TEST(ap.get_config().at("strides") == json::array({2, 2}));
  BOOST_TEST(mp.get_config().at("padding") == "valid");
  Tensor<double> x = random_tensor<double>({2, 5, 6, 3}, 1);
  Variable<double> y = mp(Variable<double>(x));
  BOOST_TEST(max_abs_diff(y.value(), max_pool2d<double>(Variable<double>(x), {2, 2}, {2, 2}, Padding::Valid).value()) == 0.0);
  // channels_first gives the transposed result of channels_last
  MaxPooling2D<double> mpf(Pooling2DOptions(2).data_format("channels_first"));
  BOOST_TEST(max_abs_diff(mpf(Variable<double>(nhwc_to_nchw(x))).value(), nhwc_to_nchw(y.value())) == 0.0);
  GlobalAveragePooling2D<double> gap;
  Variable<double> g = gap(Variable<double>(x));
  BOOST_TEST((g.shape() == Shape{2, 3}));
  double s = 0;
  for (int64_t i = 0; i < 30; ++i) s += x[i * 3 + 1];
  BOOST_TEST(g.value()[1] == s / 30, boost::test_tools::tolerance(1e-12));
  BOOST_TEST((GlobalAveragePooling2D<double>(GlobalPooling2DOptions().keepdims(true)).compute_output_shape({2, 5, 6, 3}) ==
              Shape{2, 1, 1, 3}));
  // errors
  BOOST_CHECK_THROW(mp(Variable<double>(Tensor<double>({2, 5, 6}))), ShapeError);
  BOOST_CHECK_THROW(MaxPooling2D<double>(Pooling2DOptions(0)), ValueError);
  BOOST_CHECK_THROW(MaxPooling2D<double>(Pooling2DOptions(2).padding("full")), ValueError);
  BOOST_CHECK_THROW(mp.compute_output_shape({1, 1, 1, 3}), ValueError);
  BOOST_CHECK_THROW(gap(Variable<double>(Tensor<double>({2, 3}))), ShapeError);
}

BOOST_AUTO_TEST_CASE(dropout_layer) {
  BOOST_CHECK_THROW(Dropout<double>(DropoutOptions(1.5)), ValueError);
  BOOST_CHECK_THROW(Dropout<double>(DropoutOptions(-0.1)), ValueError);
  Dropout<double> d(DropoutOptions(0.5).seed(3));
  Tensor<double> ones({50, 40}, 1.0);
  Variable<double> x(ones);
  // inference: the identity
  BOOST_TEST(max_abs_diff(d(x, false).value(), ones) == 0.0);
  BOOST_TEST(d.generator_state() == 0u);
  Variable<double> y1 = d(x, true);
  int64_t zeros = 0;
  for (double v : y1.value()) {
    BOOST_TEST((v == 0.0 || v == 2.0));
    zeros += v == 0.0;
  }
  BOOST_TEST(std::abs(zeros - 1000) < 150);  // 2000 draws at 0.5
  BOOST_TEST(d.generator_state() == 1u);
  // each training call draws a new mask; restoring the state redraws it
  Variable<double> y2 = d(x, true);
  BOOST_TEST(max_abs_diff(y1.value(), y2.value()) > 0.0);
  d.set_generator_state(0);
  BOOST_TEST(max_abs_diff(d(x, true).value(), y1.value()) == 0.0);
  BOOST_TEST(d.get_config().at("rate") == 0.5);
}

BOOST_AUTO_TEST_CASE(random_flip_layer) {
  BOOST_CHECK_THROW(RandomFlip<double>(RandomFlipOptions("diagonal")), ValueError);
  RandomFlip<double> f(RandomFlipOptions("horizontal").seed(4));
  Tensor<double> x = random_tensor<double>({200, 3, 5, 2}, 12);
  BOOST_TEST(max_abs_diff(f(Variable<double>(x), false).value(), x) == 0.0);  // inference: identity
  BOOST_TEST(f.generator_state() == 0u);
  Tensor<double> y = f(Variable<double>(x), true).value();
  BOOST_TEST(f.generator_state() == 1u);
  const Tensor<double> mirrored = flip_images<double>(Variable<double>(x), std::vector<uint8_t>(200, 0),
                                                      std::vector<uint8_t>(200, 1)).value();
  int flipped = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const int64_t n = 30;  // values per image
    bool same = true, mirror = true;
    for (int64_t k = 0; k < n; ++k) {
      same = same && y[i * n + k] == x[i * n + k];
      mirror = mirror && y[i * n + k] == mirrored[i * n + k];
    }
    BOOST_TEST((same || mirror));
    flipped += mirror && !same;
  }
  BOOST_TEST(std::abs(flipped - 100) < 30);  // 200 fair coins
  BOOST_TEST(f.get_config().at("mode") == "horizontal");
  BOOST_CHECK_THROW(f(Variable<double>(Tensor<double>({2, 3, 4}))), ShapeError);
}

BOOST_AUTO_TEST_CASE(activation_layer) {
  ActivationLayer<double> a("relu");
  Variable<double> y = a(Variable<double>(Tensor<double>({3}, std::vector<double>{-1, 0, 2})));
  BOOST_TEST(y.value().to_vector() == (std::vector<double>{0, 0, 2}), boost::test_tools::per_element());
  BOOST_TEST(a.class_name() == "Activation");
  BOOST_TEST(a.get_config().at("activation") == "relu");
  BOOST_CHECK_THROW(ActivationLayer<double>("no_such_activation"), ValueError);
}

BOOST_AUTO_TEST_CASE(depthwise_conv2d_layer) {
  DepthwiseConv2D<double> dw(DepthwiseConv2DOptions(3).padding("same").depth_multiplier(2).bias_initializer("ones"));
  Tensor<double> x = random_tensor<double>({2, 5, 5, 3}, 4);
  Variable<double> y = dw(Variable<double>(x));
  BOOST_TEST((y.shape() == Shape{2, 5, 5, 6}));
  BOOST_TEST((dw.weight("kernel").variable.shape() == Shape{3, 3, 3, 2}));
  BOOST_TEST((dw.weight("bias").variable.shape() == Shape{6}));
  // the layer is the depthwise op plus the bias
  Variable<double> expect = depthwise_conv2d<double>(Variable<double>(x), dw.weight("kernel").variable, {1, 1}, {1, 1},
                                                     Padding::Same);
  for (int64_t i = 0; i < expect.value().size(); ++i) expect.value()[i] += 1.0;
  BOOST_TEST(max_abs_diff(y.value(), expect.value()) < 1e-12);
  BOOST_TEST((DepthwiseConv2D<double>(DepthwiseConv2DOptions({2, 3}).strides(2)).compute_output_shape({1, 7, 7, 4}) ==
              Shape{1, 3, 3, 4}));
  // channels_first
  DepthwiseConv2D<double> cf(DepthwiseConv2DOptions(3).data_format("channels_first"));
  BOOST_TEST((cf.compute_output_shape({2, 3, 5, 5}) == Shape{2, 3, 3, 3}));
  const json c = dw.get_config();
  BOOST_TEST(c.at("depth_multiplier") == 2);
  BOOST_TEST(c.at("padding") == "same");
  // errors
  BOOST_CHECK_THROW(DepthwiseConv2D<double>(DepthwiseConv2DOptions(3).depth_multiplier(0)), ValueError);
  BOOST_CHECK_THROW(DepthwiseConv2D<double>(DepthwiseConv2DOptions(0)), ValueError);
  BOOST_CHECK_THROW(DepthwiseConv2D<double>(DepthwiseConv2DOptions(3).strides(2).dilation_rate(2)), ValueError);
  BOOST_CHECK_THROW(DepthwiseConv2D<double>(DepthwiseConv2DOptions(3).padding("full")), ValueError);
  BOOST_CHECK_THROW(DepthwiseConv2D<double>(DepthwiseConv2DOptions(5)).compute_output_shape({1, 3, 3, 1}), ValueError);
  BOOST_CHECK_THROW(dw(Variable<double>(Tensor<double>({2, 5, 5, 4}))), ShapeError);  // built for 3 channels
  BOOST_CHECK_THROW(dw(Variable<double>(Tensor<double>({5, 5, 3}))), ShapeError);
}

// Issue 18: filters 2^40 in a case file ended in a bare std::bad_alloc. Now
// add_weight refuses the shape first, naming the layer, weight, shape and cap.
BOOST_AUTO_TEST_CASE(huge_weights_are_refused_before_allocating) {
  auto message = [](const std::shared_ptr<Layer<float>>& layer) -> std::string {
    Sequential<float> m("huge");
    m.add(layer);
    try {
      m.build({8, 8, 1});
    } catch (const ShapeError& e) {
      return e.what();
    }
    return "(no ShapeError)";
  };
  const std::string sep =
      message(std::make_shared<SeparableConv2D<float>>(SeparableConv2DOptions(int64_t{1} << 40, 3).name("sep")));
  BOOST_TEST(sep ==
                 "Layer 'sep' cannot create weight 'pointwise_kernel' of shape (1, 1, 1, 1099511627776): "
                 "1099511627776 elements, more than the 2147483648 (2^31) one weight may hold",
             sep);
  // Just past the cap; the depthwise kernel (3, 3, 1, dm) is created first.
  const std::string dw = message(std::make_shared<DepthwiseConv2D<float>>(
      DepthwiseConv2DOptions(3).depth_multiplier((int64_t{1} << 31) / 9 + 1).name("dw")));
  BOOST_TEST(dw.find("Layer 'dw' cannot create weight 'kernel' of shape (3, 3, 1, 238609295)") == 0, dw);
  // A shape whose element count overflows int64 names the layer too.
  auto dense = std::make_shared<Dense<float>>(DenseOptions(int64_t{1} << 62).name("d"));
  Sequential<float> m("overflow");
  m.add(std::make_shared<Flatten<float>>());
  m.add(dense);
  try {
    m.build({8, 8, 1});
    BOOST_ERROR("no ShapeError");
  } catch (const ShapeError& e) {
    BOOST_TEST(std::string(e.what()).find("Layer 'd' cannot create weight 'kernel': Shape (64, 4611686018427387904) "
                                          "has too many elements") == 0,
               e.what());
  }
}

// ---- batch normalization --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(batch_norm_training_inference_and_moving_averages) {
  BatchNormalization<double> bn;  // momentum 0.99, epsilon 1e-3
  // two channels over (N=2, H=2, W=1): channel 0 = 1, 2, 3, 6; channel 1 = 0, 0, 4, 4
  Tensor<double> xt({2, 2, 1, 2}, std::vector<double>{1, 0, 2, 0, 3, 4, 6, 4});
  Variable<double> x(xt);
  Variable<double> y = bn(x, true);
  BOOST_TEST(bn.weights().size() == 4u);
  BOOST_TEST(bn.weights()[0].name == "gamma");
  BOOST_TEST(bn.weights()[1].name == "beta");
  BOOST_TEST(!bn.weight("moving_mean").trainable);
  BOOST_TEST(!bn.weight("moving_variance").trainable);
  BOOST_TEST(bn.trainable_weights().size() == 2u);
  // batch statistics: means 3 and 2, biased variances 3.5 and 4
  BOOST_TEST(y.value()[0] == (1 - 3) / std::sqrt(3.5 + 1e-3), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(y.value()[5] == (4 - 2) / std::sqrt(4 + 1e-3), boost::test_tools::tolerance(1e-12));
  // moving = moving * 0.99 + batch * 0.01, from 0 (mean) and 1 (variance)
  BOOST_TEST(bn.moving_mean()[0] == 0.03, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(bn.moving_mean()[1] == 0.02, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(bn.moving_variance()[0] == 0.99 + 0.035, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(bn.moving_variance()[1] == 0.99 + 0.04, boost::test_tools::tolerance(1e-12));
  // a second step compounds
  bn(x, true);
  BOOST_TEST(bn.moving_mean()[0] == 0.03 * 0.99 + 0.03, boost::test_tools::tolerance(1e-12));
  // inference uses the moving statistics and changes nothing
  const double mm = bn.moving_mean()[0], mv = bn.moving_variance()[0];
  Variable<double> yi = bn(x, false);
  BOOST_TEST(yi.value()[0] == (1 - mm) / std::sqrt(mv + 1e-3), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(bn.moving_mean()[0] == mm);
  // a frozen layer runs in inference mode even when training (Keras 3)
  bn.set_trainable(false);
  Variable<double> yf = bn(x, true);
  BOOST_TEST(max_abs_diff(yf.value(), yi.value()) == 0.0);
  BOOST_TEST(bn.moving_mean()[0] == mm);
}

BOOST_AUTO_TEST_CASE(batch_norm_options_and_errors) {
  BatchNormalization<double> bn(BatchNormalizationOptions().momentum(0.5).epsilon(0.1).center(false).gamma_initializer(
      json{{"class_name", "Constant"}, {"config", {{"value", 2.0}}}}));
  Variable<double> x(Tensor<double>({4, 1}, std::vector<double>{0, 0, 2, 2}));
  Variable<double> y = bn(x, true);
  BOOST_TEST(!bn.has_weight("beta"));
  BOOST_TEST(y.value()[3] == 2.0 * 1.0 / std::sqrt(1.0 + 0.1), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(bn.moving_mean()[0] == 0.5, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(bn.get_config().at("momentum") == 0.5);
  // channels_first via axis=1 matches channels_last
  Tensor<double> t = random_tensor<double>({3, 4, 4, 2}, 9);
  BatchNormalization<double> last, first(BatchNormalizationOptions().axis(1));
  Variable<double> a = last(Variable<double>(t), true);
  Variable<double> b = first(Variable<double>(nhwc_to_nchw(t)), true);
  BOOST_TEST(max_abs_diff(nhwc_to_nchw(a.value()), b.value()) < 1e-12);
  BOOST_TEST(max_abs_diff(last.moving_variance(), first.moving_variance()) < 1e-15);
  BOOST_CHECK_THROW(BatchNormalization<double>(BatchNormalizationOptions().axis(2))(Variable<double>(t)), ValueError);
  BOOST_CHECK_THROW(BatchNormalization<double>(BatchNormalizationOptions().axis(7))(Variable<double>(t)), ValueError);
  BOOST_CHECK_THROW(BatchNormalization<double>(BatchNormalizationOptions().epsilon(-1)), ValueError);
  BOOST_CHECK_THROW(last(Variable<double>(Tensor<double>({3, 4, 4, 5}))), ShapeError);
}

// ---- Sequential -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sequential_structure_and_summary) {
  Sequential<float> m;
  m.add(std::make_shared<Dense<float>>(DenseOptions(4).name("hidden")));
  BOOST_CHECK_THROW(m.add(std::make_shared<Dense<float>>(DenseOptions(4).name("hidden"))), ValueError);
  BOOST_CHECK_THROW(m.summary(), ValueError);  // not built
  m.add(std::make_shared<BatchNormalization<float>>(BatchNormalizationOptions().name("norm")));
  m.add(std::make_shared<Dense<float>>(DenseOptions(2).name("logits")));
  m.build({3});
  BOOST_TEST((m.output_shape() == Shape{-1, 2}));
  // 3*4+4, 4 gamma + 4 beta + 4 + 4 moving, 4*2+2
  BOOST_TEST(m.count_params() == 16 + 16 + 10);
  BOOST_TEST(m.count_trainable_params() == 16 + 8 + 10);
  const std::string s = m.summary();
  BOOST_TEST(s.find("hidden (Dense)") != std::string::npos);
  BOOST_TEST(s.find("(None, 2)") != std::string::npos);
  BOOST_TEST(s.find("Total params: 42") != std::string::npos);
  BOOST_TEST(s.find("Non-trainable params: 8") != std::string::npos);
  auto w = m.weights();
  BOOST_TEST(w.size() == 8u);
  BOOST_TEST(w[0].first == "hidden/kernel");
  BOOST_TEST(w[4].first == "norm/moving_mean");
  BOOST_TEST(w[0].second->variable.name() == "hidden/kernel");
  BOOST_CHECK_THROW(m(Variable<float>(Tensor<float>({2, 4}))), ShapeError);
  BOOST_CHECK_THROW(m.fit(Tensor<float>({2, 3}), Tensor<float>({2})), ValueError);  // not compiled
  BOOST_CHECK_THROW(m.compile(std::make_shared<Adam<float>>(), "no_such_loss"), ValueError);
  BOOST_CHECK_THROW(m.compile(std::make_shared<Adam<float>>(), kLogitsLoss, {"precision"}), ValueError);
  BOOST_CHECK_THROW(m.layer("nope"), ValueError);
}

BOOST_AUTO_TEST_CASE(fit_learns_blobs_and_predict_evaluate_agree) {
  Tensor<float> x, y, xv, yv;
  blobs(600, 1, x, y);
  blobs(300, 2, xv, yv);
  Sequential<float> m("mlp");
  m.add(std::make_shared<Dense<float>>(DenseOptions(16).activation("relu").kernel_initializer(seeded(1))));
  m.add(std::make_shared<Dense<float>>(DenseOptions(3).kernel_initializer(seeded(2))));
  m.compile(std::make_shared<Adam<float>>(AdamOptions(0.01)), kLogitsLoss);
  BOOST_CHECK_THROW(m.fit(x, Tensor<float>({5})), ValueError);  // cardinality
  BOOST_CHECK_THROW(m.fit(x, y, FitOptions<float>().batch_size(0)), ValueError);
  History h = m.fit(x, y, FitOptions<float>().epochs(15).batch_size(32).validation_data(xv, yv).verbose(0).seed(5));
  BOOST_TEST(h.epochs.size() == 15u);
  BOOST_TEST(h.history.at("loss").back() < 0.5 * h.history.at("loss").front());
  BOOST_TEST(*h.epochs.back().accuracy > 0.95);
  BOOST_TEST(*h.epochs.back().val_accuracy > 0.95);
  // evaluate = the validation numbers of the last epoch
  Evaluation e = m.evaluate(xv, yv, 64);
  BOOST_TEST(e.loss == *h.epochs.back().val_loss, boost::test_tools::tolerance(1e-5));
  BOOST_TEST(*e.accuracy == *h.epochs.back().val_accuracy, boost::test_tools::tolerance(1e-9));
  // predict = the model called on the whole set, whatever the batch size
  Tensor<float> p = m.predict(xv, 7);
  BOOST_TEST((p.shape() == Shape{300, 3}));
  NoGradGuard no_grad;
  BOOST_TEST(max_abs_diff(p, m(Variable<float>(xv)).value()) < 1e-5);
  // the accuracy from predict matches evaluate's
  BOOST_TEST(sparse_categorical_accuracy<float>(yv, p) == *e.accuracy, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(loss_includes_regularization) {
  Tensor<float> x, y;
  blobs(30, 3, x, y);
  Sequential<double> m("reg");
  m.add(std::make_shared<Dense<double>>(DenseOptions(3).kernel_initializer(seeded(3)).kernel_regularizer(
      json{{"class_name", "L2"}, {"config", {{"l2", 0.05}}}})));
  m.compile(std::make_shared<SGD<double>>(SGDOptions(0.1)), kLogitsLoss);
  const Tensor<double> xd = cast<double>(x), yd = cast<double>(y);
  const double plain = sparse_categorical_crossentropy<double>(yd, Variable<double>(m.predict(xd)), true).value().item();
  double l2 = 0;
  for (double v : m.layers()[0]->weight("kernel").variable.value()) l2 += 0.05 * v * v;
  BOOST_TEST(m.evaluate(xd, yd, 30).loss == plain + l2, boost::test_tools::tolerance(1e-12));
  // and its gradient: one step on the full batch shrinks the penalty too
  const double before = m.evaluate(xd, yd, 30).loss;
  m.train_step(xd, yd);
  BOOST_TEST(m.evaluate(xd, yd, 30).loss < before);
}

BOOST_AUTO_TEST_CASE(fit_learns_bars_with_a_conv_model) {
  Tensor<float> x, y, xv, yv;
  bars(384, 11, x, y);
  bars(192, 12, xv, yv);
  auto m = conv_model(100);
  m->compile(std::make_shared<Adam<float>>(AdamOptions(0.01)), kLogitsLoss);
  History h = m->fit(x, y, FitOptions<float>().epochs(8).batch_size(32).validation_data(xv, yv).verbose(0));
  BOOST_TEST(h.epochs.back().loss < 0.5 * h.epochs.front().loss);
  BOOST_TEST(*h.epochs.back().val_accuracy > 0.9);
}

BOOST_AUTO_TEST_CASE(epoch_permutation_is_a_pure_function) {
  const std::vector<int64_t> a = epoch_permutation(100, 7, 3);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) BOOST_TEST(sorted[i] == i);
  BOOST_TEST(a == epoch_permutation(100, 7, 3));
  BOOST_TEST(a != epoch_permutation(100, 7, 4));
  BOOST_TEST(a != epoch_permutation(100, 8, 3));
}

// ---- checkpoints -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(checkpoint_round_trip) {
  TempDir dir;
  Tensor<float> x, y;
  bars(96, 21, x, y);
  auto a = conv_model(200);
  auto opt_a = std::make_shared<Adam<float>>(AdamOptions(0.01));
  a->compile(opt_a, kLogitsLoss);
  a->fit(x, y, FitOptions<float>().epochs(2).batch_size(32).verbose(0));
  const std::string path = dir.file("a.safetensors");
  save_checkpoint(path, *a, opt_a.get(), {{"epoch", "2"}});

  // the file holds each weight by its layer's place in the model (the
  // snake_case class name, de-duplicated in order), not by layer.name()
  const SafeTensorsFile f = load_safetensors(path);
  for (const char* name : {"separable_conv2d/depthwise_kernel", "separable_conv2d/pointwise_kernel",
                           "separable_conv2d/bias", "batch_normalization/gamma", "batch_normalization/moving_variance",
                           "dense/kernel", "dense/bias", "dropout/seed_generator_state",
                           "random_flip/seed_generator_state", "optimizer/iteration",
                           "optimizer/separable_conv2d/depthwise_kernel/momentum", "optimizer/dense/bias/velocity"})
    BOOST_TEST(f.tensors.count(name) == 1u, name);
  for (const auto& [name, t] : f.tensors) BOOST_TEST(name.find("sep/") == std::string::npos, name);
  BOOST_TEST(f.metadata.at("epoch") == "2");

  auto b = conv_model(999);  // other initial weights
  auto opt_b = std::make_shared<Adam<float>>(AdamOptions(0.01));
  b->compile(opt_b, kLogitsLoss);
  const SafeTensorMetadata meta = load_checkpoint(path, *b, opt_b.get());
  BOOST_TEST(meta.at("epoch") == "2");
  BOOST_TEST(opt_b->iterations() == opt_a->iterations());
  BOOST_TEST(max_abs_diff(b->predict(x), a->predict(x)) == 0.0);
  auto* da = dynamic_cast<Dropout<float>*>(&a->layer("drop"));
  auto* db = dynamic_cast<Dropout<float>*>(&b->layer("drop"));
  BOOST_TEST(da->generator_state() == db->generator_state());
  // saving the restored pair writes the same bytes
  save_checkpoint(dir.file("b.safetensors"), *b, opt_b.get(), {{"epoch", "2"}});
  BOOST_TEST((file_bytes(path) == file_bytes(dir.file("b.safetensors"))));
}

// Two identical models built in one process get different auto-generated
// layer names (separable_conv2d, then separable_conv2d_1); a checkpoint is
// keyed by place, so each loads the other's file (issue 16).
BOOST_AUTO_TEST_CASE(identically_built_models_swap_checkpoints) {
  TempDir dir;
  Tensor<float> x, y;
  bars(64, 23, x, y);
  auto build = [](uint64_t seed) {
    auto m = std::make_unique<Sequential<float>>();
    m->add(std::make_shared<SeparableConv2D<float>>(
        SeparableConv2DOptions(4, 3).padding("same").depthwise_initializer(seeded(seed))));
    m->add(std::make_shared<BatchNormalization<float>>());
    m->add(std::make_shared<Flatten<float>>());
    m->add(std::make_shared<Dropout<float>>(DropoutOptions(0.25).seed(seed)));
    m->add(std::make_shared<Dense<float>>(DenseOptions(3).kernel_initializer(seeded(seed + 1))));
    m->build({8, 8, 1});
    return m;
  };
  auto a = build(10);
  auto b = build(20);
  BOOST_TEST(a->layers()[0]->name() != b->layers()[0]->name());
  auto opt_a = std::make_shared<Adam<float>>(AdamOptions(0.01));
  auto opt_b = std::make_shared<Adam<float>>(AdamOptions(0.01));
  a->compile(opt_a, kLogitsLoss);
  b->compile(opt_b, kLogitsLoss);
  a->fit(x, y, FitOptions<float>().epochs(1).batch_size(16).verbose(0));
  BOOST_TEST(max_abs_diff(b->predict(x), a->predict(x)) > 0.0);
  save_checkpoint(dir.file("a.safetensors"), *a, opt_a.get());
  load_checkpoint(dir.file("a.safetensors"), *b, opt_b.get());
  BOOST_TEST(max_abs_diff(b->predict(x), a->predict(x)) == 0.0);
  BOOST_TEST(opt_b->iterations() == opt_a->iterations());
  // and they train on identically from there
  a->fit(x, y, FitOptions<float>().epochs(1).batch_size(16).seed(3).verbose(0));
  b->fit(x, y, FitOptions<float>().epochs(1).batch_size(16).seed(3).verbose(0));
  BOOST_TEST(max_abs_diff(b->predict(x), a->predict(x)) == 0.0);
}

BOOST_AUTO_TEST_CASE(resume_equals_uninterrupted_run) {
  TempDir dir;
  Tensor<float> x, y;
  bars(100, 31, x, y);  // 100 samples, batch 32: a partial last batch too
  auto options = [](int64_t epochs) { return FitOptions<float>().epochs(epochs).batch_size(32).seed(77).verbose(0); };

  // uninterrupted: 4 epochs, with a checkpoint after the second
  auto full = conv_model(300);
  auto opt_full = std::make_shared<Adam<float>>(AdamOptions(0.005));
  full->compile(opt_full, kLogitsLoss);
  const std::string mid = dir.file("mid.safetensors");
  full->fit(x, y, options(4).on_epoch_end([&](const EpochLogs& l) {
    if (l.epoch == 1) save_checkpoint(mid, *full, opt_full.get(), {{"epoch", "2"}});
  }));
  save_checkpoint(dir.file("full.safetensors"), *full, opt_full.get(), {{"epoch", "4"}});

  // resumed: a fresh model and optimizer, restored, then epochs 3 and 4
  auto resumed = conv_model(301);
  auto opt_res = std::make_shared<Adam<float>>(AdamOptions(0.005));
  resumed->compile(opt_res, kLogitsLoss);
  const int64_t epoch = std::stoll(load_checkpoint(mid, *resumed, opt_res.get()).at("epoch"));
  resumed->fit(x, y, options(4).initial_epoch(epoch));
  save_checkpoint(dir.file("resumed.safetensors"), *resumed, opt_res.get(), {{"epoch", "4"}});

  BOOST_TEST((file_bytes(dir.file("full.safetensors")) == file_bytes(dir.file("resumed.safetensors"))));
  BOOST_TEST(opt_res->iterations() == 16);  // 4 epochs of 4 steps
}

BOOST_AUTO_TEST_CASE(same_seed_same_checkpoint_bytes) {
  TempDir dir;
  Tensor<float> x, y;
  bars(64, 41, x, y);
  for (const char* name : {"one.safetensors", "two.safetensors"}) {
    auto m = conv_model(400);
    auto opt = std::make_shared<Adam<float>>(AdamOptions(0.01));
    m->compile(opt, kLogitsLoss);
    m->fit(x, y, FitOptions<float>().epochs(2).batch_size(16).seed(5).verbose(0));
    save_checkpoint(dir.file(name), *m, opt.get());
  }
  BOOST_TEST((file_bytes(dir.file("one.safetensors")) == file_bytes(dir.file("two.safetensors"))));
}

BOOST_AUTO_TEST_CASE(loading_refuses_missing_unexpected_and_misshapen_tensors) {
  TempDir dir;
  auto a = conv_model(500);
  auto opt = std::make_shared<Adam<float>>();
  a->compile(opt, kLogitsLoss);
  const std::string path = dir.file("a.safetensors");
  save_checkpoint(path, *a, opt.get());

  auto message_of = [&](Sequential<float>& m, Optimizer<float>* o, const std::string& file) -> std::string {
    try {
      load_checkpoint(file, m, o);
    } catch (const ValueError& e) {
      return e.what();
    }
    return "(no error)";
  };
  // a file of a smaller model: the other layers' weights are missing
  auto smaller = std::make_unique<Sequential<float>>("conv");
  smaller->add(std::make_shared<SeparableConv2D<float>>(SeparableConv2DOptions(8, 3).padding("same").depth_multiplier(2).name("sep")));
  smaller->build({8, 8, 1});
  const std::string small_path = dir.file("small.safetensors");
  save_checkpoint(small_path, *smaller, nullptr);
  const Tensor<float> before = a->layer("sep").weight("depthwise_kernel").variable.value().clone();
  const std::string missing = message_of(*a, nullptr, small_path);
  BOOST_TEST(missing.find("'batch_normalization/gamma'") != std::string::npos, missing);
  // the path once: it read "Checkpoint 'p': Checkpoint 'p' has no tensor ..."
  BOOST_TEST(missing.find(small_path) == missing.rfind(small_path), missing);
  BOOST_TEST(missing.rfind("Checkpoint '" + small_path + "' has no tensor 'batch_normalization/gamma'", 0) == 0, missing);
  // nothing was changed by the failed load (the file's separable_conv2d weights differ)
  BOOST_TEST(max_abs_diff(a->layer("sep").weight("depthwise_kernel").variable.value(), before) == 0.0);
  BOOST_TEST(max_abs_diff(smaller->layer("sep").weight("depthwise_kernel").variable.value(), before) > 0.0);
  // another output size: the shape is wrong
  auto wider = conv_model(500, 4);
  const std::string shape = message_of(*wider, nullptr, path);
  BOOST_TEST(shape.find("dense/kernel") != std::string::npos, shape);
  BOOST_TEST(shape.find("(128, 4)") != std::string::npos, shape);
  // a layer inserted before the last one: places shift, as in a Keras weight
  // file, and the inserted Dense meets the old one's kernel
  auto bigger = conv_model(500, 3, true);
  const std::string shifted = message_of(*bigger, nullptr, path);
  BOOST_TEST(shifted.find("dense/kernel") != std::string::npos, shifted);
  BOOST_TEST(shifted.find("(128, 16)") != std::string::npos, shifted);
  // the file has tensors the smaller model lacks
  const std::string extra = message_of(*smaller, nullptr, path);
  BOOST_TEST(extra.find("batch_normalization/") != std::string::npos, extra);
  // optimizer state asked for but absent
  save_checkpoint(dir.file("weights_only.safetensors"), *a, nullptr);
  try {
    load_checkpoint(dir.file("weights_only.safetensors"), *a, opt.get());
    BOOST_FAIL("expected a ValueError");
  } catch (const ValueError& e) {
    BOOST_TEST(std::string(e.what()).find("optimizer/iteration") != std::string::npos, e.what());
  }
  // weights-only load of a full checkpoint is fine
  BOOST_CHECK_NO_THROW(load_checkpoint(path, *a, nullptr));
  BOOST_CHECK_THROW(load_checkpoint(dir.file("absent.safetensors"), *a, nullptr), IOError);
}

namespace {
// Runs fn, which must throw ValueError whose message holds every one of `parts`.
template <typename F>
void check_value_error(F&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    BOOST_ERROR("no ValueError thrown; expected one mentioning " << *parts.begin());
  } catch (const ValueError& e) {
    const std::string what = e.what();
    for (const std::string& p : parts) BOOST_TEST(what.find(p) != std::string::npos, "'" << p << "' not in: " << what);
  }
}

std::unique_ptr<Sequential<float>> small_mlp() {
  auto m = std::make_unique<Sequential<float>>("mlp");
  m->add(std::make_shared<Dense<float>>(DenseOptions(8).activation("relu").kernel_initializer(seeded(11))));
  m->add(std::make_shared<Dense<float>>(DenseOptions(3).kernel_initializer(seeded(12))));
  m->compile(std::make_shared<Adam<float>>(AdamOptions(0.01)), kLogitsLoss, {"accuracy"});
  return m;
}
}  // namespace

// Keras's wording for every bad fit/evaluate/predict argument: the argument,
// what it accepts and the value received.
BOOST_AUTO_TEST_CASE(fit_rejects_bad_batch_size_epochs_and_verbose) {
  Tensor<float> x, y;
  blobs(30, 3, x, y);
  auto m = small_mlp();
  for (int64_t b : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    const std::string received = "Received: batch_size=" + std::to_string(b);
    check_value_error([&] { m->fit(x, y, FitOptions<float>().batch_size(b).verbose(0)); },
                      {"Invalid value for argument `batch_size`", "positive integer", received});
    check_value_error([&] { m->evaluate(x, y, b); }, {"`batch_size`", received});
    check_value_error([&] { m->predict(x, b); }, {"`batch_size`", received});
  }
  check_value_error([&] { m->fit(x, y, FitOptions<float>().epochs(-1).verbose(0)); },
                    {"Invalid value for argument `epochs`", ">= 0", "Received: epochs=-1"});
  check_value_error([&] { m->fit(x, y, FitOptions<float>().initial_epoch(-2).verbose(0)); },
                    {"`initial_epoch`", "Received: initial_epoch=-2"});
  check_value_error([&] { m->fit(x, y, FitOptions<float>().verbose(3)); }, {"`verbose`", "Received: verbose=3"});
  // Refused before any step: the weights are still the initial ones (a fresh
  // model with the same seeds predicts the same).
  auto fresh = small_mlp();
  const Tensor<float> p = m->predict(x), q = fresh->predict(x);
  for (int64_t i = 0; i < p.size(); ++i) BOOST_TEST(p[i] == q[i]);
}

// (n + batch_size - 1) / batch_size overflowed for a batch size near INT64_MAX:
// fit ran no step, reported a NaN loss and returned normally. Keras accepts
// such a batch size: it is one batch of all the samples per epoch, the same
// training as batch_size = n.
BOOST_AUTO_TEST_CASE(fit_with_huge_batch_size_is_one_full_batch) {
  Tensor<float> x, y;
  blobs(30, 4, x, y);
  auto reference = small_mlp();
  const History want = reference->fit(x, y, FitOptions<float>().epochs(2).batch_size(30).seed(9).verbose(0));
  for (int64_t b : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max() - 1, int64_t{31}}) {
    auto m = small_mlp();
    const History got = m->fit(x, y, FitOptions<float>().epochs(2).batch_size(b).seed(9).verbose(0));
    BOOST_TEST_REQUIRE(got.epochs.size() == 2u);
    for (size_t e = 0; e < 2; ++e) {
      BOOST_TEST(std::isfinite(got.epochs[e].loss));
      BOOST_TEST(got.epochs[e].loss == want.epochs[e].loss);  // bit for bit: the same single batch
    }
    const Tensor<float> p = m->predict(x, b), q = reference->predict(x, 30);
    for (int64_t i = 0; i < p.size(); ++i) BOOST_TEST(p[i] == q[i]);
    const Evaluation e = m->evaluate(x, y, b);
    BOOST_TEST(std::isfinite(e.loss));
    BOOST_TEST(e.loss == reference->evaluate(x, y, 30).loss);
  }
}

BOOST_AUTO_TEST_CASE(steps_per_epoch_rounds_up_without_overflow) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  BOOST_TEST(steps_per_epoch(10, 3) == 4);
  BOOST_TEST(steps_per_epoch(9, 3) == 3);
  BOOST_TEST(steps_per_epoch(0, 5) == 0);
  BOOST_TEST(steps_per_epoch(1, kMax) == 1);
  BOOST_TEST(steps_per_epoch(60000, kMax) == 1);
  BOOST_TEST(steps_per_epoch(kMax, kMax) == 1);
  BOOST_TEST(steps_per_epoch(kMax, 1) == kMax);
  BOOST_TEST(steps_per_epoch(kMax, 2) == kMax / 2 + 1);
  check_value_error([] { steps_per_epoch(10, 0); }, {"`batch_size`", "Received: batch_size=0"});
  check_value_error([] { steps_per_epoch(-1, 4); }, {"Received: n=-1"});
}

// ---- data parallelism (model/data_parallel.h) --------------------------------------

// The tree adds halves: with leaves 1e8, 1, -1e8, 1 in float (spacing 8 near
// 1e8, so 1e8 + 1 rounds to 1e8), (1e8 + 1) + (-1e8 + 1) = 1e8 - 1e8 = 0,
// where adding left to right gives ((1e8 + 1) - 1e8) + 1 = 1.
BOOST_AUTO_TEST_CASE(micro_shard_tree_adds_halves) {
  const std::vector<float> leaves = {1e8f, 1.0f, -1e8f, 1.0f};
  auto leaf = [&](int64_t lo, int64_t hi) -> const float* { return hi - lo == 1 ? &leaves[lo] : nullptr; };
  float sum = -1;
  tree_sum<float>(0, 4, 1, leaf, &sum);
  BOOST_TEST(sum == 0.0f);
  // The cover of a run is the tree's own nodes: what a process pre-sums.
  using Nodes = std::vector<std::pair<int64_t, int64_t>>;
  BOOST_TEST((tree_cover(0, 2, 4) == Nodes{{0, 2}}));
  BOOST_TEST((tree_cover(1, 3, 4) == Nodes{{1, 2}, {2, 3}}));
  BOOST_TEST((tree_cover(1, 3, 3) == Nodes{{1, 3}}));  // [0, 3) splits at 1
  BOOST_TEST((tree_cover(0, 4, 4) == Nodes{{0, 4}}));
}

// What every process of a job computes: its run's nodes from its leaves, then
// the whole tree from everyone's nodes. The bits must not depend on the
// number of processes (3 included, which splits 8 shards unevenly).
BOOST_AUTO_TEST_CASE(micro_shard_sum_is_the_same_for_any_process_count) {
  const int64_t shards = 8, n = 5;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1e4f, 1e4f);
  std::vector<float> leaves(shards * n);
  for (float& v : leaves) v = u(rng);
  auto leaf = [&](int64_t lo, int64_t hi) -> const float* { return hi - lo == 1 ? &leaves[lo * n] : nullptr; };
  std::vector<float> want(n);
  tree_sum<float>(0, shards, n, leaf, want.data());
  for (int size : {1, 2, 3, 4, 8}) {
    std::map<std::pair<int64_t, int64_t>, std::vector<float>> sent;
    for (int r = 0; r < size; ++r) {
      const auto [a, b] = rank_shards(r, size, shards);
      for (const auto& node : tree_cover(a, b, shards)) {
        std::vector<float>& buf = sent[node];
        buf.resize(n);
        tree_sum<float>(node.first, node.second, n, leaf, buf.data());
      }
    }
    std::vector<float> got(n);
    tree_sum<float>(0, shards, n, [&](int64_t lo, int64_t hi) -> const float* {
      auto it = sent.find({lo, hi});
      return it == sent.end() ? nullptr : it->second.data();
    }, got.data());
    for (int64_t i = 0; i < n; ++i) BOOST_TEST(got[i] == want[i], "processes " << size << " element " << i);
  }
}

// Each shard's gradient is weighted by its rows' share of the batch, so the
// sum is the batch's gradient up to rounding: micro-shards train (nearly) as
// one batch does, also for the short last batch (30 = 3 x 8 + 6 rows).
BOOST_AUTO_TEST_CASE(micro_shards_train_as_the_whole_batch) {
  Tensor<float> x, y;
  blobs(30, 3, x, y);
  // Plain SGD: its step is proportional to the gradient (Adam's would hide a
  // wrong weighting by normalizing it away).
  auto whole = small_mlp();
  auto parts = small_mlp();
  for (auto* m : {whole.get(), parts.get()})
    m->compile(std::make_shared<SGD<float>>(SGDOptions(0.1)), kLogitsLoss, {"accuracy"});
  const History a = whole->fit(x, y, FitOptions<float>().epochs(3).batch_size(8).seed(4).verbose(0));
  const History b = parts->fit(x, y, FitOptions<float>().epochs(3).batch_size(8).seed(4).verbose(0).micro_shards(4));
  for (size_t e = 0; e < 3; ++e) {
    BOOST_TEST(std::abs(a.epochs[e].loss - b.epochs[e].loss) < 1e-5, "epoch " << e);
    BOOST_TEST(*a.epochs[e].accuracy == *b.epochs[e].accuracy, "epoch " << e);
  }
  const Tensor<float> p = whole->predict(x), q = parts->predict(x);
  for (int64_t i = 0; i < p.size(); ++i) BOOST_TEST(std::abs(p[i] - q[i]) < 1e-4f);
}

BOOST_AUTO_TEST_CASE(micro_shards_refuses_bad_counts_and_batch_normalization) {
  Tensor<float> x, y;
  blobs(30, 3, x, y);
  auto m = small_mlp();
  for (int64_t k : {int64_t{0}, int64_t{-3}, int64_t{9}})
    check_value_error([&] { m->fit(x, y, FitOptions<float>().batch_size(8).micro_shards(k).verbose(0)); },
                      {"Invalid value for argument `micro_shards`", "Received: micro_shards=" + std::to_string(k)});
  check_value_error([&] { m->fit(x, y, FitOptions<float>().batch_size(1 << 20).micro_shards(65537).verbose(0)); },
                    {"`micro_shards`", "65536", "Received: micro_shards=65537"});
  // Per-shard batch statistics would differ from the batch's: refused, naming the layer.
  auto bn = conv_model(7);
  bn->compile(std::make_shared<Adam<float>>(AdamOptions(0.01)), kLogitsLoss);
  Tensor<float> xi({8, 8, 8, 1}), yi({8});
  check_value_error([&] { bn->fit(xi, yi, FitOptions<float>().batch_size(8).micro_shards(2).verbose(0)); },
                    {"layer 'bn'", "BatchNormalization", "micro_shards=2", "trainable"});
  // Frozen, it normalizes with its moving statistics: allowed.
  bn->layer("bn").set_trainable(false);
  BOOST_CHECK_NO_THROW(bn->fit(xi, yi, FitOptions<float>().batch_size(8).micro_shards(2).verbose(0)));
  // Shard k draws at state base + k whichever process computes it, and one
  // step moves every process's state by the shard count: 1 step x 2 shards.
  BOOST_TEST(dynamic_cast<Dropout<float>&>(bn->layer("drop")).generator_state() == 2u);
}

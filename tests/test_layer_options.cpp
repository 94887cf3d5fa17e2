// One options style for every layer (issue 14, item 4): each layer's options
// are built with chained setters and read back with getters named as Keras's
// arguments; get_config -> from_config -> get_config is the identity; and a
// bad value of every validated argument is a ValueError in the one wording
// "Invalid value for argument `<name>` of <Class> layer '<layer>': expected
// ... Received: <name>=<value>".
#define BOOST_TEST_MODULE layer_options
#include <boost/test/unit_test.hpp>

#include <array>
#include <cmath>
#include <functional>
#include <string>

#include "sepconv/sepconv.h"

using namespace sepconv;
using nlohmann::json;
using Pair = std::array<int64_t, 2>;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The message of the ValueError `make` throws ("" when it throws none).
std::string value_error_of(const std::function<void()>& make) {
  try {
    make();
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}

// `make` refuses `argument`, naming it and the value received, in the one wording.
void check_invalid(const std::function<void()>& make, const std::string& argument, const std::string& received) {
  const std::string m = value_error_of(make);
  BOOST_TEST(contains(m, "Invalid value for argument `" + argument + "`"), "argument " << argument << ": '" << m << "'");
  BOOST_TEST(contains(m, "Received: " + argument + "=" + received), "argument " << argument << ": '" << m << "'");
}

template <typename L>
void check_round_trip(const L& layer) {
  const json config = layer.get_config();
  const json again = L::from_config(config)->get_config();
  BOOST_TEST(again == config, again.dump() << " != " << config.dump());
}

// A float32 dtype given to a float64 layer is refused, as every layer's dtype argument.
template <typename L, typename O>
void check_dtype_refused(O options) {
  check_invalid([&] { L layer(options.dtype("float32")); }, "dtype", "float32");
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_one_wording) {
  // The whole message, once: argument, class, layer name, expectation, value.
  BOOST_TEST(value_error_of([] { Conv2D<float>(Conv2DOptions(8, 3).strides(0, 1).name("stem")); }) ==
             "Invalid value for argument `strides` of Conv2D layer 'stem': expected a tuple of 2 positive integers "
             "(strides must be > 0). Received: strides=(0, 1)");
  BOOST_TEST(value_error_of([] { Dense<float>(DenseOptions(0).name("fc")); }) ==
             "Invalid value for argument `units` of Dense layer 'fc': expected a positive integer (units must be > "
             "0). Received: units=0");
  // A config's wrong value reads the same way (the config reader shares the wording).
  BOOST_TEST(value_error_of([] { Dense<float>::from_config({{"units", "ten"}, {"name", "fc"}}); }) ==
             "Invalid value for argument `units` of Dense layer 'fc': expected an integer. Received: units=\"ten\"");
}

BOOST_AUTO_TEST_CASE(separable_conv2d_options) {
  const auto o = SeparableConv2DOptions(4, 3).kernel_size(3, 2).strides(2, 1).padding("same").depth_multiplier(2)
                     .data_format("channels_first").use_bias(false).name("sep").trainable(false).dtype("float64");
  BOOST_TEST((o.kernel_size() == Pair{3, 2}));
  BOOST_TEST((o.strides() == Pair{2, 1}));
  BOOST_TEST(o.padding() == "same");
  BOOST_TEST(o.depth_multiplier() == 2);
  BOOST_TEST(*o.data_format() == "channels_first");
  BOOST_TEST(!o.use_bias());
  BOOST_TEST(o.name() == "sep");
  BOOST_TEST(!o.trainable());
  BOOST_TEST(*o.dtype() == "float64");
  SeparableConv2D<double> layer(o);
  BOOST_TEST(!layer.trainable());
  check_round_trip(layer);
  using L = SeparableConv2D<double>;
  check_invalid([] { L(SeparableConv2DOptions(0, 3)); }, "filters", "0");
  check_invalid([] { L(SeparableConv2DOptions(2, Pair{0, 3})); }, "kernel_size", "(0, 3)");
  check_invalid([] { L(SeparableConv2DOptions(2, 3).strides(1, -1)); }, "strides", "(1, -1)");
  check_invalid([] { L(SeparableConv2DOptions(2, 3).dilation_rate(0)); }, "dilation_rate", "(0, 0)");
  check_invalid([] { L(SeparableConv2DOptions(2, 3).strides(2).dilation_rate(2)); }, "dilation_rate", "(2, 2)");
  check_invalid([] { L(SeparableConv2DOptions(2, 3).depth_multiplier(0)); }, "depth_multiplier", "0");
  check_invalid([] { L(SeparableConv2DOptions(2, 3).padding("full")); }, "padding", "full");
  check_invalid([] { L(SeparableConv2DOptions(2, 3).data_format("nchw")); }, "data_format", "nchw");
  check_dtype_refused<L>(SeparableConv2DOptions(2, 3));
}

BOOST_AUTO_TEST_CASE(conv2d_options) {
  const auto o = Conv2DOptions(6, 3).filters(4).kernel_size(3, 1).strides(1, 2).padding(Padding::Same)
                     .data_format(DataFormat::ChannelsLast).dilation_rate(1).groups(2).activation("relu")
                     .use_bias(false).kernel_regularizer("l2").bias_constraint("non_neg").name("c").trainable(false);
  BOOST_TEST(o.filters() == 4);
  BOOST_TEST((o.kernel_size() == Pair{3, 1}));
  BOOST_TEST((o.strides() == Pair{1, 2}));
  BOOST_TEST(o.padding() == "same");
  BOOST_TEST(*o.data_format() == "channels_last");
  BOOST_TEST((o.dilation_rate() == Pair{1, 1}));
  BOOST_TEST(o.groups() == 2);
  BOOST_TEST(o.activation() == "relu");
  BOOST_TEST(!o.use_bias());
  BOOST_TEST(o.kernel_regularizer() != nullptr);
  BOOST_TEST(o.bias_constraint() != nullptr);
  BOOST_TEST(!o.trainable());
  Conv2D<double> layer(o);
  BOOST_TEST(!layer.trainable());
  BOOST_TEST(layer.get_config().at("groups") == 2);
  check_round_trip(layer);
  using L = Conv2D<double>;
  check_invalid([] { L(Conv2DOptions(0, 3)); }, "filters", "0");
  check_invalid([] { L(Conv2DOptions(4, 0)); }, "kernel_size", "(0, 0)");
  check_invalid([] { L(Conv2DOptions(4, 3).strides(0, 1)); }, "strides", "(0, 1)");
  check_invalid([] { L(Conv2DOptions(4, 3).dilation_rate(1, 0)); }, "dilation_rate", "(1, 0)");
  check_invalid([] { L(Conv2DOptions(4, 3).strides(2).dilation_rate(2)); }, "dilation_rate", "(2, 2)");
  check_invalid([] { L(Conv2DOptions(4, 3).groups(0)); }, "groups", "0");
  check_invalid([] { L(Conv2DOptions(6, 3).groups(4)); }, "groups", "4");
  check_invalid([] { L(Conv2DOptions(4, 3).padding("full")); }, "padding", "full");
  check_invalid([] { L(Conv2DOptions(4, 3).data_format("nhwc")); }, "data_format", "nhwc");
  check_dtype_refused<L>(Conv2DOptions(4, 3));
}

BOOST_AUTO_TEST_CASE(depthwise_conv2d_options) {
  const auto o = DepthwiseConv2DOptions(3).kernel_size(Pair{3, 5}).strides(2).padding("same").depth_multiplier(3)
                     .dilation_rate(1, 1).activation("tanh").depthwise_initializer("he_normal").name("dw");
  BOOST_TEST((o.kernel_size() == Pair{3, 5}));
  BOOST_TEST((o.strides() == Pair{2, 2}));
  BOOST_TEST(o.depth_multiplier() == 3);
  BOOST_TEST(o.activation() == "tanh");
  BOOST_TEST(o.name() == "dw");
  check_round_trip(DepthwiseConv2D<double>(o));
  using L = DepthwiseConv2D<double>;
  check_invalid([] { L(DepthwiseConv2DOptions(0)); }, "kernel_size", "(0, 0)");
  check_invalid([] { L(DepthwiseConv2DOptions(3).strides(-1)); }, "strides", "(-1, -1)");
  check_invalid([] { L(DepthwiseConv2DOptions(3).dilation_rate(0, 2)); }, "dilation_rate", "(0, 2)");
  check_invalid([] { L(DepthwiseConv2DOptions(3).strides(2).dilation_rate(3)); }, "dilation_rate", "(3, 3)");
  check_invalid([] { L(DepthwiseConv2DOptions(3).depth_multiplier(0)); }, "depth_multiplier", "0");
  check_invalid([] { L(DepthwiseConv2DOptions(3).padding("causal")); }, "padding", "causal");
  check_dtype_refused<L>(DepthwiseConv2DOptions(3));
}

BOOST_AUTO_TEST_CASE(dense_options) {
  const auto o = DenseOptions(3).units(5).activation("softmax").use_bias(false).kernel_initializer("zeros")
                     .activity_regularizer("l1").name("logits").trainable(false);
  BOOST_TEST(o.units() == 5);
  BOOST_TEST(o.activation() == "softmax");
  BOOST_TEST(!o.use_bias());
  BOOST_TEST(o.activity_regularizer() != nullptr);
  Dense<double> layer(o);
  BOOST_TEST(!layer.trainable());
  check_round_trip(layer);
  check_invalid([] { Dense<double>(DenseOptions(0)); }, "units", "0");
  check_invalid([] { Dense<double>(DenseOptions(-3)); }, "units", "-3");
  check_dtype_refused<Dense<double>>(DenseOptions(3));
}

BOOST_AUTO_TEST_CASE(batch_normalization_options) {
  const auto o = BatchNormalizationOptions().axis(1).momentum(0.9).epsilon(1e-5).center(false).scale(false)
                     .moving_variance_initializer("zeros").name("bn");
  BOOST_TEST(o.axis() == 1);
  BOOST_TEST(o.momentum() == 0.9);
  BOOST_TEST(o.epsilon() == 1e-5);
  BOOST_TEST(!o.center());
  BOOST_TEST(!o.scale());
  check_round_trip(BatchNormalization<double>(o));
  using L = BatchNormalization<double>;
  check_invalid([] { L(BatchNormalizationOptions().epsilon(-1)); }, "epsilon", "-1");
  check_invalid([] { L(BatchNormalizationOptions().momentum(std::nan(""))); }, "momentum", "nan");
  check_invalid([] { L(BatchNormalizationOptions().axis(7))(Variable<double>(Tensor<double>({2, 3}))); }, "axis", "7");
  check_dtype_refused<L>(BatchNormalizationOptions());
}

BOOST_AUTO_TEST_CASE(pooling_options) {
  const auto o = Pooling2DOptions(2).pool_size(3, 2).strides(1).padding("same").data_format("channels_first").name("p");
  BOOST_TEST((o.pool_size() == Pair{3, 2}));
  BOOST_TEST((*o.strides() == Pair{1, 1}));
  BOOST_TEST(o.padding() == "same");
  BOOST_TEST(*o.data_format() == "channels_first");
  check_round_trip(MaxPooling2D<double>(o));
  check_round_trip(AveragePooling2D<double>(Pooling2DOptions(3)));
  check_invalid([] { MaxPooling2D<double>(Pooling2DOptions(0)); }, "pool_size", "(0, 0)");
  check_invalid([] { AveragePooling2D<double>(Pooling2DOptions(2).strides(0, 1)); }, "strides", "(0, 1)");
  check_invalid([] { MaxPooling2D<double>(Pooling2DOptions(2).padding("full")); }, "padding", "full");
  check_dtype_refused<MaxPooling2D<double>>(Pooling2DOptions(2));

  const auto g = GlobalPooling2DOptions().keepdims(true).data_format("channels_last").name("gap");
  BOOST_TEST(g.keepdims());
  BOOST_TEST(*g.data_format() == "channels_last");
  check_round_trip(GlobalAveragePooling2D<double>(g));
  check_round_trip(GlobalMaxPooling2D<double>(GlobalPooling2DOptions().trainable(false)));
  check_invalid([] { GlobalMaxPooling2D<double>(GlobalPooling2DOptions().data_format("x")); }, "data_format", "x");
  check_dtype_refused<GlobalAveragePooling2D<double>>(GlobalPooling2DOptions());
}

BOOST_AUTO_TEST_CASE(core_layer_options) {
  const auto f = FlattenOptions().data_format("channels_first").name("flat");
  BOOST_TEST(*f.data_format() == "channels_first");
  check_round_trip(Flatten<double>(f));
  check_invalid([] { Flatten<double>(FlattenOptions().data_format("nchw")); }, "data_format", "nchw");
  check_dtype_refused<Flatten<double>>(FlattenOptions());

  const auto d = DropoutOptions(0.1).rate(0.25).seed(7).name("drop");
  BOOST_TEST(d.rate() == 0.25);
  BOOST_TEST(*d.seed() == 7u);
  check_round_trip(Dropout<double>(d));
  check_invalid([] { Dropout<double>(DropoutOptions(1.5)); }, "rate", "1.5");
  check_invalid([] { Dropout<double>(DropoutOptions(-0.1)); }, "rate", "-0.1");
  check_dtype_refused<Dropout<double>>(DropoutOptions(0.5));

  const auto r = RandomFlipOptions().mode("vertical").seed(3).data_format("channels_last").name("flip");
  BOOST_TEST(r.mode() == "vertical");
  BOOST_TEST(*r.seed() == 3u);
  check_round_trip(RandomFlip<double>(r));
  check_invalid([] { RandomFlip<double>(RandomFlipOptions("diagonal")); }, "mode", "diagonal");
  check_dtype_refused<RandomFlip<double>>(RandomFlipOptions());

  // RandomTranslation's factors and modes keep Keras's own messages (tests/test_random_translation.cpp).
  const auto t = RandomTranslationOptions(0.1, 0.2).width_factor({-0.3, 0.1}).fill_mode("wrap").seed(4).name("shift");
  BOOST_TEST(t.width_factor().lower() == -0.3);
  BOOST_TEST(t.fill_mode() == "wrap");
  check_round_trip(RandomTranslation<double>(t));
  check_invalid([] { RandomTranslation<double>(RandomTranslationOptions(0.1, 0.1).fill_value(INFINITY)); },
                "fill_value", "inf");
  check_invalid([] { RandomTranslation<double>(RandomTranslationOptions(0.1, 0.1).data_format("nhwc")); },
                "data_format", "nhwc");
  check_dtype_refused<RandomTranslation<double>>(RandomTranslationOptions(0.1, 0.1));

  const auto a = ActivationOptions("relu").activation("gelu").name("act").trainable(false);
  BOOST_TEST(a.activation() == "gelu");
  ActivationLayer<double> act(a);
  BOOST_TEST(!act.trainable());
  check_round_trip(act);
  check_dtype_refused<ActivationLayer<double>>(ActivationOptions("relu"));
}

BOOST_AUTO_TEST_CASE(elementwise_and_reshaping_options) {
  const auto relu = ReLUOptions().max_value(6.0).negative_slope(0.1).threshold(0.5).name("r");
  BOOST_TEST(*relu.max_value() == 6.0);
  BOOST_TEST(relu.negative_slope() == 0.1);
  BOOST_TEST(relu.threshold() == 0.5);
  check_round_trip(ReLU<double>(relu));
  check_invalid([] { ReLU<double>(ReLUOptions().max_value(-1.0)); }, "max_value", "-1");
  check_invalid([] { ReLU<double>(ReLUOptions().negative_slope(-0.5)); }, "negative_slope", "-0.5");
  check_invalid([] { ReLU<double>(ReLUOptions().threshold(-2)); }, "threshold", "-2");
  check_dtype_refused<ReLU<double>>(ReLUOptions());

  const auto s = RescalingOptions(2.0).scale(1.0 / 255).offset(-1).name("rescale");
  BOOST_TEST(s.scale() == 1.0 / 255);
  BOOST_TEST(s.offset() == -1.0);
  check_round_trip(Rescaling<double>(s));
  check_dtype_refused<Rescaling<double>>(RescalingOptions(1.0));

  const auto z = ZeroPadding2DOptions().padding(1, 2).data_format("channels_first").name("pad");
  BOOST_TEST((z.padding() == Padding2D{{{1, 1}, {2, 2}}}));
  check_round_trip(ZeroPadding2D<double>(z));
  check_invalid([] { ZeroPadding2D<double>(ZeroPadding2DOptions().padding(Padding2D{{{0, -1}, {0, 0}}})); }, "padding",
                "((0, -1), (0, 0))");
  check_dtype_refused<ZeroPadding2D<double>>(ZeroPadding2DOptions());

  const auto re = ReshapeOptions({4}).target_shape({-1, 2}).name("reshape");
  BOOST_TEST((re.target_shape() == Shape{-1, 2}));
  check_round_trip(Reshape<double>(re));
  check_invalid([] { Reshape<double>(ReshapeOptions({-1, -1})); }, "target_shape", "(-1, -1)");
  check_invalid([] { Reshape<double>(ReshapeOptions({-2, 3})); }, "target_shape", "(-2, 3)");
  check_dtype_refused<Reshape<double>>(ReshapeOptions({2}));
}

BOOST_AUTO_TEST_CASE(merge_and_input_options) {
  const auto m = MergeOptions().name("join").trainable(false);
  BOOST_TEST(m.name() == "join");
  Add<double> add(m);
  BOOST_TEST(!add.trainable());
  check_round_trip(add);
  check_round_trip(Subtract<double>());
  check_round_trip(Multiply<double>());
  check_round_trip(Average<double>());
  check_round_trip(Maximum<double>());
  check_round_trip(Minimum<double>());
  check_dtype_refused<Multiply<double>>(MergeOptions());

  const auto c = ConcatenateOptions().axis(1).name("cat").trainable(false);
  BOOST_TEST(c.axis() == 1);
  Concatenate<double> cat(c);
  BOOST_TEST(!cat.trainable());
  check_round_trip(cat);
  const Variable<double> x(Tensor<double>({2, 3}));
  check_invalid([&] { Concatenate<double>(ConcatenateOptions().axis(4))({x, x}); }, "axis", "4");
  check_dtype_refused<Concatenate<double>>(ConcatenateOptions());

  check_round_trip(InputLayer<double>({4, 4, 3}, 8, "image"));
  check_invalid([] { InputLayer<double>({4, 0}); }, "shape", "(4, 0)");
  check_invalid([] { InputLayer<double>({4}, 0); }, "batch_size", "0");
}

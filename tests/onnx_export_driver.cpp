// The C++ half of tests/onnx_runtime.sh: builds one small float32 model per
// layer kind (channels_last and channels_first where the layer has a data
// format), gives every weight random values, exports it with export_onnx and
// writes, per case, <dir>/<case>.onnx, <dir>/<case>.input.f32 (a random batch)
// and <dir>/<case>.predict.f32 (our predict() on it), and a manifest
// <dir>/cases.json that onnx_runtime.js reads. It also checks that a layer with
// no export is a ValueError naming the layer and its class.
//
//   onnx_export_driver <dir>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "sepconv/sepconv.h"

using namespace sepconv;
using L = std::shared_ptr<Layer<float>>;

namespace {

std::mt19937 rng(1234);

void randomize(ModelBase<float>& model) {
  std::uniform_real_distribution<float> weight(-0.5f, 0.5f), variance(0.5f, 1.5f);
  for (auto& [path, w] : model.weights()) {
    const bool is_variance = w->name == "moving_variance";
    for (float& v : w->variable.value()) v = is_variance ? variance(rng) : weight(rng);
  }
}

void write_f32(const std::string& path, const Tensor<float>& t) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(t.data()), static_cast<std::streamsize>(t.size() * sizeof(float)));
  if (!f) throw IOError("cannot write " + path);
}

nlohmann::json run_case(const std::string& dir, const std::string& name, ModelBase<float>& model, const Shape& input) {
  randomize(model);
  Shape batch = {3};
  batch.insert(batch.end(), input.begin(), input.end());
  Tensor<float> x(batch);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : x) v = u(rng);
  Tensor<float> y = model.predict(x);
  export_onnx(model, dir + "/" + name + ".onnx");
  write_f32(dir + "/" + name + ".input.f32", x);
  write_f32(dir + "/" + name + ".predict.f32", y);
  return {{"name", name}, {"input_shape", batch}, {"output_shape", y.shape()}};
}

std::string df(bool channels_first) { return channels_first ? "channels_first" : "channels_last"; }
// The input shape of an image of h x w x c in this data format.
Shape image(int64_t h, int64_t w, int64_t c, bool cf) { return cf ? Shape{c, h, w} : Shape{h, w, c}; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: onnx_export_driver <dir>\n";
    return 2;
  }
  const std::string dir = argv[1];
  nlohmann::json cases = nlohmann::json::array();
  auto sequential = [&](const std::string& name, std::vector<L> layers, const Shape& input) {
    Sequential<float> m(std::move(layers), input);
    cases.push_back(run_case(dir, name, m, input));
  };
  for (bool cf : {false, true}) {
    const std::string f = df(cf), s = cf ? "_cf" : "_cl";
    // Odd sizes with strides 2 and "same": asymmetric pads.
    sequential("separable_conv2d" + s,
               {std::make_shared<SeparableConv2D<float>>(
                   SeparableConv2DOptions(6, 3).padding("same").strides(2).depth_multiplier(2).activation("relu").data_format(f)),
                std::make_shared<SeparableConv2D<float>>(
                    SeparableConv2DOptions(4, 2).dilation_rate(2).use_bias(false).data_format(f))},
               image(9, 9, 3, cf));
    sequential("conv2d" + s,
               {std::make_shared<Conv2D<float>>(
                    Conv2DOptions(8, {3, 3}).groups(2).dilation_rate(2).padding("same").activation("tanh").data_format(f)),
                std::make_shared<Conv2D<float>>(
                    Conv2DOptions(5, {3, 2}).strides(2, 1).activation("sigmoid").data_format(f)),
                std::make_shared<Conv2D<float>>(Conv2DOptions(3, {4, 4}).strides(3).padding("same").data_format(f))},
               image(11, 10, 4, cf));
    sequential("depthwise_conv2d" + s,
               {std::make_shared<DepthwiseConv2D<float>>(
                    DepthwiseConv2DOptions(3).depth_multiplier(2).strides(2).padding("same").activation("relu6").data_format(f)),
                std::make_shared<DepthwiseConv2D<float>>(DepthwiseConv2DOptions(2).use_bias(false).data_format(f))},
               image(9, 8, 3, cf));
    sequential("batchnorm_pooling" + s,
               {std::make_shared<BatchNormalization<float>>(BatchNormalizationOptions().axis(cf ? 1 : -1).epsilon(1e-3)),
                std::make_shared<ActivationLayer<float>>("relu"),
                std::make_shared<MaxPooling2D<float>>(Pooling2DOptions(3).strides(2).padding("same").data_format(f)),
                std::make_shared<AveragePooling2D<float>>(Pooling2DOptions(2).strides(2).padding("same").data_format(f)),
                std::make_shared<MaxPooling2D<float>>(Pooling2DOptions(2).strides(1).data_format(f)),
                std::make_shared<AveragePooling2D<float>>(Pooling2DOptions(2).strides(1).data_format(f))},
               image(13, 11, 3, cf));
    sequential("global_pooling_dense" + s,
               {std::make_shared<GlobalAveragePooling2D<float>>(GlobalPooling2DOptions().data_format(f).keepdims(true)),
                std::make_shared<Flatten<float>>(FlattenOptions().data_format(f)),
                std::make_shared<Dense<float>>(DenseOptions(7).activation("softmax"))},
               image(5, 6, 4, cf));
    sequential("global_max_pooling" + s,
               {std::make_shared<GlobalMaxPooling2D<float>>(GlobalPooling2DOptions().data_format(f)),
                std::make_shared<Dense<float>>(DenseOptions(3).use_bias(false))},
               image(5, 6, 4, cf));
    // Keras flattens in its own layout: a transposed flatten would scramble the Dense weights.
    sequential("flatten_dense" + s,
               {std::make_shared<Conv2D<float>>(Conv2DOptions(3, {2, 2}).data_format(f)),
                std::make_shared<Flatten<float>>(FlattenOptions().data_format(f)),
                std::make_shared<Dropout<float>>(DropoutOptions(0.3)),
                std::make_shared<Dense<float>>(DenseOptions(5))},
               image(5, 4, 2, cf));
    sequential("reshape_padding" + s,
               {std::make_shared<Rescaling<float>>(RescalingOptions(0.5).offset(-0.25)),
                std::make_shared<ZeroPadding2D<float>>(ZeroPadding2DOptions().padding(Padding2D{{{1, 2}, {0, 3}}}).data_format(f)),
                std::make_shared<Conv2D<float>>(Conv2DOptions(2, {2, 2}).data_format(f)),
                std::make_shared<Reshape<float>>(ReshapeOptions({-1, 2})),
                std::make_shared<Dense<float>>(DenseOptions(3).activation("elu"))},
               image(4, 5, 3, cf));
    sequential("random_identity" + s,
               {std::make_shared<RandomFlip<float>>(RandomFlipOptions("horizontal").seed(1).data_format(f)),
                std::make_shared<RandomTranslation<float>>(RandomTranslationOptions(0.2, 0.2).seed(2).data_format(f)),
                std::make_shared<Conv2D<float>>(Conv2DOptions(2, {3, 3}).data_format(f))},
               image(6, 6, 2, cf));
    {
      // Merge layers on a functional graph, and the residual main-job model's blocks.
      KerasTensor<float> in = Input<float>(image(8, 8, 3, cf));
      auto conv = [&](int64_t filters) {
        return std::make_shared<Conv2D<float>>(Conv2DOptions(filters, {3, 3}).padding("same").data_format(f));
      };
      KerasTensor<float> a = (*conv(4))(in), b = (*conv(4))(in);
      KerasTensor<float> sum = (*std::make_shared<Add<float>>())({a, b});
      KerasTensor<float> diff = (*std::make_shared<Subtract<float>>())({a, b});
      KerasTensor<float> prod = (*std::make_shared<Multiply<float>>())({sum, diff});
      KerasTensor<float> mean = (*std::make_shared<Average<float>>())({prod, a, b});
      KerasTensor<float> hi = (*std::make_shared<Maximum<float>>())({mean, a});
      KerasTensor<float> lo = (*std::make_shared<Minimum<float>>())({mean, b});
      KerasTensor<float> cat = (*std::make_shared<Concatenate<float>>(ConcatenateOptions().axis(cf ? 1 : -1)))({hi, lo, in});
      KerasTensor<float> bn = (*std::make_shared<BatchNormalization<float>>(BatchNormalizationOptions().axis(cf ? 1 : -1)))(cat);
      KerasTensor<float> r = (*std::make_shared<ReLU<float>>(ReLUOptions().max_value(6.0)))(bn);
      KerasTensor<float> d = (*std::make_shared<DepthwiseConv2D<float>>(DepthwiseConv2DOptions(3).padding("same").data_format(f)))(r);
      KerasTensor<float> res = (*std::make_shared<Add<float>>())({d, r});
      // Concatenate on a spatial axis too (height: 1 channels_last, 2 channels_first).
      KerasTensor<float> tall = (*std::make_shared<Concatenate<float>>(ConcatenateOptions().axis(cf ? 2 : 1)))({res, res});
      KerasTensor<float> g = (*std::make_shared<GlobalAveragePooling2D<float>>(GlobalPooling2DOptions().data_format(f)))(tall);
      KerasTensor<float> out = (*std::make_shared<Dense<float>>(DenseOptions(4)))(g);
      Model<float> m(in, out);
      cases.push_back(run_case(dir, "functional_merge" + s, m, image(8, 8, 3, cf)));
    }
  }
  // Keras's activation functions, each after a Dense (values on both sides of 0).
  for (const char* activation : {"relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus", "softsign",
                                 "sigmoid", "hard_sigmoid", "hard_silu", "tanh", "softmax", "log_softmax", "mish",
                                 "exponential", "linear", "celu", "hard_tanh", "tanh_shrink", "log_sigmoid",
                                 "squareplus", "soft_shrink", "hard_shrink", "sparse_plus"}) {
    sequential(std::string("activation_") + activation,
               {std::make_shared<Dense<float>>(DenseOptions(16).activation("linear")),
                std::make_shared<ActivationLayer<float>>(activation)},
               {6});
  }
  // ReLU with a negative slope, and a 4-D Activation on channels_last values (stays NCHW inside).
  sequential("relu_layer",
             {std::make_shared<Conv2D<float>>(Conv2DOptions(3, {1, 1})),
              std::make_shared<ReLU<float>>(ReLUOptions().negative_slope(0.1).max_value(0.4)),
              std::make_shared<ActivationLayer<float>>("softmax")},
             {3, 3, 2});

  // A layer with no export: ValueError naming the layer and its class.
  {
    Sequential<float> m({std::make_shared<Dense<float>>(DenseOptions(2).name("dense_t")),
                         std::make_shared<ReLU<float>>(ReLUOptions().threshold(0.5).name("relu_t"))},
                        Shape{3});
    try {
      export_onnx(m, dir + "/unexportable.onnx");
      std::cerr << "FAIL: exporting a ReLU with a threshold did not throw\n";
      return 1;
    } catch (const ValueError& e) {
      const std::string what = e.what();
      if (what.find("'relu_t'") == std::string::npos || what.find("ReLU") == std::string::npos ||
          what.find("threshold") == std::string::npos) {
        std::cerr << "FAIL: the error does not name the layer, class and argument: " << what << "\n";
        return 1;
      }
      std::cout << "unexportable layer: " << what << "\n";
    }
  }
  std::ofstream(dir + "/cases.json") << cases.dump(1) << "\n";
  std::cout << cases.size() << " cases written to " << dir << "\n";
  return 0;
}

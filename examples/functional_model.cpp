// The functional API: a MobileNetV2 inverted-residual block and an Xception
// block (a strided 1x1 shortcut and a concatenated pooling branch) in one
// model; summarized, trained a few steps, saved as Keras JSON and rebuilt.
//
//   build/bin/functional_model [--json model.json]
//
// The JSON is the config.json of a Keras 3 .keras file:
// keras.models.model_from_json(text) rebuilds the same architecture.
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include <fmt/format.h>

#include "sepconv/io/atomic_file.h"
#include "sepconv/layers/conv2d.h"
#include "sepconv/layers/core_layers.h"
#include "sepconv/layers/dense.h"
#include "sepconv/layers/depthwise_conv2d.h"
#include "sepconv/layers/input_layer.h"
#include "sepconv/layers/merge.h"
#include "sepconv/layers/normalization.h"
#include "sepconv/layers/pooling.h"
#include "sepconv/layers/relu.h"
#include "sepconv/layers/separable_conv2d.h"
#include "sepconv/model/functional.h"
#include "sepconv/model/keras_json.h"
#include "sepconv/optim/adam.h"

using namespace sepconv;

namespace {

template <typename L, typename O>
std::shared_ptr<Layer<float>> make(const O& options) {
  return std::make_shared<L>(options);
}

std::shared_ptr<Layer<float>> bn() { return std::make_shared<BatchNormalization<float>>(); }

// MobileNetV2: expand with a 1x1, filter depthwise, project back; add the input.
KerasTensor<float> inverted_residual(const KerasTensor<float>& x, int64_t channels, int64_t expansion) {
  auto relu6 = [] { return make<ReLU<float>>(ReLUOptions().max_value(6)); };
  KerasTensor<float> h = (*relu6())((*bn())((*make<Conv2D<float>>(Conv2DOptions(channels * expansion, 1).use_bias(false)))(x)));
  h = (*relu6())((*bn())((*make<DepthwiseConv2D<float>>(DepthwiseConv2DOptions(3).padding("same").use_bias(false)))(h)));
  h = (*bn())((*make<Conv2D<float>>(Conv2DOptions(channels, 1).use_bias(false)))(h));
  return (*std::make_shared<Add<float>>())({x, h});
}

// Xception: two separable convolutions and a strided max pool, added to a
// strided 1x1 shortcut of the input; beside it an average-pooled branch,
// concatenated on the channel axis.
KerasTensor<float> xception_block(const KerasTensor<float>& x, int64_t filters) {
  KerasTensor<float> a = (*make<SeparableConv2D<float>>(SeparableConv2DOptions(filters, 3).padding("same").use_bias(false)))(x);
  a = (*std::make_shared<ActivationLayer<float>>("relu"))((*bn())(a));
  a = (*bn())((*make<SeparableConv2D<float>>(SeparableConv2DOptions(filters, 3).padding("same").use_bias(false)))(a));
  a = (*make<MaxPooling2D<float>>(Pooling2DOptions(3).strides(2).padding("same")))(a);
  KerasTensor<float> s = (*bn())((*make<Conv2D<float>>(Conv2DOptions(filters, 1).strides(2).padding("same").use_bias(false)))(x));
  KerasTensor<float> joined = (*std::make_shared<Add<float>>())({a, s});
  KerasTensor<float> pooled = (*make<AveragePooling2D<float>>(Pooling2DOptions(3).strides(2).padding("same")))(x);
  return (*std::make_shared<Concatenate<float>>())({joined, pooled});
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: functional_model [--json model.json]\n");
      return 2;
    }
  }

  KerasTensor<float> input = Input<float>({16, 16, 3}, "image");
  KerasTensor<float> x = (*bn())((*make<Conv2D<float>>(Conv2DOptions(8, 3).strides(2).padding("same").use_bias(false)))(input));
  x = (*make<ReLU<float>>(ReLUOptions().max_value(6)))(x);  // the stem: 8x8x8
  x = inverted_residual(x, 8, 4);                             // 8x8x8
  x = xception_block(x, 16);                                  // 4x4x(16 + 8)
  x = (*std::make_shared<GlobalAveragePooling2D<float>>())(x);
  KerasTensor<float> logits = (*make<Dense<float>>(DenseOptions(4)))(x);
  Model<float> model(input, logits, "mobilenet_xception");
  std::fputs(model.summary().c_str(), stdout);

  // A toy task: the class is the quadrant of the brightest pixel.
  const int64_t n = 64;
  Tensor<float> images({n, 16, 16, 3}), labels({n});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 0.5f);
  for (auto& v : images) v = u(rng);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t q = i % 4, h = (q / 2) * 8 + 3, w = (q % 2) * 8 + 3;
    for (int64_t c = 0; c < 3; ++c) images[((i * 16 + h) * 16 + w) * 3 + c] = 3.0f;
    labels[i] = static_cast<float>(q);
  }
  model.compile(std::make_shared<Adam<float>>(AdamOptions(3e-3)),
                nlohmann::json{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
  for (int step = 0; step < 5; ++step) fmt::print("step {}: loss {:.4f}\n", step + 1, model.train_step(images, labels));

  // Save the architecture as Keras JSON and rebuild it; copy the weights by name.
  const std::string text = model_to_json(model, 2);
  if (!json_path.empty()) {
    write_file_atomic(json_path, text);
    fmt::print("wrote {} ({} bytes)\n", json_path, text.size());
  }
  std::unique_ptr<ModelBase<float>> rebuilt = model_from_json<float>(text);
  for (auto& [path, w] : model.weights())
    rebuilt->layer(path.substr(0, path.find('/'))).weight(w->name).variable.value().copy_from(w->variable.value());
  const Tensor<float> a = model.predict(images), b = rebuilt->predict(images);
  float worst = 0;
  for (int64_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  fmt::print("rebuilt from JSON: {} layers, largest difference in predictions {}\n", rebuilt->layers().size(), worst);
  return worst == 0 ? 0 : 1;
}

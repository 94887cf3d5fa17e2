// Quickstart: build a SeparableConv2D, run it, backpropagate, and look at the
// gradients of its weights.
#include <cstdio>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/layers/separable_conv2d.h"

using namespace sepconv;

int main() {
  // 16 filters, 3x3 depthwise kernels, two per input channel, "same" padding, stride 2.
  SeparableConv2D<float> layer(SeparableConv2DOptions(16, 3)
                                   .strides(2)
                                   .padding("same")
                                   .depth_multiplier(2)
                                   .activation("relu")
                                   .depthwise_initializer(nlohmann::json{{"class_name", "GlorotUniform"},
                                                                         {"config", {{"seed", 42}}}})
                                   .pointwise_regularizer("l2"));

  // A batch of 8 RGB 32x32 images, NHWC.
  Tensor<float> images({8, 32, 32, 3});
  for (int64_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>((i % 97) / 97.0 - 0.5);
  Variable<float> x(images, /*requires_grad=*/true);

  Variable<float> y = layer(x);  // builds the weights on the first call
  fmt::print("input {} -> output {}\n", shape_str(x.shape()), shape_str(y.shape()));

  // A scalar objective: the mean activation plus the layer's regularization loss.
  Variable<float> loss = add(mean(y), layer.regularization_loss());
  backward(loss);
  fmt::print("loss = {:.6f}\n", loss.value().item());

  for (const Weight<float>& w : layer.weights())
    fmt::print("  {:<17} shape {:<15} grad shape {}\n", w.name, shape_str(w.variable.shape()),
               shape_str(w.variable.grad().shape()));
  fmt::print("  {:<17} shape {:<15} grad shape {}\n", "input", shape_str(x.shape()), shape_str(x.grad().shape()));
  fmt::print("config: {}\n", layer.get_config().dump());
  return 0;
}

// The example of keras.layers.SeparableConv2D's documentation, reproduced:
//
//   >>> x = np.random.rand(4, 10, 10, 12)
//   >>> y = keras.layers.SeparableConv2D(3, 4, 3, 2, activation='relu')(x)
//   >>> print(y.shape)
//   (4, 4, 4, 4)
//
// Positionally, SeparableConv2D(filters, kernel_size, strides, padding, ...),
// so that call passes filters=3, kernel_size=4, strides=3 and padding=2. A
// padding of 2 is not "valid" or "same", so Keras raises an error: the printed
// shape (4, 4, 4, 4) cannot come from that line. This program shows the error,
// then the shapes the intended layer really gives:
//   padding="valid": out = floor((10 - 4) / 3) + 1 = 3  -> (4, 3, 3, 3)
//   padding="same":  out = ceil(10 / 3)           = 4  -> (4, 4, 4, 3)
// The last axis is `filters` = 3 in both: it is never 4.
#include <cstdio>
#include <random>

#include <fmt/format.h>

#include "sepconv/layers/separable_conv2d.h"

using namespace sepconv;

int main() {
  // The doc's arguments, as a Keras config: the 4th positional argument is padding.
  const nlohmann::json doc_call = {
      {"filters", 3}, {"kernel_size", 4}, {"strides", 3}, {"padding", 2}, {"activation", "relu"}};
  fmt::print("SeparableConv2D(3, 4, 3, 2, activation='relu') -> {}\n", doc_call.dump());
  try {
    SeparableConv2D<float> layer(SeparableConv2DOptions::from_config(doc_call));
    fmt::print("unexpected: the layer was accepted\n");
    return 1;
  } catch (const ValueError& e) {
    fmt::print("  raises ValueError: {}\n\n", e.what());
  }

  // x = np.random.rand(4, 10, 10, 12): uniform [0, 1).
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  Tensor<float> x({4, 10, 10, 12});
  for (float& v : x) v = uniform(rng);

  for (const char* padding : {"valid", "same"}) {
    SeparableConv2D<float> layer(SeparableConv2DOptions(3, 4).strides(3).padding(padding).activation("relu"));
    const Variable<float> y = layer(Variable<float>(x));
    const int64_t out = std::string(padding) == "valid" ? (10 - 4) / 3 + 1 : (10 + 3 - 1) / 3;
    fmt::print("SeparableConv2D(3, 4, strides=3, padding='{}', activation='relu') on {}:\n", padding,
               shape_str(x.shape()));
    fmt::print("  output shape {}  (spatial {} = {}; channels = filters = 3)\n", shape_str(y.shape()),
               std::string(padding) == "valid" ? "floor((10 - 4) / 3) + 1" : "ceil(10 / 3)", out);
    fmt::print("  weights: depthwise_kernel {}, pointwise_kernel {}, bias {}\n",
               shape_str(layer.depthwise_kernel().shape()), shape_str(layer.pointwise_kernel().shape()),
               shape_str(layer.bias().shape()));
  }
  fmt::print("\nThe documented (4, 4, 4, 4) matches neither: with padding='same' the spatial size is 4, but the\n"
             "channel axis is filters = 3. No valid reading of the doc's call gives 4 channels.\n");
  return 0;
}

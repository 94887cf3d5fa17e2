#pragma once
// Convolution geometry: every size a depthwise/pointwise kernel needs, computed
// in one place from Keras's padding rules (TensorFlow's "same" split: the odd
// pixel of padding goes to the bottom/right).
#include <array>
#include <cstdint>
#include <string>

namespace sepconv {

enum class Padding { Valid, Same };

// The layout of a batch of images: NHWC (channels_last) or NCHW (channels_first).
enum class DataFormat { ChannelsLast, ChannelsFirst };

// Parses "valid"/"same", case-insensitive; anything else is a ValueError.
Padding parse_padding(const std::string& s);
const char* padding_name(Padding p);

struct ConvGeometry {
  int64_t batch = 0, in_h = 0, in_w = 0, channels = 0, depth_multiplier = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t out_h = 0, out_w = 0;

  int64_t out_channels() const { return channels * depth_multiplier; }
  int64_t input_size() const { return batch * in_h * in_w * channels; }
  int64_t output_size() const { return batch * out_h * out_w * out_channels(); }
  int64_t kernel_size() const { return kernel_h * kernel_w * channels * depth_multiplier; }
  std::string str() const;
};

// Output length along one axis (Keras conv_output_length); may be <= 0.
int64_t conv_output_length(int64_t input, int64_t kernel, int64_t stride, int64_t dilation, Padding padding);

// Builds and validates a geometry for NHWC input (batch, in_h, in_w, channels)
// and a depthwise kernel (kh, kw, channels, depth_multiplier). Throws ValueError
// naming the offending argument (non-positive sizes, strides > 1 together with
// dilation > 1, an output size <= 0).
ConvGeometry make_conv_geometry(int64_t batch, int64_t in_h, int64_t in_w, int64_t channels,
                                int64_t depth_multiplier, std::array<int64_t, 2> kernel,
                                std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding);

}  // namespace sepconv

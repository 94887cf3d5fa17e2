#include "sepconv/core/geometry.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "sepconv/core/error.h"

namespace sepconv {

Padding parse_padding(const std::string& s) {
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "valid") return Padding::Valid;
  if (lower == "same") return Padding::Same;
  throw ValueError(fmt::format(
      "Invalid value for argument `padding`: padding must be 'valid' or 'same' (case-insensitive). Received: padding={}",
      s));
}

const char* padding_name(Padding p) { return p == Padding::Valid ? "valid" : "same"; }

std::string ConvGeometry::str() const {
  return fmt::format(
      "input (N={}, H={}, W={}, C={}), kernel {}x{}, strides ({}, {}), dilation ({}, {}), depth_multiplier {}, "
      "pads (top {}, bottom {}, left {}, right {}), output {}x{}",
      batch, in_h, in_w, channels, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, depth_multiplier,
      pad_top, pad_bottom, pad_left, pad_right, out_h, out_w);
}

int64_t conv_output_length(int64_t input, int64_t kernel, int64_t stride, int64_t dilation, Padding padding) {
  const int64_t effective = (kernel - 1) * dilation + 1;
  if (padding == Padding::Same) return (input + stride - 1) / stride;
  const int64_t span = input - effective;
  return span < 0 ? span / stride : span / stride + 1;  // negative spans give <= 0
}

namespace {
void same_pads(int64_t input, int64_t kernel, int64_t stride, int64_t dilation, int64_t out, int64_t& before,
               int64_t& after) {
  const int64_t effective = (kernel - 1) * dilation + 1;
  const int64_t total = std::max<int64_t>((out - 1) * stride + effective - input, 0);
  before = total / 2;  // TensorFlow's split: the odd pixel goes after (bottom/right)
  after = total - before;
}
}  // namespace

ConvGeometry make_conv_geometry(int64_t batch, int64_t in_h, int64_t in_w, int64_t channels,
                                int64_t depth_multiplier, std::array<int64_t, 2> kernel,
                                std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding) {
  auto positive = [](const char* name, std::array<int64_t, 2> v) {
    if (v[0] <= 0 || v[1] <= 0)
      throw ValueError(fmt::format("Invalid value for argument `{}`: {} must be > 0. Received: {}=({}, {})", name,
                                   name, name, v[0], v[1]));
  };
  positive("kernel_size", kernel);
  positive("strides", strides);
  positive("dilation_rate", dilation);
  if (depth_multiplier <= 0)
    throw ValueError(fmt::format(
        "Invalid value for argument `depth_multiplier`: depth_multiplier must be > 0. Received: depth_multiplier={}",
        depth_multiplier));
  if ((strides[0] > 1 || strides[1] > 1) && (dilation[0] > 1 || dilation[1] > 1))
    throw ValueError(fmt::format(
        "strides > 1 with dilation_rate > 1 is not supported: `strides > 1` is incompatible with "
        "`dilation_rate > 1`. Received: strides=({}, {}), dilation_rate=({}, {})",
        strides[0], strides[1], dilation[0], dilation[1]));
  if (batch < 0 || in_h <= 0 || in_w <= 0 || channels <= 0)
    throw ShapeError(fmt::format("Invalid input shape: every dimension must be > 0 (batch >= 0). Received: "
                                 "batch={}, height={}, width={}, channels={}",
                                 batch, in_h, in_w, channels));
  ConvGeometry g;
  g.batch = batch;
  g.in_h = in_h;
  g.in_w = in_w;
  g.channels = channels;
  g.depth_multiplier = depth_multiplier;
  g.kernel_h = kernel[0];
  g.kernel_w = kernel[1];
  g.stride_h = strides[0];
  g.stride_w = strides[1];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  g.out_h = conv_output_length(in_h, kernel[0], strides[0], dilation[0], padding);
  g.out_w = conv_output_length(in_w, kernel[1], strides[1], dilation[1], padding);
  if (g.out_h <= 0 || g.out_w <= 0)
    throw ValueError(fmt::format(
        "Computed output size would be <= 0: output size would be ({}, {}) for input size ({}, {}), "
        "kernel_size=({}, {}), strides=({}, {}), dilation_rate=({}, {}), padding={}",
        g.out_h, g.out_w, in_h, in_w, kernel[0], kernel[1], strides[0], strides[1], dilation[0], dilation[1],
        padding_name(padding)));
  if (padding == Padding::Same) {
    same_pads(in_h, kernel[0], strides[0], dilation[0], g.out_h, g.pad_top, g.pad_bottom);
    same_pads(in_w, kernel[1], strides[1], dilation[1], g.out_w, g.pad_left, g.pad_right);
  }
  return g;
}

}  // namespace sepconv

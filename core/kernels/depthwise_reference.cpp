#include <algorithm>
#include <cstring>

#include "sepconv/core/kernels/depthwise.h"

namespace sepconv {

namespace {
// Calls visit(in, k, out) for every (output pixel, kernel tap) pair whose tap
// falls inside the image (padding contributes nothing), with the offsets of
// that input pixel (in, C values), that tap's weights (k, C*dm values) and
// that output pixel (out, C*dm values). The three kernels below differ only in
// what they accumulate where.
template <typename Visit>
void for_each_tap(const ConvGeometry& g, Visit visit) {
  const int64_t C = g.channels, OC = g.out_channels();
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        const int64_t out = ((n * g.out_h + oh) * g.out_w + ow) * OC;
        for (int64_t i = 0; i < g.kernel_h; ++i) {
          const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
          if (ih < 0 || ih >= g.in_h) continue;
          for (int64_t j = 0; j < g.kernel_w; ++j) {
            const int64_t iw = ow * g.stride_w - g.pad_left + j * g.dilation_w;
            if (iw < 0 || iw >= g.in_w) continue;
            visit(((n * g.in_h + ih) * g.in_w + iw) * C, (i * g.kernel_w + j) * OC, out);
          }
        }
      }
}
}  // namespace

// out[n, oh, ow, c*dm + m] = sum_{i,j} in[n, oh*sh - pt + i*dh, ow*sw - pl + j*dw, c] * k[i, j, c, m]
template <typename T>
void depthwise_forward_reference(const ConvGeometry& g, const T* input, const T* kernel, T* output) {
  const int64_t C = g.channels, M = g.depth_multiplier;
  std::fill(output, output + g.output_size(), T(0));
  for_each_tap(g, [&](int64_t in, int64_t k, int64_t out) {
    for (int64_t c = 0; c < C; ++c)
      for (int64_t m = 0; m < M; ++m) output[out + c * M + m] += input[in + c] * kernel[k + c * M + m];
  });
}

// grad_in[.., c] = sum over the outputs and taps that read it of grad_out[.., c*dm + m] * k[i, j, c, m]
template <typename T>
void depthwise_backward_input_reference(const ConvGeometry& g, const T* grad_output, const T* kernel, T* grad_input) {
  const int64_t C = g.channels, M = g.depth_multiplier;
  std::fill(grad_input, grad_input + g.input_size(), T(0));
  for_each_tap(g, [&](int64_t in, int64_t k, int64_t out) {
    for (int64_t c = 0; c < C; ++c)
      for (int64_t m = 0; m < M; ++m) grad_input[in + c] += grad_output[out + c * M + m] * kernel[k + c * M + m];
  });
}

// grad_k[i, j, c, m] = sum over output pixels of in[.., c] * grad_out[.., c*dm + m]
template <typename T>
void depthwise_backward_kernel_reference(const ConvGeometry& g, const T* input, const T* grad_output,
                                         T* grad_kernel) {
  const int64_t C = g.channels, M = g.depth_multiplier;
  std::fill(grad_kernel, grad_kernel + g.kernel_size(), T(0));
  for_each_tap(g, [&](int64_t in, int64_t k, int64_t out) {
    for (int64_t c = 0; c < C; ++c)
      for (int64_t m = 0; m < M; ++m) grad_kernel[k + c * M + m] += input[in + c] * grad_output[out + c * M + m];
  });
}

#define SEPCONV_INSTANTIATE(T)                                                                   \
  template void depthwise_forward_reference<T>(const ConvGeometry&, const T*, const T*, T*);     \
  template void depthwise_backward_input_reference<T>(const ConvGeometry&, const T*, const T*, T*); \
  template void depthwise_backward_kernel_reference<T>(const ConvGeometry&, const T*, const T*, T*);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

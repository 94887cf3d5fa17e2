// Dispatch of the depthwise kernels. For now the reference loops; the fast,
// register-tiled kernels plug in here behind the same signatures.
#include "core/kernels/depthwise.h"

namespace sepconv {

template <typename T>
void depthwise_forward(const ConvGeometry& g, const T* input, const T* kernel, T* output) {
  depthwise_forward_reference(g, input, kernel, output);
}
template <typename T>
void depthwise_backward_input(const ConvGeometry& g, const T* grad_output, const T* kernel, T* grad_input) {
  depthwise_backward_input_reference(g, grad_output, kernel, grad_input);
}
template <typename T>
void depthwise_backward_kernel(const ConvGeometry& g, const T* input, const T* grad_output, T* grad_kernel) {
  depthwise_backward_kernel_reference(g, input, grad_output, grad_kernel);
}

#define SEPCONV_INSTANTIATE(T)                                                         \
  template void depthwise_forward<T>(const ConvGeometry&, const T*, const T*, T*);     \
  template void depthwise_backward_input<T>(const ConvGeometry&, const T*, const T*, T*); \
  template void depthwise_backward_kernel<T>(const ConvGeometry&, const T*, const T*, T*);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

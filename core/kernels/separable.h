#pragma once
// The separable convolution's kernels: depthwise (k x k per channel), then
// pointwise (1 x 1 across channels), then a bias and optionally relu, forward
// and backward, on NHWC or NCHW data.
//
// A SeparablePlan is made once per geometry; it picks the path for the active
// ISA (cpu::active_isa()):
//   fused (float on AVX-512): bands of a few output rows are convolved
//     depthwise into a buffer that stays in cache and multiplied by the
//     pointwise kernel at once, bias (and relu) applied as the result is stored,
//     so the intermediate is never written to memory; backward recomputes it
//     band by band. With NCHW data the bands change layout in cache.
//   unfused (any type, any ISA): the depthwise kernels (which pick their AVX-512,
//     AVX2 or portable loops themselves), the pointwise GEMM, then bias and relu
//     in one pass; NCHW data is transposed around them.
// Either way the results are those of depthwise -> pointwise -> bias (-> relu)
// to rounding, and do not depend on the thread count. The *_reference
// functions are the plain loops the plans are tested against.
//
// Layouts: x (batch, h, w, channels) or, channels_first, (batch, channels, h, w);
// depthwise kernel (kh, kw, channels, depth_multiplier); pointwise kernel
// (1, 1, channels * depth_multiplier, filters); bias (filters); y (batch,
// out_h, out_w, filters) or (batch, filters, out_h, out_w).
#include <cstdint>
#include <memory>

#include "sepconv/core/geometry.h"

namespace sepconv::kernels {

struct SeparableGeometry {
  ConvGeometry conv;  // the depthwise part (its sizes are NHWC's whatever the layout)
  int64_t filters = 0;
  bool channels_first = false;

  // The intermediate's channels: channels * depth_multiplier.
  int64_t mid_channels() const { return conv.out_channels(); }
  // Output pixels over the batch.
  int64_t rows() const { return conv.batch * conv.out_h * conv.out_w; }
  int64_t output_size() const { return rows() * filters; }
  int64_t pointwise_size() const { return mid_channels() * filters; }
};

// relu's derivative as one bit per output, recorded by a fused forward for the
// fused backward (which then needs neither y nor a pass over it): bit f % 16 of
// word row * words_per_row() + f / 16 is set where output (row, f) > 0, rows
// in NHWC order whatever the layout. 1/32 of the output's size.
class ReluMask {
 public:
  // Storage for rows x filters bits, left uninitialized (forward writes them all).
  void reset(int64_t rows, int64_t filters);
  bool empty() const { return !words_; }
  int64_t words_per_row() const { return words_per_row_; }
  uint16_t* words() { return words_.get(); }
  const uint16_t* words() const { return words_.get(); }

 private:
  std::unique_ptr<uint16_t[]> words_;
  int64_t words_per_row_ = 0;
};

enum class SeparablePath { Unfused, FusedAvx512 };
const char* separable_path_name(SeparablePath p);

template <typename T>
class SeparablePlan {
 public:
  // Picks the forward and backward paths for this geometry and cpu::active_isa().
  SeparablePlan(const SeparableGeometry& g, bool relu);

  const SeparableGeometry& geometry() const { return g_; }
  bool relu() const { return relu_; }
  SeparablePath forward_path() const { return forward_; }
  SeparablePath backward_path() const { return backward_; }
  // Whether backward wants forward's ReluMask (else it reads relu's derivative off y).
  bool wants_relu_mask() const { return relu_ && backward_ == SeparablePath::FusedAvx512; }

  // y = [relu](pointwise(depthwise(x)) + bias); bias may be null. When
  // wants_relu_mask() and `mask` is non-null, forward also records the mask.
  void forward(const T* x, const T* depthwise_kernel, const T* pointwise_kernel, const T* bias, T* y,
               ReluMask* mask = nullptr) const;
  // The gradients from dy, each overwritten, each skipped when null. y is
  // forward's output; mask forward's ReluMask (without it, e.g. forward was
  // not asked for one, backward takes the unfused path).
  void backward(const T* x, const T* depthwise_kernel, const T* pointwise_kernel, const T* y, const ReluMask* mask,
                const T* dy, T* grad_x, T* grad_depthwise, T* grad_pointwise, T* grad_bias) const;

 private:
  SeparableGeometry g_;
  bool relu_;
  SeparablePath forward_, backward_;
};

// The plain loops: the definition the plans are checked against.
template <typename T>
void separable_forward_reference(const SeparableGeometry& g, const T* x, const T* depthwise_kernel,
                                 const T* pointwise_kernel, const T* bias, bool relu, T* y);
template <typename T>
void separable_backward_reference(const SeparableGeometry& g, const T* x, const T* depthwise_kernel,
                                  const T* pointwise_kernel, const T* y, const T* dy, bool relu, T* grad_x,
                                  T* grad_depthwise, T* grad_pointwise, T* grad_bias);

}  // namespace sepconv::kernels

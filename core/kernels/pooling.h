#pragma once
// 2-D pooling kernels on NHWC data: max and average pooling over windows, and
// global average pooling. A PoolPlan is made once per geometry; its max-pooling
// loops are compiled per ISA (pooling_avx512.cpp, pooling_avx2.cpp, portable in
// pooling.cpp) and picked for cpu::active_isa(). Max and select are exact, so
// every ISA gives the same bits; results do not depend on the thread count.
// The *_reference functions are the plain loops the plans are tested against.
#include <cstdint>

namespace sepconv {

// Window geometry of a 2-D pooling; the output size and the "same" padding split
// follow Keras/TensorFlow (the odd pixel of padding goes to the bottom/right).
struct PoolGeometry {
  int64_t batch = 0, in_h = 0, in_w = 0, channels = 0;
  int64_t pool_h = 1, pool_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t out_h = 0, out_w = 0;

  int64_t input_size() const { return batch * in_h * in_w * channels; }
  int64_t output_size() const { return batch * out_h * out_w * channels; }
};

}  // namespace sepconv

namespace sepconv::kernels {

// The per-ISA row loops (pooling_rows.h has their contracts).
template <typename T>
struct MaxPoolRows {
  void (*forward)(const PoolGeometry& g, const T* x_image, int64_t oh, T* y_row);
  void (*backward)(const PoolGeometry& g, const T* x_image, const T* y_row, const T* gy_row, int64_t oh,
                   bool overwrite, T* gx_image, T* pending);
};
// One per ISA file: pooling_avx512.cpp, pooling_avx2.cpp, pooling.cpp.
template <typename T>
MaxPoolRows<T> max_pool_rows_avx512();
template <typename T>
MaxPoolRows<T> max_pool_rows_avx2();
template <typename T>
MaxPoolRows<T> max_pool_rows_portable();

template <typename T>
class PoolPlan {
 public:
  // Picks the max-pooling loops for cpu::active_isa().
  explicit PoolPlan(const PoolGeometry& g);
  const PoolGeometry& geometry() const { return g_; }

  // y = the maximum over each window; padded positions never win.
  void max_forward(const T* x, T* y) const;
  // Each window's gradient goes to its first element equal to the maximum in
  // row-major order (TensorFlow's choice); a window whose maximum is NaN passes
  // nothing. gx is overwritten, or added to with `accumulate`.
  void max_backward(const T* x, const T* y, const T* gy, T* gx, bool accumulate) const;
  // y = the mean over each window's positions inside the input (padding is not
  // counted, as in Keras/TensorFlow "same" average pooling).
  void avg_forward(const T* x, T* y) const;
  // gx += each window's gradient spread evenly over its positions inside the input.
  void avg_backward_add(const T* gy, T* gx) const;

 private:
  PoolGeometry g_;
  bool tiles_input_;  // windows cover every input element exactly once
  MaxPoolRows<T> max_rows_;
};

// x (batch, pixels, channels) -> y (batch, channels): the mean over pixels, summed in double.
template <typename T>
void global_avg_pool_forward(int64_t batch, int64_t pixels, int64_t channels, const T* x, T* y);
// gx (batch, pixels, channels) = gy / pixels (+ gx with `accumulate`).
template <typename T>
void global_avg_pool_backward(int64_t batch, int64_t pixels, int64_t channels, const T* gy, T* gx, bool accumulate);

// The plain loops; each overwrites its output.
template <typename T>
void max_pool_forward_reference(const PoolGeometry& g, const T* x, T* y);
template <typename T>
void max_pool_backward_reference(const PoolGeometry& g, const T* x, const T* gy, T* gx);
template <typename T>
void avg_pool_forward_reference(const PoolGeometry& g, const T* x, T* y);
template <typename T>
void avg_pool_backward_reference(const PoolGeometry& g, const T* gy, T* gx);

}  // namespace sepconv::kernels

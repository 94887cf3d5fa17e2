#pragma once
// Image translation by a per-image fractional shift, resampled as Keras's
// affine_transform does (keras.ops.image.map_coordinates semantics): output
// pixel (y, x) of image n reads input coordinate (y - shift_h[n], x - shift_w[n]),
// interpolated from its neighbours, each neighbour's index fixed per axis by
// the fill mode. Images are (N, H, W, C); each image is computed by one thread
// in a fixed order, so results do not depend on the thread count.
#include <cstdint>

namespace sepconv::kernels {

// Where a neighbour outside the image reads (Keras's definitions, input a b c d):
//   Reflect  (d c b a | a b c d | d c b a)  about the edge of the last pixel
//   Wrap     (a b c d | a b c d | a b c d)
//   Constant (k k k k | a b c d | k k k k)  k = fill_value
//   Nearest  (a a a a | a b c d | d d d d)
enum class FillMode { Reflect, Wrap, Constant, Nearest };
// Bilinear: the two neighbours per axis weighted by distance; Nearest: the
// neighbour at the coordinate rounded half away from zero (TensorFlow's and
// JAX's rounding).
enum class Interpolation { Bilinear, Nearest };

struct TranslateSpec {
  int64_t N, H, W, C;
  Interpolation interpolation;
  FillMode fill_mode;
  double fill_value;
};

// dst = the translated src. shift_h/shift_w: N shifts in pixels (positive:
// down / right).
template <typename T>
void translate_images(const T* src, T* dst, const TranslateSpec& spec, const float* shift_h, const float* shift_w);

// The transpose of translate_images (fill values carry no gradient):
// grad_src (+)= J^T grad_dst, with `accumulate` adding to grad_src.
template <typename T>
void translate_images_backward(const T* grad_dst, T* grad_src, const TranslateSpec& spec, const float* shift_h,
                               const float* shift_w, bool accumulate);

}  // namespace sepconv::kernels

#include "sepconv/autograd/separable.h"

#include <omp.h>

#include <xmmintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "sepconv/autograd/tape.h"
#include "sepconv/core/cpu.h"
#include "sepconv/core/kernels/depthwise.h"
#include "sepconv/core/kernels/depthwise_kernels.h"
#include "sepconv/core/kernels/gemm.h"
#include "sepconv/core/kernels/gemm_kernels.h"
#include "sepconv/core/kernels/transpose.h"
#include "sepconv/core/parallel.h"

namespace sepconv {

namespace {

// Everything the kernels need, checked once.
struct SepShape {
  ConvGeometry g;
  int64_t K = 0;  // channels * depth_multiplier: the intermediate's channels
  int64_t F = 0;  // filters
  bool nchw = false;  // x, y and their gradients are NCHW (the kernels work in NHWC)
  int64_t rows() const { return g.batch * g.out_h * g.out_w; }
};

template <typename T>
SepShape check_shapes(const Variable<T>& x, const Variable<T>& dk, const Variable<T>& pk,
                      const std::optional<Variable<T>>& bias, std::array<int64_t, 2> strides,
                      std::array<int64_t, 2> dilation, Padding padding, DataFormat data_format) {
  auto rank = [](const Variable<T>& v, int64_t r, const char* arg) {
    if (v.value().rank() != r)
      throw ShapeError(fmt::format("separable_conv2d: `{}` must be rank {}, received shape {}", arg, r,
                                   shape_str(v.shape())));
  };
  rank(x, 4, "x");
  rank(dk, 4, "depthwise_kernel");
  rank(pk, 4, "pointwise_kernel");
  const bool nchw = data_format == DataFormat::ChannelsFirst;
  const Shape& xs = x.shape();
  const Shape& ks = dk.shape();
  const Shape& ps = pk.shape();
  const int64_t channels = xs[nchw ? 1 : 3], h = xs[nchw ? 2 : 1], w = xs[nchw ? 3 : 2];
  if (ks[2] != channels)
    throw ShapeError(fmt::format(
        "separable_conv2d: depthwise_kernel of shape {} expects {} input channels, input has shape {}",
        shape_str(ks), ks[2], shape_str(xs)));
  if (ps[0] != 1 || ps[1] != 1 || ps[2] != ks[2] * ks[3])
    throw ShapeError(fmt::format("separable_conv2d: pointwise_kernel must be (1, 1, {}, filters), received {}",
                                 ks[2] * ks[3], shape_str(ps)));
  if (bias) {
    rank(*bias, 1, "bias");
    if (bias->shape()[0] != ps[3])
      throw ShapeError(fmt::format("separable_conv2d: bias of shape {} does not match {} filters",
                                   shape_str(bias->shape()), ps[3]));
  }
  SepShape s;
  s.g = make_conv_geometry(xs[0], h, w, channels, ks[3], {ks[0], ks[1]}, strides, dilation, padding);
  s.K = s.g.out_channels();
  s.F = ps[3];
  s.nchw = nchw;
  return s;
}

bool use_fused(const SepShape& s, bool is_float) {
  return is_float && cpu::active_isa() == cpu::Isa::Avx512 && s.rows() > 0 && s.F > 0;
}

// Output rows per band of the fused kernels: about 192 pixels, enough for the
// GEMMs to reuse each panel of the pointwise kernel many times, few enough
// that a band's intermediate and output gradient mostly stay in L2 (measured:
// 120..240 pixels are best on the benchmark shapes, smaller bands lose on
// large kernels, larger ones on small channel counts).
int64_t fused_band_rows(const SepShape& s) {
  constexpr int64_t target = 192;
  return std::clamp<int64_t>((target + s.g.out_w - 1) / s.g.out_w, 1, s.g.out_h);
}

// y[r, f] = max(y, 0) and/or += bias[f], in place over rows x F.
template <typename T>
void bias_activation(int64_t rows, int64_t F, const T* bias, bool relu, T* y) {
  if (!bias && !relu) return;
#pragma omp parallel for schedule(static) if (rows * F > (1 << 16) && !omp_in_parallel())
  for (int64_t r = 0; r < rows; ++r) {
    T* yr = y + r * F;
    if (bias)
      for (int64_t f = 0; f < F; ++f) yr[f] += bias[f];
    if (relu)
      for (int64_t f = 0; f < F; ++f) yr[f] = yr[f] > T(0) ? yr[f] : T(0);
  }
}

// dz = relu'(z) * dy, with z > 0 exactly where y = relu(z) > 0. Written as a
// select over restrict pointers so that it vectorizes without branches (the
// mask is data-dependent: a branch would be mispredicted half the time).
template <typename T>
void relu_mask(int64_t n, const T* __restrict y, const T* __restrict dy, T* __restrict dz) {
  for (int64_t i = 0; i < n; ++i) {
    const T g = dy[i];
    dz[i] = y[i] > T(0) ? g : T(0);
  }
}

// sums[f] += m[r, f] over rows, row by row (the order the callers rely on).
template <typename T>
void add_rows(int64_t rows, int64_t F, const T* __restrict m, T* __restrict sums) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < F; ++f) sums[f] += m[r * F + f];
}

// out[f] = sum over rows of m[r, f], in fixed chunks of rows added in order.
template <typename T>
void column_sums(int64_t rows, int64_t F, const T* m, T* out) {
  constexpr int64_t chunk = 1024;
  const int64_t chunks = (rows + chunk - 1) / chunk;
  std::vector<T> partial(static_cast<size_t>(std::max<int64_t>(chunks, 1) * F), T(0));
#pragma omp parallel for schedule(static) if (rows * F > (1 << 16) && !omp_in_parallel())
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t r0 = c * chunk, r1 = std::min(rows, r0 + chunk);
    add_rows(r1 - r0, F, m + r0 * F, partial.data() + c * F);
  }
  std::fill(out, out + F, T(0));
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t f = 0; f < F; ++f) out[f] += partial[c * F + f];
}

// ---- unfused: the kernels one after the other (any type, any ISA) -------------

template <typename T>
void unfused_forward(const SepShape& s, const T* x, const T* dk, const T* pk, const T* bias, bool relu, T* y) {
  const int64_t M = s.rows();
  Tensor<T> d = Tensor<T>::uninitialized({M * s.K});
  depthwise_forward(s.g, x, dk, d.data());
  pointwise_forward(M, s.K, s.F, d.data(), pk, y);
  bias_activation(M, s.F, bias, relu, y);
}

template <typename T>
void unfused_backward(const SepShape& s, const T* x, const T* dk, const T* pk, const T* y, const T* dy, bool relu,
                      T* gx, T* gdk, T* gpk, T* gb) {
  const int64_t M = s.rows();
  Tensor<T> masked;
  const T* dz = dy;
  if (relu) {
    masked = Tensor<T>::uninitialized({M * s.F});
    relu_mask(M * s.F, y, dy, masked.data());
    dz = masked.data();
  }
  if (gb) column_sums(M, s.F, dz, gb);
  if (gpk) {
    Tensor<T> d = Tensor<T>::uninitialized({M * s.K});  // recomputed, not kept from forward
    depthwise_forward(s.g, x, dk, d.data());
    pointwise_backward_kernel(M, s.K, s.F, d.data(), dz, gpk);
  }
  if (gx || gdk) {
    Tensor<T> dd = Tensor<T>::uninitialized({M * s.K});
    pointwise_backward_input(M, s.K, s.F, dz, pk, dd.data());
    if (gdk) depthwise_backward_kernel(s.g, x, dd.data(), gdk);
    if (gx) depthwise_backward_input(s.g, dd.data(), dk, gx);
  }
}

// ---- fused (AVX-512, float) ----------------------------------------------------

// An output larger than a core's L2 cannot wait in cache for its consumer:
// the fused kernels write such outputs (the forward's y, the backward's input
// gradient) with streaming stores, which skip reading each line before
// overwriting it. Measured on the Intel Xeon (interleaved runs, 2 threads):
// streaming the input gradient made train steps 5-25% faster on the shapes
// with a 3-26 MB one; streaming y as well, forwards 3-6% and train steps 1-4%
// faster (geometric means of paired ratios over the benchmark shapes, three
// runs; forwards 8% with one thread), and a Fashion-MNIST epoch of the
// reference model (outputs of 6.4 and 3.2 MB) 4-7%. (On the AMD Zen 5 used
// before, streaming y had measured slower: 3.9 ms against 3.4 ms for the
// forward of mnv1_112x112x32_f64, one thread.) With NCHW data the whole
// aligned lines of the scattered bands are streamed: channels_first forwards
// of mnv1_112x112x32_f64 and k5_dm2_32x32x32_f64 0.53 and 0.68 of the time
// with ordinary stores, mnv1_28x28x256_f256 and mnv2_56x56x144_f24 0.93-1.09.
bool streams_output(int64_t floats) { return floats * int64_t(sizeof(float)) > (int64_t(2) << 20); }

// With NCHW data the fused kernels change the layout band by band, in cache:
// a band's input rows are gathered from the channel planes into NHWC rows,
// its output (or input gradient) rows scattered back, so the tensors are
// never transposed whole. Scratch slots: 6 the input band, 7 the output or
// output-gradient band, 8 the input-gradient rows.

// The input band of output rows [oh0, oh1) of image n, from NCHW x.
kernels::DepthwisePlan<float>::Band nchw_band(const kernels::DepthwisePlan<float>& plan, const ConvGeometry& g,
                                              const float* x, int64_t n, int64_t oh0, int64_t oh1) {
  const auto [row0, row1] = plan.input_rows(oh0, oh1);
  const int64_t pixels = (row1 - row0) * g.in_w, plane = g.in_h * g.in_w;
  float* rows = kernels::thread_scratch<float>(6, pixels * g.channels);
  kernels::transpose(g.channels, pixels, x + n * g.channels * plane + row0 * g.in_w, plane, rows, g.channels);
  return plan.band_from_rows(rows, row0, row1);
}

// relu_bits (when non-null): relu's derivative as bits, for fused_backward.
int64_t relu_bits_stride(const SepShape& s) { return (s.F + 15) / 16; }

void fused_forward(const SepShape& s, const float* x, const float* dk, const float* pk, const float* bias, bool relu,
                   float* y, uint16_t* relu_bits) {
  const ConvGeometry& g = s.g;
  const kernels::DepthwisePlan<float> plan(g);
  Tensor<float> packed = Tensor<float>::uninitialized({kernels::packed_b_floats_avx512(s.K, s.F)});
  kernels::pack_b_parallel_avx512(s.K, s.F, pk, s.F, 1, packed.data());
  const int64_t R = fused_band_rows(s), bands = (g.out_h + R - 1) / R, items = g.batch * bands;
  const bool stream_y = streams_output(s.rows() * s.F);
  // Dynamic scheduling: bands are independent (any order gives the same bits),
  // and a thread that is descheduled on a busy machine does not hold up the rest.
#pragma omp parallel for schedule(dynamic, 2) if (items > 1 && !omp_in_parallel())
  for (int64_t item = 0; item < items; ++item) {
    const int64_t n = item / bands, oh0 = item % bands * R, oh1 = std::min(g.out_h, oh0 + R);
    const int64_t rows = (oh1 - oh0) * g.out_w;
    float* d = kernels::thread_scratch<float>(2, rows * s.K);
    plan.forward_rows(s.nchw ? nchw_band(plan, g, x, n, oh0, oh1) : plan.band(x, n, oh0, oh1), dk, oh0, oh1, d);
    const int64_t first = (n * g.out_h + oh0) * g.out_w;  // relu_bits are in NHWC order either way
    float* out = s.nchw ? kernels::thread_scratch<float>(7, rows * s.F) : y + first * s.F;
    kernels::gemm_packed_avx512(rows, s.F, s.K, d, s.K, packed.data(), out, s.F, false, bias, relu,
                                relu_bits ? relu_bits + first * relu_bits_stride(s) : nullptr, relu_bits_stride(s),
                                stream_y && !s.nchw);  // (the NCHW band stays in cache for its transpose)
    if (s.nchw) {  // rows x F -> the F planes' pixels [oh0 * out_w, oh1 * out_w)
      const int64_t plane = g.out_h * g.out_w;
      kernels::transpose(rows, s.F, out, s.F, y + n * s.F * plane + oh0 * g.out_w, plane, stream_y);
    }
  }
}

// Each part (a fixed group of images, by shape alone) is done by one thread,
// band by band: mask the output gradient, recompute the intermediate, and
// accumulate the part's pointwise-kernel, bias and depthwise-kernel gradients;
// the intermediate's gradient of the image is kept whole so that input-gradient
// rows can be gathered as soon as the bands they read are done. The parts'
// partial sums are added in part order.
void fused_backward(const SepShape& s, const float* x, const float* dk, const float* pk, const uint16_t* relu_bits,
                    const float* dy, float* gx, float* gdk, float* gpk, float* gb) {
  const ConvGeometry& g = s.g;
  const int64_t K = s.K, F = s.F, N = g.batch, OW = g.out_w, OH = g.out_h;
  const kernels::DepthwisePlan<float> plan(g);
  const bool need_dd = gx || gdk;
  Tensor<float> packed_t;  // the pointwise kernel transposed, packed: dD = dZ * W^T
  if (need_dd) {
    packed_t = Tensor<float>::uninitialized({kernels::packed_b_floats_avx512(F, K)});
    kernels::pack_b_parallel_avx512(F, K, pk, 1, F, packed_t.data());
  }
  // Images per part: as many parts as images while their partial pointwise
  // gradients fit in 4 MB (each partial is written and then read once more
  // to be added up), but at least 4 parts (or one per image).
  const int64_t pk_size = K * F, dk_size = g.kernel_size();
  // The pointwise kernel's gradient K x F is dW = D^T dZ; its GEMM keeps the
  // F columns in vector lanes. With F not a multiple of 16 and K one (e.g.
  // F = 24, K = 144), part of every vector would be padding: compute the
  // transpose dZ^T D (F x K) instead, and transpose while adding the parts
  // (the same products summed in the same order: the same bits). Measured on
  // mnv2_56x56x144_f24: 1-6% faster train steps.
  const bool transposed_pk = F % 16 != 0 && K % 16 == 0;
  int64_t parts = std::clamp<int64_t>((int64_t(4) << 20) / std::max<int64_t>(1, pk_size * 4), 1, N);
  parts = std::max(parts, std::min<int64_t>(N, 4));
  const int64_t per_part = (N + parts - 1) / parts;
  parts = (N + per_part - 1) / per_part;
  Tensor<float> ppk = Tensor<float>::uninitialized({gpk ? parts * pk_size : 1});
  Tensor<float> pdk = Tensor<float>::uninitialized({gdk ? parts * dk_size : 1});
  Tensor<float> pb = Tensor<float>::uninitialized({gb ? parts * F : 1});
  const int64_t R = fused_band_rows(s);
  const bool stream_gx = gx && streams_output(g.input_size());
#pragma omp parallel for schedule(dynamic, 1) if (parts > 1 && !omp_in_parallel())
  for (int64_t p = 0; p < parts; ++p) {
    float* my_pk = gpk ? ppk.data() + p * pk_size : nullptr;
    float* my_dk = gdk ? pdk.data() + p * dk_size : nullptr;
    float* my_b = gb ? pb.data() + p * F : nullptr;
    bool pk_started = false;  // the part's first band writes its partial, later ones add to it
    if (my_dk) std::fill(my_dk, my_dk + dk_size, 0.0f);
    if (my_b) std::fill(my_b, my_b + F, 0.0f);
    for (int64_t n = p * per_part; n < std::min(N, (p + 1) * per_part); ++n) {
      float* dd_image = need_dd ? kernels::thread_scratch<float>(3, OH * OW * K) : nullptr;
      int64_t next_ih = 0;
      for (int64_t oh0 = 0; oh0 < OH; oh0 += R) {
        const int64_t oh1 = std::min(OH, oh0 + R), rows = (oh1 - oh0) * OW;
        const int64_t first = (n * OH + oh0) * OW;
        const float* dz = dy + first * F;
        if (s.nchw) {  // the F planes' pixels [oh0 * OW, oh1 * OW) -> rows x F
          float* rows_f = kernels::thread_scratch<float>(7, rows * F);
          kernels::transpose(F, rows, dy + n * F * OH * OW + oh0 * OW, OH * OW, rows_f, F);
          dz = rows_f;
        }
        if (relu_bits) {  // dz = relu'(z) * dy, summed into the bias gradient on the way
          float* masked = kernels::thread_scratch<float>(4, rows * F);
          kernels::relu_backward_avx512(rows, F, dz, relu_bits + first * relu_bits_stride(s), relu_bits_stride(s),
                                        masked, my_b);
          dz = masked;
        } else if (my_b) {
          add_rows(rows, F, dz, my_b);
        }
        // The band's input (expanded once when depth_multiplier > 1) serves both
        // the recomputation and the depthwise kernel's gradient.
        const auto band = s.nchw ? nchw_band(plan, g, x, n, oh0, oh1) : plan.band(x, n, oh0, oh1);
        if (my_pk) {
          float* d = kernels::thread_scratch<float>(5, rows * K);
          plan.forward_rows(band, dk, oh0, oh1, d);
          if (transposed_pk)  // (F x K) += dZ^T D
            kernels::gemm_tn_avx512(rows, F, K, dz, F, d, K, my_pk, K, pk_started);
          else  // (K x F) += D^T dZ
            kernels::gemm_tn_avx512(rows, K, F, d, K, dz, F, my_pk, F, pk_started);
          pk_started = true;
        }
        if (!need_dd) continue;
        float* dd = dd_image + oh0 * OW * K;
        kernels::gemm_packed_avx512(rows, K, F, dz, F, packed_t.data(), dd, K, false, nullptr, false);
        if (my_dk) plan.backward_kernel_rows(band, oh0, oh1, dd, my_dk);
        if (gx) {
          // Input rows whose every contributing output row is done.
          const int64_t ready = oh1 == OH ? g.in_h : std::clamp<int64_t>(oh1 * g.stride_h - g.pad_top, next_ih, g.in_h);
          if (s.nchw) {  // NHWC rows [next_ih, ready) -> those pixels of the channel planes
            const int64_t pixels = (ready - next_ih) * g.in_w, plane = g.in_h * g.in_w;
            float* gx_rows = kernels::thread_scratch<float>(8, pixels * g.channels);
            plan.backward_input_rows(dd_image, dk, next_ih, ready, gx_rows);
            kernels::transpose(pixels, g.channels, gx_rows, g.channels,
                               gx + n * g.channels * plane + next_ih * g.in_w, plane, stream_gx);
          } else {
            plan.backward_input_rows(dd_image, dk, next_ih, ready, gx + (n * g.in_h + next_ih) * g.in_w * g.channels,
                                     stream_gx);
          }
          next_ih = ready;
        }
      }
    }
    // Streaming stores are weakly ordered: make them visible before other threads read gx.
    if (stream_gx) _mm_sfence();
  }
  // out[at(i)] = the parts' partials at i, added in part order. Blocks of
  // elements, each partial's block added whole, so that the additions run
  // along contiguous memory (element by element, with the parts inner, they
  // did not vectorize: 4% of a Fashion-MNIST epoch, with 64 parts).
  auto reduce = [parts](int64_t size, const float* partial, float* out, auto at) {
    constexpr int64_t block = 1024;
    const int64_t blocks = (size + block - 1) / block;
#pragma omp parallel for schedule(static) if (size * parts > (1 << 16) && !omp_in_parallel())
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t i0 = b * block, n = std::min(block, size - i0);
      float acc[block];
      std::copy(partial + i0, partial + i0 + n, acc);
      for (int64_t q = 1; q < parts; ++q) {
        const float* __restrict pq = partial + q * size + i0;
        for (int64_t i = 0; i < n; ++i) acc[i] += pq[i];
      }
      for (int64_t i = 0; i < n; ++i) out[at(i0 + i)] = acc[i];
    }
  };
  auto same = [](int64_t i) { return i; };
  if (gpk && transposed_pk)  // partial (f, k) -> gradient (k, f)
    reduce(pk_size, ppk.data(), gpk, [K, F](int64_t i) { return i % K * F + i / K; });
  else if (gpk)
    reduce(pk_size, ppk.data(), gpk, same);
  if (gdk) reduce(dk_size, pdk.data(), gdk, same);
  if (gb) reduce(F, pb.data(), gb, same);
}

// Whether backward will take the fused path (and wants relu's bits from forward).
bool fused_backward_path(const SepShape& s, bool is_float) {
  // One image gives the fused backward nothing to share among threads.
  return use_fused(s, is_float) && s.g.batch >= 2;
}

template <typename T>
void forward(const SepShape& s, const T* x, const T* dk, const T* pk, const T* bias, bool relu, T* y,
             uint16_t* relu_bits) {
  if (s.rows() == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (use_fused(s, true)) return fused_forward(s, x, dk, pk, bias, relu, y, relu_bits);
  }
  if (!s.nchw) return unfused_forward(s, x, dk, pk, bias, relu, y);
  // The unfused kernels are NHWC: change the layout around them.
  const ConvGeometry& g = s.g;
  Tensor<T> x_nhwc = Tensor<T>::uninitialized({g.input_size()}), y_nhwc = Tensor<T>::uninitialized({s.rows() * s.F});
  kernels::transpose_planes(g.batch, g.channels, g.in_h * g.in_w, x, x_nhwc.data());
  unfused_forward(s, x_nhwc.data(), dk, pk, bias, relu, y_nhwc.data());
  kernels::transpose_planes(g.batch, g.out_h * g.out_w, s.F, y_nhwc.data(), y);
}

template <typename T>
void backward(const SepShape& s, const T* x, const T* dk, const T* pk, const T* y, const uint16_t* relu_bits,
              const T* dy, bool relu, T* gx, T* gdk, T* gpk, T* gb) {
  if (s.rows() == 0) {  // no output: every gradient is zero
    if (gx) std::fill(gx, gx + s.g.input_size(), T(0));
    if (gdk) std::fill(gdk, gdk + s.g.kernel_size(), T(0));
    if (gpk) std::fill(gpk, gpk + s.K * s.F, T(0));
    if (gb) std::fill(gb, gb + s.F, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    // (Without relu's bits, e.g. when the ISA was changed since forward, take the unfused path.)
    if (fused_backward_path(s, true) && (!relu || relu_bits))
      return fused_backward(s, x, dk, pk, relu ? relu_bits : nullptr, dy, gx, gdk, gpk, gb);
  }
  if (!s.nchw) return unfused_backward(s, x, dk, pk, y, dy, relu, gx, gdk, gpk, gb);
  // The unfused kernels are NHWC: change the layout around them.
  const ConvGeometry& g = s.g;
  const int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  auto to_nhwc = [&](const T* t, int64_t channels, int64_t plane) {
    Tensor<T> out = Tensor<T>::uninitialized({g.batch * channels * plane});
    kernels::transpose_planes(g.batch, channels, plane, t, out.data());
    return out;
  };
  const Tensor<T> x_nhwc = to_nhwc(x, g.channels, in_plane), dy_nhwc = to_nhwc(dy, s.F, out_plane);
  const Tensor<T> y_nhwc = relu ? to_nhwc(y, s.F, out_plane) : Tensor<T>();
  Tensor<T> gx_nhwc = gx ? Tensor<T>::uninitialized({g.input_size()}) : Tensor<T>();
  unfused_backward(s, x_nhwc.data(), dk, pk, relu ? y_nhwc.data() : nullptr, dy_nhwc.data(), relu,
                   gx ? gx_nhwc.data() : nullptr, gdk, gpk, gb);
  if (gx) kernels::transpose_planes(g.batch, in_plane, g.channels, gx_nhwc.data(), gx);
}

}  // namespace

template <typename T>
Variable<T> separable_conv2d(const Variable<T>& x, const Variable<T>& depthwise_kernel,
                             const Variable<T>& pointwise_kernel, const std::optional<Variable<T>>& bias,
                             std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding,
                             SeparableActivation activation, DataFormat data_format) {
  const SepShape s =
      check_shapes(x, depthwise_kernel, pointwise_kernel, bias, strides, dilation, padding, data_format);
  const bool relu = activation == SeparableActivation::Relu;
  const ConvGeometry& g = s.g;
  Variable<T> y(Tensor<T>::uninitialized(s.nchw ? Shape{g.batch, s.F, g.out_h, g.out_w}
                                                : Shape{g.batch, g.out_h, g.out_w, s.F}));
  const bool bias_grad = bias && bias->requires_grad();
  const bool record = grad_enabled() && (x.requires_grad() || depthwise_kernel.requires_grad() ||
                                         pointwise_kernel.requires_grad() || bias_grad);
  // relu's derivative as one bit per output, kept for the fused backward: it
  // spares backward a pass over y (and does not depend on y staying unchanged).
  Tensor<float> relu_bits;
  if (record && relu && fused_backward_path(s, std::is_same_v<T, float>))
    relu_bits = Tensor<float>::uninitialized({(s.rows() * relu_bits_stride(s) + 1) / 2});
  uint16_t* bits = relu_bits.empty() ? nullptr : reinterpret_cast<uint16_t*>(relu_bits.data());
  forward(s, x.value().data(), depthwise_kernel.value().data(), pointwise_kernel.value().data(),
          bias ? bias->value().data() : nullptr, relu, y.value().data(), bits);
  if (record) {
    y.set_requires_grad(true);
    // The closure holds y's node for its gradient (and, unfused, relu's mask);
    // the tape is cleared after backward, which releases it.
    Tape<T>::current().record("separable_conv2d", [x, depthwise_kernel, pointwise_kernel, bias, y, s, relu,
                                                   relu_bits]() {
      if (!y.has_grad()) return;
      const bool want_b = bias && bias->requires_grad();
      Tensor<T> gx, gdk, gpk, gb;
      if (x.requires_grad()) gx = Tensor<T>::uninitialized(x.shape());
      if (depthwise_kernel.requires_grad()) gdk = Tensor<T>::uninitialized(depthwise_kernel.shape());
      if (pointwise_kernel.requires_grad()) gpk = Tensor<T>::uninitialized(pointwise_kernel.shape());
      if (want_b) gb = Tensor<T>::uninitialized(bias->shape());
      const uint16_t* bits = relu_bits.empty() ? nullptr : reinterpret_cast<const uint16_t*>(relu_bits.data());
      backward(s, x.value().data(), depthwise_kernel.value().data(), pointwise_kernel.value().data(),
               y.value().data(), bits, y.grad().data(), relu, x.requires_grad() ? gx.data() : nullptr,
               depthwise_kernel.requires_grad() ? gdk.data() : nullptr,
               pointwise_kernel.requires_grad() ? gpk.data() : nullptr, want_b ? gb.data() : nullptr);
      if (x.requires_grad()) x.add_grad_owned(std::move(gx), "separable_conv2d");
      if (depthwise_kernel.requires_grad()) depthwise_kernel.add_grad_owned(std::move(gdk), "separable_conv2d");
      if (pointwise_kernel.requires_grad()) pointwise_kernel.add_grad_owned(std::move(gpk), "separable_conv2d");
      if (want_b) bias->add_grad_owned(std::move(gb), "separable_conv2d");
    });
  }
  return y;
}

template <typename T>
Variable<T> separable_conv2d(const Variable<T>& x, const Variable<T>& depthwise_kernel,
                             const Variable<T>& pointwise_kernel, const std::optional<Variable<T>>& bias,
                             std::array<int64_t, 2> strides, std::array<int64_t, 2> dilation, Padding padding) {
  return separable_conv2d(x, depthwise_kernel, pointwise_kernel, bias, strides, dilation, padding,
                          SeparableActivation::None);
}

#define SEPCONV_INSTANTIATE(T)                                                                                     \
  template Variable<T> separable_conv2d(const Variable<T>&, const Variable<T>&, const Variable<T>&,               \
                                        const std::optional<Variable<T>>&, std::array<int64_t, 2>,                 \
                                        std::array<int64_t, 2>, Padding);                                          \
  template Variable<T> separable_conv2d(const Variable<T>&, const Variable<T>&, const Variable<T>&,               \
                                        const std::optional<Variable<T>>&, std::array<int64_t, 2>,                 \
                                        std::array<int64_t, 2>, Padding, SeparableActivation, DataFormat);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

// The fused AVX-512 path of the separable convolution (separable_fused.h).
// Compiled for baseline x86-64: the AVX-512 code is in the building blocks it
// calls, so no inline function of this file can leak AVX-512 instructions into
// the rest of the library.
#include "sepconv/core/kernels/separable_fused.h"

#include <omp.h>

#include <xmmintrin.h>

#include <algorithm>

#include "sepconv/core/kernels/depthwise_kernels.h"
#include "sepconv/core/kernels/gemm_kernels.h"
#include "sepconv/core/kernels/transpose.h"
#include "sepconv/core/tensor.h"

namespace sepconv::kernels {

namespace {

// An output larger than a core's L2 cannot wait in cache for its consumer:
// such outputs (the forward's y, the backward's input gradient) are written
// with streaming stores, which skip reading each line before overwriting it
// (docs/performance.md has the measurements).
bool streams_output(int64_t floats) { return floats * int64_t(sizeof(float)) > (int64_t(2) << 20); }

// With NCHW data the fused kernels change the layout band by band, in cache:
// a band's input rows are gathered from the channel planes into NHWC rows,
// its output (or input gradient) rows scattered back, so the tensors are
// never transposed whole. Scratch slots: 6 the input band, 7 the output or
// output-gradient band, 8 the input-gradient rows.

// The input band of output rows [oh0, oh1) of image n, from NCHW x.
DepthwisePlan<float>::Band nchw_band(const DepthwisePlan<float>& plan, const ConvGeometry& g, const float* x,
                                     int64_t n, int64_t oh0, int64_t oh1) {
  const auto [row0, row1] = plan.input_rows(oh0, oh1);
  const int64_t pixels = (row1 - row0) * g.in_w, plane = g.in_h * g.in_w;
  float* rows = thread_scratch<float>(6, pixels * g.channels);
  transpose(g.channels, pixels, x + n * g.channels * plane + row0 * g.in_w, plane, rows, g.channels);
  return plan.band_from_rows(rows, row0, row1);
}

}  // namespace

// About 192 pixels: enough for the GEMMs to reuse each panel of the pointwise
// kernel many times, few enough that a band's intermediate and output
// gradient mostly stay in L2.
int64_t fused_band_rows(const SeparableGeometry& sg) {
  constexpr int64_t target = 192;
  return std::clamp<int64_t>((target + sg.conv.out_w - 1) / sg.conv.out_w, 1, sg.conv.out_h);
}

void fused_forward(const SeparableGeometry& sg, const float* x, const float* dk, const float* pk, const float* bias,
                   bool relu, float* y, uint16_t* relu_bits, int64_t bits_stride) {
  const ConvGeometry& g = sg.conv;
  const int64_t K = sg.mid_channels(), F = sg.filters;
  const bool nchw = sg.channels_first;
  const DepthwisePlan<float> plan(g);
  Tensor<float> packed = Tensor<float>::uninitialized({packed_b_floats_avx512(K, F)});
  pack_b_parallel_avx512(K, F, pk, F, 1, packed.data());
  const int64_t R = fused_band_rows(sg), bands = (g.out_h + R - 1) / R, items = g.batch * bands;
  const bool stream_y = streams_output(sg.output_size());
  // Dynamic scheduling: bands are independent (any order gives the same bits),
  // and a thread that is descheduled on a busy machine does not hold up the rest.
#pragma omp parallel for schedule(dynamic, 2) if (items > 1 && !omp_in_parallel())
  for (int64_t item = 0; item < items; ++item) {
    const int64_t n = item / bands, oh0 = item % bands * R, oh1 = std::min(g.out_h, oh0 + R);
    const int64_t rows = (oh1 - oh0) * g.out_w;
    float* d = thread_scratch<float>(2, rows * K);
    plan.forward_rows(nchw ? nchw_band(plan, g, x, n, oh0, oh1) : plan.band(x, n, oh0, oh1), dk, oh0, oh1, d);
    const int64_t first = (n * g.out_h + oh0) * g.out_w;  // relu_bits are in NHWC order either way
    float* out = nchw ? thread_scratch<float>(7, rows * F) : y + first * F;
    gemm_packed_avx512(rows, F, K, d, K, packed.data(), out, F, false, bias, relu,
                       relu_bits ? relu_bits + first * bits_stride : nullptr, bits_stride,
                       stream_y && !nchw);  // (the NCHW band stays in cache for its transpose)
    if (nchw) {  // rows x F -> the F planes' pixels [oh0 * out_w, oh1 * out_w)
      const int64_t plane = g.out_h * g.out_w;
      transpose(rows, F, out, F, y + n * F * plane + oh0 * g.out_w, plane, stream_y);
    }
  }
}

// Each part (a fixed group of images, by shape alone) is done by one thread,
// band by band: mask the output gradient, recompute the intermediate, and
// accumulate the part's pointwise-kernel, bias and depthwise-kernel gradients;
// the intermediate's gradient of the image is kept whole so that input-gradient
// rows can be gathered as soon as the bands they read are done. The parts'
// partial sums are added in part order.
void fused_backward(const SeparableGeometry& sg, const float* x, const float* dk, const float* pk,
                    const uint16_t* relu_bits, int64_t bits_stride, const float* dy, float* gx, float* gdk,
                    float* gpk, float* gb) {
  const ConvGeometry& g = sg.conv;
  const int64_t K = sg.mid_channels(), F = sg.filters, N = g.batch, OW = g.out_w, OH = g.out_h;
  const bool nchw = sg.channels_first;
  const DepthwisePlan<float> plan(g);
  const bool need_dd = gx || gdk;
  Tensor<float> packed_t;  // the pointwise kernel transposed, packed: dD = dZ * W^T
  if (need_dd) {
    packed_t = Tensor<float>::uninitialized({packed_b_floats_avx512(F, K)});
    pack_b_parallel_avx512(F, K, pk, 1, F, packed_t.data());
  }
  // Images per part: as many parts as images while their partial pointwise
  // gradients fit in 4 MB (each partial is written and then read once more
  // to be added up), but at least 4 parts (or one per image).
  const int64_t pk_size = K * F, dk_size = g.kernel_size();
  // The pointwise kernel's gradient K x F is dW = D^T dZ; its GEMM keeps the
  // F columns in vector lanes. With F not a multiple of 16 and K one (e.g.
  // F = 24, K = 144), part of every vector would be padding: compute the
  // transpose dZ^T D (F x K) instead, and transpose while adding the parts
  // (the same products summed in the same order: the same bits).
  const bool transposed_pk = F % 16 != 0 && K % 16 == 0;
  int64_t parts = std::clamp<int64_t>((int64_t(4) << 20) / std::max<int64_t>(1, pk_size * 4), 1, N);
  parts = std::max(parts, std::min<int64_t>(N, 4));
  const int64_t per_part = (N + parts - 1) / parts;
  parts = (N + per_part - 1) / per_part;
  Tensor<float> ppk = Tensor<float>::uninitialized({gpk ? parts * pk_size : 1});
  Tensor<float> pdk = Tensor<float>::uninitialized({gdk ? parts * dk_size : 1});
  Tensor<float> pb = Tensor<float>::uninitialized({gb ? parts * F : 1});
  const int64_t R = fused_band_rows(sg);
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
      float* dd_image = need_dd ? thread_scratch<float>(3, OH * OW * K) : nullptr;
      int64_t next_ih = 0;
      for (int64_t oh0 = 0; oh0 < OH; oh0 += R) {
        const int64_t oh1 = std::min(OH, oh0 + R), rows = (oh1 - oh0) * OW;
        const int64_t first = (n * OH + oh0) * OW;
        const float* dz = dy + first * F;
        if (nchw) {  // the F planes' pixels [oh0 * OW, oh1 * OW) -> rows x F
          float* rows_f = thread_scratch<float>(7, rows * F);
          transpose(F, rows, dy + n * F * OH * OW + oh0 * OW, OH * OW, rows_f, F);
          dz = rows_f;
        }
        if (relu_bits) {  // dz = relu'(z) * dy, summed into the bias gradient on the way
          float* masked = thread_scratch<float>(4, rows * F);
          relu_backward_avx512(rows, F, dz, relu_bits + first * bits_stride, bits_stride, masked, my_b);
          dz = masked;
        } else if (my_b) {
          add_rows(rows, F, dz, my_b);
        }
        // The band's input (expanded once when depth_multiplier > 1) serves both
        // the recomputation and the depthwise kernel's gradient.
        const auto band = nchw ? nchw_band(plan, g, x, n, oh0, oh1) : plan.band(x, n, oh0, oh1);
        if (my_pk) {
          float* d = thread_scratch<float>(5, rows * K);
          plan.forward_rows(band, dk, oh0, oh1, d);
          if (transposed_pk)  // (F x K) += dZ^T D
            gemm_tn_avx512(rows, F, K, dz, F, d, K, my_pk, K, pk_started);
          else  // (K x F) += D^T dZ
            gemm_tn_avx512(rows, K, F, d, K, dz, F, my_pk, F, pk_started);
          pk_started = true;
        }
        if (!need_dd) continue;
        float* dd = dd_image + oh0 * OW * K;
        gemm_packed_avx512(rows, K, F, dz, F, packed_t.data(), dd, K, false, nullptr, false);
        if (my_dk) plan.backward_kernel_rows(band, oh0, oh1, dd, my_dk);
        if (gx) {
          // Input rows whose every contributing output row is done.
          const int64_t ready = oh1 == OH ? g.in_h : std::clamp<int64_t>(oh1 * g.stride_h - g.pad_top, next_ih, g.in_h);
          if (nchw) {  // NHWC rows [next_ih, ready) -> those pixels of the channel planes
            const int64_t pixels = (ready - next_ih) * g.in_w, plane = g.in_h * g.in_w;
            float* gx_rows = thread_scratch<float>(8, pixels * g.channels);
            plan.backward_input_rows(dd_image, dk, next_ih, ready, gx_rows);
            transpose(pixels, g.channels, gx_rows, g.channels, gx + n * g.channels * plane + next_ih * g.in_w, plane,
                      stream_gx);
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
  // along contiguous memory (with the parts inner, they do not vectorize).
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

}  // namespace sepconv::kernels

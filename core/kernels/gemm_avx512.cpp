// AVX-512 SGEMM building blocks (see gemm_kernels.h). Compiled with AVX-512
// flags; everything here is internal linkage except the entry points, so no
// AVX-512 code can leak into generic paths through shared inline functions.
//
// Why our own: Debian 12's OpenBLAS runs these shapes at 45-60 GFLOP/s on the
// project's Intel Xeon (AVX-512), a fifth of what these kernels reach there
// (bench/kernel-bench.cpp), and on the earlier AMD Zen 5 it was pinned to its
// AVX2 kernels (OPENBLAS_CORETYPE=Haswell), half the FMA width. The shapes
// of a separable convolution are also friendly to a simple design: m (pixels)
// is large, k (channels) and n (filters) are at most a few hundred, so B fits
// in L2 once packed, A can be read in place, and a whole k-loop runs in
// registers, which lets the bias and the activation be applied on the one
// store of each C tile.
// GCC 12 warns about _mm512_undefined_ps() inside its own intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <new>
#include <cstdint>
#include <utility>

#include "sepconv/core/kernels/gemm_kernels.h"
#include "sepconv/core/kernels/transpose.h"

namespace sepconv::kernels {

namespace {

constexpr int64_t kPanel = kPackedPanel;  // columns per packed panel (4 vectors)

inline __mmask16 tail_mask(int64_t cols) {  // cols in 1..16
  return static_cast<__mmask16>(cols >= 16 ? 0xFFFF : ((1u << cols) - 1));
}

// One MR x (NV*16) tile of C over the full k loop. `b` points at the panel's
// first row (row stride NV*16); `last` masks the final vector's columns.
template <int MR, int NV>
__attribute__((always_inline)) inline void nn_tile(int64_t k, const float* __restrict a, int64_t lda,
                                                   const float* __restrict b, float* __restrict c, int64_t ldc,
                                                   __mmask16 last, bool accumulate, const float* bias, bool relu,
                                                   uint16_t* bits, int64_t bits_stride, bool stream) {
  constexpr int W = NV * 16;
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  const float* ar[MR];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) ar[i] = a + i * lda;
  for (int64_t p = 0; p < k; ++p) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + p * W + v * 16);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(ar[i][p]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  __m512 bias_v[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v)
    bias_v[v] = bias ? _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xFFFF, bias + v * 16) : _mm512_setzero_ps();
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = v == NV - 1 ? last : 0xFFFF;
      __m512 r = acc[i][v];
      if (accumulate) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask, ci + v * 16));
      if (bias) r = _mm512_add_ps(r, bias_v[v]);
      if (relu) r = _mm512_max_ps(r, zero);
      if (bits) bits[i * bits_stride + v] = _mm512_mask_cmp_ps_mask(mask, r, zero, _CMP_GT_OQ);
      float* dst = ci + v * 16;
      if (stream && mask == 0xFFFF && (reinterpret_cast<uintptr_t>(dst) & 63) == 0)
        _mm512_stream_ps(dst, r);  // no read-for-ownership of a line we overwrite whole
      else
        _mm512_mask_storeu_ps(dst, mask, r);
    }
  }
}

// Rows per tile for a panel of NV vectors: 24 accumulators in all, leaving
// registers for the B row and the broadcast. A one-vector panel takes 12 rows,
// not 24: 24 row pointers do not fit in the general registers, and GCC kept
// half of them in vector registers, moving one back for every broadcast
// (12 rows measured 7-11% faster; 12 sums still cover the FMA latency).
template <int NV>
constexpr int nn_rows() {
  return NV == 4 ? 6 : NV == 3 ? 8 : 12;
}

// The weight-gradient tile reads its MR values from one row of A (no row
// pointers): a one-vector panel keeps 24 sums (measured 8-18% faster than 12).
template <int NV>
constexpr int tn_rows() {
  return NV == 1 ? 24 : nn_rows<NV>();
}

// Dispatches a short final tile (rows < MR) to the instance with that many rows.
template <int NV, int R = nn_rows<NV>()>
inline void nn_tile_rows(int rows, int64_t k, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                         __mmask16 last, bool accumulate, const float* bias, bool relu, uint16_t* bits,
                         int64_t bits_stride, bool stream) {
  if constexpr (R >= 1) {
    if (rows == R) return nn_tile<R, NV>(k, a, lda, b, c, ldc, last, accumulate, bias, relu, bits, bits_stride, stream);
    return nn_tile_rows<NV, R - 1>(rows, k, a, lda, b, c, ldc, last, accumulate, bias, relu, bits, bits_stride,
                                   stream);
  }
}

template <int NV>
void nn_panel(int64_t m, int64_t k, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
              __mmask16 last, bool accumulate, const float* bias, bool relu, uint16_t* bits, int64_t bits_stride,
              bool stream) {
  constexpr int MR = nn_rows<NV>();
  int64_t i = 0;
  for (; i + MR <= m; i += MR)
    nn_tile<MR, NV>(k, a + i * lda, lda, b, c + i * ldc, ldc, last, accumulate, bias, relu,
                    bits ? bits + i * bits_stride : nullptr, bits_stride, stream);
  if (i < m)
    nn_tile_rows<NV>(static_cast<int>(m - i), k, a + i * lda, lda, b, c + i * ldc, ldc, last, accumulate, bias, relu,
                     bits ? bits + i * bits_stride : nullptr, bits_stride, stream);
}

// Per-thread scratch for packing, grown on demand and kept: no allocation per call.
struct Scratch {
  float* data = nullptr;
  size_t floats = 0;
  ~Scratch() { std::free(data); }
  float* get(size_t n) {
    if (n > floats) {
      std::free(data);
      floats = std::max(n, floats * 2);
      data = static_cast<float*>(std::aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64));
      if (!data) {
        floats = 0;
        throw std::bad_alloc();
      }
    }
    return data;
  }
};
thread_local Scratch tn_scratch;
thread_local Scratch tn_a_scratch;

// C tile (rows <= MR of k) x (NV*16 columns of n) += sum over m of A[p][i] * Bp[p][j]:
// A's MR consecutive floats of each row are broadcast (row stride lda: A in
// place, or MR for a packed strip), B comes
// packed (m x NV*16, contiguous) so it streams from L1 for every tile.
template <int MR, int NV, bool InPlaceB = false>
void tn_tile(int64_t m, const float* __restrict a, int64_t lda, const float* __restrict bp, int64_t ldb,
             float* __restrict c, int64_t ldc, int rows, __mmask16 last, bool accumulate) {
  constexpr int W = NV * 16;
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < m; ++p) {
    const float* ap = a + p * lda;
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = InPlaceB ? _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xFFFF, bp + p * ldb + v * 16)
                       : _mm512_load_ps(bp + p * W + v * 16);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    if (i >= rows) break;
    float* ci = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = v == NV - 1 ? last : 0xFFFF;
      const __m512 r = accumulate ? _mm512_add_ps(acc[i][v], _mm512_maskz_loadu_ps(mask, ci + v * 16)) : acc[i][v];
      _mm512_mask_storeu_ps(ci + v * 16, mask, r);
    }
  }
}

template <int NV, bool InPlaceB, int R = tn_rows<NV>()>
inline void tn_tile_rows(int rows, int64_t m, const float* a, int64_t lda, const float* bp, int64_t ldb, float* c,
                         int64_t ldc, __mmask16 last, bool accumulate) {
  if constexpr (R >= 1) {
    if (rows == R) return tn_tile<R, NV, InPlaceB>(m, a, lda, bp, ldb, c, ldc, R, last, accumulate);
    return tn_tile_rows<NV, InPlaceB, R - 1>(rows, m, a, lda, bp, ldb, c, ldc, last, accumulate);
  }
}

// With strips (non-null: A packed by pack_a_strips<MR>, for full-width panels
// only), tile t reads its strip contiguously; otherwise A in place. B is the
// packed panel, or with InPlaceB the panel's columns of B itself (stride ldb).
template <int NV, bool InPlaceB>
void tn_panel(int64_t m, int64_t k, int64_t cols, const float* a, int64_t lda, const float* strips,
              const float* bp, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  constexpr int MR = tn_rows<NV>();
  const __mmask16 last = tail_mask(cols - (cols - 1) / 16 * 16);
  auto at = [&](int64_t t) { return strips ? strips + t * m : a + t; };
  const int64_t step = strips ? MR : lda;
  int64_t t = 0;
  for (; t + MR <= k; t += MR)
    tn_tile<MR, NV, InPlaceB>(m, at(t), step, bp, ldb, c + t * ldc, ldc, MR, last, accumulate);
  if (t < k)
    tn_tile_rows<NV, InPlaceB>(static_cast<int>(k - t), m, at(t), step, bp, ldb, c + t * ldc, ldc, last, accumulate);
}

template <bool InPlaceB>
void tn_panels(int64_t rows, int64_t k, int64_t n, const float* ap, int64_t lda, const float* strips,
               const float* b, int64_t ldb, const float* packed, float* c, int64_t ldc, bool accumulate) {
  for (int64_t j0 = 0; j0 < n; j0 += kPanel) {
    const int64_t cols = std::min(kPanel, n - j0);
    const float* bj = InPlaceB ? b + j0 : packed + j0 * rows;
    switch ((cols + 15) / 16) {
      case 4: tn_panel<4, InPlaceB>(rows, k, cols, ap, lda, strips, bj, ldb, c + j0, ldc, accumulate); break;
      case 3: tn_panel<3, InPlaceB>(rows, k, cols, ap, lda, nullptr, bj, ldb, c + j0, ldc, accumulate); break;
      case 2: tn_panel<2, InPlaceB>(rows, k, cols, ap, lda, nullptr, bj, ldb, c + j0, ldc, accumulate); break;
      default: tn_panel<1, InPlaceB>(rows, k, cols, ap, lda, nullptr, bj, ldb, c + j0, ldc, accumulate); break;
    }
  }
}

// A's rows x k block as strips of MR columns, strip s = rows x MR contiguous
// (the last strip's missing columns are zero): each TN tile then reads its
// MR values per row from consecutive memory.
template <int MR>
void pack_a_strips(int64_t rows, int64_t k, const float* a, int64_t lda, float* out) {
  const int64_t strips = (k + MR - 1) / MR;
  for (int64_t p = 0; p < rows; ++p) {
    const float* src = a + p * lda;
    float* dst = out + p * MR;
    for (int64_t s = 0; s < strips; ++s) {
      const __mmask16 valid = tail_mask(std::min<int64_t>(MR, k - s * MR));
      _mm512_mask_storeu_ps(dst + s * rows * MR, tail_mask(MR), _mm512_maskz_loadu_ps(valid, src + s * MR));
    }
  }
}

// One packed panel of B^T: out[p * width + j] = b[p + j * ld] for p < k, j < cols,
// zero for cols <= j < width: the (cols x k) block of b transposed in 16 x 16
// register blocks (transpose_avx512), then the padding columns zeroed. Copying
// value by value instead reads a new cache line per value, and with a
// power-of-two ld those lines share a few L1 sets: 4x slower at 512 x 512.
void pack_transposed_panel(int64_t k, int64_t cols, int64_t width, const float* b, int64_t ld, float* out) {
  transpose_avx512(cols, k, b, ld, out, width, false);
  if (cols < width)
    for (int64_t p = 0; p < k; ++p) std::fill(out + p * width + cols, out + (p + 1) * width, 0.0f);
}

}  // namespace

int64_t packed_b_floats_avx512(int64_t k, int64_t n) { return k * ((n + 15) / 16 * 16); }

void pack_b_avx512(int64_t k, int64_t n, const float* b, int64_t rs, int64_t cs, float* packed) {
  for (int64_t j0 = 0; j0 < n; j0 += kPanel) {
    const int64_t cols = std::min(kPanel, n - j0);
    const int64_t width = (cols + 15) / 16 * 16;
    float* out = packed + j0 * k;  // earlier panels are all kPanel wide
    if (cs == 1) {
      for (int64_t p = 0; p < k; ++p) {
        float* row = out + p * width;
        const float* src = b + p * rs + j0;
        std::copy(src, src + cols, row);
        std::fill(row + cols, row + width, 0.0f);
      }
      continue;
    }
    assert(rs == 1 && "pack_b_avx512: one of the strides must be 1");
    pack_transposed_panel(k, cols, width, b + j0 * cs, cs, out);  // B^T of a row-major matrix
  }
}

void gemm_packed_avx512(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* packed_b,
                        float* c, int64_t ldc, bool accumulate, const float* bias, bool relu, uint16_t* relu_bits,
                        int64_t bits_stride, bool stream) {
  if (m <= 0 || n <= 0) return;
  // A block of rows stays in L2 while every column panel passes over it.
  const int64_t block = std::clamp<int64_t>((96 << 10) / std::max<int64_t>(k, 1) / 24 * 24, 24, 480);
  for (int64_t i0 = 0; i0 < m; i0 += block) {
    const int64_t rows = std::min(block, m - i0);
    const float* ab = a + i0 * lda;
    float* cb = c + i0 * ldc;
    uint16_t* bb = relu_bits ? relu_bits + i0 * bits_stride : nullptr;
    for (int64_t j0 = 0; j0 < n; j0 += kPanel) {
      const int64_t cols = std::min(kPanel, n - j0);
      const float* bp = packed_b + j0 * k;
      const float* bj = bias ? bias + j0 : nullptr;
      const __mmask16 last = tail_mask(cols - (cols - 1) / 16 * 16);
      switch ((cols + 15) / 16) {
        case 4: nn_panel<4>(rows, k, ab, lda, bp, cb + j0, ldc, last, accumulate, bj, relu, bb ? bb + j0 / 16 : nullptr,
                                bits_stride, stream); break;
        case 3: nn_panel<3>(rows, k, ab, lda, bp, cb + j0, ldc, last, accumulate, bj, relu, bb ? bb + j0 / 16 : nullptr,
                                bits_stride, stream); break;
        case 2: nn_panel<2>(rows, k, ab, lda, bp, cb + j0, ldc, last, accumulate, bj, relu, bb ? bb + j0 / 16 : nullptr,
                                bits_stride, stream); break;
        default: nn_panel<1>(rows, k, ab, lda, bp, cb + j0, ldc, last, accumulate, bj, relu, bb ? bb + j0 / 16 : nullptr,
                                bits_stride, stream); break;
      }
    }
  }
  if (stream) _mm_sfence();  // streaming stores are weakly ordered: publish them before returning
}

bool tn_packs_a_avx512(int64_t rows, int64_t k, int64_t n) {
  // Each column panel reads the whole A block again, MR values from each row:
  // with rows of k floats the reads stride across pages, where the hardware
  // prefetchers do not follow. That is harmless while A stays in L2 between
  // panels; once the call's working set (A block, C, B block) outgrows about
  // half of a 2 MB L2, every panel fetches A from L3 at full latency. Packed
  // strips are read in order instead. Measured (weight-gradient GEMM inside
  // the fused backward, interleaved runs): xception_19x19x728_f728 train
  // steps 5-8% faster (3.3 MB), mnv1_14x14x512_f512 unchanged (1.8 MB);
  // with short rows (k = 32-144) packing made the product 8-20% slower.
  const int64_t floats = rows * k + k * n + rows * n;
  return n > kPanel && floats * int64_t(sizeof(float)) > (int64_t(1) << 20);
}

void gemm_tn_avx512(int64_t m, int64_t k, int64_t n, const float* a, int64_t lda, const float* b, int64_t ldb,
                    float* c, int64_t ldc, bool accumulate) {
  if (n <= 0 || k <= 0) return;
  if (m <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < k; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  // Blocks of up to 512 rows, as the NN kernel takes its k: all of B's block
  // is packed in panels (at most 128 KB each, read from L2; or read in place,
  // below), A is read in place (or packed in strips, see tn_packs_a_avx512),
  // and each tile of C sums the whole block in registers, so C is loaded and
  // stored once per block. The block size is a constant, so the order of the
  // additions depends on the shape alone.
  constexpr int64_t block = 512;
  const int64_t width = (n + 15) / 16 * 16;
  const bool pack_a = tn_packs_a_avx512(std::min(block, m), k, n);
  // Each panel of B is read once per MR rows of C, k / MR times: with k up to
  // 64 (about ten reads) packing it first (a read and a write of the block)
  // costs more than reading its rows in place. Measured (interleaved train
  // steps): mnv2_56x56x144_f24 (k = 24), mnv1_112x112x32_f64 (32),
  // mnv1_112x112x64_s2_f128 and k5_dm2_32x32x32_f64 (64) 3-10% faster;
  // mnv1_56x56x128_f128 (128) the same either way.
  const bool pack_b = k > 64;
  float* bp = pack_b ? tn_scratch.get(static_cast<size_t>(std::min(block, m) * width)) : nullptr;
  for (int64_t p0 = 0; p0 < m; p0 += block) {
    const int64_t rows = std::min(block, m - p0);
    const float* ap = a + p0 * lda;
    // Pack: panel j (columns j0 .. j0 + 64) holds rows x its width, contiguous:
    // the layout pack_b_avx512 writes for a (rows x n) right-hand operand.
    if (pack_b) pack_b_avx512(rows, n, b + p0 * ldb, ldb, 1, bp);
    const bool acc = accumulate || p0 > 0;
    // Strips for the full-width panels' tiles (a narrower last panel has a
    // taller tile and reads A in place).
    constexpr int strip = tn_rows<4>();
    float* strips = nullptr;
    if (pack_a) {
      strips = tn_a_scratch.get(static_cast<size_t>(rows * ((k + strip - 1) / strip * strip)));
      pack_a_strips<strip>(rows, k, ap, lda, strips);
    }
    if (pack_b)
      tn_panels<false>(rows, k, n, ap, lda, strips, nullptr, 0, bp, c, ldc, acc);
    else
      tn_panels<true>(rows, k, n, ap, lda, strips, b + p0 * ldb, ldb, nullptr, c, ldc, acc);
  }
}

namespace {
// Up to 8 column groups (128 columns) of rows [0, rows), row after row, the
// groups' running sums in registers.
template <int G>
void relu_backward_chunk(int64_t rows, int64_t n, int64_t g0, int ng, __mmask16 last_mask, const float* dy,
                         const uint16_t* bits, int64_t bits_stride, float* dz, float* sums) {
  __m512 acc[G];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    const __mmask16 m = g == ng - 1 ? last_mask : 0xFFFF;
    acc[g] = (sums && g < ng) ? _mm512_maskz_loadu_ps(m, sums + (g0 + g) * 16) : _mm512_setzero_ps();
  }
  for (int64_t i = 0; i < rows; ++i) {
    const float* d = dy + i * n + g0 * 16;
    float* z = dz + i * n + g0 * 16;
    const uint16_t* b = bits + i * bits_stride + g0;
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      if (g >= ng) break;
      const __mmask16 m = g == ng - 1 ? last_mask : 0xFFFF;
      const __m512 v = _mm512_maskz_loadu_ps(static_cast<__mmask16>(b[g] & m), d + g * 16);
      _mm512_mask_storeu_ps(z + g * 16, m, v);
      acc[g] = _mm512_add_ps(acc[g], v);
    }
  }
  if (sums)
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      if (g >= ng) break;
      _mm512_mask_storeu_ps(sums + (g0 + g) * 16, g == ng - 1 ? last_mask : 0xFFFF, acc[g]);
    }
}
}  // namespace

void relu_backward_avx512(int64_t rows, int64_t n, const float* dy, const uint16_t* bits, int64_t bits_stride,
                          float* dz, float* sums) {
  const int64_t groups = (n + 15) / 16;
  const __mmask16 last = tail_mask(n - (groups - 1) * 16);
  // Chunks of 8 column groups, each read row after row (sequential memory for
  // the common n <= 128) with its running sums in registers; rows are added in order.
  for (int64_t g0 = 0; g0 < groups; g0 += 8) {
    const int ng = static_cast<int>(std::min<int64_t>(8, groups - g0));
    relu_backward_chunk<8>(rows, n, g0, ng, g0 + ng == groups ? last : 0xFFFF, dy, bits, bits_stride, dz, sums);
  }
}

}  // namespace sepconv::kernels

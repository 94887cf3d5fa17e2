// Internal: the two inner loops every depthwise kernel is built from, written
// once over a vector type V and compiled once per ISA. Include it inside a
// namespace of its own in each ISA's translation unit (after the standard and
// intrinsic headers), so that the per-ISA instances can never be merged by the
// linker into code that runs on a CPU without that ISA.
//
// V provides: T (element), reg, mask, W (lanes), zero(), load(p), load(p, m),
// store(p, r), store(p, r, m), stream(p, r) (a streaming store where p is
// aligned, else a plain one), fma(a, b, c) = a * b + c, add(a, b),
// tail_mask(n) for the first n < W lanes.
//
// V::kTile is the widest pixel tile of correlate_pixels (8 or 12, by register count).
// V::kPinLoads: reg is a machine vector register type (see in_register).
//
// Both loops see the image through zero-padded buffers prepared by the caller
// (depthwise.cpp), so every tap of every pixel is in range: no edge cases here.

// `Tap` (kernels::DwTap<V::T>) must be in scope: a tap of a correlation,
// `offset` (elements) from a pixel's base in the input buffer to the input this
// tap reads, and the tap's weights (one per channel).

// Walking a pointer by a run-time stride with one add per step, the pointer
// hidden from the optimizer: otherwise GCC precomputes x * C for every x of an
// unrolled tile and, short of registers, keeps the offsets in vector
// registers, paying a move to a general register (on an FMA port) and an add
// for every load.
template <typename P>
__attribute__((always_inline)) inline void opaque(P*& p) {
  asm("" : "+r"(p));
}
// Loaded once into a register: otherwise GCC folds the load into each of
// the value's FMAs as a memory operand, and the tile becomes bound by loads.
// (Only for register types of the target's own vectors, V::kPinLoads.)
template <typename R>
__attribute__((always_inline)) inline void in_register(R& r) {
  if constexpr (V::kPinLoads) asm("" : "+v"(r));
}

template <int P, bool Masked>
__attribute__((always_inline)) inline void correlate_tile(int64_t c0, typename V::mask m, const typename V::T* in,
                                                          int64_t in_step, const Tap* taps, int ntaps,
                                                          typename V::T* out, int64_t out_step, bool accumulate,
                                                          bool stream) {
  using reg = typename V::reg;
  reg acc[P];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    if (accumulate)
      acc[p] = Masked ? V::load(out + p * out_step + c0, m) : V::load(out + p * out_step + c0);
    else
      acc[p] = V::zero();
  }
  // Each tap walks the tile's pixels with one pointer. (A pointer per pixel,
  // fixed over the taps, needs more registers than there are with 12 pixels:
  // they were kept in vector registers and moved back for every load, 10-25%
  // slower.)
  for (int t = 0; t < ntaps; ++t) {
    const reg w = Masked ? V::load(taps[t].weight + c0, m) : V::load(taps[t].weight + c0);
    const typename V::T* x = in + taps[t].offset + c0;
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p, x += in_step) {
      acc[p] = V::fma(Masked ? V::load(x, m) : V::load(x), w, acc[p]);
      opaque(x);
    }
  }
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    if (Masked)
      V::store(out + p * out_step + c0, acc[p], m);
    else if (stream)
      V::stream(out + p * out_step + c0, acc[p]);
    else
      V::store(out + p * out_step + c0, acc[p]);
  }
}

template <int P>
__attribute__((always_inline)) inline void correlate_pixels_p(int64_t channels, const typename V::T* in,
                                                              int64_t in_step, const Tap* taps, int ntaps,
                                                              typename V::T* out, int64_t out_step, bool accumulate,
                                                              bool stream) {
  const int64_t full = channels / V::W * V::W;
  int64_t c0 = 0;
  for (; c0 < full; c0 += V::W)
    correlate_tile<P, false>(c0, typename V::mask{}, in, in_step, taps, ntaps, out, out_step, accumulate, stream);
  if (c0 < channels)
    correlate_tile<P, true>(c0, V::tail_mask(static_cast<int>(channels - c0)), in, in_step, taps, ntaps, out,
                            out_step, accumulate, false);
}

// For each of `count` pixels q and channel c:
//   out[q * out_step + c] (+)= sum over taps t of in[q * in_step + t.offset + c] * t.weight[c].
// Pixels are done in tiles of kTile (then 8, 4, 2, 1) so each weight load
// feeds that many FMAs, the input loads fold into the FMAs, and enough
// independent sums are in flight to hide the FMA latency.
// With `stream`, whole vectors are written with streaming stores (for outputs
// that are not read again soon: no read of the old line, no cache pollution).
inline void correlate_pixels(int64_t count, int64_t channels, const typename V::T* in, int64_t in_step,
                             const Tap* taps, int ntaps, typename V::T* out, int64_t out_step, bool accumulate,
                             bool stream) {
  int64_t q = 0;
  for (; q + V::kTile <= count; q += V::kTile)
    correlate_pixels_p<V::kTile>(channels, in + q * in_step, in_step, taps, ntaps, out + q * out_step, out_step,
                              accumulate, stream);
  if (V::kTile > 8 && q + 8 <= count) {
    correlate_pixels_p<8>(channels, in + q * in_step, in_step, taps, ntaps, out + q * out_step, out_step, accumulate, stream);
    q += 8;
  }
  if (q + 4 <= count) {
    correlate_pixels_p<4>(channels, in + q * in_step, in_step, taps, ntaps, out + q * out_step, out_step, accumulate, stream);
    q += 4;
  }
  if (q + 2 <= count) {
    correlate_pixels_p<2>(channels, in + q * in_step, in_step, taps, ntaps, out + q * out_step, out_step, accumulate, stream);
    q += 2;
  }
  if (q < count)
    correlate_pixels_p<1>(channels, in + q * in_step, in_step, taps, ntaps, out + q * out_step, out_step, accumulate, stream);
}

// NT taps at once, U pixels interleaved so that at least 8 independent sums are
// in flight (enough to hide the FMA latency); the U partial sums of a tap are
// added at the end in a fixed order.
template <int NT, int U, bool Masked>
__attribute__((always_inline)) inline void accumulate_group(int64_t count, int64_t c0, typename V::mask m,
                                                            const typename V::T* in, int64_t in_step,
                                                            const int64_t* offsets, const typename V::T* go,
                                                            int64_t go_step, typename V::T* gk, int64_t gk_stride) {
  using reg = typename V::reg;
  reg acc[NT][U];
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t)
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[t][u] = V::zero();
  int64_t off[NT];
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) off[t] = offsets[t] + c0;
  int64_t q = 0;
  for (; q + U <= count; q += U) {
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      const typename V::T* gp = go + (q + u) * go_step + c0;
      const reg g = Masked ? V::load(gp, m) : V::load(gp);
      const typename V::T* base = in + (q + u) * in_step;
#pragma GCC unroll 16
      for (int t = 0; t < NT; ++t)
        acc[t][u] = V::fma(Masked ? V::load(base + off[t], m) : V::load(base + off[t]), g, acc[t][u]);
    }
  }
  for (; q < count; ++q) {
    const typename V::T* gp = go + q * go_step + c0;
    const reg g = Masked ? V::load(gp, m) : V::load(gp);
    const typename V::T* base = in + q * in_step;
#pragma GCC unroll 16
    for (int t = 0; t < NT; ++t)
      acc[t][0] = V::fma(Masked ? V::load(base + off[t], m) : V::load(base + off[t]), g, acc[t][0]);
  }
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) {
    reg s = acc[t][0];
#pragma GCC unroll 8
    for (int u = 1; u < U; ++u) s = V::add(s, acc[t][u]);
    typename V::T* dst = gk + t * gk_stride + c0;
    if (Masked)
      V::store(dst, V::add(V::load(dst, m), s), m);
    else
      V::store(dst, V::add(V::load(dst), s));
  }
}

template <int NT>
inline void accumulate_group_channels(int64_t count, int64_t channels, const typename V::T* in, int64_t in_step,
                                      const int64_t* offsets, const typename V::T* go, int64_t go_step,
                                      typename V::T* gk, int64_t gk_stride) {
  constexpr int U = NT >= 8 ? 1 : NT >= 4 ? 2 : NT >= 2 ? 4 : 8;
  const int64_t full = channels / V::W * V::W;
  int64_t c0 = 0;
  for (; c0 < full; c0 += V::W)
    accumulate_group<NT, U, false>(count, c0, typename V::mask{}, in, in_step, offsets, go, go_step, gk, gk_stride);
  if (c0 < channels)
    accumulate_group<NT, U, true>(count, c0, V::tail_mask(static_cast<int>(channels - c0)), in, in_step, offsets, go,
                                  go_step, gk, gk_stride);
}

// For each tap t and channel c:
//   gk[t * gk_stride + c] += sum over pixels q < count of in[q * in_step + offsets[t] + c] * go[q * go_step + c].
// Taps are done in groups of at most 12, each group's sums held in registers
// over all the pixels; the order of additions depends on the shape alone.
inline void accumulate_taps(int64_t count, int64_t channels, const typename V::T* in, int64_t in_step,
                            const int64_t* offsets, int ntaps, const typename V::T* go, int64_t go_step,
                            typename V::T* gk, int64_t gk_stride) {
  const int groups = (ntaps + 11) / 12;
  const int size = groups ? (ntaps + groups - 1) / groups : 0;
  for (int t0 = 0; t0 < ntaps; t0 += size) {
    const int nt = ntaps - t0 < size ? ntaps - t0 : size;
    const int64_t* o = offsets + t0;
    typename V::T* g = gk + t0 * gk_stride;
    switch (nt) {
#define SEPCONV_ACC_CASE(N) \
  case N: accumulate_group_channels<N>(count, channels, in, in_step, o, go, go_step, g, gk_stride); break;
      SEPCONV_ACC_CASE(1)
      SEPCONV_ACC_CASE(2)
      SEPCONV_ACC_CASE(3)
      SEPCONV_ACC_CASE(4)
      SEPCONV_ACC_CASE(5)
      SEPCONV_ACC_CASE(6)
      SEPCONV_ACC_CASE(7)
      SEPCONV_ACC_CASE(8)
      SEPCONV_ACC_CASE(9)
      SEPCONV_ACC_CASE(10)
      SEPCONV_ACC_CASE(11)
      default: accumulate_group_channels<12>(count, channels, in, in_step, o, go, go_step, g, gk_stride); break;
#undef SEPCONV_ACC_CASE
    }
  }
}

// ---- interior rows with unit dilation: each input load feeds every tap it meets ----

// P output pixels x NC channel vectors; for each kernel row r, the inputs
// in[roff[r] + x * C], x = 0 .. (P - 1) * S + KW - 1, are loaded once each and
// multiplied into every (pixel, tap) pair they belong to:
//   out[p * C + c] = sum_r sum_j in[roff[r] + (p * S + j) * C + c] * wrow[r][j * wstep + c].
template <int KW, int S, int P, int NC, bool Masked>
__attribute__((always_inline)) inline void row_tile(int64_t c0, typename V::mask m, int64_t C,
                                                    const typename V::T* in, const int64_t* roff,
                                                    const typename V::T* const* wrow, int64_t wstep, int nrows,
                                                    typename V::T* out, bool stream) {
  using reg = typename V::reg;
  constexpr int X = (P - 1) * S + KW;
  reg acc[P][NC];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int v = 0; v < NC; ++v) acc[p][v] = V::zero();
  for (int r = 0; r < nrows; ++r) {
    reg w[KW][NC];
    const typename V::T* wp = wrow[r] + c0;
#pragma GCC unroll 8
    for (int j = 0; j < KW; ++j) {
#pragma GCC unroll 4
      for (int v = 0; v < NC; ++v) w[j][v] = Masked ? V::load(wp + v * V::W, m) : V::load(wp + v * V::W);
      wp += wstep;
      opaque(wp);
    }
    const typename V::T* b = in + roff[r] + c0;
#pragma GCC unroll 32
    for (int x = 0; x < X; ++x, b += C) {
      opaque(b);
#pragma GCC unroll 4
      for (int v = 0; v < NC; ++v) {
        reg xv = Masked ? V::load(b + v * V::W, m) : V::load(b + v * V::W);
        in_register(xv);
#pragma GCC unroll 8
        for (int j = 0; j < KW; ++j) {
          if ((x - j) % S != 0) continue;
          const int p = (x - j) / S;
          if (x - j < 0 || p >= P) continue;
          acc[p][v] = V::fma(xv, w[j][v], acc[p][v]);
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int v = 0; v < NC; ++v) {
      if (Masked)
        V::store(out + p * C + c0 + v * V::W, acc[p][v], m);
      else if (stream)
        V::stream(out + p * C + c0 + v * V::W, acc[p][v]);
      else
        V::store(out + p * C + c0 + v * V::W, acc[p][v]);
    }
}

// All pixel tiles of one channel chunk (NC vectors, or one masked vector), for
// `nout` output rows: for each tile of pixels the output rows are done one
// after the other, so the input strip they share is still in L1.
template <int KW, int S, int NC, bool Masked>
void row_chunk(int64_t c0, typename V::mask m, int64_t count, int64_t C, const typename V::T* in,
               const int64_t* roff, const typename V::T* const* wrow, int64_t wstep, int nrows, typename V::T* out,
               int64_t nout, int64_t in_rs, int64_t out_rs, bool stream) {
  int64_t q = 0;
  for (; q + 8 <= count; q += 8)
    for (int64_t o = 0; o < nout; ++o)
      row_tile<KW, S, 8, NC, Masked>(c0, m, C, in + o * in_rs + q * S * C, roff, wrow, wstep, nrows,
                                     out + o * out_rs + q * C, stream);
  if (q + 4 <= count) {
    for (int64_t o = 0; o < nout; ++o)
      row_tile<KW, S, 4, NC, Masked>(c0, m, C, in + o * in_rs + q * S * C, roff, wrow, wstep, nrows,
                                     out + o * out_rs + q * C, stream);
    q += 4;
  }
  if (q + 2 <= count) {
    for (int64_t o = 0; o < nout; ++o)
      row_tile<KW, S, 2, NC, Masked>(c0, m, C, in + o * in_rs + q * S * C, roff, wrow, wstep, nrows,
                                     out + o * out_rs + q * C, stream);
    q += 2;
  }
  if (q < count)
    for (int64_t o = 0; o < nout; ++o)
      row_tile<KW, S, 1, NC, Masked>(c0, m, C, in + o * in_rs + q * S * C, roff, wrow, wstep, nrows,
                                     out + o * out_rs + q * C, stream);
}

template <int KW, int S>
void row_pixels(int64_t count, int64_t C, const typename V::T* in, const int64_t* roff,
                const typename V::T* const* wrow, int64_t wstep, int nrows, typename V::T* out, int64_t nout,
                int64_t in_rs, int64_t out_rs, bool stream) {
  constexpr int NC = V::kRowChannels;
  const int64_t full = C / V::W * V::W;
  int64_t c0 = 0;
  if constexpr (NC > 1)
    for (; c0 + NC * V::W <= full; c0 += NC * V::W)
      row_chunk<KW, S, NC, false>(c0, typename V::mask{}, count, C, in, roff, wrow, wstep, nrows, out, nout, in_rs,
                                  out_rs, stream);
  for (; c0 < full; c0 += V::W)
    row_chunk<KW, S, 1, false>(c0, typename V::mask{}, count, C, in, roff, wrow, wstep, nrows, out, nout, in_rs,
                               out_rs, stream);
  if (c0 < C)
    row_chunk<KW, S, 1, true>(c0, V::tail_mask(static_cast<int>(C - c0)), count, C, in, roff, wrow, wstep, nrows, out,
                              nout, in_rs, out_rs, false);
}

// Dispatch on (kernel width, stride); false when there is no specialization.
// `nout` output rows, the input and output advancing by in_rs / out_rs per row.
inline bool correlate_row(int64_t count, int64_t C, const typename V::T* in, int kw, int stride,
                          const int64_t* roff, const typename V::T* const* wrow, int64_t wstep, int nrows,
                          typename V::T* out, int64_t nout, int64_t in_rs, int64_t out_rs, bool stream) {
  if (kw == 3 && stride == 1) return row_pixels<3, 1>(count, C, in, roff, wrow, wstep, nrows, out, nout, in_rs, out_rs, stream), true;
  if (kw == 3 && stride == 2) return row_pixels<3, 2>(count, C, in, roff, wrow, wstep, nrows, out, nout, in_rs, out_rs, stream), true;
  if (kw == 5 && stride == 1) return row_pixels<5, 1>(count, C, in, roff, wrow, wstep, nrows, out, nout, in_rs, out_rs, stream), true;
  if (kw == 5 && stride == 2) return row_pixels<5, 2>(count, C, in, roff, wrow, wstep, nrows, out, nout, in_rs, out_rs, stream), true;
  return false;
}

// Backward-kernel counterpart for stride 1: for kernel rows r < NR and taps j < KW,
//   gk_rows[r][j * C + c] += sum over q < count of in[roff[r] + (q + j) * C + c] * go[q * C + c].
// Walks the input pixels x once; the last KW output-gradient vectors stay in
// registers (slot x % KW holds go[x]), so each input load feeds KW FMAs.
template <int KW, int NR, int NC, bool Masked>
__attribute__((always_inline)) inline void acc_segment(typename V::reg (&acc)[NR][KW][NC], typename V::mask m,
                                                       int64_t count, int64_t C, const typename V::T* const* rp,
                                                       const typename V::T* gp) {
  using reg = typename V::reg;
  reg gw[KW][NC];
#pragma GCC unroll 8
  for (int j = 0; j < KW; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NC; ++v) gw[j][v] = V::zero();
  auto load = [&](const typename V::T* p) { return Masked ? V::load(p, m) : V::load(p); };
  // The current pixel's input rows and output gradient, one pointer add per step.
  const typename V::T* xp[NR];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) xp[r] = rp[r];
  const typename V::T* g = gp;
  // Pixel x = x0 + ph; go[x] is loaded into slot ph; tap j pairs input x with go[x - j] (slot (ph - j) mod KW).
  auto step = [&](auto ph_const, bool go_valid) {
    constexpr int ph = decltype(ph_const)::value;
#pragma GCC unroll 4
    for (int v = 0; v < NC; ++v) gw[ph][v] = go_valid ? load(g + v * V::W) : V::zero();
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NC; ++v) {
        reg xv = load(xp[r] + v * V::W);
        in_register(xv);
#pragma GCC unroll 8
        for (int j = 0; j < KW; ++j) acc[r][j][v] = V::fma(xv, gw[(ph - j + KW) % KW][v], acc[r][j][v]);
      }
    // (Plain adds here: hiding these pointers from the optimizer, as row_tile
    // does, made this loop 1.5x slower.)
    g += C;
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) xp[r] += C;
  };
  const int64_t xend = count + KW - 1;  // input pixels that meet at least one output pixel
  int64_t x0 = 0;
  for (; x0 + KW <= count; x0 += KW)
    [&]<int... P>(std::integer_sequence<int, P...>) {
      (step(std::integral_constant<int, P>{}, true), ...);
    }(std::make_integer_sequence<int, KW>{});
  for (; x0 < xend; x0 += KW)
    [&]<int... P>(std::integer_sequence<int, P...>) {
      ((x0 + P < xend ? step(std::integral_constant<int, P>{}, x0 + P < count) : void()), ...);
    }(std::make_integer_sequence<int, KW>{});
}

// Sums for NR kernel rows x KW taps x NC channel vectors, held in registers
// over every pixel of `nout` output rows, taken in strips of 32 pixels (all the
// output rows of a strip before the next strip) so the input stays in L1.
template <int KW, int NR, int NC, bool Masked>
void acc_row_chunk(int64_t c0, typename V::mask m, int64_t count, int64_t C, const typename V::T* in,
                   const int64_t* roff, const typename V::T* go, typename V::T* const* gk_rows, int64_t nout,
                   int64_t in_rs, int64_t go_rs) {
  using reg = typename V::reg;
  reg acc[NR][KW][NC];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 8
    for (int j = 0; j < KW; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < NC; ++v) acc[r][j][v] = V::zero();
  constexpr int64_t kStrip = 32;
  for (int64_t q0 = 0; q0 < count; q0 += kStrip) {
    const int64_t n = count - q0 < kStrip ? count - q0 : kStrip;
    for (int64_t o = 0; o < nout; ++o) {
      const typename V::T* rp[NR];
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) rp[r] = in + o * in_rs + roff[r] + q0 * C + c0;
      acc_segment<KW, NR, NC, Masked>(acc, m, n, C, rp, go + o * go_rs + q0 * C + c0);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 8
    for (int j = 0; j < KW; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < NC; ++v) {
        typename V::T* dst = gk_rows[r] + j * C + c0 + v * V::W;
        if (Masked)
          V::store(dst, V::add(V::load(dst, m), acc[r][j][v]), m);
        else
          V::store(dst, V::add(V::load(dst), acc[r][j][v]));
      }
}

template <int KW, int NR>
void acc_row_channels(int64_t count, int64_t C, const typename V::T* in, const int64_t* roff,
                      const typename V::T* go, typename V::T* const* gk_rows, int64_t nout, int64_t in_rs,
                      int64_t go_rs) {
  constexpr int NC = (NR * KW + KW) * 2 + 1 <= 28 ? 2 : 1;  // registers: sums, window, one input
  const int64_t full = C / V::W * V::W;
  int64_t c0 = 0;
  if constexpr (NC > 1 && V::kRowChannels > 1)
    for (; c0 + NC * V::W <= full; c0 += NC * V::W)
      acc_row_chunk<KW, NR, NC, false>(c0, typename V::mask{}, count, C, in, roff, go, gk_rows, nout, in_rs, go_rs);
  for (; c0 < full; c0 += V::W)
    acc_row_chunk<KW, NR, 1, false>(c0, typename V::mask{}, count, C, in, roff, go, gk_rows, nout, in_rs, go_rs);
  if (c0 < C)
    acc_row_chunk<KW, NR, 1, true>(c0, V::tail_mask(static_cast<int>(C - c0)), count, C, in, roff, go, gk_rows, nout,
                                   in_rs, go_rs);
}

template <int KW>
void acc_row_groups(int64_t count, int64_t C, const typename V::T* in, const int64_t* roff, const typename V::T* go,
                    typename V::T* const* gk_rows, int nrows, int64_t nout, int64_t in_rs, int64_t go_rs) {
  // Up to three kernel rows at a time (the sums of more would not fit in registers).
  for (int r0 = 0; r0 < nrows; r0 += 3) {
    const int nr = nrows - r0 < 3 ? nrows - r0 : 3;
    if (nr == 3) acc_row_channels<KW, 3>(count, C, in, roff + r0, go, gk_rows + r0, nout, in_rs, go_rs);
    else if (nr == 2) acc_row_channels<KW, 2>(count, C, in, roff + r0, go, gk_rows + r0, nout, in_rs, go_rs);
    else acc_row_channels<KW, 1>(count, C, in, roff + r0, go, gk_rows + r0, nout, in_rs, go_rs);
  }
}

// Dispatch on kernel width (stride 1 only); false when not covered.
inline bool accumulate_row(int64_t count, int64_t C, const typename V::T* in, int kw, int stride,
                           const int64_t* roff, typename V::T* const* gk_rows, int nrows, const typename V::T* go,
                           int64_t nout, int64_t in_rs, int64_t go_rs) {
  if (stride != 1) return false;
  if (kw == 3) return acc_row_groups<3>(count, C, in, roff, go, gk_rows, nrows, nout, in_rs, go_rs), true;
  if (kw == 5) return acc_row_groups<5>(count, C, in, roff, go, gk_rows, nrows, nout, in_rs, go_rs), true;
  return false;
}

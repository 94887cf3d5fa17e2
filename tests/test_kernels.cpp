#define BOOST_TEST_MODULE kernels
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "sepconv/autograd/gradcheck.h"
#include "sepconv/autograd/nn_ops.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/separable.h"
#include "sepconv/core/cpu.h"
#include "sepconv/core/geometry.h"
#include "sepconv/core/kernels/depthwise.h"
#include "sepconv/core/kernels/depthwise_kernels.h"
#include "sepconv/core/kernels/elementwise.h"
#include "sepconv/core/kernels/gemm.h"
#include "sepconv/core/kernels/gemm_kernels.h"
#include "sepconv/core/kernels/pooling.h"
#include "sepconv/core/kernels/separable.h"
#include "sepconv/core/kernels/transpose.h"
#include "sepconv/core/parallel.h"
#include "sepconv/core/random.h"
#include "sepconv/core/tensor.h"

using namespace sepconv;

namespace {

// Every ISA this machine can run; each fast kernel is checked on each.
std::vector<cpu::Isa> isas() {
  std::vector<cpu::Isa> out;
  for (cpu::Isa i : {cpu::Isa::Generic, cpu::Isa::Avx2, cpu::Isa::Avx512})
    if (i <= cpu::detected_isa()) out.push_back(i);
  return out;
}

template <typename T>
Tensor<T> random_tensor(const Shape& shape, std::mt19937& rng) {
  std::uniform_real_distribution<double> ud(-1, 1);
  Tensor<T> t(shape);
  for (auto& v : t) v = static_cast<T>(ud(rng));
  return t;
}

// Tolerance for sums of `terms` products of values in [-1, 1]: the fast
// kernels sum in another order (and fuse multiply-adds), so they agree with the
// reference to rounding only, which grows like sqrt(terms) for such sums.
// Callers scale it by the size of the values compared.
template <typename T>
double tolerance(int64_t terms) {
  return 16.0 * std::numeric_limits<T>::epsilon() * std::sqrt(static_cast<double>(std::max<int64_t>(terms, 1)));
}

// max |a - b| <= tol * (1 + max |b|)
bool close(const Tensor<double>& a, const Tensor<double>& b, double tol) {
  return max_abs_diff(a, b) <= tol * (1 + max_abs(b));
}
template <typename T>
bool close(const Tensor<T>& a, const Tensor<T>& b, double tol) {
  return close(cast<double>(a), cast<double>(b), tol);
}

template <typename T>
bool bitwise_equal(const Tensor<T>& a, const Tensor<T>& b) {
  // (An empty tensor has no storage: memcmp must not see its null pointer.)
  return a.size() == b.size() && (a.size() == 0 || std::memcmp(a.data(), b.data(), sizeof(T) * a.size()) == 0);
}

struct Case {
  int64_t n, h, w, c, dm;
  std::array<int64_t, 2> k, s, d;
  Padding pad;
};

std::string describe(const Case& cs) {
  return "n=" + std::to_string(cs.n) + " h=" + std::to_string(cs.h) + " w=" + std::to_string(cs.w) +
         " c=" + std::to_string(cs.c) + " dm=" + std::to_string(cs.dm) + " k=" + std::to_string(cs.k[0]) + "x" +
         std::to_string(cs.k[1]) + " s=" + std::to_string(cs.s[0]) + "," + std::to_string(cs.s[1]) +
         " d=" + std::to_string(cs.d[0]) + "," + std::to_string(cs.d[1]) + " " + padding_name(cs.pad);
}

// Awkward geometries: channel counts around the vector widths, odd and even
// sizes, strides, dilations, rectangular kernels, depth multipliers, batch 1.
std::vector<Case> depthwise_cases() {
  std::vector<Case> cases = {
      {2, 7, 9, 3, 1, {3, 3}, {1, 1}, {1, 1}, Padding::Same},
      {1, 8, 8, 17, 1, {3, 3}, {2, 2}, {1, 1}, Padding::Same},
      {2, 9, 7, 33, 1, {3, 3}, {2, 2}, {1, 1}, Padding::Valid},
      {1, 10, 11, 16, 1, {5, 5}, {1, 1}, {1, 1}, Padding::Same},
      {2, 6, 6, 1, 1, {1, 1}, {1, 1}, {1, 1}, Padding::Valid},
      {1, 6, 7, 1, 3, {3, 2}, {1, 1}, {1, 1}, Padding::Same},
      {1, 9, 9, 5, 2, {3, 3}, {1, 1}, {2, 2}, Padding::Same},
      {2, 11, 10, 17, 1, {3, 3}, {1, 1}, {2, 2}, Padding::Valid},
      {1, 8, 9, 3, 2, {5, 5}, {1, 1}, {1, 1}, Padding::Same},
      {1, 12, 12, 33, 3, {3, 3}, {2, 2}, {1, 1}, Padding::Same},
      {1, 7, 8, 32, 1, {2, 2}, {2, 2}, {1, 1}, Padding::Same},
      {1, 10, 9, 8, 1, {1, 1}, {2, 2}, {1, 1}, Padding::Same},
      {1, 9, 10, 4, 1, {3, 1}, {1, 2}, {1, 1}, Padding::Same},
      {3, 5, 5, 20, 2, {4, 4}, {3, 3}, {1, 1}, Padding::Same},
      {1, 16, 15, 64, 1, {3, 3}, {1, 1}, {1, 1}, Padding::Same},
      {1, 3, 3, 2, 1, {5, 5}, {1, 1}, {1, 1}, Padding::Same},  // kernel larger than the image
      {1, 8, 8, 7, 1, {1, 3}, {1, 1}, {1, 3}, Padding::Same},
      // Dilated even kernels under "same" padding with depth_multiplier > 1: the
      // first output row's first valid tap lies below the second row's, so the
      // rows copied for a band must span every output row's taps.
      {1, 9, 9, 3, 2, {2, 3}, {1, 1}, {3, 1}, Padding::Same},
      {2, 8, 7, 5, 2, {2, 2}, {1, 1}, {2, 2}, Padding::Same},
      {1, 10, 12, 9, 3, {2, 3}, {1, 1}, {4, 1}, Padding::Same},
  };
  return cases;
}

// Small geometries drawn at random (fixed seed): kernel sizes, strides or
// dilations, depth multipliers, channel counts and paddings in combinations
// the hand-picked cases miss. Draws whose output would be empty are skipped.
std::vector<Case> random_depthwise_cases(int count, unsigned seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::vector<Case> out;
  while (static_cast<int>(out.size()) < count) {
    Case cs{pick(1, 3), pick(1, 12), pick(1, 12), pick(1, 40), pick(1, 3), {pick(1, 5), pick(1, 5)}, {1, 1},
            {1, 1}, pick(0, 1) ? Padding::Same : Padding::Valid};
    if (pick(0, 1))  // strides > 1 with dilation > 1 is invalid, as in Keras
      cs.s = {pick(1, 3), pick(1, 3)};
    else
      cs.d = {pick(1, 3), pick(1, 3)};
    const bool fits = cs.pad == Padding::Same ||
                      ((cs.k[0] - 1) * cs.d[0] + 1 <= cs.h && (cs.k[1] - 1) * cs.d[1] + 1 <= cs.w);
    if (fits) out.push_back(cs);
  }
  return out;
}

template <typename T>
void check_depthwise_against_reference(const std::vector<Case>& cases) {
  std::mt19937 rng(7);
  for (const Case& cs : cases) {
    const ConvGeometry g = make_conv_geometry(cs.n, cs.h, cs.w, cs.c, cs.dm, cs.k, cs.s, cs.d, cs.pad);
    Tensor<T> x = random_tensor<T>({cs.n, cs.h, cs.w, cs.c}, rng);
    Tensor<T> k = random_tensor<T>({cs.k[0], cs.k[1], cs.c, cs.dm}, rng);
    Tensor<T> go = random_tensor<T>({cs.n, g.out_h, g.out_w, cs.c * cs.dm}, rng);
    Tensor<T> y_ref({cs.n, g.out_h, g.out_w, cs.c * cs.dm}), gx_ref(x.shape()), gk_ref(k.shape());
    depthwise_forward_reference(g, x.data(), k.data(), y_ref.data());
    depthwise_backward_input_reference(g, go.data(), k.data(), gx_ref.data());
    depthwise_backward_kernel_reference(g, x.data(), go.data(), gk_ref.data());
    const int64_t taps = cs.k[0] * cs.k[1];
    for (cpu::Isa isa : isas()) {
      cpu::ScopedIsa guard(isa);
      BOOST_TEST_CONTEXT(DTypeName<T>::value << " " << cpu::isa_name(isa) << " " << describe(cs)) {
        // Poison the outputs: every element must be written.
        Tensor<T> y(y_ref.shape(), T(NAN)), gx(x.shape(), T(NAN)), gk(k.shape(), T(NAN));
        depthwise_forward(g, x.data(), k.data(), y.data());
        depthwise_backward_input(g, go.data(), k.data(), gx.data());
        depthwise_backward_kernel(g, x.data(), go.data(), gk.data());
        BOOST_TEST(close(y, y_ref, tolerance<T>(taps)));
        BOOST_TEST(close(gx, gx_ref, tolerance<T>(taps * cs.dm)));
        BOOST_TEST(close(gk, gk_ref, tolerance<T>(cs.n * g.out_h * g.out_w)));
      }
    }
  }
}

template <typename T>
void check_gemm_against_reference() {
  std::mt19937 rng(3);
  struct G {
    int64_t m, n, k;
  };
  // Tails of every tile size: rows and columns not multiples of 6, 8, 12, 16, 24, 64.
  const G shapes[] = {{1, 1, 1}, {7, 5, 9}, {13, 17, 3}, {50, 33, 31}, {97, 64, 70}, {200, 24, 144},
                      {31, 130, 65}, {6, 100, 1}, {700, 20, 12}, {64, 81, 600}};
  for (cpu::Isa isa : isas()) {
    cpu::ScopedIsa guard(isa);
    for (const G& s : shapes)
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (T beta : {T(0), T(1)}) {
            Tensor<T> A = random_tensor<T>({s.m * s.k}, rng), B = random_tensor<T>({s.k * s.n}, rng);
            Tensor<T> C = random_tensor<T>({s.m * s.n}, rng);
            Tensor<T> R = C.clone();
            const int64_t lda = ta ? s.m : s.k, ldb = tb ? s.k : s.n;
            gemm<T>(ta, tb, s.m, s.n, s.k, T(1), A.data(), lda, B.data(), ldb, beta, C.data(), s.n);
            gemm_reference<T>(ta, tb, s.m, s.n, s.k, T(1), A.data(), lda, B.data(), ldb, beta, R.data(), s.n);
            BOOST_TEST_CONTEXT(DTypeName<T>::value << " " << cpu::isa_name(isa) << " m=" << s.m << " n=" << s.n
                                                   << " k=" << s.k << " ta=" << ta << " tb=" << tb
                                                   << " beta=" << beta) {
              BOOST_TEST(close(C, R, tolerance<T>(s.k + 1)));
            }
          }
  }
}

// Runs fn once with 1 thread and once with 2 and returns both results.
template <typename F>
auto with_threads(F&& fn) {
  const int before = num_threads();
  set_num_threads(1);
  auto one = fn();
  set_num_threads(2);
  auto two = fn();
  set_num_threads(before);
  return std::make_pair(one, two);
}

}  // namespace

BOOST_AUTO_TEST_CASE(cpu_detection_and_override) {
  const cpu::Isa hw = cpu::detected_isa();
  BOOST_TEST((cpu::active_isa() <= hw));
  {
    cpu::ScopedIsa guard(cpu::Isa::Generic);
    BOOST_TEST((cpu::active_isa() == cpu::Isa::Generic));
  }
  cpu::Isa parsed;
  BOOST_TEST(cpu::parse_isa("avx2", parsed));
  BOOST_TEST((parsed == cpu::Isa::Avx2));
  BOOST_TEST(!cpu::parse_isa("sse9", parsed));
  BOOST_TEST(std::string(cpu::isa_name(cpu::Isa::Avx512)) == "avx512");
  // Never above the hardware, whatever is asked.
  cpu::ScopedIsa guard(cpu::Isa::Avx512);
  BOOST_TEST((cpu::active_isa() <= hw));
}

// The ISA the kernels dispatch on honours SEPCONV_ISA (read once, at first use),
// never above what the CPU supports, and ignores a value it does not know.
BOOST_AUTO_TEST_CASE(isa_env_probe) {
  cpu::Isa expected = cpu::detected_isa();
  cpu::Isa wanted;
  if (const char* e = std::getenv("SEPCONV_ISA"); e && cpu::parse_isa(e, wanted) && wanted < expected) expected = wanted;
  BOOST_TEST((cpu::active_isa() == expected));
}

BOOST_AUTO_TEST_CASE(isa_env_override_in_a_child_process) {
  char self[4096] = {};
  BOOST_REQUIRE(readlink("/proc/self/exe", self, sizeof self - 1) > 0);
  const char* before = std::getenv("SEPCONV_ISA");
  const std::string saved = before ? before : "";
  for (const char* value : {"generic", "avx2", "avx512", "bogus"}) {
    setenv("SEPCONV_ISA", value, 1);
    const std::string command = std::string("'") + self + "' --run_test=isa_env_probe > /dev/null 2>&1";
    const int rc = std::system(command.c_str());
    BOOST_TEST(rc == 0, "SEPCONV_ISA=" << value);
  }
  if (before) setenv("SEPCONV_ISA", saved.c_str(), 1);
  else unsetenv("SEPCONV_ISA");
}

BOOST_AUTO_TEST_CASE(depthwise_fast_matches_reference_float) {
  check_depthwise_against_reference<float>(depthwise_cases());
}
BOOST_AUTO_TEST_CASE(depthwise_fast_matches_reference_double) {
  check_depthwise_against_reference<double>(depthwise_cases());
}
BOOST_AUTO_TEST_CASE(depthwise_fast_matches_reference_on_random_geometries) {
  check_depthwise_against_reference<float>(random_depthwise_cases(150, 101));
  check_depthwise_against_reference<double>(random_depthwise_cases(150, 202));
}
BOOST_AUTO_TEST_CASE(gemm_matches_reference_float) { check_gemm_against_reference<float>(); }
BOOST_AUTO_TEST_CASE(gemm_matches_reference_double) { check_gemm_against_reference<double>(); }

BOOST_AUTO_TEST_CASE(packing_matches_the_plain_layout) {
  // pack_b_avx512 for B and for B^T of a row-major matrix (16 x 16 blocks
  // transposed in registers), and its panel-parallel twin, against the layout
  // written out value by value: panels of kPackedPanel columns, the last one
  // rounded up to 16 with zeros.
  if (cpu::detected_isa() != cpu::Isa::Avx512) return;
  std::mt19937 rng(29);
  auto plain = [](int64_t k, int64_t n, const float* b, int64_t rs, int64_t cs) {
    std::vector<float> out(static_cast<size_t>(kernels::packed_b_floats_avx512(k, n)), -1.0f);
    for (int64_t j0 = 0; j0 < n; j0 += kernels::kPackedPanel) {
      const int64_t cols = std::min(kernels::kPackedPanel, n - j0), width = (cols + 15) / 16 * 16;
      for (int64_t p = 0; p < k; ++p)
        for (int64_t j = 0; j < width; ++j) out[j0 * k + p * width + j] = j < cols ? b[p * rs + (j0 + j) * cs] : 0.0f;
    }
    return out;
  };
  // (k, n) with k and n below, at and past 16 / 64 / a panel, and power-of-two strides.
  for (auto [k, n] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {5, 17}, {16, 16}, {33, 70}, {37, 128},
                                                               {64, 24}, {130, 200}, {512, 512}, {728, 100}}) {
    // Both read from wider matrices: B as k rows of n + 3 values, B^T as n rows of k + 3.
    const int64_t ld = n + 3, ldt = k + 3;
    Tensor<float> b = random_tensor<float>({k * ld}, rng), bt = random_tensor<float>({n * ldt}, rng);
    const std::vector<float> want = plain(k, n, b.data(), ld, 1), want_t = plain(k, n, bt.data(), 1, ldt);
    std::vector<float> got(want.size(), -1.0f), got_t(want.size(), -1.0f), par_t(want.size(), -1.0f);
    kernels::pack_b_avx512(k, n, b.data(), ld, 1, got.data());
    kernels::pack_b_avx512(k, n, bt.data(), 1, ldt, got_t.data());
    kernels::pack_b_parallel_avx512(k, n, bt.data(), 1, ldt, par_t.data());
    BOOST_TEST((got == want), "k=" << k << " n=" << n);
    BOOST_TEST((got_t == want_t), "transposed, k=" << k << " n=" << n);
    BOOST_TEST((par_t == want_t), "parallel, k=" << k << " n=" << n);
  }
}

BOOST_AUTO_TEST_CASE(weight_gradient_gemm_sums_in_its_documented_order) {
  // gemm_tn_avx512 sums each element of C over blocks of 512 rows, each block
  // in row order from zero with fused multiply-adds, and adds the block's sum
  // to C: the same loop written plainly gives the same bits, whether or not
  // A is packed into strips first and B into panels (B is read in place for
  // k up to 64). Shapes on both sides of the packing rule,
  // with k past a multiple of 6 (the strips' width) and n past one of 64 by
  // 40, 24 and 8 columns (last panels of 3, 2 and 1 vectors, which read A in
  // place beside the packed full panels).
  if (cpu::detected_isa() != cpu::Isa::Avx512) return;
  std::mt19937 rng(31);
  struct G {
    int64_t m, k, n;
    bool packs;
  };
  for (const G& s : {G{300, 731, 232, true}, G{1030, 517, 152, true}, G{260, 600, 200, true}, G{90, 40, 70, false},
                     G{200, 131, 64, false}, G{700, 64, 150, false}, G{33, 65, 17, false}}) {
    BOOST_TEST(kernels::tn_packs_a_avx512(std::min<int64_t>(s.m, 512), s.k, s.n) == s.packs, "m=" << s.m);
    const int64_t lda = s.k + 5, ldb = s.n + 3, ldc = s.n + 1;  // every matrix inside a wider one
    Tensor<float> a = random_tensor<float>({s.m * lda}, rng), b = random_tensor<float>({s.m * ldb}, rng);
    for (bool accumulate : {false, true}) {
      Tensor<float> c = random_tensor<float>({s.k * ldc}, rng);
      std::vector<float> want(c.data(), c.data() + c.size());
      for (int64_t i = 0; i < s.k; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          float& out = want[i * ldc + j];
          for (int64_t p0 = 0; p0 < s.m; p0 += 512) {
            float sum = 0.0f;
            for (int64_t p = p0; p < std::min(s.m, p0 + 512); ++p) sum = std::fma(a.data()[p * lda + i], b.data()[p * ldb + j], sum);
            out = (accumulate || p0 > 0) ? out + sum : sum;
          }
        }
      kernels::gemm_tn_avx512(s.m, s.k, s.n, a.data(), lda, b.data(), ldb, c.data(), ldc, accumulate);
      const std::vector<float> got(c.data(), c.data() + c.size());
      BOOST_TEST((got == want), "m=" << s.m << " k=" << s.k << " n=" << s.n << " accumulate=" << accumulate);
    }
  }
}

BOOST_AUTO_TEST_CASE(kernels_bitwise_identical_for_1_and_2_threads) {
  std::mt19937 rng(11);
  const ConvGeometry g = make_conv_geometry(3, 21, 19, 37, 2, {3, 3}, {1, 1}, {1, 1}, Padding::Same);
  Tensor<float> x = random_tensor<float>({3, 21, 19, 37}, rng);
  Tensor<float> k = random_tensor<float>({3, 3, 37, 2}, rng);
  Tensor<float> go = random_tensor<float>({3, g.out_h, g.out_w, 74}, rng);
  const int64_t rows = 3 * g.out_h * g.out_w;
  Tensor<float> pk = random_tensor<float>({74, 45}, rng), pgo = random_tensor<float>({rows, 45}, rng);
  for (cpu::Isa isa : isas()) {
    cpu::ScopedIsa guard(isa);
    BOOST_TEST_CONTEXT(cpu::isa_name(isa)) {
      auto fwd = with_threads([&] {
        Tensor<float> y({rows * 74});
        depthwise_forward(g, x.data(), k.data(), y.data());
        return y;
      });
      BOOST_TEST(bitwise_equal(fwd.first, fwd.second));
      auto gi = with_threads([&] {
        Tensor<float> t(x.shape());
        depthwise_backward_input(g, go.data(), k.data(), t.data());
        return t;
      });
      BOOST_TEST(bitwise_equal(gi.first, gi.second));
      auto gk = with_threads([&] {
        Tensor<float> t(k.shape());
        depthwise_backward_kernel(g, x.data(), go.data(), t.data());
        return t;
      });
      BOOST_TEST(bitwise_equal(gk.first, gk.second));
      auto pw = with_threads([&] {
        Tensor<float> t({74, 45});
        pointwise_backward_kernel(rows, 74, 45, fwd.first.data(), pgo.data(), t.data());
        return t;
      });
      BOOST_TEST(bitwise_equal(pw.first, pw.second));
      auto pf = with_threads([&] {
        Tensor<float> t({rows, 45});
        pointwise_forward(rows, 74, 45, fwd.first.data(), pk.data(), t.data());
        return t;
      });
      BOOST_TEST(bitwise_equal(pf.first, pf.second));
    }
  }
}

// The layout transposes (NCHW <-> NHWC) against the plain loop, value for
// value: plane sizes around the 16-lane blocks and 32-element tiles, one plane
// and several, planes large enough to be split among threads, and single
// blocks with row strides of their own.
template <typename T>
void check_transpose_planes() {
  std::mt19937 rng(29);
  const int64_t sizes[] = {1, 3, 15, 16, 17, 33, 64, 100, 257};
  for (cpu::Isa isa : isas()) {
    cpu::ScopedIsa guard(isa);
    auto check = [&](int64_t batch, int64_t rows, int64_t cols) {
      const Tensor<T> src = random_tensor<T>({batch, rows, cols}, rng);
      Tensor<T> want({batch, cols, rows}), got({batch, cols, rows});
      kernels::transpose_planes_reference(batch, rows, cols, src.data(), want.data());
      kernels::transpose_planes(batch, rows, cols, src.data(), got.data());
      BOOST_TEST(bitwise_equal(got, want), cpu::isa_name(isa) << " " << batch << " x " << rows << " x " << cols);
    };
    for (int64_t rows : sizes)
      for (int64_t cols : sizes) check(rows % 2 ? 1 : 3, rows, cols);
    check(2, 12544 / 4, 64);  // threaded: tasks of 256 rows and 64 columns
    check(3, 32, 3136 + 5);
    check(2, 300, 291);
  }
  // One block of a larger matrix into one of another (row strides beyond the
  // block): the elements outside the destination block keep their values.
  for (cpu::Isa isa : isas()) {
    cpu::ScopedIsa guard(isa);
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{17, 40}, {40, 17}, {5, 3}, {64, 33}}) {
      // ld_dst a multiple of 16: with `stream`, whole aligned lines are streamed.
      for (int64_t ld_dst : {rows + 9, (rows + 15) / 16 * 16 + 16})
        for (bool stream : {false, true}) {
          const int64_t ld_src = cols + 7;
          const Tensor<T> src = random_tensor<T>({rows, ld_src}, rng);
          Tensor<T> want = random_tensor<T>({cols, ld_dst}, rng), got = want.clone();
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j) want[j * ld_dst + i] = src[i * ld_src + j];
          kernels::transpose(rows, cols, src.data(), ld_src, got.data(), ld_dst, stream);
          BOOST_TEST(bitwise_equal(got, want), cpu::isa_name(isa) << " " << rows << " x " << cols << " strided, ld "
                                                                  << ld_dst << (stream ? ", streamed" : ""));
        }
    }
  }
}

BOOST_AUTO_TEST_CASE(transpose_planes_match_the_plain_loop) {
  check_transpose_planes<float>();
  check_transpose_planes<double>();
}

BOOST_AUTO_TEST_CASE(streaming_stores_write_the_same_values) {
  // The kernels can write large outputs with streaming stores; the values must
  // not change (aligned lines streamed, the rest stored normally).
  std::mt19937 rng(23);
  const ConvGeometry g = make_conv_geometry(1, 9, 37, 48, 1, {3, 3}, {1, 1}, {1, 1}, Padding::Same);
  Tensor<float> go = random_tensor<float>({1, 9, 37, 48}, rng), k = random_tensor<float>({3, 3, 48, 1}, rng);
  for (cpu::Isa isa : isas()) {
    cpu::ScopedIsa guard(isa);
    const kernels::DepthwisePlan<float> plan(g);
    Tensor<float> a({9 * 37 * 48}), b({9 * 37 * 48});
    plan.backward_input_rows(go.data(), k.data(), 0, 9, a.data(), false);
    plan.backward_input_rows(go.data(), k.data(), 0, 9, b.data(), true);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    BOOST_TEST(bitwise_equal(a, b), cpu::isa_name(isa));
  }
  if (cpu::detected_isa() == cpu::Isa::Avx512) {
    const int64_t m = 50, n = 70, kk = 33;
    Tensor<float> A = random_tensor<float>({m * kk}, rng), B = random_tensor<float>({kk * n}, rng);
    Tensor<float> packed({kernels::packed_b_floats_avx512(kk, n)});
    kernels::pack_b_avx512(kk, n, B.data(), n, 1, packed.data());
    Tensor<float> c1({m * n}), c2({m * n});
    kernels::gemm_packed_avx512(m, n, kk, A.data(), kk, packed.data(), c1.data(), n, false, nullptr, true);
    kernels::gemm_packed_avx512(m, n, kk, A.data(), kk, packed.data(), c2.data(), n, false, nullptr, true, nullptr, 0,
                                true);
    BOOST_TEST(bitwise_equal(c1, c2));
  }
}

BOOST_AUTO_TEST_CASE(storage_cache_reuses_blocks_and_zeroes_them) {
  const Shape big{300, 1000};  // 1.2 MB: cached
  float* first;
  {
    Tensor<float> t(big, 5.0f);
    first = t.data();
  }
  const StorageCacheStats before = storage_cache_stats();
  Tensor<float> z(big);  // zero-filled even though the block is reused
  BOOST_TEST(z.data() == first);
  BOOST_TEST(max_abs(z) == 0.0);
  BOOST_TEST(storage_cache_stats().hits == before.hits + 1);
  Tensor<float> u = Tensor<float>::uninitialized(big);
  BOOST_TEST(u.size() == 300000);
  BOOST_TEST(reinterpret_cast<uintptr_t>(u.data()) % 64 == 0);
  BOOST_TEST(u.data() != z.data());
  release_cached_storage();
  BOOST_TEST(storage_cache_stats().cached_bytes == 0);
}

// ---- the separable op against the composition of the unfused ops ---------------

namespace {

struct SepCase {
  int64_t n, h, w, c, dm, f;
  std::array<int64_t, 2> k, s, d;
  Padding pad;
  bool bias, relu;
};

std::vector<SepCase> separable_cases() {
  return {
      {2, 9, 8, 3, 1, 5, {3, 3}, {1, 1}, {1, 1}, Padding::Same, true, false},
      {3, 10, 9, 17, 2, 33, {3, 3}, {2, 2}, {1, 1}, Padding::Same, true, true},
      {1, 7, 7, 16, 1, 24, {3, 3}, {1, 1}, {1, 1}, Padding::Same, false, true},  // batch 1
      {2, 8, 11, 33, 1, 70, {5, 5}, {1, 1}, {1, 1}, Padding::Valid, true, true},
      {4, 6, 6, 8, 3, 16, {3, 2}, {1, 1}, {2, 2}, Padding::Same, true, false},
      {2, 12, 12, 32, 1, 64, {1, 1}, {1, 1}, {1, 1}, Padding::Valid, false, false},
      {5, 13, 6, 20, 1, 129, {3, 3}, {1, 1}, {1, 1}, Padding::Same, true, true},
      // Filters not a multiple of the vector width over channels that are: the
      // fused backward computes the pointwise kernel's gradient transposed.
      {3, 10, 12, 32, 1, 24, {3, 3}, {1, 1}, {1, 1}, Padding::Same, true, true},
      {2, 9, 9, 48, 1, 7, {3, 3}, {2, 2}, {1, 1}, Padding::Valid, false, false},
      // Wide rows: several bands per image in the fused kernels, so input-gradient
      // rows are gathered across band boundaries (stride 2; dilation 2 with depth
      // multiplier 2; an even kernel).
      {2, 20, 100, 9, 1, 20, {3, 3}, {2, 2}, {1, 1}, Padding::Same, true, true},
      {2, 12, 100, 5, 2, 12, {3, 3}, {1, 1}, {2, 2}, Padding::Same, false, true},
      {2, 11, 97, 6, 1, 17, {4, 2}, {1, 1}, {1, 1}, Padding::Same, true, false},
      {2, 9, 9, 3, 2, 5, {2, 3}, {1, 1}, {3, 1}, Padding::Same, true, true},
  };
}

struct SepResult {
  Tensor<double> y, gx, gdk, gpk, gb;
};

// A case's input, weights and output-gradient seed, drawn at random.
struct SepInputs {
  Tensor<double> x, dk, pk, b, seed;
};
SepInputs random_inputs(const SepCase& cs, std::mt19937& rng) {
  const ConvGeometry g = make_conv_geometry(cs.n, cs.h, cs.w, cs.c, cs.dm, cs.k, cs.s, cs.d, cs.pad);
  SepInputs in;
  in.x = random_tensor<double>({cs.n, cs.h, cs.w, cs.c}, rng);
  in.dk = random_tensor<double>({cs.k[0], cs.k[1], cs.c, cs.dm}, rng);
  in.pk = random_tensor<double>({1, 1, cs.c * cs.dm, cs.f}, rng);
  in.b = random_tensor<double>({cs.f}, rng);
  in.seed = random_tensor<double>({cs.n, g.out_h, g.out_w, cs.f}, rng);
  return in;
}

// Runs one forward and backward (seeded with in.seed) through either the op or
// the composition, in type T, and returns everything in double.
template <typename T>
SepResult run_separable(const SepCase& cs, bool composed, const SepInputs& in) {
  Variable<T> x(cast<T>(in.x), true), dk(cast<T>(in.dk), true), pk(cast<T>(in.pk), true), b(cast<T>(in.b), true);
  std::optional<Variable<T>> bias;
  if (cs.bias) bias = b;
  Variable<T> y;
  if (composed) {
    y = pointwise_conv2d(depthwise_conv2d(x, dk, cs.s, cs.d, cs.pad), pk);
    if (cs.bias) y = bias_add(y, b);
    if (cs.relu)
      y = elementwise<T>(y, "relu", [](T v) { return v > 0 ? v : T(0); }, [](T v, T) { return v > 0 ? T(1) : T(0); });
  } else {
    y = separable_conv2d(x, dk, pk, bias, cs.s, cs.d, cs.pad,
                         cs.relu ? SeparableActivation::Relu : SeparableActivation::None);
  }
  Tape<T>::current().backward(y, cast<T>(in.seed));
  SepResult r{cast<double>(y.value()), cast<double>(x.grad()), cast<double>(dk.grad()), cast<double>(pk.grad()),
              cs.bias ? cast<double>(b.grad()) : Tensor<double>()};
  return r;
}

// The random depthwise geometries with a pointwise width (1 .. 40), bias and relu drawn too.
std::vector<SepCase> random_separable_cases(int count, unsigned seed) {
  std::mt19937 rng(seed + 1);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::vector<SepCase> out;
  for (const Case& c : random_depthwise_cases(count, seed))
    out.push_back({c.n, c.h, c.w, c.c, c.dm, pick(1, 40), c.k, c.s, c.d, c.pad, pick(0, 1) == 1, pick(0, 1) == 1});
  return out;
}

template <typename T>
void check_separable_matches_composition(const std::vector<SepCase>& cases) {
  std::mt19937 rng(5);
  for (const SepCase& cs : cases) {
    const ConvGeometry g = make_conv_geometry(cs.n, cs.h, cs.w, cs.c, cs.dm, cs.k, cs.s, cs.d, cs.pad);
    const SepInputs in = random_inputs(cs, rng);
    // Terms in the longest sums: the pointwise kernel's gradient sums over all pixels.
    const int64_t terms = cs.k[0] * cs.k[1] * cs.c * cs.dm + cs.n * g.out_h * g.out_w * cs.k[0] * cs.k[1];
    const double tol = tolerance<T>(terms);
    for (cpu::Isa isa : isas()) {
      cpu::ScopedIsa guard(isa);
      SepResult want = run_separable<T>(cs, true, in);
      SepResult got = run_separable<T>(cs, false, in);
      BOOST_TEST_CONTEXT(DTypeName<T>::value << " " << cpu::isa_name(isa) << " f=" << cs.f << " bias=" << cs.bias
                                             << " relu=" << cs.relu << " " << describe({cs.n, cs.h, cs.w, cs.c,
                                                                                         cs.dm, cs.k, cs.s, cs.d,
                                                                                         cs.pad})) {
        BOOST_TEST(close(got.y, want.y, tol));
        BOOST_TEST(close(got.gx, want.gx, tol));
        BOOST_TEST(close(got.gdk, want.gdk, tol));
        BOOST_TEST(close(got.gpk, want.gpk, tol));
        if (cs.bias) BOOST_TEST(close(got.gb, want.gb, tol));
      }
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(separable_op_matches_composition_float) {
  check_separable_matches_composition<float>(separable_cases());
}
BOOST_AUTO_TEST_CASE(separable_op_matches_composition_double) {
  check_separable_matches_composition<double>(separable_cases());
}
BOOST_AUTO_TEST_CASE(separable_op_matches_composition_on_random_geometries) {
  check_separable_matches_composition<float>(random_separable_cases(100, 303));
  check_separable_matches_composition<double>(random_separable_cases(60, 404));
}

BOOST_AUTO_TEST_CASE(separable_op_matches_composition_large) {
  // Inputs and outputs over 2 MB, which the fused kernels write with
  // streaming stores, and many bands per image: 8 MB and more; and an output
  // of 2.9 MB whose rows of 40 floats start at every alignment (lines partly
  // streamed, partly stored normally).
  std::mt19937 rng(17);
  for (const SepCase& cs : {SepCase{2, 128, 128, 64, 1, 64, {3, 3}, {1, 1}, {1, 1}, Padding::Same, true, true},
                            SepCase{2, 96, 96, 16, 1, 40, {3, 3}, {1, 1}, {1, 1}, Padding::Same, true, true}}) {
    const SepInputs in = random_inputs(cs, rng);
    const double tol = tolerance<float>(9 * cs.c + cs.n * cs.h * cs.w * 9);
    SepResult want = run_separable<float>(cs, true, in);
    SepResult got = run_separable<float>(cs, false, in);
    BOOST_TEST_CONTEXT("f=" << cs.f) {
      BOOST_TEST(close(got.y, want.y, tol));
      BOOST_TEST(close(got.gx, want.gx, tol));
      BOOST_TEST(close(got.gdk, want.gdk, tol));
      BOOST_TEST(close(got.gpk, want.gpk, tol));
      BOOST_TEST(close(got.gb, want.gb, tol));
    }
  }
}

// channels_first against channels_last, bit for bit: the NCHW paths only move
// values (band by band in the fused kernels, whole tensors around the unfused
// ones), so the sums are the same in the same order.
template <typename T>
void check_channels_first_matches_channels_last(const std::vector<SepCase>& cases) {
  std::mt19937 rng(31);
  for (const SepCase& cs : cases) {
    const SepInputs in = random_inputs(cs, rng);
    for (cpu::Isa isa : isas()) {
      cpu::ScopedIsa guard(isa);
      SepResult r[2];
      for (int first = 0; first < 2; ++first) {
        auto layout = [&](const Tensor<double>& t) { return cast<T>(first ? nhwc_to_nchw(t) : t); };
        Variable<T> x(layout(in.x), true), dk(cast<T>(in.dk), true), pk(cast<T>(in.pk), true),
            b(cast<T>(in.b), true);
        std::optional<Variable<T>> bias;
        if (cs.bias) bias = b;
        Variable<T> y = separable_conv2d(x, dk, pk, bias, cs.s, cs.d, cs.pad,
                                         cs.relu ? SeparableActivation::Relu : SeparableActivation::None,
                                         first ? DataFormat::ChannelsFirst : DataFormat::ChannelsLast);
        Tape<T>::current().backward(y, layout(in.seed));
        auto back = [&](const Tensor<T>& t) { return first ? nchw_to_nhwc(cast<double>(t)) : cast<double>(t); };
        r[first] = {back(y.value()), back(x.grad()), cast<double>(dk.grad()), cast<double>(pk.grad()),
                    cs.bias ? cast<double>(b.grad()) : Tensor<double>()};
      }
      BOOST_TEST_CONTEXT(DTypeName<T>::value << " " << cpu::isa_name(isa) << " f=" << cs.f << " bias=" << cs.bias
                                             << " relu=" << cs.relu << " " << describe({cs.n, cs.h, cs.w, cs.c,
                                                                                         cs.dm, cs.k, cs.s, cs.d,
                                                                                         cs.pad})) {
        BOOST_TEST(bitwise_equal(r[1].y, r[0].y));
        BOOST_TEST(bitwise_equal(r[1].gx, r[0].gx));
        BOOST_TEST(bitwise_equal(r[1].gdk, r[0].gdk));
        BOOST_TEST(bitwise_equal(r[1].gpk, r[0].gpk));
        if (cs.bias) BOOST_TEST(bitwise_equal(r[1].gb, r[0].gb));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(separable_op_channels_first_matches_channels_last) {
  std::vector<SepCase> cases = separable_cases();
  for (const SepCase& c : random_separable_cases(40, 505)) cases.push_back(c);
  // Outputs and input gradients over 2 MB, written with streaming stores (in
  // NCHW, the whole aligned lines of each scattered band).
  cases.push_back({2, 96, 96, 16, 1, 40, {3, 3}, {1, 1}, {1, 1}, Padding::Same, true, true});
  cases.push_back({2, 128, 128, 24, 1, 16, {3, 3}, {1, 1}, {1, 1}, Padding::Same, true, false});
  check_channels_first_matches_channels_last<float>(cases);
  check_channels_first_matches_channels_last<double>(separable_cases());
}

BOOST_AUTO_TEST_CASE(separable_op_gradcheck) {
  // Central differences on the op itself, with and without the fused relu
  // (inputs kept away from relu's kink by the random draw's seed).
  for (bool relu : {false, true}) {
    std::mt19937 rng(relu ? 21 : 22);
    std::vector<Tensor<double>> inputs = {random_tensor<double>({2, 5, 6, 3}, rng),
                                          random_tensor<double>({3, 3, 3, 2}, rng),
                                          random_tensor<double>({1, 1, 6, 4}, rng), random_tensor<double>({4}, rng)};
    auto f = [relu](const std::vector<Variable<double>>& v) {
      return separable_conv2d<double>(v[0], v[1], v[2], v[3], {2, 1}, {1, 1}, Padding::Same,
                                      relu ? SeparableActivation::Relu : SeparableActivation::None);
    };
    GradCheckResult r = gradcheck(f, inputs);
    BOOST_TEST(r.ok, r.report);
  }
}

BOOST_AUTO_TEST_CASE(separable_op_bitwise_identical_for_1_and_2_threads) {
  std::mt19937 rng(9);
  // The second case takes the transposed pointwise-kernel gradient (24 filters, 32 channels).
  for (const SepCase& cs : {SepCase{6, 14, 13, 40, 1, 72, {3, 3}, {1, 1}, {1, 1}, Padding::Same, true, true},
                            SepCase{6, 12, 11, 32, 1, 24, {3, 3}, {1, 1}, {1, 1}, Padding::Same, true, true}}) {
    const SepInputs in = random_inputs(cs, rng);
    for (cpu::Isa isa : isas()) {
      cpu::ScopedIsa guard(isa);
      auto r = with_threads([&] { return run_separable<float>(cs, false, in); });
      BOOST_TEST_CONTEXT(cpu::isa_name(isa)) {
        BOOST_TEST(bitwise_equal(r.first.y, r.second.y));
        BOOST_TEST(bitwise_equal(r.first.gx, r.second.gx));
        BOOST_TEST(bitwise_equal(r.first.gdk, r.second.gdk));
        BOOST_TEST(bitwise_equal(r.first.gpk, r.second.gpk));
        BOOST_TEST(bitwise_equal(r.first.gb, r.second.gb));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(separable_op_rejects_bad_shapes) {
  Variable<float> x(Tensor<float>({1, 5, 5, 3})), dk(Tensor<float>({3, 3, 3, 1})), pk(Tensor<float>({1, 1, 3, 4}));
  Variable<float> wrong_pk(Tensor<float>({1, 1, 2, 4})), wrong_bias(Tensor<float>({5}));
  BOOST_CHECK_THROW(separable_conv2d<float>(x, dk, wrong_pk, std::nullopt, {1, 1}, {1, 1}, Padding::Same), ShapeError);
  BOOST_CHECK_THROW(separable_conv2d<float>(x, dk, pk, wrong_bias, {1, 1}, {1, 1}, Padding::Same), ShapeError);
  Variable<float> rank3(Tensor<float>({5, 5, 3}));
  BOOST_CHECK_THROW(separable_conv2d<float>(rank3, dk, pk, std::nullopt, {1, 1}, {1, 1}, Padding::Same), ShapeError);
  BOOST_CHECK_THROW(separable_conv2d<float>(x, dk, pk, std::nullopt, {2, 2}, {2, 2}, Padding::Same), ValueError);
}

// ---- the kernel plans against their plain reference twins ------------------------

namespace {

struct PoolCase {
  int64_t n, h, w, c;
  std::array<int64_t, 2> pool, strides;
  Padding pad;
};

// Tiling and overlapping windows, "same" padding with the odd pixel at the
// bottom/right, windows larger than the stride or than the image, channel
// counts around the vector widths.
std::vector<PoolCase> pool_cases() {
  return {
      {2, 8, 8, 32, {2, 2}, {2, 2}, Padding::Valid},  // tiles the input
      {2, 7, 9, 17, {2, 2}, {2, 2}, Padding::Same},
      {1, 9, 9, 5, {3, 3}, {2, 2}, Padding::Valid},  // overlapping
      {2, 10, 7, 33, {3, 3}, {1, 1}, Padding::Same},
      {1, 6, 11, 64, {3, 2}, {2, 3}, Padding::Same},
      {3, 5, 5, 1, {5, 5}, {1, 1}, Padding::Same},  // window larger than the image
      {1, 12, 12, 9, {2, 4}, {3, 1}, Padding::Valid},
      {2, 4, 4, 3, {1, 1}, {1, 1}, Padding::Valid},
  };
}

std::string describe(const PoolCase& pc) {
  return "n=" + std::to_string(pc.n) + " h=" + std::to_string(pc.h) + " w=" + std::to_string(pc.w) +
         " c=" + std::to_string(pc.c) + " pool=" + std::to_string(pc.pool[0]) + "x" + std::to_string(pc.pool[1]) +
         " strides=" + std::to_string(pc.strides[0]) + "," + std::to_string(pc.strides[1]) + " " +
         padding_name(pc.pad);
}

// Values on a coarse grid, so that windows often hold their maximum twice and
// the first-maximum rule is exercised.
template <typename T>
Tensor<T> tied_tensor(const Shape& shape, std::mt19937& rng) {
  std::uniform_int_distribution<int> ud(-3, 3);
  Tensor<T> t(shape);
  for (auto& v : t) v = static_cast<T>(ud(rng)) / T(4);
  return t;
}

template <typename T>
void check_pooling_against_reference() {
  std::mt19937 rng(11);
  for (const PoolCase& pc : pool_cases()) {
    const PoolGeometry g = make_pool_geometry({pc.n, pc.h, pc.w, pc.c}, pc.pool, pc.strides, pc.pad, "test");
    const Shape in_shape{pc.n, pc.h, pc.w, pc.c}, out_shape{pc.n, g.out_h, g.out_w, pc.c};
    const Tensor<T> x_tied = tied_tensor<T>(in_shape, rng), x = random_tensor<T>(in_shape, rng);
    const Tensor<T> gy = random_tensor<T>(out_shape, rng), gx0 = random_tensor<T>(in_shape, rng);
    // The longest sums: an input element takes a share of every window covering it.
    const int64_t window = pc.pool[0] * pc.pool[1];
    for (cpu::Isa isa : isas()) {
      cpu::ScopedIsa guard(isa);
      const kernels::PoolPlan<T> plan(g);
      BOOST_TEST_CONTEXT(DTypeName<T>::value << " " << cpu::isa_name(isa) << " " << describe(pc)) {
        for (const Tensor<T>* input : {&x_tied, &x}) {
          Tensor<T> y_ref(out_shape), gx_ref(in_shape);
          kernels::max_pool_forward_reference(g, input->data(), y_ref.data());
          kernels::max_pool_backward_reference(g, input->data(), gy.data(), gx_ref.data());
          // Poisoned outputs: every element must be written.
          Tensor<T> y(out_shape, T(NAN)), gx(in_shape, T(NAN));
          plan.max_forward(input->data(), y.data());
          plan.max_backward(input->data(), y.data(), gy.data(), gx.data(), false);
          BOOST_TEST(bitwise_equal(y, y_ref));  // max and select are exact
          BOOST_TEST(bitwise_equal(gx, gx_ref));
          Tensor<T> gx_acc = gx0.clone(), want_acc = gx0.clone();
          plan.max_backward(input->data(), y.data(), gy.data(), gx_acc.data(), true);
          for (int64_t i = 0; i < want_acc.size(); ++i) want_acc[i] += gx_ref[i];
          BOOST_TEST(close(gx_acc, want_acc, tolerance<T>(window)));
        }
        Tensor<T> y_ref(out_shape), gx_ref(in_shape);
        kernels::avg_pool_forward_reference(g, x.data(), y_ref.data());
        kernels::avg_pool_backward_reference(g, gy.data(), gx_ref.data());
        Tensor<T> y(out_shape, T(NAN)), gx(in_shape);
        plan.avg_forward(x.data(), y.data());
        plan.avg_backward_add(gy.data(), gx.data());
        BOOST_TEST(close(y, y_ref, tolerance<T>(window)));
        BOOST_TEST(close(gx, gx_ref, tolerance<T>(window)));
      }
    }
  }
}

// The plan (fused on AVX-512 for float, else the unfused kernels) against the
// plain loops, in both layouts.
template <typename T>
void check_separable_plan_against_reference(const std::vector<SepCase>& cases) {
  std::mt19937 rng(13);
  for (const SepCase& cs : cases)
    for (bool first : {false, true}) {
      kernels::SeparableGeometry sg;
      sg.conv = make_conv_geometry(cs.n, cs.h, cs.w, cs.c, cs.dm, cs.k, cs.s, cs.d, cs.pad);
      sg.filters = cs.f;
      sg.channels_first = first;
      const ConvGeometry& g = sg.conv;
      const int64_t K = sg.mid_channels();
      const Tensor<T> x = random_tensor<T>({g.input_size()}, rng), dk = random_tensor<T>({g.kernel_size()}, rng);
      const Tensor<T> pk = random_tensor<T>({sg.pointwise_size()}, rng), b = random_tensor<T>({cs.f}, rng);
      const Tensor<T> dy = random_tensor<T>({sg.output_size()}, rng);
      const T* bias = cs.bias ? b.data() : nullptr;
      Tensor<T> y_ref({sg.output_size()}), gx_ref({g.input_size()}), gdk_ref({g.kernel_size()});
      Tensor<T> gpk_ref({sg.pointwise_size()}), gb_ref({cs.f});
      kernels::separable_forward_reference(sg, x.data(), dk.data(), pk.data(), bias, cs.relu, y_ref.data());
      kernels::separable_backward_reference(sg, x.data(), dk.data(), pk.data(), y_ref.data(), dy.data(), cs.relu,
                                            gx_ref.data(), gdk_ref.data(), gpk_ref.data(), gb_ref.data());
      const int64_t terms = cs.k[0] * cs.k[1] * K + sg.rows() * cs.k[0] * cs.k[1];
      const double tol = tolerance<T>(terms);
      for (cpu::Isa isa : isas()) {
        cpu::ScopedIsa guard(isa);
        const kernels::SeparablePlan<T> plan(sg, cs.relu);
        const bool fused = std::is_same_v<T, float> && isa == cpu::Isa::Avx512;
        BOOST_TEST_CONTEXT(DTypeName<T>::value << " " << cpu::isa_name(isa) << " "
                                               << kernels::separable_path_name(plan.backward_path())
                                               << " channels_first=" << first << " f=" << cs.f
                                               << " bias=" << cs.bias << " relu=" << cs.relu << " "
                                               << describe({cs.n, cs.h, cs.w, cs.c, cs.dm, cs.k, cs.s, cs.d,
                                                            cs.pad})) {
          BOOST_TEST((plan.forward_path() == (fused ? kernels::SeparablePath::FusedAvx512
                                                    : kernels::SeparablePath::Unfused)));
          BOOST_TEST((plan.backward_path() == (fused && cs.n >= 2 ? kernels::SeparablePath::FusedAvx512
                                                                  : kernels::SeparablePath::Unfused)));
          kernels::ReluMask mask;
          Tensor<T> y({sg.output_size()}, T(NAN)), gx({g.input_size()}, T(NAN)), gdk({g.kernel_size()}, T(NAN));
          Tensor<T> gpk({sg.pointwise_size()}, T(NAN)), gb({cs.f}, T(NAN));
          plan.forward(x.data(), dk.data(), pk.data(), bias, y.data(), &mask);
          BOOST_TEST(mask.empty() == !plan.wants_relu_mask());
          plan.backward(x.data(), dk.data(), pk.data(), y.data(), &mask, dy.data(), gx.data(), gdk.data(),
                        gpk.data(), gb.data());
          BOOST_TEST(close(y, y_ref, tol));
          BOOST_TEST(close(gx, gx_ref, tol));
          BOOST_TEST(close(gdk, gdk_ref, tol));
          BOOST_TEST(close(gpk, gpk_ref, tol));
          BOOST_TEST(close(gb, gb_ref, tol));
        }
      }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(pool_plan_matches_reference_float) { check_pooling_against_reference<float>(); }
BOOST_AUTO_TEST_CASE(pool_plan_matches_reference_double) { check_pooling_against_reference<double>(); }

BOOST_AUTO_TEST_CASE(separable_plan_matches_reference_float) {
  check_separable_plan_against_reference<float>(separable_cases());
  check_separable_plan_against_reference<float>(random_separable_cases(30, 606));
}
BOOST_AUTO_TEST_CASE(separable_plan_matches_reference_double) {
  check_separable_plan_against_reference<double>(separable_cases());
}

BOOST_AUTO_TEST_CASE(separable_op_is_recorded_with_its_output) {
  // Recorded with its output like every other op: --check-numerics names it,
  // and its output's gradient is freed once its backward has run.
  Tape<float>::current().clear();
  std::mt19937 rng(31);
  Variable<float> x(random_tensor<float>({2, 5, 5, 3}, rng), true), dk(random_tensor<float>({3, 3, 3, 1}, rng), true);
  Variable<float> pk(random_tensor<float>({1, 1, 3, 4}, rng), true);
  Variable<float> y = separable_conv2d<float>(x, dk, pk, std::nullopt, {1, 1}, {1, 1}, Padding::Same);
  Variable<float> loss = sum(mul(y, y));
  Tape<float>::current().backward(loss);
  BOOST_TEST(!y.has_grad());
  BOOST_TEST(x.has_grad());

  x.value()[0] = std::numeric_limits<float>::infinity();
  set_check_numerics(true);
  try {
    NameScope scope("sep_layer");
    (void)separable_conv2d<float>(x, dk, pk, std::nullopt, {1, 1}, {1, 1}, Padding::Same);
    BOOST_FAIL("expected NumericsError");
  } catch (const NumericsError& e) {
    const std::string msg = e.what();
    BOOST_TEST(msg.find("separable_conv2d") != std::string::npos, msg);
    BOOST_TEST(msg.find("sep_layer") != std::string::npos, msg);
  }
  set_check_numerics(false);
  Tape<float>::current().clear();
}

// The dropout mask on every ISA and thread count equals its definition,
// written out plainly here: element i is kept (= keep) when the 16-bit part
// i % 4 of splitmix64(key + i / 4) is >= round(rate * 65536), where key =
// splitmix64(seed ^ splitmix64(counter + 0x632be59bd9b4e019)).
BOOST_AUTO_TEST_CASE(dropout_mask_equals_its_definition_on_every_isa) {
  for (cpu::Isa isa : isas()) {
    cpu::ScopedIsa guard(isa);
    const int threads_before = num_threads();
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{4}, int64_t{63}, int64_t{64}, int64_t{65}, int64_t{4097},
                        int64_t{100003}})
        for (double rate : {0.0, 0.3, 0.5, 1.0}) {
          const uint64_t seed = 1234 + static_cast<uint64_t>(n), counter = 7;
          std::vector<float> got(static_cast<size_t>(n), -1.0f);
          kernels::dropout_mask<float>(n, rate, seed, counter, 2.5f, got.data());
          const uint64_t key = splitmix64(seed ^ splitmix64(counter + 0x632be59bd9b4e019ULL));
          const uint64_t threshold = static_cast<uint64_t>(std::llround(rate * 65536.0));
          int64_t wrong = 0;
          for (int64_t i = 0; i < n; ++i) {
            const uint64_t draw = (splitmix64(key + static_cast<uint64_t>(i / 4)) >> (16 * (i % 4))) & 0xffff;
            wrong += got[static_cast<size_t>(i)] != (draw >= threshold ? 2.5f : 0.0f);
          }
          BOOST_TEST(wrong == 0, cpu::isa_name(isa) << " threads " << threads << " n " << n << " rate " << rate);
        }
    }
    set_num_threads(threads_before);
  }
}

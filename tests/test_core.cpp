#define BOOST_TEST_MODULE core
#include <boost/test/unit_test.hpp>

#include <limits>
#include <random>
#include <string>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/core/geometry.h"
#include "sepconv/core/kernels/depthwise.h"
#include "sepconv/core/kernels/gemm.h"
#include "sepconv/core/parallel.h"
#include "sepconv/core/tensor.h"

using namespace sepconv;

BOOST_AUTO_TEST_CASE(tensor_basics) {
  Tensor<float> t({2, 3}, 1.5f);
  BOOST_TEST(t.size() == 6);
  BOOST_TEST(t.dim(-1) == 3);
  BOOST_TEST(shape_str(t.shape()) == "(2, 3)");
  Tensor<float> r = t.reshape({3, 2});
  BOOST_TEST(r.shares_storage_with(t));
  Tensor<float> c = t.clone();
  c[0] = 7;
  BOOST_TEST(t[0] == 1.5f);
  BOOST_CHECK_THROW(t.reshape({4, 2}), ShapeError);
  BOOST_CHECK_THROW(Tensor<double>({2}, std::vector<double>{1, 2, 3}), ShapeError);
  BOOST_CHECK_THROW(Tensor<double>({-1, 2}), ShapeError);
  BOOST_CHECK_THROW(t.dim(2), ShapeError);
  BOOST_TEST(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
}

// A shape whose element count fits int64 but whose bytes do not fit size_t
// wrapped to a 64-byte block (2^62 doubles "need" 2^65 bytes, 0 mod 2^64):
// the first write went past it. Now it is an allocation that cannot be made.
BOOST_AUTO_TEST_CASE(tensor_bytes_cannot_wrap_around) {
  BOOST_CHECK_THROW(Tensor<double>({int64_t{1} << 62}), std::bad_alloc);
  BOOST_CHECK_THROW(Tensor<float>::uninitialized({int64_t{1} << 62}), std::bad_alloc);
  BOOST_CHECK_THROW(Tensor<float>({int64_t{1} << 40, int64_t{1} << 40}), ShapeError);  // the count itself overflows
}

BOOST_AUTO_TEST_CASE(layout_round_trip) {
  Tensor<double> x({2, 3, 4, 5});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = i;
  Tensor<double> y = nhwc_to_nchw(x);
  BOOST_TEST((y.shape() == Shape{2, 5, 3, 4}));
  // x[1, 2, 3, 4] lands at y[1, 4, 2, 3]
  BOOST_TEST(y[((1 * 5 + 4) * 3 + 2) * 4 + 3] == x[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
  BOOST_TEST(max_abs_diff(nchw_to_nhwc(y), x) == 0.0);
}

BOOST_AUTO_TEST_CASE(same_padding_split_matches_tensorflow) {
  // 10 wide, k=4, s=3: out = ceil(10/3) = 4, total pad = (4-1)*3 + 4 - 10 = 3 -> 1 left, 2 right.
  ConvGeometry g = make_conv_geometry(1, 10, 10, 1, 1, {4, 4}, {3, 3}, {1, 1}, Padding::Same);
  BOOST_TEST(g.out_h == 4);
  BOOST_TEST(g.pad_top == 1);
  BOOST_TEST(g.pad_bottom == 2);
  // valid: floor((10 - 4) / 3) + 1 = 3
  BOOST_TEST(make_conv_geometry(1, 10, 10, 1, 1, {4, 4}, {3, 3}, {1, 1}, Padding::Valid).out_w == 3);
  // dilation 2, k 3 -> effective 5; same with stride 1 pads 2 + 2
  ConvGeometry d = make_conv_geometry(1, 7, 7, 1, 1, {3, 3}, {1, 1}, {2, 2}, Padding::Same);
  BOOST_TEST(d.pad_left == 2);
  BOOST_TEST(d.pad_right == 2);
  BOOST_CHECK_THROW(make_conv_geometry(1, 4, 4, 1, 1, {5, 5}, {1, 1}, {1, 1}, Padding::Valid), ValueError);
  BOOST_CHECK_THROW(make_conv_geometry(1, 8, 8, 1, 1, {3, 3}, {2, 2}, {2, 2}, Padding::Valid), ValueError);
  BOOST_CHECK_THROW(parse_padding("full"), ValueError);
  BOOST_TEST((parse_padding("SAME") == Padding::Same));
}

BOOST_AUTO_TEST_CASE(gemm_matches_reference) {
  std::mt19937 rng(1);
  std::normal_distribution<double> nd;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t M = 7, N = 5, K = 9;
      Tensor<double> A({M * K}), B({K * N}), C({M * N}), R({M * N});
      for (auto& v : A) v = nd(rng);
      for (auto& v : B) v = nd(rng);
      const int64_t lda = ta ? M : K, ldb = tb ? K : N;
      gemm<double>(ta, tb, M, N, K, 1.0, A.data(), lda, B.data(), ldb, 0.0, C.data(), N);
      gemm_reference<double>(ta, tb, M, N, K, 1.0, A.data(), lda, B.data(), ldb, 0.0, R.data(), N);
      BOOST_TEST(max_abs_diff(C, R) < 1e-12);
    }
}

// libgomp aborts (50000) or crashes (100000) when asked for more threads than
// it can create, so set_num_threads refuses counts past 4 x the cores, and
// negative ones, naming the argument, the range and the value.
BOOST_AUTO_TEST_CASE(set_num_threads_refuses_counts_out_of_range) {
  const int before = num_threads(), max = max_num_threads();
  BOOST_TEST(max >= 4);
  BOOST_TEST(max % 4 == 0);
  for (int n : {-1, max + 1, 100000, std::numeric_limits<int>::max()}) {
    try {
      set_num_threads(n);
      BOOST_ERROR("set_num_threads(" << n << ") did not throw");
    } catch (const ValueError& e) {
      const std::string what = e.what();
      BOOST_TEST(what.find("Invalid value for argument `num_threads`") != std::string::npos, what);
      BOOST_TEST(what.find(fmt::format("[1, {}]", max)) != std::string::npos, what);
      BOOST_TEST(what.find(fmt::format("Received: num_threads={}", n)) != std::string::npos, what);
    }
    BOOST_TEST(num_threads() == before);  // a refused count changes nothing
  }
  set_num_threads(1);
  BOOST_TEST(num_threads() == 1);
  set_num_threads(max);
  BOOST_TEST(num_threads() == max);
  set_num_threads(before);
}

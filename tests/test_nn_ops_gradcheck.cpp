#define BOOST_TEST_MODULE nn_ops
#include <boost/test/unit_test.hpp>

#include <omp.h>

#include <cmath>
#include <random>

#include "sepconv/autograd/gradcheck.h"
#include "sepconv/autograd/nn_ops.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/core/parallel.h"

using namespace sepconv;

namespace {
Tensor<double> random_tensor(const Shape& shape, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  Tensor<double> t(shape);
  for (auto& v : t) v = d(rng);
  return t;
}

void check(const GradFunction& f, const std::vector<Tensor<double>>& inputs, double atol = 1e-6) {
  GradCheckOptions o;
  o.atol = atol;
  const GradCheckResult r = gradcheck(f, inputs, o);
  BOOST_TEST(r.ok, r.report);
}
using V = std::vector<Variable<double>>;
}  // namespace

// ---- dense --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(dense_forward_matches_hand_computation) {
  Variable<double> x(Tensor<double>({2, 3}, std::vector<double>{1, 2, 3, 4, 5, 6}));
  Variable<double> k(Tensor<double>({3, 2}, std::vector<double>{1, 0, 0, 1, 1, 1}));
  Variable<double> b(Tensor<double>({2}, std::vector<double>{0.5, -0.5}));
  Variable<double> y = dense<double>(x, k, b);
  BOOST_TEST((y.shape() == Shape{2, 2}));
  // row 0: [1 + 3, 2 + 3] + b; row 1: [4 + 6, 5 + 6] + b
  BOOST_TEST(y.value()[0] == 4.5);
  BOOST_TEST(y.value()[1] == 4.5);
  BOOST_TEST(y.value()[2] == 10.5);
  BOOST_TEST(y.value()[3] == 10.5);
}

BOOST_AUTO_TEST_CASE(dense_gradcheck) {
  check([](const V& v) { return dense<double>(v[0], v[1], v[2]); },
        {random_tensor({5, 4}, 1), random_tensor({4, 3}, 2), random_tensor({3}, 3)});
  // rank-3 input: the kernel applies to the last axis
  check([](const V& v) { return dense<double>(v[0], v[1], v[2]); },
        {random_tensor({2, 3, 4}, 4), random_tensor({4, 2}, 5), random_tensor({2}, 6)});
  check([](const V& v) { return dense<double>(v[0], v[1], std::nullopt); },
        {random_tensor({3, 4}, 7), random_tensor({4, 6}, 8)});
  check([](const V& v) { return matmul<double>(v[0], v[1]); }, {random_tensor({3, 5}, 9), random_tensor({5, 2}, 10)});
}

BOOST_AUTO_TEST_CASE(dense_shape_errors) {
  Variable<double> x(Tensor<double>({2, 3}));
  BOOST_CHECK_THROW(dense<double>(x, Variable<double>(Tensor<double>({4, 2})), std::nullopt), ShapeError);
  BOOST_CHECK_THROW(dense<double>(x, Variable<double>(Tensor<double>({3, 2})), Variable<double>(Tensor<double>({3}))),
                    ShapeError);
  BOOST_CHECK_THROW(dense<double>(Variable<double>(Tensor<double>({3})), Variable<double>(Tensor<double>({3, 2})),
                                  std::nullopt),
                    ShapeError);
  BOOST_CHECK_THROW(matmul<double>(x, Variable<double>(Tensor<double>({2, 2}))), ShapeError);
}

// ---- pooling ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(pool_geometry_follows_keras) {
  // 5 wide, pool 2, stride 2: valid -> 2, same -> ceil(5 / 2) = 3 with the padding after
  PoolGeometry v = make_pool_geometry({1, 5, 5, 1}, {2, 2}, {2, 2}, Padding::Valid);
  BOOST_TEST(v.out_h == 2);
  PoolGeometry s = make_pool_geometry({1, 5, 5, 1}, {2, 2}, {2, 2}, Padding::Same);
  BOOST_TEST(s.out_w == 3);
  BOOST_TEST(s.pad_left == 0);
  // pool 3, stride 1, same: pads 1 before
  BOOST_TEST(make_pool_geometry({1, 4, 4, 1}, {3, 3}, {1, 1}, Padding::Same).pad_top == 1);
  BOOST_CHECK_THROW(make_pool_geometry({1, 4, 4, 1}, {0, 2}, {2, 2}, Padding::Valid), ValueError);
  BOOST_CHECK_THROW(make_pool_geometry({1, 4, 4, 1}, {2, 2}, {0, 1}, Padding::Valid), ValueError);
  BOOST_CHECK_THROW(make_pool_geometry({1, 4, 4}, {2, 2}, {2, 2}, Padding::Valid), ShapeError);
  BOOST_CHECK_THROW(make_pool_geometry({1, 1, 1, 1}, {2, 2}, {2, 2}, Padding::Valid), ValueError);
}

BOOST_AUTO_TEST_CASE(max_and_avg_pool_forward_by_hand) {
  // 3x3 single-channel image 1..9, pool 2, stride 2, same: windows {1,2,4,5}, {3,6}, {7,8}, {9}
  Tensor<double> img({1, 3, 3, 1}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  Variable<double> x(img);
  Variable<double> m = max_pool2d<double>(x, {2, 2}, {2, 2}, Padding::Same);
  BOOST_TEST((m.shape() == Shape{1, 2, 2, 1}));
  BOOST_TEST(m.value().to_vector() == (std::vector<double>{5, 6, 8, 9}), boost::test_tools::per_element());
  // TensorFlow's same average pooling divides by the window's positions inside the image.
  Variable<double> a = avg_pool2d<double>(x, {2, 2}, {2, 2}, Padding::Same);
  BOOST_TEST(a.value().to_vector() == (std::vector<double>{3, 4.5, 7.5, 9}), boost::test_tools::per_element());
  Variable<double> v = avg_pool2d<double>(x, {2, 2}, {1, 1}, Padding::Valid);
  BOOST_TEST(v.value().to_vector() == (std::vector<double>{3, 4, 6, 7}), boost::test_tools::per_element());
  // negative inputs: padding must never win a max
  Tensor<double> neg({1, 3, 3, 1}, -1.0);
  BOOST_TEST(max_abs_diff(max_pool2d<double>(Variable<double>(neg), {2, 2}, {2, 2}, Padding::Same).value(),
                          Tensor<double>({1, 2, 2, 1}, -1.0)) == 0.0);
}

BOOST_AUTO_TEST_CASE(max_pool_gradient_goes_to_the_maximum) {
  Variable<double> x(Tensor<double>({1, 2, 2, 2}, std::vector<double>{1, 8, 4, 2, 3, 6, 2, 5}), true);
  Variable<double> y = max_pool2d<double>(x, {2, 2}, {2, 2}, Padding::Valid);
  Variable<double> s = sum(y);
  backward(s);
  BOOST_TEST(x.grad().to_vector() == (std::vector<double>{0, 1, 1, 0, 0, 0, 0, 0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pooling_gradcheck) {
  for (Padding p : {Padding::Valid, Padding::Same}) {
    // odd sizes exercise the uneven "same" split; stride 1 makes windows overlap
    // 2/3 leaves rows and columns no window reaches
    for (auto [pool, stride] : {std::pair<int64_t, int64_t>{2, 2}, {3, 2}, {2, 1}, {3, 3}, {2, 3}}) {
      check([=](const V& v) { return max_pool2d<double>(v[0], {pool, pool}, {stride, stride}, p); },
            {random_tensor({2, 5, 7, 3}, 11 + static_cast<unsigned>(pool * 10 + stride))});
      check([=](const V& v) { return avg_pool2d<double>(v[0], {pool, pool}, {stride, stride}, p); },
            {random_tensor({2, 5, 7, 3}, 21 + static_cast<unsigned>(pool * 10 + stride))});
    }
  }
  // x feeding two pools: the second backward adds to the gradient the first wrote
  check([](const V& v) {
          return add(max_pool2d<double>(v[0], {2, 2}, {2, 2}, Padding::Valid),
                     max_pool2d<double>(v[0], {2, 2}, {2, 2}, Padding::Valid));
        },
        {random_tensor({2, 5, 7, 3}, 41)});
  // non-square pool and strides
  check([](const V& v) { return max_pool2d<double>(v[0], {1, 3}, {2, 1}, Padding::Same); },
        {random_tensor({1, 4, 5, 2}, 31)});
  check([](const V& v) { return avg_pool2d<double>(v[0], {3, 1}, {1, 2}, Padding::Same); },
        {random_tensor({1, 4, 5, 2}, 32)});
}

BOOST_AUTO_TEST_CASE(max_pool_float_matches_brute_force) {
  // The float loops run in whichever vector build the CPU takes (AVX-512, AVX2
  // or baseline): 37 channels make full vectors and a tail. Windows that tile
  // the input (gradient written, not added), overlap, or leave gaps.
  const int64_t N = 2, H = 6, W = 7, C = 37;
  Tensor<double> xd = random_tensor({N, H, W, C}, 51);
  Tensor<float> xf({N, H, W, C});
  for (int64_t i = 0; i < xf.size(); ++i) xf[i] = static_cast<float>(xd[i]);
  for (Padding p : {Padding::Valid, Padding::Same})
    for (auto [pool, stride] : {std::pair<int64_t, int64_t>{2, 2}, {3, 2}, {2, 3}}) {
      const PoolGeometry g = make_pool_geometry(xf.shape(), {pool, pool}, {stride, stride}, p);
      Variable<float> x(xf, true);
      Variable<float> y = max_pool2d<float>(x, {pool, pool}, {stride, stride}, p);
      // Weights 1..: every output element's gradient is distinct.
      Tensor<float> w(y.shape());
      for (int64_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 97 + 1);
      Variable<float> loss = sum(mul(y, Variable<float>(w)));
      backward(loss);
      std::vector<float> want_gx(static_cast<size_t>(xf.size()), 0.0f);
      bool ok_y = true;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t oh = 0; oh < g.out_h; ++oh)
          for (int64_t ow = 0; ow < g.out_w; ++ow)
            for (int64_t c = 0; c < C; ++c) {
              const int64_t hs = oh * stride - g.pad_top, ws = ow * stride - g.pad_left;
              int64_t arg = -1;
              for (int64_t h = std::max<int64_t>(hs, 0); h < std::min(hs + pool, H); ++h)
                for (int64_t wi = std::max<int64_t>(ws, 0); wi < std::min(ws + pool, W); ++wi) {
                  const int64_t i = ((n * H + h) * W + wi) * C + c;
                  if (arg < 0 || xf[i] > xf[arg]) arg = i;  // first maximum in row-major order
                }
              const int64_t o = ((n * g.out_h + oh) * g.out_w + ow) * C + c;
              ok_y = ok_y && y.value()[o] == xf[arg];
              want_gx[static_cast<size_t>(arg)] += w[o];
            }
      BOOST_TEST(ok_y, "forward, pool " << pool << " stride " << stride);
      BOOST_TEST(x.grad().to_vector() == want_gx, "gradient, pool " << pool << " stride " << stride);
    }
}

BOOST_AUTO_TEST_CASE(global_average_pool) {
  Variable<double> x(Tensor<double>({1, 2, 2, 2}, std::vector<double>{1, 10, 2, 20, 3, 30, 4, 40}));
  Variable<double> y = global_average_pool2d<double>(x);
  BOOST_TEST((y.shape() == Shape{1, 2}));
  BOOST_TEST(y.value()[0] == 2.5);
  BOOST_TEST(y.value()[1] == 25.0);
  BOOST_TEST((global_average_pool2d<double>(x, true).shape() == Shape{1, 1, 1, 2}));
  check([](const V& v) { return global_average_pool2d<double>(v[0]); }, {random_tensor({3, 4, 5, 2}, 41)});
  check([](const V& v) { return global_average_pool2d<double>(v[0], true); }, {random_tensor({2, 3, 3, 4}, 42)});
  BOOST_CHECK_THROW(global_average_pool2d<double>(Variable<double>(Tensor<double>({2, 3}))), ShapeError);
}

// ---- batch normalization ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(batch_norm_statistics_by_hand) {
  // channel 0: 1, 2, 3, 6 -> mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5
  // channel 1: 0, 0, 4, 4 -> mean 2, variance 4
  Variable<double> x(Tensor<double>({2, 2, 1, 2}, std::vector<double>{1, 0, 2, 0, 3, 4, 6, 4}));
  const double eps = 1e-3;
  BatchNormOutput<double> out = batch_norm_training<double>(x, std::nullopt, std::nullopt, eps);
  BOOST_TEST(out.mean[0] == 3.0);
  BOOST_TEST(out.mean[1] == 2.0);
  BOOST_TEST(out.variance[0] == 3.5);
  BOOST_TEST(out.variance[1] == 4.0);
  BOOST_TEST(out.y.value()[0] == (1 - 3) / std::sqrt(3.5 + eps), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(out.y.value()[7] == (4 - 2) / std::sqrt(4 + eps), boost::test_tools::tolerance(1e-12));
  // with gamma / beta, in inference mode with given statistics
  Variable<double> g(Tensor<double>({2}, std::vector<double>{2, 3}));
  Variable<double> b(Tensor<double>({2}, std::vector<double>{0.5, -1}));
  Tensor<double> mm({2}, std::vector<double>{1, -1}), mv({2}, std::vector<double>{4, 9});
  Variable<double> yi = batch_norm_inference<double>(x, mm, mv, g, b, eps);
  BOOST_TEST(yi.value()[2] == (2 - 1) / std::sqrt(4 + eps) * 2 + 0.5, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(yi.value()[5] == (4 + 1) / std::sqrt(9 + eps) * 3 - 1, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(batch_norm_gradcheck) {
  // rank 4 and rank 2, with and without gamma/beta; x is kept away from constant
  check([](const V& v) { return batch_norm_training<double>(v[0], v[1], v[2], 1e-3).y; },
        {random_tensor({3, 2, 3, 4}, 51), random_tensor({4}, 52, 0.5, 1.5), random_tensor({4}, 53)});
  check([](const V& v) { return batch_norm_training<double>(v[0], v[1], v[2], 1e-3).y; },
        {random_tensor({6, 3}, 54), random_tensor({3}, 55, 0.5, 1.5), random_tensor({3}, 56)});
  check([](const V& v) { return batch_norm_training<double>(v[0], std::nullopt, std::nullopt, 1e-3).y; },
        {random_tensor({5, 2}, 57)});
  Tensor<double> mean = random_tensor({4}, 58), var = random_tensor({4}, 59, 0.5, 2.0);
  check([=](const V& v) { return batch_norm_inference<double>(v[0], mean, var, v[1], v[2], 1e-3); },
        {random_tensor({2, 3, 2, 4}, 60), random_tensor({4}, 61), random_tensor({4}, 62)});
}

BOOST_AUTO_TEST_CASE(batch_norm_shape_errors) {
  Variable<double> x(Tensor<double>({2, 3}));
  BOOST_CHECK_THROW(batch_norm_training<double>(x, Variable<double>(Tensor<double>({2})), std::nullopt, 1e-3),
                    ShapeError);
  BOOST_CHECK_THROW(batch_norm_inference<double>(x, Tensor<double>({2}), Tensor<double>({3}), std::nullopt,
                                                 std::nullopt, 1e-3),
                    ShapeError);
  BOOST_CHECK_THROW(batch_norm_training<double>(Variable<double>(Tensor<double>({0, 3})), std::nullopt, std::nullopt,
                                                1e-3),
                    ShapeError);
}

// ---- dropout ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(dropout_mask_statistics) {
  const double rate = 0.3;
  Tensor<double> m = dropout_mask<double>({100, 100}, rate, 7, 0);
  int64_t dropped = 0;
  for (double v : m) {
    BOOST_TEST((v == 0.0 || v == 1.0 / (1.0 - rate)));
    dropped += v == 0.0;
  }
  // 10000 Bernoulli(0.3) draws: mean 3000, sd ~46
  BOOST_TEST(std::abs(dropped - 3000) < 250);
  // a pure function of (seed, counter): same mask again, another for the next counter / seed
  BOOST_TEST(max_abs_diff(m, dropout_mask<double>({100, 100}, rate, 7, 0)) == 0.0);
  BOOST_TEST(max_abs_diff(m, dropout_mask<double>({100, 100}, rate, 7, 1)) > 0.0);
  BOOST_TEST(max_abs_diff(m, dropout_mask<double>({100, 100}, rate, 8, 0)) > 0.0);
  BOOST_TEST(max_abs(dropout_mask<double>({10}, 1.0, 7, 0)) == 0.0);
  BOOST_CHECK_THROW(dropout_mask<double>({10}, -0.1, 7, 0), ValueError);
  BOOST_CHECK_THROW(dropout_mask<double>({10}, 1.5, 7, 0), ValueError);
}

BOOST_AUTO_TEST_CASE(dropout_gradcheck_with_fixed_mask) {
  const Tensor<double> mask = dropout_mask<double>({4, 5}, 0.5, 3, 2);
  check([=](const V& v) { return apply_mask<double>(v[0], mask); }, {random_tensor({4, 5}, 71)});
  // the op itself with a fixed (seed, counter) draws the same mask at every probe
  check([](const V& v) { return dropout<double>(v[0], 0.25, 11, 5); }, {random_tensor({3, 7}, 72)});
  BOOST_CHECK_THROW(apply_mask<double>(Variable<double>(Tensor<double>({4, 4})), mask), ShapeError);
}

// ---- image flips ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(flip_images_by_hand_and_gradcheck) {
  // two 2x3 one-channel images: the first mirrored left-right, the second upside down
  Variable<double> x(Tensor<double>({2, 2, 3, 1}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  Variable<double> y = flip_images<double>(x, {0, 1}, {1, 0});
  BOOST_TEST(y.value().to_vector() == (std::vector<double>{3, 2, 1, 6, 5, 4, 10, 11, 12, 7, 8, 9}),
             boost::test_tools::per_element());
  const std::vector<uint8_t> fh{1, 0, 1}, fw{1, 1, 0};
  check([=](const V& v) { return flip_images<double>(v[0], fh, fw); }, {random_tensor({3, 3, 4, 2}, 81)});
  BOOST_CHECK_THROW(flip_images<double>(x, {0}, {0, 1}), ShapeError);
}

// ---- reproducibility -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_the_thread_count) {
  // float, with enough rows for several reduction blocks
  auto run = [](int threads) {
    set_num_threads(threads);
    std::mt19937 rng(5);
    std::normal_distribution<float> d(0.3f, 2.0f);
    Tensor<float> xv({16, 12, 12, 8}), gv({8}), bv({8});
    for (auto& v : xv) v = d(rng);
    for (auto& v : gv) v = d(rng);
    for (auto& v : bv) v = d(rng);
    Variable<float> x(xv, true), g(gv, true), b(bv, true);
    Variable<float> y = batch_norm_training<float>(x, g, b, 1e-3).y;
    Variable<float> p = max_pool2d<float>(y, {2, 2}, {2, 2}, Padding::Valid);
    Variable<float> a = avg_pool2d<float>(p, {3, 3}, {1, 1}, Padding::Same);
    Variable<float> flat = reshape(a, {16, 6 * 6 * 8});
    Variable<float> k(Tensor<float>({6 * 6 * 8, 4}, 0.01f), true);
    Variable<float> out = dense<float>(flat, k, std::nullopt);
    Variable<float> s = sum(mul(out, out));
    backward(s);
    std::vector<float> all = x.grad().to_vector();
    for (const auto* t : {&g.grad(), &b.grad(), &k.grad()}) all.insert(all.end(), t->begin(), t->end());
    return all;
  };
  const std::vector<float> one = run(1), two = run(2), three = run(3);
  set_num_threads(0);
  BOOST_TEST(one == two);
  BOOST_TEST(one == three);
}

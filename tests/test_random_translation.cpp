#define BOOST_TEST_MODULE random_translation
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "sepconv/autograd/gradcheck.h"
#include "sepconv/autograd/nn_ops.h"
#include "sepconv/core/parallel.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/layers/dense.h"
#include "sepconv/layers/layer_registry.h"
#include "sepconv/layers/random_translation.h"
#include "sepconv/model/checkpoint.h"
#include "sepconv/model/sequential.h"

using namespace sepconv;
using kernels::FillMode;
using kernels::Interpolation;

namespace {

template <typename T>
Tensor<T> random_tensor(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(-1.0, 1.0);
  Tensor<T> t(shape);
  for (auto& v : t) v = static_cast<T>(d(rng));
  return t;
}

FillMode fill_mode_of(const std::string& m) {
  if (m == "reflect") return FillMode::Reflect;
  if (m == "wrap") return FillMode::Wrap;
  if (m == "constant") return FillMode::Constant;
  return FillMode::Nearest;
}
Interpolation interpolation_of(const std::string& i) {
  return i == "nearest" ? Interpolation::Nearest : Interpolation::Bilinear;
}

// The message of the ValueError `f` throws (fails the test when it throws none).
template <typename F>
std::string value_error_of(F&& f) {
  try {
    f();
  } catch (const ValueError& e) {
    return e.what();
  }
  BOOST_ERROR("no ValueError");
  return {};
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const std::vector<std::string> kFillModes{"reflect", "wrap", "constant", "nearest"};

}  // namespace

// ---- the resampling, against expected values computed elsewhere ------------------------

BOOST_AUTO_TEST_CASE(a_row_shifted_right_by_one_and_a_half_by_hand) {
  // [1 2 3 4] read at x - 1.5; reflect extends it as (4 3 2 1 | 1 2 3 4 | 4 3 2 1):
  //   x = 0 reads -1.5: halfway between index -2 (= 2) and -1 (= 1) -> 1.5
  //   x = 1 reads -0.5: between -1 (= 1) and 0 (= 1) -> 1; x = 2: 1.5; x = 3: 2.5
  Variable<double> x(Tensor<double>({1, 1, 4, 1}, std::vector<double>{1, 2, 3, 4}));
  const auto y = translate_images<double>(x, {0.0f}, {1.5f}, Interpolation::Bilinear, FillMode::Reflect, 0.0);
  BOOST_TEST(y.value().to_vector() == (std::vector<double>{1.5, 1, 1.5, 2.5}), boost::test_tools::per_element());
  // wrap: (1 2 3 4 | 1 2 3 4 | ...): -1.5 between 3 and 4 -> 3.5; -0.5 between 4 and 1 -> 2.5
  const auto w = translate_images<double>(x, {0.0f}, {1.5f}, Interpolation::Bilinear, FillMode::Wrap, 0.0);
  BOOST_TEST(w.value().to_vector() == (std::vector<double>{3.5, 2.5, 1.5, 2.5}), boost::test_tools::per_element());
  // constant 9: -1.5 -> 9; -0.5 between 9 and 1 -> 5; nearest: (1 1 | 1 2 3 4)
  const auto c = translate_images<double>(x, {0.0f}, {1.5f}, Interpolation::Bilinear, FillMode::Constant, 9.0);
  BOOST_TEST(c.value().to_vector() == (std::vector<double>{9, 5, 1.5, 2.5}), boost::test_tools::per_element());
  const auto n = translate_images<double>(x, {0.0f}, {1.5f}, Interpolation::Bilinear, FillMode::Nearest, 0.0);
  BOOST_TEST(n.value().to_vector() == (std::vector<double>{1, 1, 1.5, 2.5}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(every_fill_mode_and_interpolation_matches_numpy) {
  // Expected values: tests/data/random_translation/expected.py (np.pad in the
  // fill mode, then sampling the padded image, as Keras's numpy backend does).
  struct Case {
    std::string fill_mode, interpolation;
    std::vector<double> expected;
  };
  const std::vector<Case> cases{
    {"reflect", "bilinear", {2.75, 102.75, 3.75, 103.75, 4.75, 104.75, 5.75, 105.75, 6.25, 106.25, 1.5, 101.5, 2.5, 102.5, 3.5, 103.5, 4.5, 104.5, 5.0, 105.0, 5.25, 105.25, 6.25, 106.25, 7.25, 107.25, 8.25, 108.25, 8.75, 108.75, 10.25, 110.25, 11.25, 111.25, 12.25, 112.25, 13.25, 113.25, 13.75, 113.75, -19.59999990463257, -119.59999990463257, -18.59999990463257, -118.59999990463257, -17.59999990463257, -117.59999990463257, -16.59999990463257, -116.59999990463257, -16.0, -116.0, -15.849999904632568, -115.84999990463257, -14.849999904632568, -114.84999990463257, -13.849999904632568, -113.84999990463257, -12.849999904632568, -112.84999990463257, -12.25, -112.25, -10.849999904632568, -110.84999990463257, -9.849999904632568, -109.84999990463257, -8.849999904632568, -108.84999990463257, -7.849999904632568, -107.84999990463257, -7.25, -107.25, -5.849999904632568, -105.84999990463257, -4.849999904632568, -104.84999990463257, -3.8499999046325684, -103.84999990463257, -2.8499999046325684, -102.84999990463257, -2.25, -102.25}},
    {"wrap", "bilinear", {15.25, 115.25, 16.25, 116.25, 17.25, 117.25, 18.25, 118.25, 16.75, 116.75, 5.25, 105.25, 6.25, 106.25, 7.25, 107.25, 8.25, 108.25, 6.75, 106.75, 5.25, 105.25, 6.25, 106.25, 7.25, 107.25, 8.25, 108.25, 6.75, 106.75, 10.25, 110.25, 11.25, 111.25, 12.25, 112.25, 13.25, 113.25, 11.75, 111.75, -5.150000095367432, -105.15000009536743, -6.150000095367432, -106.15000009536743, -7.150000095367432, -107.15000009536743, -8.150000095367432, -108.15000009536743, -7.149999618530273, -107.14999961853027, -5.150000095367432, -105.15000009536743, -6.150000095367432, -106.15000009536743, -7.150000095367432, -107.15000009536743, -8.150000095367432, -108.15000009536743, -7.149999618530273, -107.14999961853027, -10.150000095367432, -110.15000009536743, -11.150000095367432, -111.15000009536743, -12.150000095367432, -112.15000009536743, -13.150000095367432, -113.15000009536743, -12.149999618530273, -112.14999961853027, -15.150000095367432, -115.15000009536743, -16.15000009536743, -116.15000009536743, -17.15000009536743, -117.15000009536743, -18.15000009536743, -118.15000009536743, -17.149999618530273, -117.14999961853027}},
    {"constant", "bilinear", {-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 0.875, 75.875, 1.625, 76.625, 2.375, 77.375, 3.125, 78.125, 1.25, 38.75, 5.25, 105.25, 6.25, 106.25, 7.25, 107.25, 8.25, 108.25, 3.875, 53.875, 10.25, 110.25, 11.25, 111.25, 12.25, 112.25, 13.25, 113.25, 6.375, 56.375, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -2.5000003576278687, -12.50000274181366, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0}},
    {"nearest", "bilinear", {1.5, 101.5, 2.5, 102.5, 3.5, 103.5, 4.5, 104.5, 5.0, 105.0, 1.5, 101.5, 2.5, 102.5, 3.5, 103.5, 4.5, 104.5, 5.0, 105.0, 5.25, 105.25, 6.25, 106.25, 7.25, 107.25, 8.25, 108.25, 8.75, 108.75, 10.25, 110.25, 11.25, 111.25, 12.25, 112.25, 13.25, 113.25, 13.75, 113.75, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0}},
    {"reflect", "nearest", {2.0, 102.0, 3.0, 103.0, 4.0, 104.0, 5.0, 105.0, 5.0, 105.0, 2.0, 102.0, 3.0, 103.0, 4.0, 104.0, 5.0, 105.0, 5.0, 105.0, 7.0, 107.0, 8.0, 108.0, 9.0, 109.0, 10.0, 110.0, 10.0, 110.0, 12.0, 112.0, 13.0, 113.0, 14.0, 114.0, 15.0, 115.0, 15.0, 115.0, -15.0, -115.0, -15.0, -115.0, -14.0, -114.0, -13.0, -113.0, -12.0, -112.0, -20.0, -120.0, -20.0, -120.0, -19.0, -119.0, -18.0, -118.0, -17.0, -117.0, -20.0, -120.0, -20.0, -120.0, -19.0, -119.0, -18.0, -118.0, -17.0, -117.0, -15.0, -115.0, -15.0, -115.0, -14.0, -114.0, -13.0, -113.0, -12.0, -112.0}},
    {"wrap", "nearest", {17.0, 117.0, 18.0, 118.0, 19.0, 119.0, 20.0, 120.0, 16.0, 116.0, 2.0, 102.0, 3.0, 103.0, 4.0, 104.0, 5.0, 105.0, 1.0, 101.0, 7.0, 107.0, 8.0, 108.0, 9.0, 109.0, 10.0, 110.0, 6.0, 106.0, 12.0, 112.0, 13.0, 113.0, 14.0, 114.0, 15.0, 115.0, 11.0, 111.0, -15.0, -115.0, -11.0, -111.0, -12.0, -112.0, -13.0, -113.0, -14.0, -114.0, -20.0, -120.0, -16.0, -116.0, -17.0, -117.0, -18.0, -118.0, -19.0, -119.0, -5.0, -105.0, -1.0, -101.0, -2.0, -102.0, -3.0, -103.0, -4.0, -104.0, -10.0, -110.0, -6.0, -106.0, -7.0, -107.0, -8.0, -108.0, -9.0, -109.0}},
    {"constant", "nearest", {-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 2.0, 102.0, 3.0, 103.0, 4.0, 104.0, 5.0, 105.0, -1.0, -1.0, 7.0, 107.0, 8.0, 108.0, 9.0, 109.0, 10.0, 110.0, -1.0, -1.0, 12.0, 112.0, 13.0, 113.0, 14.0, 114.0, 15.0, 115.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0}},
    {"nearest", "nearest", {2.0, 102.0, 3.0, 103.0, 4.0, 104.0, 5.0, 105.0, 5.0, 105.0, 2.0, 102.0, 3.0, 103.0, 4.0, 104.0, 5.0, 105.0, 5.0, 105.0, 7.0, 107.0, 8.0, 108.0, 9.0, 109.0, 10.0, 110.0, 10.0, 110.0, 12.0, 112.0, 13.0, 113.0, 14.0, 114.0, 15.0, 115.0, 15.0, 115.0, -11.0, -111.0, -11.0, -111.0, -11.0, -111.0, -11.0, -111.0, -11.0, -111.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0, -16.0, -116.0}},
  };
  // Two 4x5 images of 2 channels: 1..20 and 100 + that, the second image negated.
  Tensor<double> xd({2, 4, 5, 2});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t p = 0; p < 20; ++p)
      for (int64_t c = 0; c < 2; ++c) xd[(n * 20 + p) * 2 + c] = (n ? -1.0 : 1.0) * (1.0 + p + 100.0 * c);
  Tensor<float> xf({2, 4, 5, 2});
  for (int64_t i = 0; i < xd.size(); ++i) xf[i] = static_cast<float>(xd[i]);
  for (const Case& k : cases) {
    BOOST_TEST_CONTEXT(k.fill_mode << " / " << k.interpolation) {
      const bool nearest = k.interpolation == "nearest";
      const std::vector<float> sh = nearest ? std::vector<float>{0.6f, -2.2f} : std::vector<float>{1.25f, -3.75f};
      const std::vector<float> sw = nearest ? std::vector<float>{-1.4f, 6.3f} : std::vector<float>{-0.5f, 4.6f};
      const auto yd = translate_images<double>(Variable<double>(xd), sh, sw, interpolation_of(k.interpolation),
                                               fill_mode_of(k.fill_mode), -1.0);
      const auto yf = translate_images<float>(Variable<float>(xf), sh, sw, interpolation_of(k.interpolation),
                                              fill_mode_of(k.fill_mode), -1.0);
      BOOST_REQUIRE_EQUAL(yd.value().size(), static_cast<int64_t>(k.expected.size()));
      for (size_t i = 0; i < k.expected.size(); ++i) {
        BOOST_TEST(yd.value()[i] == k.expected[i], boost::test_tools::tolerance(1e-12));
        BOOST_TEST(static_cast<double>(yf.value()[i]) == k.expected[i], boost::test_tools::tolerance(1e-5));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(integer_shifts_reproduce_plain_shifted_arrays) {
  const int64_t N = 1, H = 5, W = 6, C = 3;
  const Tensor<double> x = random_tensor<double>({N, H, W, C}, 3);
  auto fixed = [](int64_t i, int64_t size, const std::string& mode) -> int64_t {
    if (i >= 0 && i < size) return i;
    if (mode == "constant") return -1;
    if (mode == "nearest") return i < 0 ? 0 : size - 1;
    if (mode == "wrap") return ((i % size) + size) % size;
    // reflect, one period of 2 * size: i < 0 mirrors to -1 - i, i >= size to 2 * size - 1 - i
    const int64_t m = ((i % (2 * size)) + 2 * size) % (2 * size);
    return m < size ? m : 2 * size - 1 - m;
  };
  for (const std::string& mode : kFillModes)
    for (const std::string& interp : {std::string("bilinear"), std::string("nearest")})
      for (int dy : {-7, -2, 0, 3, 5})
        for (int dx : {-6, -1, 2, 13}) {
          BOOST_TEST_CONTEXT(mode << " " << interp << " dy=" << dy << " dx=" << dx) {
            const auto y = translate_images<double>(Variable<double>(x), {static_cast<float>(dy)},
                                                    {static_cast<float>(dx)}, interpolation_of(interp),
                                                    fill_mode_of(mode), 0.25);
            bool equal = true;
            for (int64_t r = 0; r < H; ++r)
              for (int64_t q = 0; q < W; ++q)
                for (int64_t c = 0; c < C; ++c) {
                  const int64_t sr = fixed(r - dy, H, mode), sq = fixed(q - dx, W, mode);
                  const double want = sr < 0 || sq < 0 ? 0.25 : x[(sr * W + sq) * C + c];
                  equal = equal && y.value()[(r * W + q) * C + c] == want;
                }
            BOOST_TEST(equal);
          }
        }
}

BOOST_AUTO_TEST_CASE(translate_images_gradcheck) {
  for (const std::string& mode : kFillModes)
    for (const std::string& interp : {std::string("bilinear"), std::string("nearest")}) {
      BOOST_TEST_CONTEXT(mode << " " << interp) {
        const std::vector<float> sh{1.3f, -2.6f, 0.0f}, sw{-0.7f, 4.2f, 2.0f};
        const FillMode f = fill_mode_of(mode);
        const Interpolation i = interpolation_of(interp);
        GradCheckOptions o;
        o.atol = 1e-6;
        const GradCheckResult r = gradcheck(
            [=](const std::vector<Variable<double>>& v) { return translate_images<double>(v[0], sh, sw, i, f, 0.5); },
            {random_tensor<double>({3, 4, 5, 2}, 11)}, o);
        BOOST_TEST(r.ok, r.report);
      }
    }
}

BOOST_AUTO_TEST_CASE(translate_images_refuses_bad_shifts) {
  Variable<double> x(Tensor<double>({2, 3, 3, 1}));
  BOOST_CHECK_THROW(translate_images<double>(x, {0.0f}, {0.0f, 0.0f}, Interpolation::Bilinear, FillMode::Reflect, 0),
                    ShapeError);
  const std::string e = value_error_of([&] {
    translate_images<double>(x, {0.0f, NAN}, {0.0f, 0.0f}, Interpolation::Bilinear, FillMode::Reflect, 0);
  });
  BOOST_TEST(contains(e, "nan"), e);
  BOOST_CHECK_THROW(translate_images<double>(x, {0.0f, 0.0f}, {1e30f, 0.0f}, Interpolation::Nearest, FillMode::Wrap, 0),
                    ValueError);
  BOOST_CHECK_THROW(translate_images<double>(Variable<double>(Tensor<double>({3, 3, 1})), {0.0f}, {0.0f},
                                             Interpolation::Bilinear, FillMode::Reflect, 0),
                    ShapeError);
}

// ---- the layer ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(inference_is_the_identity_and_shapes_are_kept) {
  RandomTranslation<float> t(RandomTranslationOptions(0.2, 0.2).seed(1));
  const Tensor<float> x = random_tensor<float>({4, 6, 7, 3}, 5);
  const Variable<float> y = t(Variable<float>(x), false);
  BOOST_TEST(y.value().to_vector() == x.to_vector(), boost::test_tools::per_element());
  BOOST_TEST(t.generator_state() == 0u);  // inference draws nothing
  BOOST_TEST((t(Variable<float>(x), true).shape() == Shape{4, 6, 7, 3}));
  BOOST_TEST(t.generator_state() == 1u);
  BOOST_TEST((t.compute_output_shape({4, 6, 7, 3}) == Shape{4, 6, 7, 3}));
  // an unbatched image is one image, as in Keras
  BOOST_TEST((t(Variable<float>(random_tensor<float>({6, 7, 3}, 6)), true).shape() == Shape{6, 7, 3}));
  // channels_first: (batch, c, h, w)
  RandomTranslation<float> cf(RandomTranslationOptions(0.2, 0.2).seed(1).data_format("channels_first"));
  BOOST_TEST((cf(Variable<float>(random_tensor<float>({4, 3, 6, 7}, 7)), true).shape() == Shape{4, 3, 6, 7}));
  BOOST_CHECK_THROW(t(Variable<float>(Tensor<float>({4, 6}))), ShapeError);
}

BOOST_AUTO_TEST_CASE(channels_first_and_unbatched_inputs_move_as_channels_last_batches_do) {
  const Tensor<double> x = random_tensor<double>({3, 5, 6, 2}, 14);  // (batch, h, w, c)
  RandomTranslation<double> last(RandomTranslationOptions(0.3, 0.3).seed(5).data_format("channels_last"));
  RandomTranslation<double> first(RandomTranslationOptions(0.3, 0.3).seed(5).data_format("channels_first"));
  const Tensor<double> y = last(Variable<double>(x), true).value();
  Tensor<double> xc({3, 2, 5, 6});
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t w = 0; w < 6; ++w)
        for (int64_t c = 0; c < 2; ++c) xc[((n * 2 + c) * 5 + h) * 6 + w] = x[((n * 5 + h) * 6 + w) * 2 + c];
  const Tensor<double> yc = first(Variable<double>(xc), true).value();
  bool same = true;
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t w = 0; w < 6; ++w)
        for (int64_t c = 0; c < 2; ++c) same = same && yc[((n * 2 + c) * 5 + h) * 6 + w] == y[((n * 5 + h) * 6 + w) * 2 + c];
  BOOST_TEST(same);
  // an unbatched image moves as the first image of a batch drawn with the same state
  RandomTranslation<double> single(RandomTranslationOptions(0.3, 0.3).seed(5));
  Tensor<double> x0({5, 6, 2});
  for (int64_t i = 0; i < x0.size(); ++i) x0[i] = x[i];
  const Tensor<double> y0 = single(Variable<double>(x0), true).value();
  bool first_image = true;
  for (int64_t i = 0; i < y0.size(); ++i) first_image = first_image && y0[i] == y[i];
  BOOST_TEST(first_image);
}

BOOST_AUTO_TEST_CASE(training_shifts_each_image_by_its_own_draw_within_the_factors) {
  RandomTranslation<double> t(RandomTranslationOptions({-0.2, 0.3}, 0.1).seed(9).fill_mode("constant"));
  BOOST_TEST(t.height_factor().lower() == -0.2);
  BOOST_TEST(t.height_factor().upper() == 0.3);
  BOOST_TEST(t.width_factor().lower() == -0.1);
  const int64_t N = 500, H = 20, W = 10;
  const auto s = t.draw_shifts(N, H, W, 0);
  double mean_h = 0, lo_h = 1e9, hi_h = -1e9, lo_w = 1e9, hi_w = -1e9;
  for (int64_t i = 0; i < N; ++i) {
    mean_h += s.height[i] / N;
    lo_h = std::min<double>(lo_h, s.height[i]), hi_h = std::max<double>(hi_h, s.height[i]);
    lo_w = std::min<double>(lo_w, s.width[i]), hi_w = std::max<double>(hi_w, s.width[i]);
  }
  // uniform on [-4, 6) pixels of height and [-1, 1) of width
  BOOST_TEST(lo_h >= -4.0);
  BOOST_TEST(hi_h <= 6.0);
  BOOST_TEST(lo_h < -3.8);
  BOOST_TEST(hi_h > 5.8);
  BOOST_TEST(std::abs(mean_h - 1.0) < 0.4);  // sd of the mean: 10 / sqrt(12 * 500) = 0.13
  BOOST_TEST(lo_w >= -1.0);
  BOOST_TEST(hi_w <= 1.0);
  BOOST_TEST(lo_w < -0.9);
  BOOST_TEST(hi_w > 0.9);
  // the call applies exactly those shifts, and the next call draws new ones
  const Tensor<double> x = random_tensor<double>({N, H, W, 1}, 8);
  const auto y = t(Variable<double>(x), true);
  const auto want = translate_images<double>(Variable<double>(x), s.height, s.width, Interpolation::Bilinear,
                                             FillMode::Constant, 0.0);
  BOOST_TEST(y.value().to_vector() == want.value().to_vector(), boost::test_tools::per_element());
  const auto s1 = t.draw_shifts(N, H, W, 1);
  int differ = 0;
  for (int64_t i = 0; i < N; ++i) differ += s1.height[i] != s.height[i];
  BOOST_TEST(differ > N - 5);
}

BOOST_AUTO_TEST_CASE(draws_repeat_for_a_seed_and_resume_from_the_state) {
  const Tensor<float> x = random_tensor<float>({8, 28, 28, 1}, 4);
  RandomTranslation<float> a(RandomTranslationOptions(0.1, 0.1).seed(42)), b(RandomTranslationOptions(0.1, 0.1).seed(42));
  const auto a1 = a(Variable<float>(x), true).value().to_vector();
  const auto a2 = a(Variable<float>(x), true).value().to_vector();
  BOOST_TEST(b(Variable<float>(x), true).value().to_vector() == a1, boost::test_tools::per_element());
  BOOST_TEST(a1 != a2);
  // a layer restored to state 1 (as a checkpoint does) draws the second call's shifts
  RandomTranslation<float> c(RandomTranslationOptions(0.1, 0.1).seed(42));
  c.set_generator_state(1);
  BOOST_TEST(c(Variable<float>(x), true).value().to_vector() == a2, boost::test_tools::per_element());
  RandomTranslation<float> other(RandomTranslationOptions(0.1, 0.1).seed(43));
  BOOST_TEST(other(Variable<float>(x), true).value().to_vector() != a1);
}

BOOST_AUTO_TEST_CASE(checkpoints_save_and_restore_the_generator_state) {
  auto model = [] {
    auto m = std::make_unique<Sequential<float>>("m");
    m->add(std::make_shared<RandomTranslation<float>>(RandomTranslationOptions(0.1, 0.1).seed(3).name("shift")));
    m->add(std::make_shared<Flatten<float>>(FlattenOptions().name("flat")));
    m->add(std::make_shared<Dense<float>>(DenseOptions(2).name("out")));
    m->build({6, 6, 1});
    return m;
  };
  auto a = model(), b = model();
  auto* ta = dynamic_cast<RandomTranslation<float>*>(a->layers()[0].get());
  auto* tb = dynamic_cast<RandomTranslation<float>*>(b->layers()[0].get());
  BOOST_REQUIRE(ta && tb);
  ta->set_generator_state(5);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("sepconv_rt_" + std::to_string(::getpid()) + ".safetensors")).string();
  save_checkpoint(path, *a, nullptr);
  load_checkpoint(path, *b, nullptr);
  std::filesystem::remove(path);
  BOOST_TEST(tb->generator_state() == 5u);
  BOOST_TEST(tb->seed() == 3u);
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_the_thread_count) {
  // One training step's worth of Fashion-MNIST: forward and backward.
  const Tensor<float> x = random_tensor<float>({64, 28, 28, 1}, 21), g = random_tensor<float>({64, 28, 28, 1}, 22);
  auto run = [&](int threads, const std::string& mode) {
    set_num_threads(threads);
    RandomTranslation<float> t(RandomTranslationOptions(0.1, 0.1).seed(42).fill_mode(mode));
    Tape<float>::current().clear();
    Variable<float> in(x, true);
    Variable<float> y = t(in, true);
    Variable<float> loss = sum(mul(y, Variable<float>(g)));
    backward(loss);
    std::vector<float> out = y.value().to_vector(), grad = in.grad().to_vector();
    out.insert(out.end(), grad.begin(), grad.end());
    return out;
  };
  for (const std::string& mode : kFillModes) {
    const auto one = run(1, mode), two = run(2, mode), three = run(3, mode);
    BOOST_TEST(one == two, mode);
    BOOST_TEST(one == three, mode);
  }
  set_num_threads(2);
}

// ---- arguments and configs -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(config_round_trip) {
  RandomTranslation<float> t(RandomTranslationOptions({0.3, -0.2}, 0.1)
                                 .fill_mode("constant")
                                 .interpolation("nearest")
                                 .seed(7)
                                 .fill_value(0.5)
                                 .data_format("channels_first")
                                 .name("shift"));
  const nlohmann::json c = t.get_config();
  BOOST_TEST(c.at("height_factor") == nlohmann::json::array({0.3, -0.2}));  // as given, as Keras keeps it
  BOOST_TEST(c.at("width_factor") == 0.1);
  BOOST_TEST(c.at("fill_mode") == "constant");
  BOOST_TEST(c.at("interpolation") == "nearest");
  BOOST_TEST(c.at("seed") == 7);
  BOOST_TEST(c.at("fill_value") == 0.5);
  BOOST_TEST(c.at("data_format") == "channels_first");
  BOOST_TEST(c.at("name") == "shift");
  const auto back = RandomTranslation<float>::from_config(c);
  BOOST_TEST(back->get_config() == c);
  BOOST_TEST(back->height_factor().lower() == -0.2);
  BOOST_TEST(back->height_factor().upper() == 0.3);
  // through the registry, as model_from_json reads it
  const auto l = layer_from_config<float>({{"class_name", "RandomTranslation"}, {"config", c}});
  BOOST_TEST(l->get_config() == c);
  // Keras's defaults and an unseeded layer (seed null)
  const auto d = RandomTranslation<double>::from_config({{"height_factor", 0.1}, {"width_factor", 0.2}});
  BOOST_TEST(d->fill_mode() == "reflect");
  BOOST_TEST(d->interpolation() == "bilinear");
  BOOST_TEST(d->fill_value() == 0.0);
  BOOST_TEST(d->get_config().at("seed").is_null());
  // a config as Keras 3 writes it
  const auto k = RandomTranslation<float>::from_config(nlohmann::json::parse(R"({
      "name": "random_translation", "trainable": true,
      "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
      "height_factor": [-0.2, 0.3], "width_factor": 0.2, "fill_mode": "reflect", "interpolation": "bilinear",
      "seed": null, "fill_value": 0.0, "data_format": "channels_last"})"));
  BOOST_TEST(k->width_factor().lower() == -0.2);
  BOOST_TEST(k->name() == "random_translation");
}

BOOST_AUTO_TEST_CASE(bad_arguments_name_the_argument_and_the_value) {
  using O = RandomTranslationOptions;
  auto make = [](const O& o) { RandomTranslation<float> t(o); };
  std::string e = value_error_of([&] { make(O(1.5, 0.1)); });
  BOOST_TEST(contains(e, "The `factor` argument should be a number (or a list of two numbers) in the range "
                         "[-1.0, 1.0]. Received: height_factor=1.5"), e);
  e = value_error_of([&] { make(O(0.1, {-1.2, 0.1})); });
  BOOST_TEST(contains(e, "width_factor=[-1.2, 0.1]"), e);
  e = value_error_of([&] { make(O(0.1, NAN)); });
  BOOST_TEST(contains(e, "width_factor=nan"), e);
  e = value_error_of([&] { make(O(0.1, 0.1).fill_mode("mirror")); });
  BOOST_TEST(contains(e, "Unknown `fill_mode` mirror. Expected of one ('reflect', 'wrap', 'constant', 'nearest')."), e);
  e = value_error_of([&] { make(O(0.1, 0.1).interpolation("bicubic")); });
  BOOST_TEST(contains(e, "Unknown `interpolation` bicubic. Expected of one ('nearest', 'bilinear')."), e);
  e = value_error_of([&] { make(O(0.1, 0.1).fill_value(INFINITY)); });
  BOOST_TEST(contains(e, "fill_value=inf"), e);
  e = value_error_of([&] { make(O(0.1, 0.1).data_format("nhwc")); });
  BOOST_TEST(contains(e, "nhwc"), e);
  // configs
  auto from = [](const char* text) { RandomTranslation<float>::from_config(nlohmann::json::parse(text)); };
  e = value_error_of([&] { from(R"({"height_factor": [0.1, 0.2, 0.3], "width_factor": 0.1})"); });
  BOOST_TEST(contains(e, "height_factor=[0.1,0.2,0.3]"), e);
  e = value_error_of([&] { from(R"({"height_factor": 0.1, "width_factor": "0.1"})"); });
  BOOST_TEST(contains(e, "width_factor=\"0.1\""), e);
  e = value_error_of([&] { from(R"({"width_factor": 0.1})"); });
  BOOST_TEST(contains(e, "height_factor"), e);
  e = value_error_of([&] { from(R"({"height_factor": 0.1, "width_factor": 0.1, "seed": -3})"); });
  BOOST_TEST(contains(e, "seed=-3"), e);
  e = value_error_of([&] { from(R"({"height_factor": 0.1, "width_factor": 0.1, "fill_value": "k"})"); });
  BOOST_TEST(contains(e, "fill_value=\"k\""), e);
  e = value_error_of([&] { from(R"({"height_factor": 0.1, "width_factor": 0.1, "factor": 0.2})"); });
  BOOST_TEST(contains(e, "'factor'"), e);
}

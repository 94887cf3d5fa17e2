#include "sepconv/layers/random_translation.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "sepconv/autograd/nn_ops.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/core/error.h"
#include "sepconv/core/json_limits.h"
#include "sepconv/core/random.h"
#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/layer_checks.h"

namespace sepconv {

using nlohmann::json;

// ---- TranslationFactor -------------------------------------------------------------

double TranslationFactor::lower() const { return pair_ ? std::min(values_[0], values_[1]) : -std::abs(values_[0]); }
double TranslationFactor::upper() const { return pair_ ? std::max(values_[0], values_[1]) : std::abs(values_[0]); }

json TranslationFactor::to_json() const {
  return pair_ ? json::array({values_[0], values_[1]}) : json(values_[0]);
}

namespace {

// Keras's _FACTOR_VALIDATION_ERROR, followed by the argument and its value.
[[noreturn]] void bad_factor(const std::string& argument, const std::string& received) {
  throw ValueError(fmt::format("The `factor` argument should be a number (or a list of two numbers) in the range "
                               "[-1.0, 1.0]. Received: {}={}",
                               argument, received));
}

// Keras checks `value > 1.0 or value < -1.0`, which lets NaN through; a NaN
// factor would make every shift NaN, so it is refused too.
const TranslationFactor& checked_factor(const TranslationFactor& f, const std::string& argument) {
  for (double v : f.values())
    if (!(v >= -1.0 && v <= 1.0))
      bad_factor(argument, f.is_pair() ? fmt::format("[{}, {}]", f.values()[0], f.values()[1])
                                       : fmt::format("{}", f.values()[0]));
  return f;
}

kernels::FillMode parse_fill_mode(const std::string& m) {
  if (m == "reflect") return kernels::FillMode::Reflect;
  if (m == "wrap") return kernels::FillMode::Wrap;
  if (m == "constant") return kernels::FillMode::Constant;
  if (m == "nearest") return kernels::FillMode::Nearest;
  throw ValueError(
      fmt::format("Unknown `fill_mode` {}. Expected of one ('reflect', 'wrap', 'constant', 'nearest').", m));
}

kernels::Interpolation parse_interpolation(const std::string& i) {
  if (i == "bilinear") return kernels::Interpolation::Bilinear;
  if (i == "nearest") return kernels::Interpolation::Nearest;
  throw ValueError(fmt::format("Unknown `interpolation` {}. Expected of one ('nearest', 'bilinear').", i));
}

// A factor in a config: a number or a list of two numbers.
TranslationFactor factor_from_json(const json& v, const std::string& argument) {
  if (v.is_number()) return TranslationFactor(v.get<double>());
  if (v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number())
    return TranslationFactor(v[0].get<double>(), v[1].get<double>());
  bad_factor(argument, json_excerpt(v));
}

}  // namespace

// ---- options -----------------------------------------------------------------------

RandomTranslationOptions RandomTranslationOptions::from_config(const json& config) {
  ConfigReader r(config, "RandomTranslation");
  for (const char* key : {"height_factor", "width_factor"})
    if (!r.has(key)) r.fail(key, "a number or a list of two numbers in [-1.0, 1.0] (the argument is required)");
  RandomTranslationOptions o(factor_from_json(r.raw("height_factor"), "height_factor"),
                             factor_from_json(r.raw("width_factor"), "width_factor"));
  o.read_layer_arguments(r);
  o.fill_mode(r.string("fill_mode", "reflect")).interpolation(r.string("interpolation", "bilinear"));
  if (auto s = r.optional_integer("seed")) {
    if (*s < 0) r.fail("seed", "a non-negative integer");
    o.seed(static_cast<uint64_t>(*s));
  }
  o.fill_value(r.number("fill_value", 0.0));
  o.data_format(r.optional_string("data_format"));
  r.finish();
  return o;
}

// ---- layer -------------------------------------------------------------------------

template <typename T>
RandomTranslation<T>::RandomTranslation(const RandomTranslationOptions& o)
    : Layer<T>(layer_name_from(o, "random_translation")),
      height_factor_(checked_factor(o.height_factor(), "height_factor")),
      width_factor_(checked_factor(o.width_factor(), "width_factor")),
      fill_mode_(o.fill_mode()),
      interpolation_(o.interpolation()),
      kernel_fill_mode_(parse_fill_mode(o.fill_mode())),
      kernel_interpolation_(parse_interpolation(o.interpolation())),
      seed_given_(o.seed().has_value()) {
  const layer_detail::ArgumentCheck check = apply_layer_arguments(*this, o, "RandomTranslation");
  fill_value_ = check.finite("fill_value", o.fill_value());
  data_format_ = check.data_format(o.data_format());
  seed_ = o.seed() ? *o.seed() : next_default_seed();  // after the checks: a refused layer takes no seed
}

template <typename T>
std::shared_ptr<RandomTranslation<T>> RandomTranslation<T>::from_config(const json& config) {
  return std::make_shared<RandomTranslation<T>>(RandomTranslationOptions::from_config(config));
}

template <typename T>
Shape RandomTranslation<T>::compute_output_shape(const Shape& s) const {
  if (s.size() != 3) layer_detail::require_input_ndim(this->name(), s, 4);
  return s;
}

template <typename T>
typename RandomTranslation<T>::Shifts RandomTranslation<T>::draw_shifts(int64_t batch, int64_t height, int64_t width,
                                                                        uint64_t state) const {
  // One key per training call, then two draws per image (height, width):
  // image i's shifts depend only on (seed, state, i).
  const uint64_t key = splitmix64(seed_ ^ splitmix64(state + 0x7f4a7c15d1b54a33ULL));
  auto uniform = [](uint64_t r) { return static_cast<double>(r >> 11) * 0x1.0p-53; };  // [0, 1)
  auto shift = [&](const TranslationFactor& f, uint64_t r, int64_t size) {
    // Keras: uniform(lower, upper) in float32, times the size, cast to float32.
    const float fraction = static_cast<float>(f.lower() + (f.upper() - f.lower()) * uniform(r));
    return fraction * static_cast<float>(size);
  };
  Shifts s{std::vector<float>(static_cast<size_t>(batch)), std::vector<float>(static_cast<size_t>(batch))};
  for (int64_t i = 0; i < batch; ++i) {
    s.height[i] = shift(height_factor_, splitmix64(key + 2 * static_cast<uint64_t>(i)), height);
    s.width[i] = shift(width_factor_, splitmix64(key + 2 * static_cast<uint64_t>(i) + 1), width);
  }
  return s;
}

template <typename T>
Variable<T> RandomTranslation<T>::call(const Variable<T>& x, bool training) {
  compute_output_shape(x.shape());
  if (!training) return x;
  const bool unbatched = x.shape().size() == 3;
  Variable<T> in = unbatched ? reshape(x, Shape{1, x.shape()[0], x.shape()[1], x.shape()[2]}) : x;
  const bool cf = data_format_ == DataFormat::ChannelsFirst;
  if (cf) in = nchw_to_nhwc(in);
  const Shape& s = in.shape();
  const Shifts shifts = draw_shifts(s[0], s[1], s[2], state_++);
  Variable<T> y = translate_images<T>(in, shifts.height, shifts.width, kernel_interpolation_, kernel_fill_mode_,
                                      fill_value_);
  if (cf) y = nhwc_to_nchw(y);
  return unbatched ? reshape(y, x.shape()) : y;
}

template <typename T>
json RandomTranslation<T>::get_config() const {
  json c = Layer<T>::get_config();
  c["height_factor"] = height_factor_.to_json();
  c["width_factor"] = width_factor_.to_json();
  c["fill_mode"] = fill_mode_;
  c["interpolation"] = interpolation_;
  c["seed"] = seed_given_ ? json(seed_) : json(nullptr);
  c["fill_value"] = fill_value_;
  c["data_format"] = data_format_name(data_format_);
  return c;
}

template class RandomTranslation<float>;
template class RandomTranslation<double>;

}  // namespace sepconv

#include "sepconv/layers/core_layers.h"

#include <atomic>

#include <fmt/format.h>

#include "sepconv/core/random.h"
#include "sepconv/autograd/nn_ops.h"
#include "sepconv/autograd/ops.h"
#include "sepconv/layers/layer_checks.h"
#include "sepconv/layers/config_reader.h"

namespace sepconv {

// ---- Flatten ---------------------------------------------------------------------

template <typename T>
Flatten<T>::Flatten(const FlattenOptions& o) : Layer<T>(layer_name_from(o, "flatten")) {
  data_format_ = apply_layer_arguments(*this, o, "Flatten").data_format(o.data_format());
}

template <typename T>
Shape Flatten<T>::compute_output_shape(const Shape& s) const {
  layer_detail::require_input_min_ndim(this->name(), s, 1);
  int64_t n = 1;
  for (size_t i = 1; i < s.size(); ++i) n *= s[i];
  return {s[0], n};
}

template <typename T>
Variable<T> Flatten<T>::call(const Variable<T>& x, bool) {
  const Shape& s = x.shape();
  const Shape out = compute_output_shape(s);
  if (data_format_ == DataFormat::ChannelsFirst && s.size() > 2) {
    // (N, C, d...) -> (N, d..., C): viewed as (N, C, D, 1) that is NCHW -> NHWC.
    const int64_t c = s[1], d = s[0] ? x.value().size() / (s[0] * c) : 0;
    if (x.value().size() > 0) return reshape(nchw_to_nhwc(reshape(x, {s[0], c, d, 1})), out);
  }
  return reshape(x, out);
}

template <typename T>
nlohmann::json Flatten<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["data_format"] = data_format_name(data_format_);
  return c;
}

// ---- Dropout ---------------------------------------------------------------------

// Unseeded random layers take the next of a fixed sequence of seeds.
uint64_t next_default_seed() {
  static std::atomic<uint64_t> next{0};
  return 0x5eed0000ULL + next.fetch_add(1);
}

template <typename T>
Dropout<T>::Dropout(const DropoutOptions& o)
    : Layer<T>(layer_name_from(o, "dropout")), rate_(o.rate()), seed_given_(o.seed().has_value()) {
  apply_layer_arguments(*this, o, "Dropout").in_range("rate", o.rate(), 0.0, 1.0);
  seed_ = o.seed() ? *o.seed() : next_default_seed();  // after the checks: a refused layer takes no seed
}

template <typename T>
Variable<T> Dropout<T>::call(const Variable<T>& x, bool training) {
  if (!training || rate_ == 0.0) return x;
  return dropout<T>(x, rate_, seed_, state_++);
}

template <typename T>
nlohmann::json Dropout<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["rate"] = rate_;
  c["seed"] = seed_given_ ? nlohmann::json(seed_) : nlohmann::json(nullptr);
  c["noise_shape"] = nullptr;
  return c;
}

// ---- RandomFlip ------------------------------------------------------------------

template <typename T>
RandomFlip<T>::RandomFlip(const RandomFlipOptions& o)
    : Layer<T>(layer_name_from(o, "random_flip")),
      mode_(o.mode()),
      horizontal_(o.mode() != "vertical"),
      vertical_(o.mode() != "horizontal"),
      seed_given_(o.seed().has_value()) {
  const layer_detail::ArgumentCheck check = apply_layer_arguments(*this, o, "RandomFlip");
  if (mode_ != "horizontal" && mode_ != "vertical" && mode_ != "horizontal_and_vertical")
    check.fail("mode", "\"horizontal\", \"vertical\" or \"horizontal_and_vertical\"", mode_);
  data_format_ = check.data_format(o.data_format());
  seed_ = o.seed() ? *o.seed() : next_default_seed();
}

template <typename T>
Shape RandomFlip<T>::compute_output_shape(const Shape& s) const {
  layer_detail::require_input_ndim(this->name(), s, 4);
  return s;
}


template <typename T>
Variable<T> RandomFlip<T>::call(const Variable<T>& x, bool training) {
  compute_output_shape(x.shape());
  if (!training) return x;
  const bool cf = data_format_ == DataFormat::ChannelsFirst;
  const Variable<T> in = cf ? nchw_to_nhwc(x) : x;
  const int64_t n = in.shape()[0];
  // One draw per image: bit 0 flips the width axis, bit 1 the height axis.
  const uint64_t key = splitmix64(seed_ ^ splitmix64(state_++ + 0x2545f4914f6cdd1dULL));
  std::vector<uint8_t> flip_w(static_cast<size_t>(n)), flip_h(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = splitmix64(key + static_cast<uint64_t>(i));
    flip_w[i] = horizontal_ && (r & 1);
    flip_h[i] = vertical_ && (r & 2);
  }
  Variable<T> y = flip_images<T>(in, flip_h, flip_w);
  return cf ? nhwc_to_nchw(y) : y;
}

template <typename T>
nlohmann::json RandomFlip<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["mode"] = mode_;
  c["seed"] = seed_given_ ? nlohmann::json(seed_) : nlohmann::json(nullptr);
  c["data_format"] = data_format_name(data_format_);
  return c;
}

// ---- Activation ------------------------------------------------------------------

ActivationOptions& ActivationOptions::activation(const nlohmann::json& id) {
  activation_ = canonical_activation_name(id);
  return *this;
}

template <typename T>
ActivationLayer<T>::ActivationLayer(const ActivationOptions& o)
    : Layer<T>(layer_name_from(o, "activation")), activation_(o.activation()), fn_(get_activation<T>(o.activation())) {
  apply_layer_arguments(*this, o, "Activation");
}

template <typename T>
nlohmann::json ActivationLayer<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["activation"] = activation_;
  return c;
}

FlattenOptions FlattenOptions::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "Flatten");
  FlattenOptions o;
  o.read_layer_arguments(r);
  o.data_format(r.optional_string("data_format"));
  r.finish();
  return o;
}

namespace {
// Keras's seed argument: null or a non-negative integer.
std::optional<uint64_t> read_seed(ConfigReader& r) {
  const std::optional<int64_t> s = r.optional_integer("seed");
  if (s && *s < 0) r.fail("seed", "a non-negative integer");
  return s ? std::optional<uint64_t>(static_cast<uint64_t>(*s)) : std::nullopt;
}
}  // namespace

DropoutOptions DropoutOptions::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "Dropout");
  if (!r.has("rate")) r.fail("rate", "a number in [0, 1] (the argument is required)");
  DropoutOptions o(r.number("rate", 0));
  o.read_layer_arguments(r);
  o.seed(read_seed(r));
  if (r.has("noise_shape")) r.fail("noise_shape", "null (a noise shape is not supported)");
  r.finish();
  return o;
}

RandomFlipOptions RandomFlipOptions::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "RandomFlip");
  RandomFlipOptions o(r.string("mode", "horizontal_and_vertical"));
  o.read_layer_arguments(r);
  o.seed(read_seed(r));
  o.data_format(r.optional_string("data_format"));
  r.finish();
  return o;
}

ActivationOptions ActivationOptions::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "Activation");
  if (!r.has("activation")) r.fail("activation", "an activation identifier (the argument is required)");
  ActivationOptions o(r.raw("activation"));
  o.read_layer_arguments(r);
  r.finish();
  return o;
}

template <typename T>
std::shared_ptr<Flatten<T>> Flatten<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<Flatten<T>>(FlattenOptions::from_config(config));
}

template <typename T>
std::shared_ptr<Dropout<T>> Dropout<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<Dropout<T>>(DropoutOptions::from_config(config));
}

template <typename T>
std::shared_ptr<RandomFlip<T>> RandomFlip<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<RandomFlip<T>>(RandomFlipOptions::from_config(config));
}

template <typename T>
std::shared_ptr<ActivationLayer<T>> ActivationLayer<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<ActivationLayer<T>>(ActivationOptions::from_config(config));
}

template class Flatten<float>;
template class Flatten<double>;
template class Dropout<float>;
template class Dropout<double>;
template class RandomFlip<float>;
template class RandomFlip<double>;
template class ActivationLayer<float>;
template class ActivationLayer<double>;

}  // namespace sepconv

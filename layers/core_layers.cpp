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
Flatten<T>::Flatten(const FlattenOptions& o)
    : Layer<T>(o.name_.empty() ? unique_layer_name("flatten") : o.name_),
      data_format_(parse_data_format(o.data_format_ ? *o.data_format_ : image_data_format())) {}

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

DropoutOptions::DropoutOptions(double rate) : rate_(rate) {
  if (!(rate >= 0.0 && rate <= 1.0))
    throw ValueError(fmt::format(
        "Invalid value received for argument `rate`. Expected a float value between 0 and 1. Received: rate={}", rate));
}

uint64_t next_default_seed() {
  static std::atomic<uint64_t> next{0};
  return 0x5eed0000ULL + next.fetch_add(1);
}

template <typename T>
Dropout<T>::Dropout(const DropoutOptions& o)
    : Layer<T>(o.name_.empty() ? unique_layer_name("dropout") : o.name_),
      rate_(o.rate_),
      seed_(o.seed_ ? *o.seed_ : next_default_seed()),
      seed_given_(o.seed_.has_value()) {}

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

RandomFlipOptions::RandomFlipOptions(std::string mode) : mode_(std::move(mode)) {
  if (mode_ != "horizontal" && mode_ != "vertical" && mode_ != "horizontal_and_vertical")
    throw ValueError(fmt::format("RandomFlip received an unknown mode argument {} (expected \"horizontal\", "
                                 "\"vertical\" or \"horizontal_and_vertical\")",
                                 mode_));
}

template <typename T>
RandomFlip<T>::RandomFlip(const RandomFlipOptions& o)
    : Layer<T>(o.name_.empty() ? unique_layer_name("random_flip") : o.name_),
      mode_(o.mode_),
      horizontal_(o.mode_ != "vertical"),
      vertical_(o.mode_ != "horizontal"),
      data_format_(parse_data_format(o.data_format_ ? *o.data_format_ : image_data_format())),
      seed_(o.seed_ ? *o.seed_ : next_default_seed()),
      seed_given_(o.seed_.has_value()) {}

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

template <typename T>
ActivationLayer<T>::ActivationLayer(const nlohmann::json& activation, std::string name)
    : Layer<T>(name.empty() ? unique_layer_name("activation") : std::move(name)),
      activation_(canonical_activation_name(activation)),
      fn_(get_activation<T>(activation)) {}

template <typename T>
nlohmann::json ActivationLayer<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["activation"] = activation_;
  return c;
}

template <typename T>
std::shared_ptr<Flatten<T>> Flatten<T>::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "Flatten");
  FlattenOptions o;
  o.name(r.name());
  const bool trainable = r.trainable();
  r.dtype();
  if (auto f = r.optional_string("data_format")) o.data_format(*f);
  r.finish();
  auto layer = std::make_shared<Flatten<T>>(o);
  layer->set_trainable(trainable);
  return layer;
}

template <typename T>
std::shared_ptr<Dropout<T>> Dropout<T>::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "Dropout");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  if (!r.has("rate")) r.fail("rate", "a number in [0, 1] (the argument is required)");
  DropoutOptions o(r.number("rate", 0));
  o.name(name);
  if (auto s = r.optional_integer("seed")) {
    if (*s < 0) r.fail("seed", "a non-negative integer");
    o.seed(static_cast<uint64_t>(*s));
  }
  if (r.has("noise_shape")) r.fail("noise_shape", "null (a noise shape is not supported)");
  r.finish();
  auto layer = std::make_shared<Dropout<T>>(o);
  layer->set_trainable(trainable);
  return layer;
}

template <typename T>
std::shared_ptr<RandomFlip<T>> RandomFlip<T>::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "RandomFlip");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  RandomFlipOptions o(r.string("mode", "horizontal_and_vertical"));
  o.name(name);
  if (auto s = r.optional_integer("seed")) {
    if (*s < 0) r.fail("seed", "a non-negative integer");
    o.seed(static_cast<uint64_t>(*s));
  }
  if (auto f = r.optional_string("data_format")) o.data_format(*f);
  r.finish();
  auto layer = std::make_shared<RandomFlip<T>>(o);
  layer->set_trainable(trainable);
  return layer;
}

template <typename T>
std::shared_ptr<ActivationLayer<T>> ActivationLayer<T>::from_config(const nlohmann::json& config) {
  ConfigReader r(config, "Activation");
  const std::string name = r.name();
  const bool trainable = r.trainable();
  r.dtype();
  if (!r.has("activation")) r.fail("activation", "an activation identifier (the argument is required)");
  r.finish();
  auto layer = std::make_shared<ActivationLayer<T>>(r.raw("activation"), name);
  layer->set_trainable(trainable);
  return layer;
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

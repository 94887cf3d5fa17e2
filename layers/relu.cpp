#include "sepconv/layers/relu.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/core/error.h"
#include "sepconv/layers/config_reader.h"

namespace sepconv {

template <typename T>
Variable<T> relu(const Variable<T>& x, std::optional<double> max_value, double negative_slope, double threshold) {
  const T slope = static_cast<T>(negative_slope), thr = static_cast<T>(threshold);
  const bool clip = max_value.has_value();
  const T top = clip ? static_cast<T>(*max_value) : T(0);
  const bool leaky = slope != T(0) && !clip && thr == T(0);  // tf.nn.leaky_relu
  const bool relu6 = thr == T(0) && clip && *max_value == 6.0;  // tf.nn.relu6
  auto f = [=](T v) {
    T upper = thr != T(0) ? (v > thr ? v : T(0)) : std::max(v, T(0));
    if (clip) upper = std::min(std::max(upper, T(0)), top);
    const T negative = slope != T(0) ? std::max(thr - v, T(0)) : T(0);
    return upper - slope * negative;
  };
  auto df = [=](T v, T) {
    if (leaky) return v > T(0) ? T(1) : slope;
    T d;
    if (relu6) {
      d = v > T(0) && v < top ? T(1) : T(0);
    } else {
      const T upper = thr != T(0) ? (v > thr ? v : T(0)) : std::max(v, T(0));
      d = v > thr ? T(1) : T(0);
      if (clip && (upper > top || upper < T(0))) d = T(0);
    }
    return thr - v > T(0) ? d + slope : d;
  };
  return elementwise<T>(x, "relu", f, df);
}

template <typename T>
ReLU<T>::ReLU(const ReLUOptions& o)
    : Layer<T>(layer_name_from(o, "re_lu")),
      max_value_(o.max_value()),
      negative_slope_(o.negative_slope()),
      threshold_(o.threshold()) {
  // Keras's checks (NaN fails them too: it is not a valid bound).
  const layer_detail::ArgumentCheck check = apply_layer_arguments(*this, o, "ReLU");
  if (max_value_) check.non_negative("max_value", *max_value_);
  check.non_negative("negative_slope", negative_slope_);
  check.non_negative("threshold", threshold_);
}

template <typename T>
Variable<T> ReLU<T>::call(const Variable<T>& x, bool) {
  return relu<T>(x, max_value_, negative_slope_, threshold_);
}

template <typename T>
nlohmann::json ReLU<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["max_value"] = max_value_ ? nlohmann::json(*max_value_) : nlohmann::json(nullptr);
  c["negative_slope"] = negative_slope_;
  c["threshold"] = threshold_;
  return c;
}

ReLUOptions ReLUOptions::from_config(const nlohmann::json& config) {
  ConfigReader reader(config, "ReLU");
  ReLUOptions options;
  options.read_layer_arguments(reader);
  options.max_value(reader.optional_number("max_value"));
  // Keras rejects None for these two (its checks read `is None or < 0`).
  for (const char* key : {"negative_slope", "threshold"})
    if (config.contains(key) && config.at(key).is_null()) reader.fail(key, "a float >= 0, not None");
  options.negative_slope(reader.number("negative_slope", 0.0));
  options.threshold(reader.number("threshold", 0.0));
  reader.finish();
  return options;
}

template <typename T>
std::shared_ptr<ReLU<T>> ReLU<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<ReLU<T>>(ReLUOptions::from_config(config));
}

template Variable<float> relu<float>(const Variable<float>&, std::optional<double>, double, double);
template Variable<double> relu<double>(const Variable<double>&, std::optional<double>, double, double);
template class ReLU<float>;
template class ReLU<double>;

}  // namespace sepconv

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
    : Layer<T>(o.name_.empty() ? unique_layer_name("re_lu") : o.name_),
      max_value_(o.max_value_),
      negative_slope_(o.negative_slope_),
      threshold_(o.threshold_) {
  // Keras's checks (NaN fails them too: it is not a valid bound).
  if (max_value_ && !(*max_value_ >= 0.0))
    throw ValueError(fmt::format("max_value of a ReLU layer cannot be a negative value. Received: max_value={}",
                                 *max_value_));
  if (!(negative_slope_ >= 0.0))
    throw ValueError(fmt::format("negative_slope of a ReLU layer cannot be a negative value. Received: "
                                 "negative_slope={}",
                                 negative_slope_));
  if (!(threshold_ >= 0.0))
    throw ValueError(fmt::format("threshold of a ReLU layer cannot be a negative value. Received: threshold={}",
                                 threshold_));
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

template <typename T>
std::shared_ptr<ReLU<T>> ReLU<T>::from_config(const nlohmann::json& config) {
  ConfigReader reader(config, "ReLU");
  ReLUOptions options;
  options.name(reader.name());
  const bool trainable = reader.trainable();
  reader.dtype();
  options.max_value(reader.optional_number("max_value"));
  // Keras rejects None for these two (its checks read `is None or < 0`).
  for (const char* key : {"negative_slope", "threshold"})
    if (config.contains(key) && config.at(key).is_null())
      throw ValueError(fmt::format("{} of a ReLU layer cannot be a negative value. Received: {}=None", key, key));
  options.negative_slope(reader.number("negative_slope", 0.0));
  options.threshold(reader.number("threshold", 0.0));
  reader.finish();
  auto layer = std::make_shared<ReLU<T>>(options);
  layer->set_trainable(trainable);
  return layer;
}

template Variable<float> relu<float>(const Variable<float>&, std::optional<double>, double, double);
template Variable<double> relu<double>(const Variable<double>&, std::optional<double>, double, double);
template class ReLU<float>;
template class ReLU<double>;

}  // namespace sepconv

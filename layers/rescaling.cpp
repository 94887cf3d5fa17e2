#include "sepconv/layers/rescaling.h"

#include "sepconv/autograd/ops.h"
#include "sepconv/layers/config_reader.h"

namespace sepconv {

template <typename T>
Rescaling<T>::Rescaling(const RescalingOptions& o)
    : Layer<T>(layer_name_from(o, "rescaling")), scale_(o.scale()), offset_(o.offset()) {
  apply_layer_arguments(*this, o, "Rescaling");
}

template <typename T>
Variable<T> Rescaling<T>::call(const Variable<T>& x, bool) {
  // Keras casts scale and offset to the input's dtype, then x * scale + offset.
  const T scale = static_cast<T>(scale_), offset = static_cast<T>(offset_);
  return elementwise<T>(
      x, "rescaling", [scale, offset](T v) { return v * scale + offset; }, [scale](T, T) { return scale; });
}

template <typename T>
nlohmann::json Rescaling<T>::get_config() const {
  nlohmann::json c = Layer<T>::get_config();
  c["scale"] = scale_;
  c["offset"] = offset_;
  return c;
}

RescalingOptions RescalingOptions::from_config(const nlohmann::json& config) {
  ConfigReader reader(config, "Rescaling");
  if (!reader.has("scale")) reader.fail("scale", "a number (the argument is required)");
  RescalingOptions options(*reader.optional_number("scale"));
  options.read_layer_arguments(reader);
  options.offset(reader.number("offset", 0.0));
  reader.finish();
  return options;
}

template <typename T>
std::shared_ptr<Rescaling<T>> Rescaling<T>::from_config(const nlohmann::json& config) {
  return std::make_shared<Rescaling<T>>(RescalingOptions::from_config(config));
}

template class Rescaling<float>;
template class Rescaling<double>;

}  // namespace sepconv

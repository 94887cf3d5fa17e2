#include "sepconv/layers/rescaling.h"

#include "sepconv/autograd/ops.h"
#include "sepconv/layers/config_reader.h"

namespace sepconv {

template <typename T>
Rescaling<T>::Rescaling(const RescalingOptions& o)
    : Layer<T>(o.name_.empty() ? unique_layer_name("rescaling") : o.name_), scale_(o.scale_), offset_(o.offset_) {}

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

template <typename T>
std::shared_ptr<Rescaling<T>> Rescaling<T>::from_config(const nlohmann::json& config) {
  ConfigReader reader(config, "Rescaling");
  const std::string name = reader.name();
  const bool trainable = reader.trainable();
  reader.dtype();
  if (!reader.has("scale")) reader.fail("scale", "a number (the argument is required)");
  RescalingOptions options(*reader.optional_number("scale"));
  options.offset(reader.number("offset", 0.0)).name(name);
  reader.finish();
  auto layer = std::make_shared<Rescaling<T>>(options);
  layer->set_trainable(trainable);
  return layer;
}

template class Rescaling<float>;
template class Rescaling<double>;

}  // namespace sepconv

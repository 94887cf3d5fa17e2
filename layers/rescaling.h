#pragma once
// Keras's Rescaling layer: y = x * scale + offset, with scalar scale and offset
// (Keras also takes arrays that broadcast; those are not supported).
//
//   auto to_unit = std::make_shared<Rescaling<float>>(RescalingOptions(1.0 / 255));
//   auto to_signed = std::make_shared<Rescaling<float>>(RescalingOptions(1.0 / 127.5).offset(-1));
#include <memory>
#include <string>

#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

class RescalingOptions : public LayerOptions<RescalingOptions> {
 public:
  explicit RescalingOptions(double scale) : scale_(scale) {}
  // From a Keras config: scale (required, a number), offset, name, trainable, dtype.
  static RescalingOptions from_config(const nlohmann::json& config);
  // Multiplies the input.
  RescalingOptions& scale(double v) { scale_ = v; return *this; }
  // Added after the scaling; default 0.
  RescalingOptions& offset(double v) { offset_ = v; return *this; }
  double scale() const { return scale_; }
  double offset() const { return offset_; }

 private:
  double scale_;
  double offset_ = 0.0;
};

template <typename T>
class Rescaling : public Layer<T> {
 public:
  explicit Rescaling(const RescalingOptions& options);
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override { return input_shape; }
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "Rescaling"; }
  // From a Keras config (RescalingOptions::from_config).
  static std::shared_ptr<Rescaling<T>> from_config(const nlohmann::json& config);

  double scale() const { return scale_; }
  double offset() const { return offset_; }

 private:
  double scale_, offset_;
};

}  // namespace sepconv

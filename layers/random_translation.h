#pragma once
// keras.layers.RandomTranslation: an augmentation layer. In training, each
// image of the batch is shifted by its own random fraction of its height and
// width, drawn uniformly from [lower, upper] of height_factor / width_factor
// (negative: up / left), resampled with `interpolation`, the points outside
// the image filled per `fill_mode`; in inference, the identity.
//
// Example (Fashion-MNIST, shifts of up to 10% each way):
//   RandomTranslation<float> t(RandomTranslationOptions(0.1, 0.1).seed(42));
//   Variable<float> y = t(x, /*training=*/true);  // x: (64, 28, 28, 1)
//
// Draws are a pure function of (seed, training calls made), the state Keras's
// SeedGenerator keeps; checkpoints save and restore it, so a resumed run draws
// the shifts an uninterrupted one would, whatever the thread count.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/core/kernels/translate.h"
#include "sepconv/layers/core_layers.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

// Keras's height_factor / width_factor: one number f, the range [-|f|, |f|],
// or a (lower, upper) pair (in either order: Keras sorts it). The values are
// checked (each in [-1, 1]) when the layer is made.
class TranslationFactor {
 public:
  TranslationFactor(double f) : values_{f, f}, pair_(false) {}                // NOLINT: as Keras's 0.1
  TranslationFactor(double a, double b) : values_{a, b}, pair_(true) {}       // NOLINT: as Keras's (-0.1, 0.2)
  TranslationFactor(std::array<double, 2> ab) : values_(ab), pair_(true) {}  // NOLINT

  bool is_pair() const { return pair_; }
  // The values as given (equal when not a pair).
  const std::array<double, 2>& values() const { return values_; }
  double lower() const;
  double upper() const;
  // As Keras's get_config writes it: the number, or the [a, b] list.
  nlohmann::json to_json() const;

 private:
  std::array<double, 2> values_;
  bool pair_;
};

class RandomTranslationOptions : public LayerOptions<RandomTranslationOptions> {
 public:
  RandomTranslationOptions(TranslationFactor height_factor, TranslationFactor width_factor)
      : height_factor_(height_factor), width_factor_(width_factor) {}

  // A Keras layer config (get_config's output). Keys Keras does not know are a ValueError.
  static RandomTranslationOptions from_config(const nlohmann::json& config);

  RandomTranslationOptions& height_factor(TranslationFactor v) { height_factor_ = v; return *this; }
  RandomTranslationOptions& width_factor(TranslationFactor v) { width_factor_ = v; return *this; }
  // "reflect" (default), "wrap", "constant" or "nearest" (core/kernels/translate.h).
  RandomTranslationOptions& fill_mode(std::string v) { fill_mode_ = std::move(v); return *this; }
  // "bilinear" (default) or "nearest".
  RandomTranslationOptions& interpolation(std::string v) { interpolation_ = std::move(v); return *this; }
  // Unset: the next of a fixed sequence of seeds (next_default_seed).
  RandomTranslationOptions& seed(std::optional<uint64_t> v) { seed_ = v; return *this; }
  // What fill_mode "constant" reads outside the image.
  RandomTranslationOptions& fill_value(double v) { fill_value_ = v; return *this; }
  // "channels_last" / "channels_first"; unset: keras.json's image_data_format.
  RandomTranslationOptions& data_format(std::optional<std::string> v) { data_format_ = std::move(v); return *this; }

  // Getters (the raw values, before the layer validates them).
  const TranslationFactor& height_factor() const { return height_factor_; }
  const TranslationFactor& width_factor() const { return width_factor_; }
  const std::string& fill_mode() const { return fill_mode_; }
  const std::string& interpolation() const { return interpolation_; }
  const std::optional<uint64_t>& seed() const { return seed_; }
  double fill_value() const { return fill_value_; }
  const std::optional<std::string>& data_format() const { return data_format_; }

 private:
  TranslationFactor height_factor_, width_factor_;
  std::string fill_mode_ = "reflect";
  std::string interpolation_ = "bilinear";
  std::optional<uint64_t> seed_;
  double fill_value_ = 0.0;
  std::optional<std::string> data_format_;
};

// Images are (batch, h, w, c), or (batch, c, h, w) for channels_first; an
// unbatched 3-D image is one image, as in Keras.
template <typename T>
class RandomTranslation : public Layer<T>, public SeedGeneratorLayer {
 public:
  // ValueError naming the argument and the value for anything invalid.
  explicit RandomTranslation(const RandomTranslationOptions& options);
  static std::shared_ptr<RandomTranslation> from_config(const nlohmann::json& config);
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "RandomTranslation"; }

  const TranslationFactor& height_factor() const { return height_factor_; }
  const TranslationFactor& width_factor() const { return width_factor_; }
  const std::string& fill_mode() const { return fill_mode_; }
  const std::string& interpolation() const { return interpolation_; }
  double fill_value() const { return fill_value_; }
  DataFormat data_format() const { return data_format_; }

  // The shifts, in pixels, that the training call made with generator state
  // `state` draws for `batch` images of size (height, width): per image,
  // float32(uniform[lower, upper) * size), as Keras computes them.
  struct Shifts {
    std::vector<float> height, width;
  };
  Shifts draw_shifts(int64_t batch, int64_t height, int64_t width, uint64_t state) const;

  uint64_t seed() const override { return seed_; }
  uint64_t generator_state() const override { return state_; }
  void set_seed(uint64_t s) override { seed_ = s; }
  void set_generator_state(uint64_t s) override { state_ = s; }

 private:
  TranslationFactor height_factor_, width_factor_;
  std::string fill_mode_, interpolation_;
  kernels::FillMode kernel_fill_mode_;
  kernels::Interpolation kernel_interpolation_;
  double fill_value_;
  DataFormat data_format_;
  uint64_t seed_;
  bool seed_given_;
  uint64_t state_ = 0;
};

}  // namespace sepconv

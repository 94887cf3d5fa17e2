#pragma once
// Keras's weightless core layers: Flatten, Dropout, Activation.
//
// The Activation layer's C++ name is ActivationLayer (class_name() is
// "Activation"): `sepconv::Activation<T>` is already the activation-function
// type of layers/activations.h.
#include <cstdint>
#include <optional>
#include <string>

#include "sepconv/layers/activations.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/layer.h"
#include "sepconv/layers/layer_options.h"

namespace sepconv {

class FlattenOptions : public LayerOptions<FlattenOptions> {
 public:
  // From a Keras layer config: data_format, name, trainable, dtype.
  static FlattenOptions from_config(const nlohmann::json& config);
  // channels_first inputs are moved to channels_last before flattening, as
  // Keras does; unset: keras.config.image_data_format().
  FlattenOptions& data_format(std::optional<std::string> v) { data_format_ = std::move(v); return *this; }
  FlattenOptions& data_format(DataFormat v) { data_format_ = data_format_name(v); return *this; }
  const std::optional<std::string>& data_format() const { return data_format_; }

 private:
  std::optional<std::string> data_format_;
};

// (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).
template <typename T>
class Flatten : public Layer<T> {
 public:
  explicit Flatten(const FlattenOptions& options = {});
  // From a Keras layer config (FlattenOptions::from_config).
  static std::shared_ptr<Flatten> from_config(const nlohmann::json& config);
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "Flatten"; }

 private:
  DataFormat data_format_;
};

class DropoutOptions : public LayerOptions<DropoutOptions> {
 public:
  // rate in [0, 1] (checked when the layer is made): the fraction of inputs set to 0 in training.
  DropoutOptions(double rate) : rate_(rate) {}  // NOLINT: implicit, as Keras's Dropout(0.5)
  // From a Keras layer config: rate (required), seed, noise_shape (null only), name, trainable, dtype.
  static DropoutOptions from_config(const nlohmann::json& config);
  DropoutOptions& rate(double v) { rate_ = v; return *this; }
  // Without a seed, each Dropout of the process takes the next of a fixed
  // sequence of seeds, so a program's runs repeat (Keras draws a random one).
  DropoutOptions& seed(std::optional<uint64_t> v) { seed_ = v; return *this; }
  double rate() const { return rate_; }
  const std::optional<uint64_t>& seed() const { return seed_; }

 private:
  double rate_;
  std::optional<uint64_t> seed_;
};

// Layers that draw random numbers in training keep Keras's SeedGenerator
// state: a seed and a counter of the draws made. Checkpoints save and restore
// both (io/checkpoint.h), so a resumed run draws what an uninterrupted one would.
class SeedGeneratorLayer {
 public:
  virtual ~SeedGeneratorLayer() = default;
  virtual uint64_t seed() const = 0;
  virtual uint64_t generator_state() const = 0;
  virtual void set_seed(uint64_t s) = 0;
  virtual void set_generator_state(uint64_t s) = 0;
};

// The seed of a random layer made without one: the next of a fixed sequence,
// so a program's runs repeat (Keras draws a random one).
uint64_t next_default_seed();

// Inverted dropout: in training, each element is zeroed with probability
// `rate` and the rest scaled by 1 / (1 - rate); in inference, the identity.
// The mask of each training call is a pure function of (seed, state), and the
// state counts the training calls: saving and restoring it (checkpoints) makes
// a resumed run draw the masks an uninterrupted one would.
template <typename T>
class Dropout : public Layer<T>, public SeedGeneratorLayer {
 public:
  explicit Dropout(const DropoutOptions& options);
  // From a Keras layer config (DropoutOptions::from_config).
  static std::shared_ptr<Dropout> from_config(const nlohmann::json& config);
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override { return input_shape; }
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "Dropout"; }

  double rate() const { return rate_; }
  uint64_t seed() const override { return seed_; }
  uint64_t generator_state() const override { return state_; }
  void set_seed(uint64_t s) override { seed_ = s; }
  void set_generator_state(uint64_t s) override { state_ = s; }

 private:
  double rate_;
  uint64_t seed_;
  bool seed_given_;
  uint64_t state_ = 0;
};

class RandomFlipOptions : public LayerOptions<RandomFlipOptions> {
 public:
  // "horizontal" (mirror the width axis), "vertical" (the height axis) or
  // "horizontal_and_vertical" (each independently), as Keras's RandomFlip;
  // checked when the layer is made.
  RandomFlipOptions(std::string mode = "horizontal_and_vertical") : mode_(std::move(mode)) {}  // NOLINT
  // From a Keras layer config: mode, seed, data_format, name, trainable, dtype.
  static RandomFlipOptions from_config(const nlohmann::json& config);
  RandomFlipOptions& mode(std::string v) { mode_ = std::move(v); return *this; }
  RandomFlipOptions& seed(std::optional<uint64_t> v) { seed_ = v; return *this; }
  // "channels_last" / "channels_first"; unset: keras.config.image_data_format().
  RandomFlipOptions& data_format(std::optional<std::string> v) { data_format_ = std::move(v); return *this; }
  RandomFlipOptions& data_format(DataFormat v) { data_format_ = data_format_name(v); return *this; }
  const std::string& mode() const { return mode_; }
  const std::optional<uint64_t>& seed() const { return seed_; }
  const std::optional<std::string>& data_format() const { return data_format_; }

 private:
  std::string mode_;
  std::optional<uint64_t> seed_;
  std::optional<std::string> data_format_;
};

// Keras's RandomFlip, an augmentation layer: in training, each image of the
// batch is mirrored with probability 1/2 (per axis of the mode); in inference,
// the identity. Images are (batch, h, w, c), or (batch, c, h, w) for
// channels_first. Draws as Dropout does: a pure function of (seed, counter).
template <typename T>
class RandomFlip : public Layer<T>, public SeedGeneratorLayer {
 public:
  explicit RandomFlip(const RandomFlipOptions& options = {});
  // From a Keras layer config (RandomFlipOptions::from_config).
  static std::shared_ptr<RandomFlip> from_config(const nlohmann::json& config);
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "RandomFlip"; }

  const std::string& mode() const { return mode_; }
  uint64_t seed() const override { return seed_; }
  uint64_t generator_state() const override { return state_; }
  void set_seed(uint64_t s) override { seed_ = s; }
  void set_generator_state(uint64_t s) override { state_ = s; }

 private:
  std::string mode_;
  bool horizontal_, vertical_;
  DataFormat data_format_;
  uint64_t seed_;
  bool seed_given_;
  uint64_t state_ = 0;
};

class ActivationOptions : public LayerOptions<ActivationOptions> {
 public:
  // A Keras activation name or config, resolved now (an unknown one throws,
  // as Keras's constructor does). Implicit, as Keras's Activation("relu").
  ActivationOptions(const nlohmann::json& activation) { this->activation(activation); }  // NOLINT
  ActivationOptions(const char* activation) : ActivationOptions(nlohmann::json(activation)) {}  // NOLINT
  ActivationOptions(const std::string& activation) : ActivationOptions(nlohmann::json(activation)) {}  // NOLINT
  // From a Keras layer config: activation (required), name, trainable, dtype.
  static ActivationOptions from_config(const nlohmann::json& config);
  ActivationOptions& activation(const nlohmann::json& id);
  // The canonical Keras name.
  const std::string& activation() const { return activation_; }

 private:
  std::string activation_;
};

// Applies an activation function by its Keras identifier:
//   ActivationLayer<float> act(ActivationOptions("relu").name("act"));
template <typename T>
class ActivationLayer : public Layer<T> {
 public:
  explicit ActivationLayer(const ActivationOptions& options);
  // From a Keras layer config (ActivationOptions::from_config).
  static std::shared_ptr<ActivationLayer> from_config(const nlohmann::json& config);
  Variable<T> call(const Variable<T>& x, bool training) override { return fn_(x); }
  Shape compute_output_shape(const Shape& input_shape) const override { return input_shape; }
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "Activation"; }
  const std::string& activation_name() const { return activation_; }

 private:
  std::string activation_;
  sepconv::Activation<T> fn_;
};

}  // namespace sepconv

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

namespace sepconv {

class FlattenOptions {
 public:
  // channels_first inputs are moved to channels_last before flattening, as Keras does.
  FlattenOptions& data_format(std::string f) { data_format_ = std::move(f); return *this; }
  FlattenOptions& name(std::string n) { name_ = std::move(n); return *this; }
  std::optional<std::string> data_format_;
  std::string name_;
};

// (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).
template <typename T>
class Flatten : public Layer<T> {
 public:
  explicit Flatten(const FlattenOptions& options = {});
  // From a Keras layer config (ValueError naming the key for anything wrong).
  static std::shared_ptr<Flatten> from_config(const nlohmann::json& config);
  Variable<T> call(const Variable<T>& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  std::string class_name() const override { return "Flatten"; }

 private:
  DataFormat data_format_;
};

class DropoutOptions {
 public:
  // rate in [0, 1] (Keras's check); the fraction of inputs set to 0 in training.
  DropoutOptions(double rate);  // NOLINT: implicit, as Keras's Dropout(0.5)
  // Without a seed, each Dropout of the process takes the next of a fixed
  // sequence of seeds, so a program's runs repeat (Keras draws a random one).
  DropoutOptions& seed(uint64_t s) { seed_ = s; return *this; }
  DropoutOptions& name(std::string n) { name_ = std::move(n); return *this; }
  double rate_;
  std::optional<uint64_t> seed_;
  std::string name_;
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
  // From a Keras layer config (ValueError naming the key for anything wrong).
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

class RandomFlipOptions {
 public:
  // "horizontal" (mirror the width axis), "vertical" (the height axis) or
  // "horizontal_and_vertical" (each independently), as Keras's RandomFlip.
  RandomFlipOptions(std::string mode = "horizontal_and_vertical");  // NOLINT
  RandomFlipOptions& seed(uint64_t s) { seed_ = s; return *this; }
  RandomFlipOptions& data_format(std::string f) { data_format_ = std::move(f); return *this; }
  RandomFlipOptions& name(std::string n) { name_ = std::move(n); return *this; }
  std::string mode_;
  std::optional<uint64_t> seed_;
  std::optional<std::string> data_format_;
  std::string name_;
};

// Keras's RandomFlip, an augmentation layer: in training, each image of the
// batch is mirrored with probability 1/2 (per axis of the mode); in inference,
// the identity. Images are (batch, h, w, c), or (batch, c, h, w) for
// channels_first. Draws as Dropout does: a pure function of (seed, counter).
template <typename T>
class RandomFlip : public Layer<T>, public SeedGeneratorLayer {
 public:
  explicit RandomFlip(const RandomFlipOptions& options = {});
  // From a Keras layer config (ValueError naming the key for anything wrong).
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

// Applies an activation function by its Keras identifier.
template <typename T>
class ActivationLayer : public Layer<T> {
 public:
  explicit ActivationLayer(const nlohmann::json& activation, std::string name = {});
  // From a Keras layer config (ValueError naming the key for anything wrong).
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

#pragma once
// Sequential<T>: Keras's Sequential model and its training loop.
//
//   Sequential<float> model;
//   model.add(std::make_shared<SeparableConv2D<float>>(SeparableConv2DOptions(32, 3).activation("relu")));
//   model.add(std::make_shared<Flatten<float>>());
//   model.add(std::make_shared<Dense<float>>(DenseOptions(10)));
//   model.build({28, 28, 1});  // the input shape without the batch axis
//   model.compile(std::make_shared<Adam<float>>(),
//                 {{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
//   History h = model.fit(x, y, FitOptions<float>().epochs(5).batch_size(64));
//
// The training objective is the loss plus every layer's regularization losses
// (weight penalties and activity penalties); the optimizer applies the weights'
// constraints after each step. Shuffling is a pure function of (seed, epoch),
// so a run resumed from a checkpoint at an epoch boundary sees the batches an
// uninterrupted run would.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sepconv/autograd/losses.h"
#include "sepconv/layers/layer.h"
#include "sepconv/optim/optimizer.h"

namespace sepconv {

// What one epoch measured; the hook of FitOptions receives it.
struct EpochLogs {
  int64_t epoch = 0;  // 0-based
  double loss = 0;    // mean over the epoch's samples, regularization included
  std::optional<double> accuracy;
  std::optional<double> val_loss, val_accuracy;
  double train_seconds = 0;  // the training steps alone
  double seconds = 0;        // the whole epoch, validation included
  double learning_rate = 0;  // the optimizer's rate after the epoch
};

// Keras's History: one entry per epoch run.
struct History {
  std::vector<EpochLogs> epochs;
  // Keras's history.history: "loss", "accuracy", "val_loss", "val_accuracy"
  // (the metrics that were computed).
  std::map<std::string, std::vector<double>> history;
  void append(const EpochLogs& logs);
};

template <typename T>
class FitOptions {
 public:
  FitOptions& epochs(int64_t n) { epochs_ = n; return *this; }
  FitOptions& batch_size(int64_t n) { batch_size_ = n; return *this; }
  // Epoch to start at (resuming): runs epochs initial_epoch .. epochs - 1.
  FitOptions& initial_epoch(int64_t n) { initial_epoch_ = n; return *this; }
  FitOptions& validation_data(Tensor<T> x, Tensor<T> y) {
    validation_data_ = std::make_pair(std::move(x), std::move(y));
    return *this;
  }
  FitOptions& shuffle(bool s) { shuffle_ = s; return *this; }
  FitOptions& seed(uint64_t s) { seed_ = s; return *this; }
  // 0: silent; 1: a progress bar when stdout is a terminal, else one line per
  // epoch; 2: one line per epoch.
  FitOptions& verbose(int v) { verbose_ = v; return *this; }
  // Called after each epoch (checkpoints, metrics files); may set the model's
  // stop_training flag.
  FitOptions& on_epoch_end(std::function<void(const EpochLogs&)> f) { on_epoch_end_ = std::move(f); return *this; }

  int64_t epochs_ = 1, batch_size_ = 32, initial_epoch_ = 0;
  std::optional<std::pair<Tensor<T>, Tensor<T>>> validation_data_;
  bool shuffle_ = true;
  uint64_t seed_ = 0;
  int verbose_ = 1;
  std::function<void(const EpochLogs&)> on_epoch_end_;
};

// The sample order of an epoch: a permutation of [0, n) that depends only on
// (seed, epoch).
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

// The result of evaluate(): the loss (regularization included, as Keras
// reports it) and the accuracy when it was asked for at compile().
struct Evaluation {
  double loss = 0;
  std::optional<double> accuracy;
};

template <typename T>
class Sequential {
 public:
  // An empty name takes Keras's unique default: "sequential", "sequential_1", ...
  explicit Sequential(std::string name = {});
  Sequential(std::vector<std::shared_ptr<Layer<T>>> layers, std::optional<Shape> input_shape = std::nullopt,
             std::string name = {});
  Sequential(const Sequential&) = delete;
  Sequential& operator=(const Sequential&) = delete;

  // Appends a layer; its name must be unique in the model (ValueError).
  void add(std::shared_ptr<Layer<T>> layer);
  const std::vector<std::shared_ptr<Layer<T>>>& layers() const { return layers_; }
  Layer<T>& layer(const std::string& name);  // ValueError if absent
  const std::string& name() const { return name_; }

  // Builds every layer for inputs of this shape (without the batch axis) by
  // running a batch of one zero sample through the model in inference mode.
  void build(const Shape& input_shape);
  bool built() const { return built_; }
  // Without the batch axis; empty before build.
  const Shape& input_shape() const { return input_shape_; }
  // With -1 for the batch axis; ValueError before build.
  Shape output_shape() const;

  // Runs the layers in order (recorded on the tape when gradients are on).
  // Builds on the first call.
  Variable<T> operator()(const Variable<T>& x, bool training = false);

  // Every weight with its Keras path "<layer name>/<weight name>", in layer
  // then creation order (trainable and non-trainable).
  std::vector<std::pair<std::string, Weight<T>*>> weights();
  std::vector<Weight<T>*> trainable_weights();
  int64_t count_params() const;
  int64_t count_trainable_params() const;

  // Sum of every layer's regularization losses (taped; 0 when none).
  Variable<T> regularization_loss() const;

  // Keras's summary(): the layer table with output shapes and parameter counts.
  std::string summary() const;

  // The optimizer, the loss (a Keras loss identifier, e.g.
  // "sparse_categorical_crossentropy" or {"class_name":
  // "SparseCategoricalCrossentropy", "config": {"from_logits": true}}, or a
  // function) and the metrics: "accuracy" (alias "acc"), resolved as Keras
  // does from the targets' and predictions' shapes (sparse, categorical or
  // binary accuracy), or none.
  void compile(std::shared_ptr<Optimizer<T>> optimizer, const nlohmann::json& loss,
               const std::vector<std::string>& metrics = {"accuracy"});
  void compile(std::shared_ptr<Optimizer<T>> optimizer, LossFunction<T> loss,
               const std::vector<std::string>& metrics = {"accuracy"});
  bool compiled() const { return static_cast<bool>(loss_); }
  Optimizer<T>& optimizer();  // ValueError before compile
  const std::shared_ptr<Optimizer<T>>& optimizer_ptr() const { return optimizer_; }

  // Trains on x (samples on the first axis) and targets y (class ids for the
  // sparse losses, as values of T). Returns the epochs' logs.
  History fit(const Tensor<T>& x, const Tensor<T>& y, const FitOptions<T>& options = {});
  // One optimizer step on a batch; returns the objective and fills the batch
  // accuracy when it is a metric.
  double train_step(const Tensor<T>& x, const Tensor<T>& y, std::optional<double>* accuracy = nullptr);
  // Loss and metrics in inference mode, batch by batch (no tape).
  Evaluation evaluate(const Tensor<T>& x, const Tensor<T>& y, int64_t batch_size = 32);
  // The outputs in inference mode, batch by batch (no tape).
  Tensor<T> predict(const Tensor<T>& x, int64_t batch_size = 32);

  // Set by an epoch hook to end fit() after the current epoch.
  bool stop_training = false;

 private:
  void check_compiled(const char* what) const;
  // Accuracy of a batch's predictions per the compiled metric (or nullopt).
  std::optional<double> batch_accuracy(const Tensor<T>& y, const Tensor<T>& y_pred) const;

  std::string name_;
  std::vector<std::shared_ptr<Layer<T>>> layers_;
  Shape input_shape_;
  std::vector<Shape> output_shapes_;  // per layer, batch axis -1
  bool built_ = false;
  std::shared_ptr<Optimizer<T>> optimizer_;
  LossFunction<T> loss_;
  bool accuracy_metric_ = false;
};

// Rows [begin, end) of a tensor along its first axis (a copy).
template <typename T>
Tensor<T> slice_rows(const Tensor<T>& x, int64_t begin, int64_t end);
// Rows idx[begin..end) of a tensor along its first axis (a copy).
template <typename T>
Tensor<T> gather_rows(const Tensor<T>& x, const std::vector<int64_t>& idx, int64_t begin, int64_t end);

}  // namespace sepconv

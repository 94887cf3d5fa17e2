#pragma once
// ModelBase<T>: what every model is (Keras's Model): a list of layers, their
// weights and regularization losses, compile, fit, evaluate and predict.
// Sequential (model/sequential.h) and the functional Model
// (model/functional.h) say how the layers are connected.
//
// The training objective is the loss plus the regularization losses (weight
// penalties and activity penalties); the optimizer applies the weights'
// constraints after each step.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sepconv/autograd/losses.h"
#include "sepconv/layers/layer.h"
#include "sepconv/model/training.h"
#include "sepconv/optim/optimizer.h"

namespace sepconv {

template <typename T>
class ModelBase {
 public:
  explicit ModelBase(std::string name) : name_(std::move(name)) {}
  virtual ~ModelBase() = default;
  ModelBase(const ModelBase&) = delete;
  ModelBase& operator=(const ModelBase&) = delete;

  const std::string& name() const { return name_; }
  // Keras's class name: "Sequential", "Functional".
  virtual std::string class_name() const = 0;
  const std::vector<std::shared_ptr<Layer<T>>>& layers() const { return layers_; }
  Layer<T>& layer(const std::string& name);  // ValueError if absent

  // Builds the layers for inputs of this shape (without the batch axis).
  virtual void build(const Shape& input_shape) = 0;
  virtual bool built() const = 0;
  // ValueError "<what>: model '<name>' is not built ..." unless built (savers and loaders need the shapes).
  void require_built(const char* what) const;
  // With -1 for the batch axis; ValueError before build.
  virtual Shape output_shape() const = 0;
  // Runs the model on one input (recorded on the tape when gradients are on).
  virtual Variable<T> operator()(const Variable<T>& x, bool training = false) = 0;

  // Every weight with its Keras path "<layer name>/<weight name>", in layer
  // then creation order (trainable and non-trainable).
  std::vector<std::pair<std::string, Weight<T>*>> weights();
  std::vector<Weight<T>*> trainable_weights();
  int64_t count_params() const;
  int64_t count_trainable_params() const;

  // Sum of the regularization losses of the last forward pass (taped; 0 when
  // none): each layer's weight penalties once, and the activity penalties.
  virtual Variable<T> regularization_loss() const;

  // Keras's summary(): the layer table with output shapes and parameter counts.
  virtual std::string summary() const = 0;

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
  // What compile() was given, for a .keras file's compile_config
  // (model/keras_file.h): the loss identifier (null when the loss was given
  // as a function, which has no serialization) and the metric names.
  const nlohmann::json& loss_config() const { return loss_config_; }
  const std::vector<std::string>& metric_names() const { return metric_names_; }
  Optimizer<T>& optimizer();  // ValueError before compile
  const std::shared_ptr<Optimizer<T>>& optimizer_ptr() const { return optimizer_; }

  // Trains on x (samples on the first axis) and targets y (class ids for the
  // sparse losses, as values of T). Returns the epochs' logs.
  History fit(const Tensor<T>& x, const Tensor<T>& y, const FitOptions<T>& options = {});
  // One optimizer step on a batch; returns the objective and fills the batch
  // accuracy when it is a metric.
  double train_step(const Tensor<T>& x, const Tensor<T>& y, std::optional<double>* accuracy = nullptr);
  // Loss and metrics in inference mode, batch by batch (no tape). With a
  // communicator of several processes, each evaluates a contiguous run of the
  // batches and the per-batch sums are combined in batch order, so every
  // process gets the numbers a single one would, bit for bit.
  Evaluation evaluate(const Tensor<T>& x, const Tensor<T>& y, int64_t batch_size = 32,
                      const std::shared_ptr<Communicator>& communicator = nullptr);
  // The outputs in inference mode, batch by batch (no tape).
  Tensor<T> predict(const Tensor<T>& x, int64_t batch_size = 32);

  // Keras's save_weights / load_weights: a Keras 3 ".weights.h5" file
  // (model/keras_weights.h), with the optimizer's variables when the model is
  // compiled. Loading restores the compiled optimizer's variables when the
  // file has them (as Keras does; a file without them leaves it as it is),
  // all or nothing.
  void save_weights(const std::string& path);
  void load_weights(const std::string& path);

  // Set by an epoch hook to end fit() after the current epoch.
  bool stop_training = false;

 protected:
  std::string name_;
  std::vector<std::shared_ptr<Layer<T>>> layers_;

 private:
  void check_compiled(const char* what) const;
  // Accuracy of a batch's predictions per the compiled metric (or nullopt).
  std::optional<double> batch_accuracy(const Tensor<T>& y, const Tensor<T>& y_pred) const;
  // The loss of a forward pass plus the regularization losses (taped).
  Variable<T> training_objective(const Tensor<T>& y, const Variable<T>& out);
  // train_step over micro-shards shared by the communicator's processes
  // (model/data_parallel.h); every process applies the same update.
  double sharded_train_step(const Tensor<T>& x, const Tensor<T>& y, Communicator& comm, int64_t shards,
                            std::optional<double>* accuracy);
  // ValueError naming the first layer whose training depends on how the
  // batch is cut (a training-mode BatchNormalization).
  void check_shardable(int64_t shards, int processes) const;

  std::shared_ptr<Optimizer<T>> optimizer_;
  LossFunction<T> loss_;
  bool accuracy_metric_ = false;
  nlohmann::json loss_config_;
  std::vector<std::string> metric_names_;
};

}  // namespace sepconv

#pragma once
// Keras losses (keras.losses) as taped ops with explicit backward, and the
// accuracy metrics that go with them.
//
// Every loss takes (y_true, y_pred) in Keras's order and returns a scalar
// (shape ()): the per-sample losses averaged over the batch, Keras's default
// reduction "sum_over_batch_size" (the sum divided by the number of
// per-sample values). Sums run in double whatever T is. The gradient flows to
// y_pred, and to y_true where it is differentiable (not for sparse targets).
//
// Probabilities are clipped to [epsilon, 1 - epsilon] with Keras's
// backend.epsilon() = 1e-7 before their log; where a probability was clipped
// its gradient is 0, as for TensorFlow's clip_by_value.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/autograd/tape.h"

namespace sepconv {

// Keras's backend.epsilon().
inline constexpr double kLossEpsilon = 1e-7;

// mean((y_pred - y_true)^2) over all elements (Keras: mean over the last axis,
// then over the batch: the same number). Shapes must match (ShapeError).
template <typename T>
Variable<T> mean_squared_error(const Variable<T>& y_true, const Variable<T>& y_pred);

// Element-wise binary cross-entropy, averaged over all elements. With
// from_logits, y_pred holds logits and the loss is the stable
// max(x, 0) - x * z + log(1 + exp(-|x|)) (TensorFlow's
// sigmoid_cross_entropy_with_logits); otherwise y_pred holds probabilities:
// -(z log(p) + (1 - z) log(1 - p)) with p clipped.
template <typename T>
Variable<T> binary_crossentropy(const Variable<T>& y_true, const Variable<T>& y_pred, bool from_logits = false);

// Class scores on the last axis, y_true one-hot (or any distribution) of the
// same shape. Per sample: -sum_k t_k log(q_k), q = softmax(logits) with
// from_logits, else q = p / sum(p) clipped (Keras normalizes probabilities).
// Averaged over every position of the leading axes.
template <typename T>
Variable<T> categorical_crossentropy(const Variable<T>& y_true, const Variable<T>& y_pred, bool from_logits = false);

// As categorical_crossentropy with integer class ids: y_true has y_pred's
// shape without its last axis (or with a last axis of 1), or is a flat list of
// one id per sample. Ids must be integers in [0, classes) (ValueError).
template <typename T>
Variable<T> sparse_categorical_crossentropy(const Tensor<T>& y_true, const Variable<T>& y_pred,
                                            bool from_logits = false);
template <typename T>
Variable<T> sparse_categorical_crossentropy(const std::vector<int>& y_true, const Variable<T>& y_pred,
                                            bool from_logits = false);

// A loss as (y_true, y_pred) -> scalar. For the sparse loss, y_true's value
// holds the class ids (its gradient is never taken).
template <typename T>
using LossFunction = std::function<Variable<T>(const Variable<T>& y_true, const Variable<T>& y_pred)>;

// Keras's losses.get: the function names ("mean_squared_error", "mse",
// "binary_crossentropy", "categorical_crossentropy",
// "sparse_categorical_crossentropy"), the class names ("MeanSquaredError",
// "BinaryCrossentropy", ...), or {"class_name": ..., "config": {"from_logits":
// bool, "reduction": "sum_over_batch_size", "name": ...}}. Anything else:
// ValueError "Could not interpret loss identifier: ...".
template <typename T>
LossFunction<T> get_loss(const nlohmann::json& identifier);

// ---- metrics (plain values, no tape) ---------------------------------------------
// Index of the largest value along the last axis for each leading position;
// ties go to the first, as argmax does.
template <typename T>
std::vector<int64_t> argmax_last_axis(const Tensor<T>& scores);

// Fraction of samples whose argmax over the last axis of y_pred equals the
// integer label (Keras's sparse_categorical_accuracy). Softmax keeps the
// argmax, so y_pred may be logits or probabilities.
template <typename T>
double sparse_categorical_accuracy(const std::vector<int>& y_true, const Tensor<T>& y_pred);
template <typename T>
double sparse_categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred);
// argmax(y_true) == argmax(y_pred) (Keras's categorical_accuracy).
template <typename T>
double categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred);
// (y_pred > threshold) == y_true, element-wise (Keras's binary_accuracy).
template <typename T>
double binary_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred, double threshold = 0.5);

}  // namespace sepconv

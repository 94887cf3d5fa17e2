#pragma once
// Training checkpoints: a model's weights, its optimizer's state
// and the caller's extra state, in one safetensors file (io/safetensors.h:
// written atomically; the same contents always give the same bytes).
//
// Tensor names are keyed by each layer's place in the model, as Keras keys
// the groups of a weight file (model/keras_weights.h keras_layer_paths: the
// snake_case class name, de-duplicated in model.layers() order), never by the
// auto-generated layer.name(), so a checkpoint loads into any identically
// built model, also a second one in the same process:
//   "<key>/<weight>"                    every weight, trainable or not
//                                       ("separable_conv2d/depthwise_kernel",
//                                       "batch_normalization_1/moving_mean", "dense/kernel")
//   "<key>/seed_generator_state"        (seed, draws made) of a Dropout, RandomFlip or RandomTranslation, I64 (2,)
//   "optimizer/iteration"               the optimizer's step count (I64)
//   "optimizer/<key>/<weight>/<slot>"   its slots ("momentum", "velocity", ...)
// The extra state (an epoch counter, a seed, the model's name...) goes to the
// file's string metadata.
//
// Loading is all or nothing: every name the model (and optimizer) expects must
// be there with its shape, and no other tensor may be, or a ValueError names
// the tensor and nothing is changed.
#include <string>
#include <type_traits>

#include "sepconv/io/safetensors.h"
#include "sepconv/model/model_base.h"
#include "sepconv/optim/optimizer.h"

namespace sepconv {

// `optimizer` may be null (weights only; nullptr works: it is not deduced). Throws IOError when the file cannot
// be written (the previous file, if any, is then intact).
template <typename T>
void save_checkpoint(const std::string& path, ModelBase<T>& model, std::type_identity_t<Optimizer<T>>* optimizer,
                     const SafeTensorMetadata& extra = {});

// Restores the model's weights and seed-generator states and, when `optimizer` is
// not null, its iteration count and slots (building it for the model's
// trainable weights if needed); returns the metadata. The model must be built
// (it defines the names and shapes expected). Throws IOError for an unreadable
// or corrupt file, ValueError for a missing, unexpected or misshapen tensor.
template <typename T>
SafeTensorMetadata load_checkpoint(const std::string& path, ModelBase<T>& model,
                                   std::type_identity_t<Optimizer<T>>* optimizer);

// The same from a file already read with load_safetensors (`path` names it in
// messages), so a caller can check the metadata (which run wrote it) before
// the tensors, whose mismatch would say less.
template <typename T>
SafeTensorMetadata load_checkpoint(const SafeTensorsFile& file, const std::string& path, ModelBase<T>& model,
                                   std::type_identity_t<Optimizer<T>>* optimizer);

}  // namespace sepconv

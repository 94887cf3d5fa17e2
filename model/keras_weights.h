#pragma once
// Keras 3 weight files (`model.save_weights("m.weights.h5")`,
// `model.load_weights(...)`): the HDF5 layout of keras/src/saving/saving_lib.py
// (read at keras-team/keras 3.x: saving_lib.py H5IOStore/H5Entry, _save_state,
// _save_container_state, _walk_saveable; layers/layer.py save_own_variables;
// optimizers/base_optimizer.py; optimizers/adam.py, sgd.py; models/
// sequential.py and functional.py `layers`).
//
// What Keras writes, for a Sequential or Functional model:
//   /vars                         the model's own variables: none, an empty group
//   /layers/<key>/vars/0, 1, ...  each layer of model.layers, in order, keyed by
//                                 the snake_case class name, de-duplicated in
//                                 order: separable_conv2d, separable_conv2d_1,
//                                 batch_normalization, ... (never layer.name,
//                                 which is auto-generated). Every layer gets its
//                                 group, a weightless one an empty vars group.
//                                 Sequential.layers omits the InputLayer;
//                                 Functional.layers includes its InputLayers
//                                 (layers/input_layer, ...), in map_graph order.
//   /optimizer/vars/0, 1, ...     only when the model is compiled: iteration
//                                 (int64 scalar; int32 under JAX), learning_rate
//                                 (a floatx scalar; absent when it is a
//                                 schedule, which is no variable), then the
//                                 slots created by build(): SGD with momentum
//                                 != 0 one "momentum" per trainable variable;
//                                 Adam and AdamW "momentum", "velocity"
//                                 interleaved per variable, then with amsgrad
//                                 every "velocity_hat".
// A layer's datasets are its variables in creation order (Layer._variables),
// which for every layer here is also trainable-then-non-trainable: Dense and
// Conv2D kernel, bias; DepthwiseConv2D kernel, bias; SeparableConv2D
// depthwise_kernel, pointwise_kernel, bias; BatchNormalization gamma, beta,
// moving_mean, moving_variance (gamma or beta absent with scale or center
// false). Keras writes no attributes; it reads by path and ignores groups it
// does not look up (compiled metrics' state, for one). Dropout's and
// RandomFlip's SeedGenerator is no saveable: their generator state is not in
// the file (our safetensors checkpoints keep it).
//
// Loading here is stricter than Keras and all or nothing: every layer group
// and every dataset must be there with the layer's shape (float32 or float64,
// converted to the model's type; NaN and infinities refused), no layer group
// or dataset may be left over, and the root vars group must be empty; any
// defect is a ValueError naming the file, the path in it, and the expected and
// found shapes, and nothing in the model (or optimizer) is changed. Root groups
// other than layers, optimizer and vars are ignored, as Keras ignores them.
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "sepconv/io/hdf5_file.h"
#include "sepconv/model/model_base.h"
#include "sepconv/optim/optimizer.h"

namespace sepconv {

// Each layer's group in a Keras weight file, in model.layers order:
// "layers/separable_conv2d", "layers/separable_conv2d_1", ...
template <typename T>
std::vector<std::string> keras_layer_paths(const ModelBase<T>& model);

// The file's tree: the model's weights and, when `optimizer` is not null, its
// variables (built for the model's trainable weights first if needed).
template <typename T>
Hdf5Group keras_weights_tree(ModelBase<T>& model, std::type_identity_t<Optimizer<T>>* optimizer);

// Writes `path` (which must end in ".weights.h5", as Keras requires)
// atomically. The model must be built. IOError when the file cannot be written.
template <typename T>
void save_weights(ModelBase<T>& model, const std::string& path,
                  std::type_identity_t<Optimizer<T>>* optimizer = nullptr);

// Loads a tree, or the bytes or file of one, into the model and, when
// `optimizer` is not null, the optimizer (whose optimizer/vars group must then
// be there; it is ignored otherwise). `name` names the source in messages.
template <typename T>
void load_weights_tree(ModelBase<T>& model, const Hdf5Group& root, const std::string& name,
                       std::type_identity_t<Optimizer<T>>* optimizer = nullptr);
template <typename T>
void load_weights_bytes(ModelBase<T>& model, std::span<const uint8_t> bytes, const std::string& name,
                        std::type_identity_t<Optimizer<T>>* optimizer = nullptr);
// The tree of the file `path`, which must end in ".weights.h5" (ValueError
// otherwise, in Keras's words); IOError for an unreadable, truncated or
// corrupt file.
Hdf5Group read_keras_weights_file(const std::string& path);
// read_keras_weights_file, then load_weights_tree.
template <typename T>
void load_weights(ModelBase<T>& model, const std::string& path,
                  std::type_identity_t<Optimizer<T>>* optimizer = nullptr);

}  // namespace sepconv

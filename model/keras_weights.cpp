#include "sepconv/model/keras_weights.h"

#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sepconv/layers/identifier.h"

namespace sepconv {

namespace {

constexpr std::string_view kSuffix = ".weights.h5";
constexpr const char* kVelocityHat = "velocity_hat";

bool has_weights_suffix(const std::string& path) {
  return path.size() >= kSuffix.size() && path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}


// The optimizer's slot tensors in the order Keras's build() creates them: the
// slots made in its first loop interleaved per variable (SGD: momentum; Adam:
// momentum, velocity), then Adam's amsgrad velocity_hat for every variable.
template <typename T>
std::vector<std::pair<std::string, Tensor<T>*>> keras_slots(ModelBase<T>& model, Optimizer<T>& optimizer) {
  const std::vector<Weight<T>*> weights = model.trainable_weights();
  const typename Optimizer<T>::StateList state = optimizer.state(weights);
  const std::vector<std::string> names = optimizer.slot_names();
  std::vector<std::pair<std::string, Tensor<T>*>> out;
  for (int pass = 0; pass < 2; ++pass)
    for (size_t w = 0; w < weights.size(); ++w)
      for (size_t s = 0; s < names.size(); ++s)
        if ((names[s] == kVelocityHat) == (pass == 1)) out.push_back(state[w * names.size() + s]);
  return out;
}

template <typename T>
SafeTensor scalar_safetensor(double value) {
  Tensor<T> t(Shape{});
  t[0] = static_cast<T>(value);
  return to_safetensor(t);
}

const Hdf5Group* find_group(const Hdf5Group& g, const std::string& name) {
  auto it = g.groups.find(name);
  return it == g.groups.end() ? nullptr : &it->second;
}

std::string names_of(const Hdf5Group& g) {
  std::vector<std::string> names;
  for (const auto& [k, v] : g.groups) names.push_back(k);
  for (const auto& [k, v] : g.datasets) names.push_back(k);
  return fmt::format("[{}]", fmt::join(names, ", "));
}

// A rank-0 or shape-(1,) I64 or I32 dataset (Keras's iteration counter is an
// int64 under TensorFlow and torch, an int32 under JAX).
int64_t counter_value(const SafeTensor& st, const std::string& label) {
  const bool scalar = st.shape.empty() || st.shape == Shape{1};
  const size_t width = st.dtype == "I64" ? 8 : st.dtype == "I32" ? 4 : 0;
  if (!scalar || width == 0 || st.bytes.size() != width)
    throw ValueError(fmt::format("{} must be an integer scalar (the optimizer's iteration count), found {} of shape {}",
                                 label, st.dtype, shape_str(st.shape)));
  uint64_t raw = 0;
  for (size_t b = 0; b < width; ++b) raw |= static_cast<uint64_t>(st.bytes[b]) << (8 * b);
  if (width == 4) return static_cast<int32_t>(static_cast<uint32_t>(raw));
  return static_cast<int64_t>(raw);
}

}  // namespace

template <typename T>
std::vector<std::string> keras_layer_paths(const ModelBase<T>& model) {
  std::map<std::string, int> used;
  std::vector<std::string> out;
  for (const auto& layer : model.layers()) {
    std::string key = detail::to_snake_case(layer->class_name());
    auto [it, fresh] = used.try_emplace(key, 0);
    if (!fresh) key += "_" + std::to_string(++it->second);
    out.push_back("layers/" + key);
  }
  return out;
}

template <typename T>
Hdf5Group keras_weights_tree(ModelBase<T>& model, std::type_identity_t<Optimizer<T>>* optimizer) {
  model.require_built("save_weights");
  Hdf5Group root;
  root.groups["vars"];  // the model's own variables: none
  Hdf5Group& layers = root.groups["layers"];
  const std::vector<std::string> paths = keras_layer_paths(model);
  for (size_t i = 0; i < paths.size(); ++i) {
    Hdf5Group& vars = layers.groups[paths[i].substr(std::string("layers/").size())].groups["vars"];
    const std::vector<Weight<T>>& weights = model.layers()[i]->weights();
    for (size_t j = 0; j < weights.size(); ++j) vars.datasets[std::to_string(j)] = to_safetensor(weights[j].variable.value());
  }
  if (optimizer) {
    SafeTensorMap& vars = root.groups["optimizer"].groups["vars"].datasets;
    size_t index = 0;
    vars[std::to_string(index++)] = int64_scalar_safetensor(optimizer->iterations());
    if (!optimizer->learning_rate_spec().is_schedule())
      vars[std::to_string(index++)] = scalar_safetensor<T>(optimizer->learning_rate_spec().value());
    for (auto& [slot_name, slot] : keras_slots(model, *optimizer)) vars[std::to_string(index++)] = to_safetensor(*slot);
  }
  return root;
}

template <typename T>
void save_weights(ModelBase<T>& model, const std::string& path, std::type_identity_t<Optimizer<T>>* optimizer) {
  if (!has_weights_suffix(path))
    throw ValueError(fmt::format("Invalid `filepath` argument: expected a `.weights.h5` extension. Received: "
                                 "filepath={}",
                                 path));
  save_hdf5(path, keras_weights_tree(model, optimizer));
}

template <typename T>
void load_weights_tree(ModelBase<T>& model, const Hdf5Group& root, const std::string& name,
                       std::type_identity_t<Optimizer<T>>* optimizer) {
  model.require_built("load_weights");
  auto fail = [&](const std::string& defect) -> void {
    throw ValueError(fmt::format("Weight file '{}': {}", name, defect));
  };
  // Reads one dataset as a tensor of the expected shape; the label says what it is.
  auto tensor = [&](const SafeTensorMap& datasets, const std::string& dir, size_t index, const Shape& shape,
                    const std::string& what) {
    const std::string path = dir + "/" + std::to_string(index);
    auto it = datasets.find(std::to_string(index));
    if (it == datasets.end()) fail(fmt::format("'{}' ({}, shape {}) is missing", path, what, shape_str(shape)));
    try {
      return tensor_from_safetensor<T>(it->second, shape, fmt::format("{} ({})", path, what));
    } catch (const ValueError& e) {
      fail(e.what());
    }
    return Tensor<T>();
  };
  auto require_only = [&](const Hdf5Group& g, const std::string& path, size_t datasets, const std::string& owner) {
    if (!g.groups.empty())
      fail(fmt::format("'{}' holds group '{}', which {} does not have", path, g.groups.begin()->first, owner));
    if (g.datasets.size() != datasets)
      fail(fmt::format("'{}' holds {} datasets {}, {} has {} variables", path, g.datasets.size(), names_of(g), owner,
                       datasets));
  };

  const Hdf5Group* own = find_group(root, "vars");
  if (!own) fail(fmt::format("there is no group 'vars' (the model's own variables) at the root, which holds {}: not a "
                             "Keras 3 weight file",
                             names_of(root)));
  require_only(*own, "vars", 0, fmt::format("model '{}'", model.name()));

  // Read and check everything first, then assign: a bad file changes nothing.
  std::vector<std::pair<Tensor<T>*, Tensor<T>>> assignments;
  const std::vector<std::string> paths = keras_layer_paths(model);
  static const Hdf5Group kEmpty;
  const Hdf5Group* layers = find_group(root, "layers");
  if (!layers && !paths.empty()) fail("there is no group 'layers'");
  if (!layers) layers = &kEmpty;
  std::set<std::string> keys;
  for (size_t i = 0; i < paths.size(); ++i) {
    Layer<T>& layer = *model.layers()[i];
    const std::string owner = fmt::format("layer '{}' ({})", layer.name(), layer.class_name());
    const std::string key = paths[i].substr(std::string("layers/").size());
    keys.insert(key);
    const Hdf5Group* group = find_group(*layers, key);
    if (!group)
      fail(fmt::format("there is no group '{}' for {}, layer {} of the model; 'layers' holds {}", paths[i], owner, i,
                       names_of(*layers)));
    for (const auto& [k, v] : group->groups)
      if (k != "vars") fail(fmt::format("'{}' holds group '{}', which {} does not have", paths[i], k, owner));
    if (!group->datasets.empty())
      fail(fmt::format("'{}' holds dataset '{}', which {} does not have", paths[i], group->datasets.begin()->first,
                       owner));
    const Hdf5Group* vars = find_group(*group, "vars");
    if (!vars) fail(fmt::format("'{}/vars' ({}'s variables) is missing", paths[i], owner));
    std::vector<Weight<T>>& weights = layer.weights();
    std::vector<std::string> weight_names;
    for (const Weight<T>& w : weights) weight_names.push_back(w.name);
    require_only(*vars, paths[i] + "/vars", weights.size(),
                 fmt::format("{} ({})", owner, fmt::join(weight_names, ", ")));
    for (size_t j = 0; j < weights.size(); ++j)
      assignments.emplace_back(&weights[j].variable.value(),
                               tensor(vars->datasets, paths[i] + "/vars", j, weights[j].variable.shape(),
                                      layer.name() + "/" + weights[j].name));
  }
  for (const auto& [k, v] : layers->groups)
    if (!keys.count(k))
      fail(fmt::format("'layers/{}' is a layer group that model '{}' does not have (its layers: {})", k, model.name(),
                       fmt::join(paths, ", ")));
  if (!layers->datasets.empty())
    fail(fmt::format("'layers' holds dataset '{}', not a layer group", layers->datasets.begin()->first));

  int64_t iterations = 0;
  std::optional<double> learning_rate;
  if (optimizer) {
    const Hdf5Group* og = find_group(root, "optimizer");
    const Hdf5Group* ovars = og ? find_group(*og, "vars") : nullptr;
    if (!ovars) fail(fmt::format("there is no group 'optimizer/vars' for optimizer '{}'", optimizer->name()));
    for (const auto& [k, v] : og->groups)
      if (k != "vars") fail(fmt::format("'optimizer' holds group '{}', which an optimizer does not have", k));
    const bool has_lr = !optimizer->learning_rate_spec().is_schedule();
    const auto slots = keras_slots(model, *optimizer);
    require_only(*ovars, "optimizer/vars", 1 + (has_lr ? 1 : 0) + slots.size(),
                 fmt::format("optimizer '{}' (iteration{}, {} slots for {} trainable weights)", optimizer->name(),
                             has_lr ? ", learning_rate" : "", slots.size(), model.trainable_weights().size()));
    if (!ovars->datasets.count("0") || (has_lr && !ovars->datasets.count("1")))
      fail(fmt::format("'optimizer/vars' lacks dataset '{}'", ovars->datasets.count("0") ? "1" : "0"));
    try {
      iterations = counter_value(ovars->datasets.at("0"), "'optimizer/vars/0'");
    } catch (const ValueError& e) {
      fail(e.what());
    }
    if (iterations < 0) fail(fmt::format("'optimizer/vars/0' (iteration) is negative: {}", iterations));
    size_t index = 1;
    if (has_lr) {
      const SafeTensor& stored = ovars->datasets.at("1");
      if (!stored.shape.empty() && stored.shape != Shape{1})
        fail(fmt::format("'optimizer/vars/1' (learning_rate) has shape {}, expected a scalar", shape_str(stored.shape)));
      try {
        learning_rate = tensor_from_safetensor<double>(stored, "optimizer/vars/1 (learning_rate)").item();
      } catch (const ValueError& e) {
        fail(e.what());
      }
      if (*learning_rate < 0) fail(fmt::format("'optimizer/vars/1' (learning_rate) is negative: {}", *learning_rate));
      // Stored at float32 precision (Keras's floatx): keep our exact rate when
      // it is the one stored, so training continues bitwise.
      const double ours = optimizer->learning_rate_spec().value();
      if (stored.dtype == "F32" ? static_cast<float>(ours) == static_cast<float>(*learning_rate)
                                : ours == *learning_rate)
        learning_rate.reset();
      ++index;
    }
    for (auto& [slot_name, slot] : slots) {
      assignments.emplace_back(slot, tensor(ovars->datasets, "optimizer/vars", index, slot->shape(),
                                            "optimizer slot " + slot_name));
      ++index;
    }
  }

  for (auto& [dst, value] : assignments) dst->copy_from(value);
  if (optimizer) {
    optimizer->set_iterations(iterations);
    if (learning_rate) optimizer->set_learning_rate(*learning_rate);
  }
}

template <typename T>
void load_weights_bytes(ModelBase<T>& model, std::span<const uint8_t> bytes, const std::string& name,
                        std::type_identity_t<Optimizer<T>>* optimizer) {
  load_weights_tree(model, parse_hdf5(bytes, name), name, optimizer);
}

Hdf5Group read_keras_weights_file(const std::string& path) {
  if (!has_weights_suffix(path))
    throw ValueError(fmt::format("File format not supported: filepath={}. Keras 3 only supports V3 `.keras` and "
                                 "`.weights.h5` files; this library reads `.weights.h5` files",
                                 path));
  return load_hdf5(path);
}

template <typename T>
void load_weights(ModelBase<T>& model, const std::string& path, std::type_identity_t<Optimizer<T>>* optimizer) {
  load_weights_tree(model, read_keras_weights_file(path), path, optimizer);
}

#define SEPCONV_INSTANTIATE(T)                                                                                   \
  template std::vector<std::string> keras_layer_paths(const ModelBase<T>&);                                     \
  template Hdf5Group keras_weights_tree(ModelBase<T>&, Optimizer<T>*);                                           \
  template void save_weights(ModelBase<T>&, const std::string&, Optimizer<T>*);                                  \
  template void load_weights_tree(ModelBase<T>&, const Hdf5Group&, const std::string&, Optimizer<T>*);           \
  template void load_weights_bytes(ModelBase<T>&, std::span<const uint8_t>, const std::string&, Optimizer<T>*); \
  template void load_weights(ModelBase<T>&, const std::string&, Optimizer<T>*);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

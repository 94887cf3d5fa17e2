#include "sepconv/model/checkpoint.h"

#include <array>
#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "sepconv/layers/core_layers.h"
#include "sepconv/model/keras_weights.h"

namespace sepconv {

namespace {
constexpr const char* kIteration = "optimizer/iteration";

// Each layer's key: its place in model.layers(), as Keras names the groups of
// a weight file (keras_layer_paths without "layers/": separable_conv2d,
// separable_conv2d_1, ...), never layer.name(), which is auto-generated (a
// second identical model in one process has "separable_conv2d_1" for the
// first layer), so that a checkpoint loads into any identically built model.
template <typename T>
std::vector<std::string> layer_keys(const ModelBase<T>& model) {
  std::vector<std::string> keys = keras_layer_paths(model);
  for (std::string& k : keys) k.erase(0, std::string("layers/").size());
  return keys;
}

// Every weight by "<layer key>/<weight name>", in model.weights() order.
template <typename T>
std::vector<std::pair<std::string, Weight<T>*>> keyed_weights(ModelBase<T>& model) {
  const std::vector<std::string> keys = layer_keys(model);
  std::vector<std::pair<std::string, Weight<T>*>> out;
  for (size_t i = 0; i < keys.size(); ++i)
    for (Weight<T>& w : model.layers()[i]->weights()) out.emplace_back(keys[i] + "/" + w.name, &w);
  return out;
}

// The optimizer's slots by "optimizer/<layer key>/<weight name>/<slot>". The
// optimizer names a slot by its variable's path (layer.name()/weight, it knows
// nothing of layers), which is rewritten to the weight's key here.
template <typename T>
std::vector<std::pair<std::string, Tensor<T>*>> keyed_slots(ModelBase<T>& model, Optimizer<T>& optimizer) {
  std::map<std::string, std::string> key_of_path;
  for (auto& [key, w] : keyed_weights(model)) key_of_path[w->variable.name()] = key;
  std::vector<std::pair<std::string, Tensor<T>*>> out;
  for (auto& [name, slot] : optimizer.state(model.trainable_weights())) {
    const size_t cut = name.rfind('/');
    auto it = cut == std::string::npos ? key_of_path.end() : key_of_path.find(name.substr(0, cut));
    if (it == key_of_path.end())
      throw ValueError(fmt::format("Checkpoint: optimizer slot '{}' belongs to no weight of model '{}'", name,
                                   model.name()));
    out.emplace_back("optimizer/" + it->second + name.substr(cut), slot);
  }
  return out;
}

// The layers with a seed generator (Dropout, RandomFlip, RandomTranslation), by their state's name.
template <typename T>
std::vector<std::pair<std::string, SeedGeneratorLayer*>> seeded_layers(ModelBase<T>& model) {
  const std::vector<std::string> keys = layer_keys(model);
  std::vector<std::pair<std::string, SeedGeneratorLayer*>> out;
  for (size_t i = 0; i < keys.size(); ++i)
    if (auto* d = dynamic_cast<SeedGeneratorLayer*>(model.layers()[i].get()))
      out.emplace_back(keys[i] + "/seed_generator_state", d);
  return out;
}

// A Dropout layer's (seed, counter) as an I64 tensor of shape (2,), the two
// values Keras's SeedGenerator keeps in its state variable.
SafeTensor seed_state_tensor(uint64_t seed, uint64_t counter) {
  SafeTensor st{"I64", Shape{2}, std::vector<uint8_t>(16)};
  const uint64_t v[2] = {seed, counter};
  for (int k = 0; k < 2; ++k)
    for (int b = 0; b < 8; ++b) st.bytes[static_cast<size_t>(8 * k + b)] = static_cast<uint8_t>(v[k] >> (8 * b));
  return st;
}
std::array<uint64_t, 2> seed_state_from(const SafeTensor& st, const std::string& name) {
  if (st.dtype != "I64" || st.shape != Shape{2} || st.bytes.size() != 16)
    throw ValueError(fmt::format("'{}' must be an I64 tensor of shape (2,) (seed, counter), found {} of shape {}", name,
                                 st.dtype, shape_str(st.shape)));
  std::array<uint64_t, 2> v{0, 0};
  for (int k = 0; k < 2; ++k)
    for (int b = 0; b < 8; ++b) v[k] |= static_cast<uint64_t>(st.bytes[static_cast<size_t>(8 * k + b)]) << (8 * b);
  return v;
}

}  // namespace

template <typename T>
void save_checkpoint(const std::string& path, ModelBase<T>& model, std::type_identity_t<Optimizer<T>>* optimizer,
                     const SafeTensorMetadata& extra) {
  model.require_built("save_checkpoint");
  SafeTensorMap tensors;
  for (auto& [name, w] : keyed_weights(model)) tensors[name] = to_safetensor(w->variable.value());
  for (auto& [name, d] : seeded_layers(model)) tensors[name] = seed_state_tensor(d->seed(), d->generator_state());
  if (optimizer) {
    tensors[kIteration] = int64_scalar_safetensor(optimizer->iterations());
    for (auto& [name, slot] : keyed_slots(model, *optimizer)) tensors[name] = to_safetensor(*slot);
  }
  save_safetensors(path, tensors, extra);
}

template <typename T>
SafeTensorMetadata load_checkpoint(const std::string& path, ModelBase<T>& model,
                                   std::type_identity_t<Optimizer<T>>* optimizer) {
  model.require_built("load_checkpoint");
  return load_checkpoint(load_safetensors(path), path, model, optimizer);
}

template <typename T>
SafeTensorMetadata load_checkpoint(const SafeTensorsFile& file, const std::string& path, ModelBase<T>& model,
                                   std::type_identity_t<Optimizer<T>>* optimizer) {
  model.require_built("load_checkpoint");
  std::set<std::string> used;
  auto find = [&](const std::string& name, const Shape* shape) -> const SafeTensor& {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end())
      throw ValueError(fmt::format("Checkpoint '{}' has no tensor '{}'{}", path, name,
                                   shape ? fmt::format(" (expected shape {})", shape_str(*shape)) : std::string()));
    used.insert(name);
    return it->second;
  };
  // find() names the path itself, so it stays outside the try blocks that
  // prefix the converters' messages (which do not know the path) with it.
  auto tensor = [&](const std::string& name, const Shape& shape) {
    const SafeTensor& st = find(name, &shape);
    try {
      return tensor_from_safetensor<T>(st, shape, name);
    } catch (const ValueError& e) {
      throw ValueError(fmt::format("Checkpoint '{}': {}", path, e.what()));
    }
  };
  auto counter = [&](const std::string& name) {
    const SafeTensor& st = find(name, nullptr);
    try {
      return int64_from_safetensor(st, name);
    } catch (const ValueError& e) {
      throw ValueError(fmt::format("Checkpoint '{}': {}", path, e.what()));
    }
  };

  // Read and check everything first, then assign: a bad file changes nothing.
  std::vector<std::pair<Tensor<T>*, Tensor<T>>> assignments;
  for (auto& [name, w] : keyed_weights(model))
    assignments.emplace_back(&w->variable.value(), tensor(name, w->variable.shape()));
  std::vector<std::pair<SeedGeneratorLayer*, std::array<uint64_t, 2>>> seed_states;
  for (auto& [name, d] : seeded_layers(model)) {
    const SafeTensor& st = find(name, nullptr);
    try {
      seed_states.emplace_back(d, seed_state_from(st, name));
    } catch (const ValueError& e) {
      throw ValueError(fmt::format("Checkpoint '{}': {}", path, e.what()));
    }
  }
  int64_t iterations = 0;
  if (optimizer) {
    iterations = counter(kIteration);
    if (iterations < 0) throw ValueError(fmt::format("Checkpoint '{}': '{}' is negative ({})", path, kIteration, iterations));
    for (auto& [name, slot] : keyed_slots(model, *optimizer)) assignments.emplace_back(slot, tensor(name, slot->shape()));
  }
  for (const auto& [name, st] : file.tensors)
    if (!used.count(name) && !(optimizer == nullptr && name.rfind("optimizer/", 0) == 0))
      throw ValueError(fmt::format("Checkpoint '{}' holds tensor '{}' of shape {}, which model '{}'{} does not have",
                                   path, name, shape_str(st.shape), model.name(),
                                   optimizer ? " and its optimizer" : ""));

  for (auto& [dst, value] : assignments) dst->copy_from(value);
  for (auto& [d, s] : seed_states) {
    d->set_seed(s[0]);
    d->set_generator_state(s[1]);
  }
  if (optimizer) optimizer->set_iterations(iterations);
  return file.metadata;
}

template void save_checkpoint(const std::string&, ModelBase<float>&, Optimizer<float>*, const SafeTensorMetadata&);
template void save_checkpoint(const std::string&, ModelBase<double>&, Optimizer<double>*, const SafeTensorMetadata&);
template SafeTensorMetadata load_checkpoint(const std::string&, ModelBase<float>&, Optimizer<float>*);
template SafeTensorMetadata load_checkpoint(const std::string&, ModelBase<double>&, Optimizer<double>*);
template SafeTensorMetadata load_checkpoint(const SafeTensorsFile&, const std::string&, ModelBase<float>&,
                                            Optimizer<float>*);
template SafeTensorMetadata load_checkpoint(const SafeTensorsFile&, const std::string&, ModelBase<double>&,
                                            Optimizer<double>*);

}  // namespace sepconv

#include "sepconv/model/checkpoint.h"

#include <array>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "sepconv/layers/core_layers.h"

namespace sepconv {

namespace {
constexpr const char* kIteration = "optimizer/iteration";

// The layers with a seed generator (Dropout, RandomFlip, RandomTranslation), by their state's name.
template <typename T>
std::vector<std::pair<std::string, SeedGeneratorLayer*>> seeded_layers(ModelBase<T>& model) {
  std::vector<std::pair<std::string, SeedGeneratorLayer*>> out;
  for (const auto& l : model.layers())
    if (auto* d = dynamic_cast<SeedGeneratorLayer*>(l.get())) out.emplace_back(l->name() + "/seed_generator_state", d);
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
  for (auto& [name, w] : model.weights()) tensors[name] = to_safetensor(w->variable.value());
  for (auto& [name, d] : seeded_layers(model)) tensors[name] = seed_state_tensor(d->seed(), d->generator_state());
  if (optimizer) {
    tensors[kIteration] = int64_scalar_safetensor(optimizer->iterations());
    for (auto& [name, slot] : optimizer->state(model.trainable_weights()))
      tensors["optimizer/" + name] = to_safetensor(*slot);
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
  for (auto& [name, w] : model.weights())
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
    for (auto& [name, slot] : optimizer->state(model.trainable_weights()))
      assignments.emplace_back(slot, tensor("optimizer/" + name, slot->shape()));
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

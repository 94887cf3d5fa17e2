#include "sepconv/model/keras_json.h"

#include <map>

#include <fmt/format.h>

#include "sepconv/core/json_limits.h"
#include "sepconv/layers/layer_registry.h"

namespace sepconv {

namespace {

using nlohmann::json;

std::string repr(const json& j) { return json_excerpt(j); }

json shape_json(const Shape& s) {
  json out = json::array();
  for (int64_t d : s) out.push_back(d < 0 ? json(nullptr) : json(d));
  return out;
}

template <typename T>
json tensor_ref(const Model<T>& model, const KerasTensor<T>& x) {
  return {{"class_name", "__keras_tensor__"},
          {"config",
           {{"shape", shape_json(x.shape())},
            {"dtype", DTypeName<T>::value},
            {"keras_history", {x.layer().name(), model.node_index(x.node().get()), x.index()}}}}};
}

template <typename T>
json functional_config(const Model<T>& model) {
  json layers = json::array();
  for (const auto& l : model.layers()) {
    json entry = serialize_layer(*l);
    const auto calls = model.nodes_of(*l);
    const bool is_input = dynamic_cast<const InputLayer<T>*>(l.get()) != nullptr;
    if (!is_input && !calls.empty()) {
      json shapes = json::array();
      for (const KerasTensor<T>& x : calls[0]->inputs) shapes.push_back(shape_json(x.shape()));
      entry["build_config"] = {{"input_shape", calls[0]->inputs_as_list ? shapes : shapes[0]}};
    }
    entry["name"] = l->name();
    json nodes = json::array();
    for (const auto& n : calls) {
      if (n->inputs.empty()) continue;
      json arg;
      if (n->inputs_as_list) {
        arg = json::array();
        for (const KerasTensor<T>& x : n->inputs) arg.push_back(tensor_ref(model, x));
      } else {
        arg = tensor_ref(model, n->inputs[0]);
      }
      nodes.push_back({{"args", json::array({arg})}, {"kwargs", json::object()}});
    }
    entry["inbound_nodes"] = nodes;
    layers.push_back(entry);
  }
  auto refs = [&](const std::vector<KerasTensor<T>>& ts) {
    json out = json::array();
    for (const KerasTensor<T>& x : ts) out.push_back({x.layer().name(), model.node_index(x.node().get()), x.index()});
    return out;
  };
  return {{"module", "keras"},
          {"class_name", "Functional"},
          {"config",
           {{"name", model.name()},
            {"trainable", true},
            {"layers", layers},
            {"input_layers", refs(model.inputs())},
            {"output_layers", refs(model.outputs())}}},
          {"registered_name", "Functional"},
          {"build_config", {{"input_shape", nullptr}}}};
}

template <typename T>
json sequential_config(const Sequential<T>& model) {
  json layers = json::array();
  if (model.built()) {
    Shape batch{-1};
    batch.insert(batch.end(), model.input_shape().begin(), model.input_shape().end());
    layers.push_back({{"module", "keras.layers"},
                      {"class_name", "InputLayer"},
                      {"config",
                       {{"batch_shape", shape_json(batch)},
                        {"dtype", DTypeName<T>::value},
                        {"sparse", false},
                        {"name", "input_layer"}}},
                      {"registered_name", nullptr}});
  }
  for (const auto& l : model.layers()) layers.push_back(serialize_layer(*l));
  json out = {{"module", "keras"},
              {"class_name", "Sequential"},
              {"config", {{"name", model.name()}, {"trainable", true}, {"layers", layers}}},
              {"registered_name", nullptr}};
  if (model.built()) {
    Shape batch{-1};
    batch.insert(batch.end(), model.input_shape().begin(), model.input_shape().end());
    out["build_config"] = {{"input_shape", shape_json(batch)}};
  }
  return out;
}

// ---- reading -----------------------------------------------------------------------

const json& member(const json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key))
    throw ValueError(fmt::format("{}: missing key \"{}\". Received: {}", where, key, repr(obj)));
  return obj.at(key);
}

// Whether a written shape matches, the batch axis aside (null: not written).
bool same_sample_shape(const json& written, const json& actual) {
  if (written.is_null()) return true;
  if (!written.is_array() || written.size() != actual.size()) return false;
  for (size_t i = 1; i < written.size(); ++i)
    if (written[i] != actual[i]) return false;
  return true;
}

// [layer_name, node_index, tensor_index]
struct TensorKey {
  std::string layer;
  int64_t node = 0, tensor = 0;
};

TensorKey parse_history(const json& h, const std::string& where) {
  if (!h.is_array() || h.size() != 3 || !h[0].is_string() || !h[1].is_number_integer() || !h[2].is_number_integer())
    throw ValueError(fmt::format("{}: expected [layer_name, node_index, tensor_index]. Received: {}", where, repr(h)));
  return {h[0].get<std::string>(), h[1].get<int64_t>(), h[2].get<int64_t>()};
}

// A tensor reference of an inbound node: Keras 3's __keras_tensor__ object.
TensorKey parse_tensor_ref(const json& t, const std::string& where) {
  if (!t.is_object() || !t.contains("class_name") || t.at("class_name") != "__keras_tensor__")
    throw ValueError(fmt::format("{}: expected a {{\"class_name\": \"__keras_tensor__\", ...}} tensor reference. "
                                 "Received: {}",
                                 where, repr(t)));
  return parse_history(member(member(t, "config", where), "keras_history", where), where);
}

// The references an inbound node passes, and whether as a list.
struct InboundNode {
  std::vector<TensorKey> inputs;
  std::vector<json> shapes;  // as written, to check against the rebuilt graph
  bool as_list = false;
};

InboundNode parse_inbound_node(const json& node, const std::string& where) {
  const json& args = member(node, "args", where);
  if (!args.is_array() || args.size() != 1)
    throw ValueError(fmt::format("{}: \"args\" must hold exactly one input (a tensor or a list of tensors). "
                                 "Received: {}",
                                 where, repr(args)));
  if (node.contains("kwargs")) {
    const json& kw = node.at("kwargs");
    if (!kw.is_object()) throw ValueError(fmt::format("{}: \"kwargs\" must be an object. Received: {}", where, repr(kw)));
    for (auto it = kw.begin(); it != kw.end(); ++it)
      if (!(it.key() == "training" || it.key() == "mask") || !(it.value().is_null() || it.value().is_boolean()))
        throw ValueError(fmt::format("{}: unsupported call argument \"{}\" (value {})", where, it.key(),
                                     repr(it.value())));
  }
  InboundNode n;
  const json& a = args[0];
  n.as_list = a.is_array();
  const json list = n.as_list ? a : json::array({a});
  if (list.empty()) throw ValueError(fmt::format("{}: the list of inputs is empty", where));
  for (const json& t : list) {
    n.inputs.push_back(parse_tensor_ref(t, where));
    n.shapes.push_back(t.contains("config") && t.at("config").is_object() && t.at("config").contains("shape")
                           ? t.at("config").at("shape")
                           : json());
  }
  return n;
}

std::vector<TensorKey> parse_endpoints(const json& j, const std::string& where) {
  if (!j.is_array() || j.empty())
    throw ValueError(fmt::format("{}: expected a list of [layer_name, node_index, tensor_index]. Received: {}", where,
                                 repr(j)));
  if (j[0].is_string()) return {parse_history(j, where)};  // a single endpoint, unnested
  std::vector<TensorKey> out;
  for (const json& e : j) out.push_back(parse_history(e, where));
  return out;
}

template <typename T>
std::unique_ptr<ModelBase<T>> functional_from_config(const json& cfg) {
  const std::string model_name = member(cfg, "name", "Functional config").is_string()
                                     ? cfg.at("name").get<std::string>()
                                     : throw ValueError("Functional config: \"name\" must be a string");
  const json& layers = member(cfg, "layers", "Functional config");
  if (!layers.is_array()) throw ValueError("Functional config: \"layers\" must be a list");

  struct Pending {
    std::shared_ptr<Layer<T>> layer;
    std::vector<InboundNode> nodes;
    size_t done = 0;
  };
  std::vector<Pending> pending;
  std::map<std::string, size_t> by_name;
  std::map<std::string, std::vector<KerasTensor<T>>> outputs;  // per layer, per node
  for (const json& entry : layers) {
    std::shared_ptr<Layer<T>> layer = layer_from_config<T>(entry);
    if (entry.contains("name") && entry.at("name").is_string() && entry.at("name").get<std::string>() != layer->name())
      throw ValueError(fmt::format("Functional config: layer entry \"name\" '{}' differs from its config's name '{}'",
                                   entry.at("name").get<std::string>(), layer->name()));
    if (by_name.count(layer->name()))
      throw ValueError(fmt::format("Functional config: the layer name '{}' is used twice", layer->name()));
    const std::string where = fmt::format("Layer '{}' ({}) inbound_nodes", layer->name(), layer->class_name());
    Pending p;
    p.layer = layer;
    if (auto* input = dynamic_cast<InputLayer<T>*>(layer.get())) {
      outputs[layer->name()].push_back(input->output());
    } else {
      const json& nodes = member(entry, "inbound_nodes", fmt::format("Layer '{}'", layer->name()));
      if (!nodes.is_array()) throw ValueError(fmt::format("{}: must be a list. Received: {}", where, repr(nodes)));
      for (size_t k = 0; k < nodes.size(); ++k)
        p.nodes.push_back(parse_inbound_node(nodes[k], fmt::format("{}[{}]", where, k)));
    }
    by_name[layer->name()] = pending.size();
    pending.push_back(std::move(p));
  }
  // Keras's deserialization order: a node runs once every tensor it reads
  // exists; a layer's nodes run in their order. Sweep until nothing is left.
  auto lookup = [&](const TensorKey& k) -> const KerasTensor<T>* {
    auto it = outputs.find(k.layer);
    if (it == outputs.end() || k.node < 0 || k.node >= static_cast<int64_t>(it->second.size()) || k.tensor != 0)
      return nullptr;
    return &it->second[static_cast<size_t>(k.node)];
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (Pending& p : pending) {
      while (p.done < p.nodes.size()) {
        const InboundNode& n = p.nodes[p.done];
        std::vector<KerasTensor<T>> args;
        for (const TensorKey& k : n.inputs) {
          const KerasTensor<T>* t = lookup(k);
          if (!t) break;
          args.push_back(*t);
        }
        if (args.size() != n.inputs.size()) break;
        for (size_t i = 0; i < args.size(); ++i)
          if (!same_sample_shape(n.shapes[i], shape_json(args[i].shape())))
            throw ValueError(fmt::format("Layer '{}' ({}) inbound node {}: input {} is written with shape {}, but "
                                         "layer '{}' gives shape {}",
                                         p.layer->name(), p.layer->class_name(), p.done, i, repr(n.shapes[i]),
                                         n.inputs[i].layer, shape_str(args[i].shape())));
        KerasTensor<T> y = n.as_list ? (*p.layer)(args) : (*p.layer)(args[0]);
        outputs[p.layer->name()].push_back(y);
        ++p.done;
        progress = true;
      }
    }
  }
  for (const Pending& p : pending)
    if (p.done < p.nodes.size()) {
      for (const TensorKey& k : p.nodes[p.done].inputs)
        if (!by_name.count(k.layer))
          throw ValueError(fmt::format("Layer '{}' ({}) inbound node {} reads layer '{}', which is not in the model",
                                       p.layer->name(), p.layer->class_name(), p.done, k.layer));
      const TensorKey& k = p.nodes[p.done].inputs[0];
      throw ValueError(fmt::format("Layer '{}' ({}) inbound node {} cannot be resolved: it reads tensor [{}, {}, {}], "
                                   "which no node of the config produces",
                                   p.layer->name(), p.layer->class_name(), p.done, k.layer, k.node, k.tensor));
    }
  auto endpoints = [&](const char* key) {
    std::vector<KerasTensor<T>> out;
    for (const TensorKey& k : parse_endpoints(member(cfg, key, "Functional config"), std::string("Functional config ") + key)) {
      const KerasTensor<T>* t = lookup(k);
      if (!t)
        throw ValueError(fmt::format("Functional config {}: tensor [{}, {}, {}] is not produced by the model", key,
                                     k.layer, k.node, k.tensor));
      out.push_back(*t);
    }
    return out;
  };
  std::vector<KerasTensor<T>> ins = endpoints("input_layers"), outs = endpoints("output_layers");
  for (auto it = cfg.begin(); it != cfg.end(); ++it)
    if (it.key() != "name" && it.key() != "layers" && it.key() != "input_layers" && it.key() != "output_layers" &&
        it.key() != "trainable")
      throw ValueError(fmt::format("Functional config: unrecognized key \"{}\" (value {})", it.key(), repr(it.value())));
  auto model = std::make_unique<Model<T>>(ins, outs, model_name);
  if (cfg.contains("trainable") && cfg.at("trainable") == false)
    for (const auto& l : model->layers()) l->set_trainable(false);
  return model;
}

template <typename T>
std::unique_ptr<ModelBase<T>> sequential_from_config(const json& cfg, const json& whole) {
  std::string name;
  if (cfg.contains("name")) {
    if (!cfg.at("name").is_string()) throw ValueError("Sequential config: \"name\" must be a string");
    name = cfg.at("name").get<std::string>();
  }
  const json& layers = member(cfg, "layers", "Sequential config");
  if (!layers.is_array()) throw ValueError("Sequential config: \"layers\" must be a list");
  auto model = std::make_unique<Sequential<T>>(name);
  std::optional<Shape> input_shape;
  for (const json& entry : layers) {
    std::shared_ptr<Layer<T>> layer = layer_from_config<T>(entry);
    if (auto* input = dynamic_cast<InputLayer<T>*>(layer.get())) {
      input_shape = input->sample_shape();
      continue;
    }
    model->add(layer);
  }
  if (!input_shape && whole.contains("build_config") && whole.at("build_config").is_object()) {
    const json& s = whole.at("build_config").contains("input_shape") ? whole.at("build_config").at("input_shape") : json();
    if (s.is_array() && !s.empty()) {
      Shape shape;
      for (size_t i = 1; i < s.size(); ++i) {
        if (!s[i].is_number_integer())
          throw ValueError(fmt::format("Sequential build_config: input_shape must hold integers after the batch "
                                       "axis. Received: {}",
                                       repr(s)));
        shape.push_back(s[i].get<int64_t>());
      }
      input_shape = shape;
    }
  }
  if (input_shape) model->build(*input_shape);
  return model;
}

}  // namespace

template <typename T>
json model_to_config(const ModelBase<T>& model) {
  if (auto* f = dynamic_cast<const Model<T>*>(&model)) return functional_config(*f);
  if (auto* s = dynamic_cast<const Sequential<T>*>(&model)) return sequential_config(*s);
  throw ValueError(fmt::format("model_to_config: model '{}' of class {} cannot be serialized", model.name(),
                               model.class_name()));
}

template <typename T>
std::string model_to_json(const ModelBase<T>& model, int indent) {
  return model_to_config(model).dump(indent);
}

template <typename T>
std::unique_ptr<ModelBase<T>> model_from_config(const json& config) {
  if (json_deeper_than(config)) throw ValueError("The model config nests arrays or objects too deeply");
  try {
    if (!config.is_object() || !config.contains("class_name") || !config.at("class_name").is_string())
      throw ValueError(fmt::format("A serialized model must be an object with a string \"class_name\". Received: {}",
                                   repr(config)));
    const std::string cls = config.at("class_name").get<std::string>();
    const json& cfg = member(config, "config", cls + " model");
    if (!cfg.is_object()) throw ValueError(fmt::format("{} model: \"config\" must be an object", cls));
    if (cls == "Functional" || cls == "Model") return functional_from_config<T>(cfg);
    if (cls == "Sequential") return sequential_from_config<T>(cfg, config);
    throw ValueError(fmt::format("Unknown model class '{}' (expected Functional or Sequential)", cls));
  } catch (const json::exception& e) {
    throw ValueError(fmt::format("Invalid model config: {}", e.what()));
  }
}

template <typename T>
std::unique_ptr<ModelBase<T>> model_from_json(const std::string& text) {
  return model_from_config<T>(parse_json_bounded(text, "model_from_json: the text"));
}

#define SEPCONV_INSTANTIATE(T)                                                          \
  template json model_to_config<T>(const ModelBase<T>&);                                \
  template std::string model_to_json<T>(const ModelBase<T>&, int);                      \
  template std::unique_ptr<ModelBase<T>> model_from_config<T>(const json&);             \
  template std::unique_ptr<ModelBase<T>> model_from_json<T>(const std::string&);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

#include "sepconv/model/functional.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/model/summary.h"

namespace sepconv {

namespace {

template <typename T>
std::string tensor_repr(const KerasTensor<T>& t) {
  return fmt::format("<KerasTensor shape={}, name={}>", shape_with_none(t.shape()), t.layer().name());
}

// Keras's map_graph: the nodes reachable from the outputs, ordered by
// decreasing depth; the layers likewise.
template <typename T>
struct GraphMap {
  std::vector<std::shared_ptr<Node<T>>> nodes;
  std::vector<std::shared_ptr<Layer<T>>> layers;
};

template <typename T>
GraphMap<T> map_graph(const std::vector<KerasTensor<T>>& outputs) {
  std::vector<std::shared_ptr<Node<T>>> decreasing;  // post-order of the walk
  std::set<const Node<T>*> finished, in_progress;
  std::map<const Layer<T>*, int64_t> layer_order;  // the walk's first meeting
  std::map<const Node<T>*, std::shared_ptr<Node<T>>> owner;
  // Iterative depth-first walk: a deep chain must not overflow the stack.
  struct Frame {
    std::shared_ptr<Node<T>> node;
    size_t next = 0;
  };
  for (const KerasTensor<T>& out : outputs) {
    if (finished.count(out.node().get())) continue;
    std::vector<Frame> stack{{out.node()}};
    while (!stack.empty()) {
      Frame& f = stack.back();
      const Node<T>* n = f.node.get();
      if (f.next == 0) {
        in_progress.insert(n);
        layer_order.emplace(f.node->layer.get(), static_cast<int64_t>(layer_order.size()));
      }
      if (f.next < f.node->inputs.size()) {
        std::shared_ptr<Node<T>> child = f.node->inputs[f.next++].node();
        if (in_progress.count(child.get()))
          throw ValueError(fmt::format("The functional graph has a cycle through layer '{}'", child->layer->name()));
        if (!finished.count(child.get())) stack.push_back({child});
        continue;
      }
      in_progress.erase(n);
      finished.insert(n);
      decreasing.push_back(f.node);
      stack.pop_back();
    }
  }
  // Depths: an output's node is 0, an inbound node is deeper than every consumer;
  // a layer's depth is the largest of its nodes'. Within a depth the nodes run
  // in the order Keras first records their depth (its nodes_depths dict), so a
  // layer shared across branches updates its state in Keras's order.
  std::map<const Node<T>*, int64_t> node_depth;
  std::vector<std::shared_ptr<Node<T>>> recorded;  // first-insertion order of node_depth
  std::map<const Layer<T>*, int64_t> layer_depth;
  std::map<const Node<T>*, std::shared_ptr<Node<T>>> by_pointer;
  for (const auto& n : decreasing) by_pointer[n.get()] = n;
  auto record = [&](const Node<T>* n) -> int64_t& {
    auto it = node_depth.find(n);
    if (it == node_depth.end()) {
      recorded.push_back(by_pointer.at(n));
      it = node_depth.emplace(n, 0).first;
    }
    return it->second;
  };
  for (auto it = decreasing.rbegin(); it != decreasing.rend(); ++it) {
    const Node<T>* n = it->get();
    int64_t& nd = record(n);
    const int64_t depth = std::max(nd, layer_depth[n->layer.get()]);
    layer_depth[n->layer.get()] = depth;
    nd = depth;
    for (const KerasTensor<T>& x : n->inputs) {
      int64_t& d = record(x.node().get());
      d = std::max(d, depth + 1);
    }
  }
  GraphMap<T> g;
  g.nodes = recorded;
  std::stable_sort(g.nodes.begin(), g.nodes.end(), [&](const auto& a, const auto& b) {
    return node_depth[a.get()] > node_depth[b.get()];
  });
  std::set<const Layer<T>*> seen;
  for (const auto& n : decreasing)
    if (seen.insert(n->layer.get()).second) g.layers.push_back(n->layer);
  std::stable_sort(g.layers.begin(), g.layers.end(), [&](const auto& a, const auto& b) {
    const int64_t da = layer_depth[a.get()], db = layer_depth[b.get()];
    return da != db ? da > db : layer_order[a.get()] < layer_order[b.get()];
  });
  return g;
}

}  // namespace

template <typename T>
Model<T>::Model(std::vector<KerasTensor<T>> inputs, std::vector<KerasTensor<T>> outputs, std::string name)
    : ModelBase<T>(name.empty() ? unique_layer_name("functional") : std::move(name)),
      inputs_(std::move(inputs)),
      outputs_(std::move(outputs)) {
  if (inputs_.empty()) throw ValueError(fmt::format("Model '{}': `inputs` must not be empty", this->name_));
  if (outputs_.empty()) throw ValueError(fmt::format("Model '{}': `outputs` must not be empty", this->name_));
  for (const KerasTensor<T>& x : inputs_) {
    if (!x.node()) throw ValueError(fmt::format("Model '{}': an input is an empty KerasTensor", this->name_));
    if (!dynamic_cast<const InputLayer<T>*>(x.node()->layer.get()))
      throw ValueError(fmt::format("Model '{}': every input must be the output of an Input (an InputLayer); {} comes "
                                   "from layer '{}' ({})",
                                   this->name_, tensor_repr(x), x.layer().name(), x.layer().class_name()));
  }
  for (const KerasTensor<T>& y : outputs_)
    if (!y.node()) throw ValueError(fmt::format("Model '{}': an output is an empty KerasTensor", this->name_));

  GraphMap<T> g = map_graph(outputs_);
  // Every path from an output must end at one of the inputs.
  std::set<const Node<T>*> computable;
  for (const KerasTensor<T>& x : inputs_) computable.insert(x.node().get());
  std::vector<std::string> accessed;
  for (const auto& n : g.nodes) {
    if (n->inputs.empty() && !computable.count(n.get()))
      throw ValueError(fmt::format("Graph disconnected: cannot find parent for tensor {} at layer \"{}\". The "
                                   "following previous layers were accessed without issue: [{}]",
                                   tensor_repr(KerasTensor<T>(n, 0)), n->layer->name(), fmt::join(accessed, ", ")));
    computable.insert(n.get());
    accessed.push_back("'" + n->layer->name() + "'");
  }
  for (const KerasTensor<T>& x : inputs_)
    if (std::find(g.nodes.begin(), g.nodes.end(), x.node()) == g.nodes.end())
      throw ValueError(fmt::format("Model '{}': input '{}' {} is not connected to any output", this->name_,
                                   x.layer().name(), tensor_repr(x)));
  std::set<std::string> names;
  for (const auto& l : g.layers)
    if (!names.insert(l->name()).second)
      throw ValueError(fmt::format("The name \"{}\" is used 2 times in the model. All operation names should be "
                                   "unique.",
                                   l->name()));
  nodes_ = std::move(g.nodes);
  this->layers_ = std::move(g.layers);
  for (const auto& l : this->layers_) {
    std::vector<std::shared_ptr<Node<T>>> calls = nodes_of(*l);
    for (size_t i = 0; i < calls.size(); ++i) node_index_[calls[i].get()] = static_cast<int64_t>(i);
  }
}

template <typename T>
Model<T>::Model(const KerasTensor<T>& input, const KerasTensor<T>& output, std::string name)
    : Model(std::vector<KerasTensor<T>>{input}, std::vector<KerasTensor<T>>{output}, std::move(name)) {}

template <typename T>
std::vector<std::shared_ptr<Node<T>>> Model<T>::nodes_of(const Layer<T>& layer) const {
  std::vector<std::shared_ptr<Node<T>>> out;
  for (const auto& n : nodes_)
    if (n->layer.get() == &layer) out.push_back(n);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->call_index < b->call_index; });
  return out;
}

template <typename T>
void Model<T>::build(const Shape& input_shape) {
  if (inputs_.size() != 1)
    throw ValueError(fmt::format("Model '{}' has {} inputs: build() takes the shape of one", this->name_, inputs_.size()));
  const Shape s = inputs_[0].shape();
  if (!std::equal(input_shape.begin(), input_shape.end(), s.begin() + 1, s.end()) ||
      input_shape.size() + 1 != s.size())
    throw ValueError(fmt::format("Model '{}' was built for inputs of shape {}. Received: input_shape={}", this->name_,
                                 shape_with_none(s), shape_str(input_shape)));
}

template <typename T>
Shape Model<T>::output_shape() const {
  return outputs_[0].shape();
}

template <typename T>
Variable<T> Model<T>::operator()(const Variable<T>& x, bool training) {
  if (inputs_.size() != 1 || outputs_.size() != 1)
    throw ValueError(fmt::format("Model '{}' has {} inputs and {} outputs: call it with call(inputs)", this->name_,
                                 inputs_.size(), outputs_.size()));
  return call({x}, training)[0];
}

template <typename T>
std::vector<Variable<T>> Model<T>::call(const std::vector<Variable<T>>& inputs, bool training) {
  if (inputs.size() != inputs_.size())
    throw ValueError(fmt::format("Model '{}' expects {} input(s), but it received {} input tensors", this->name_,
                                 inputs_.size(), inputs.size()));
  std::map<const Node<T>*, Variable<T>> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Layer<T>& input_layer = inputs_[i].layer();
    values.emplace(inputs_[i].node().get(), input_layer(inputs[i], training));  // checks the shape
  }
  std::vector<Variable<T>> activity;
  for (const auto& n : nodes_) {
    if (n->inputs.empty()) continue;  // an InputLayer
    std::vector<Variable<T>> args;
    for (const KerasTensor<T>& x : n->inputs) args.push_back(values.at(x.node().get()));
    Variable<T> y = n->inputs_as_list ? (*n->layer)(args, training) : (*n->layer)(args[0], training);
    for (const Variable<T>& a : n->layer->activity_losses()) activity.push_back(a);
    values.emplace(n.get(), std::move(y));
  }
  activity_losses_ = std::move(activity);
  std::vector<Variable<T>> out;
  for (const KerasTensor<T>& y : outputs_) out.push_back(values.at(y.node().get()));
  return out;
}

template <typename T>
Variable<T> Model<T>::regularization_loss() const {
  std::optional<Variable<T>> total;
  auto accumulate = [&](const Variable<T>& term) {
    if (!term.requires_grad() && term.value().item() == T(0)) return;
    total = total ? sepconv::add(*total, term) : term;
  };
  for (const auto& l : this->layers_) accumulate(l->weight_regularization_loss());
  for (const Variable<T>& a : activity_losses_) accumulate(reshape(a, Shape{}));
  return total ? *total : Variable<T>(Tensor<T>::scalar(T(0)));
}

template <typename T>
std::string Model<T>::summary() const {
  std::vector<SummaryRow> rows;
  for (const auto& l : this->layers_) {
    SummaryRow r;
    r.layer = fmt::format("{} ({})", l->name(), l->class_name());
    const auto calls = nodes_of(*l);
    r.output_shape = calls.empty() ? "?" : shape_with_none(KerasTensor<T>(calls[0], 0).shape());
    for (const Weight<T>& w : l->weights()) r.params += w.variable.value().size();
    for (const auto& n : calls)
      for (const KerasTensor<T>& x : n->inputs)
        r.connected_to.push_back(
            fmt::format("{}[{}][{}]", x.layer().name(), node_index(x.node().get()), x.index()));
    rows.push_back(std::move(r));
  }
  return render_summary(this->name_, rows, true, this->count_params(), this->count_trainable_params(), sizeof(T));
}

template class Model<float>;
template class Model<double>;

}  // namespace sepconv

#include "autograd/tape.h"

#include <fmt/format.h>

namespace sepconv {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

template <typename T>
void Variable<T>::add_grad(const Tensor<T>& g, const char* op) const {
  if (g.shape() != node_->value.shape())
    throw ShapeError(fmt::format("Gradient from {} has shape {} but the variable{} has shape {}", op,
                                 shape_str(g.shape()), node_->name.empty() ? "" : " '" + node_->name + "'",
                                 shape_str(node_->value.shape())));
  if (!node_->has_grad) {
    node_->grad = g.clone();
    node_->has_grad = true;
    return;
  }
  T* dst = node_->grad.data();
  const T* src = g.data();
  const int64_t n = g.size();
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

template <typename T>
Tensor<T>& Variable<T>::grad_buffer() const {
  if (!node_->has_grad) {
    node_->grad = Tensor<T>(node_->value.shape());
    node_->has_grad = true;
  }
  return node_->grad;
}

template <typename T>
Tape<T>& Tape<T>::current() {
  thread_local Tape<T> tape;
  return tape;
}

template <typename T>
void Tape<T>::record(const char* op, std::function<void()> backward) {
  entries_.push_back(Entry{op, std::move(backward), std::nullopt});
}

template <typename T>
void Tape<T>::record(const char* op, const Variable<T>& output, std::function<void()> backward) {
  entries_.push_back(Entry{op, std::move(backward), output});
}

template <typename T>
void Tape<T>::backward(Variable<T>& root, bool retain_graph) {
  if (root.value().size() != 1)
    throw ShapeError(fmt::format("backward() without a seed needs a single-element output, received shape {}",
                                 shape_str(root.shape())));
  backward(root, Tensor<T>::full(root.shape(), T(1)), retain_graph);
}

template <typename T>
void Tape<T>::backward(Variable<T>& root, const Tensor<T>& seed, bool retain_graph) {
  root.add_grad(seed, "backward seed");
  // Entries are replayed newest first; while they run, grad mode is off so a
  // backward closure that composes ops does not grow the tape it walks.
  NoGradGuard no_grad;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    it->backward();
    if (it->output && !it->output->same_as(root)) it->output->zero_grad();
  }
  if (!retain_graph) entries_.clear();
}

template class Variable<float>;
template class Variable<double>;
template class Tape<float>;
template class Tape<double>;

}  // namespace sepconv

#include "sepconv/autograd/tape.h"

#include <cmath>

#include <fmt/format.h>

namespace sepconv {

namespace {
thread_local bool g_grad_enabled = true;
thread_local std::vector<std::string> g_name_scopes;
bool g_check_numerics = false;
}  // namespace

void set_check_numerics(bool on) { g_check_numerics = on; }
bool check_numerics_enabled() { return g_check_numerics; }

NameScope::NameScope(const std::string& name) { g_name_scopes.push_back(name); }
NameScope::~NameScope() { g_name_scopes.pop_back(); }
std::string NameScope::current() {
  std::string s;
  for (const auto& n : g_name_scopes) s += (s.empty() ? "" : "/") + n;
  return s;
}

template <typename T>
void check_finite(const Tensor<T>& t, const char* op, const char* what) {
  if (!g_check_numerics) return;
  for (int64_t i = 0; i < t.size(); ++i) {
    if (!std::isfinite(t[i])) {
      const std::string scope = NameScope::current();
      throw NumericsError(fmt::format("Non-finite value ({}) in the {} of op '{}'{} at flat index {} of shape {}",
                                      static_cast<double>(t[i]), what, op,
                                      scope.empty() ? "" : " in layer '" + scope + "'", i, shape_str(t.shape())));
    }
  }
}
template void check_finite(const Tensor<float>&, const char*, const char*);
template void check_finite(const Tensor<double>&, const char*, const char*);

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
  own_grad();
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
  own_grad();
  return node_->grad;
}

template <typename T>
void Variable<T>::own_grad() const {
  if (!node_->grad_borrowed) return;
  node_->grad = node_->grad.clone();
  node_->grad_borrowed = false;
}

template <typename T>
Tape<T>& Tape<T>::current() {
  thread_local Tape<T> tape;
  return tape;
}

template <typename T>
void Tape<T>::record(const char* op, std::function<void()> backward) {
  entries_.push_back(Entry{op, std::move(backward), std::nullopt, {}});
}

template <typename T>
void Tape<T>::record(const char* op, const Variable<T>& output, std::function<void()> backward) {
  check_finite(output.value(), op, "output");
  entries_.push_back(Entry{op, std::move(backward), output, g_check_numerics ? NameScope::current() : std::string()});
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
  // The seed is only read (unless the root's gradient gets a second
  // contribution, which copies it first), so it is not copied: for a large
  // output that copy would be a pass over memory as long as a kernel's.
  root.add_grad_borrowed(seed, "backward seed");
  replay(root, retain_graph);
}

template <typename T>
void Tape<T>::backward(Variable<T>& root, Tensor<T>&& seed, bool retain_graph) {
  root.add_grad_owned(std::move(seed), "backward seed");
  replay(root, retain_graph);
}

template <typename T>
void Tape<T>::replay(Variable<T>& root, bool retain_graph) {
  // Entries are replayed newest first; while they run, grad mode is off so a
  // backward closure that composes ops does not grow the tape it walks.
  NoGradGuard no_grad;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (g_check_numerics && it->output && it->output->has_grad()) {
      NameScope scope(it->scope);
      check_finite(it->output->grad(), it->op, "incoming gradient");
    }
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

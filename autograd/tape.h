#pragma once
// The tape: ops append {name, backward closure} as they run; backward() replays
// the entries in reverse. Reverse creation order is a topological order (every
// entry's inputs were created before it), so no graph search is needed.
//
// There is one tape per thread and element type. An op records only when
// gradient mode is on and one of its inputs requires a gradient.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sepconv/autograd/variable.h"

namespace sepconv {

template <typename T>
class Tape {
 public:
  static Tape& current();

  // Records an op; `backward` reads its output's gradient and accumulates into
  // its inputs' gradients. The closure must capture only what backward needs.
  void record(const char* op, std::function<void()> backward);
  // Preferred form: also names the op's output, whose gradient the tape frees
  // right after the op's backward ran (outputs of ops are intermediates, as in
  // PyTorch). This keeps memory down and makes a retained graph replayable.
  void record(const char* op, const Variable<T>& output, std::function<void()> backward);

  // Seeds d(root)/d(root) = 1 (root must have one element) or `seed`, replays
  // the tape in reverse and then clears it, unless retain_graph is set.
  void backward(Variable<T>& root, bool retain_graph = false);
  // The seed is not copied: the root's gradient shares its storage (and is
  // copied before anything is added to it), so the seed is never written.
  void backward(Variable<T>& root, const Tensor<T>& seed, bool retain_graph = false);
  // Takes the seed's storage as the root's gradient.
  void backward(Variable<T>& root, Tensor<T>&& seed, bool retain_graph = false);

  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    const char* op;
    std::function<void()> backward;
    std::optional<Variable<T>> output;
    std::string scope;  // the name scope at record time, kept only when checking numerics
  };
  void replay(Variable<T>& root, bool retain_graph);
  std::vector<Entry> entries_;
};

// Whether ops record onto the tape on this thread (on by default).
bool grad_enabled();

// RAII scope in which no op is recorded (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Numerics checking (off by default): when on, every recorded op's output and
// every gradient flowing into an op is scanned, and the first NaN or infinity
// raises NumericsError naming the op and the innermost name scope (the layer).
void set_check_numerics(bool on);
bool check_numerics_enabled();
// Throws NumericsError if checking is on and `t` holds a non-finite value.
template <typename T>
void check_finite(const Tensor<T>& t, const char* op, const char* what);

// RAII name scope (a layer pushes its name while it runs), used in messages.
class NameScope {
 public:
  explicit NameScope(const std::string& name);
  ~NameScope();
  NameScope(const NameScope&) = delete;
  NameScope& operator=(const NameScope&) = delete;
  static std::string current();  // "outer/inner", or "" outside any scope
};

// True when an op over these inputs must be recorded.
template <typename T, typename... Vs>
bool needs_grad(const Vs&... inputs) {
  return grad_enabled() && (inputs.requires_grad() || ...);
}

// Convenience: backward through the current thread's tape.
template <typename T>
void backward(Variable<T>& root, bool retain_graph = false) {
  Tape<T>::current().backward(root, retain_graph);
}

}  // namespace sepconv

#pragma once
// Variable<T>: a handle to shared state {value, grad, requires_grad, name}.
// Copies of a Variable are the same variable (like a Python reference).
#include <memory>
#include <string>

#include "sepconv/core/tensor.h"

namespace sepconv {

template <typename T>
class Variable {
 public:
  Variable() : node_(std::make_shared<Node>()) {}
  explicit Variable(Tensor<T> value, bool requires_grad = false, std::string name = {})
      : node_(std::make_shared<Node>()) {
    node_->value = std::move(value);
    node_->requires_grad = requires_grad;
    node_->name = std::move(name);
  }

  const Tensor<T>& value() const { return node_->value; }
  Tensor<T>& value() { return node_->value; }
  const Shape& shape() const { return node_->value.shape(); }
  bool requires_grad() const { return node_->requires_grad; }
  void set_requires_grad(bool r) const { node_->requires_grad = r; }
  const std::string& name() const { return node_->name; }
  void set_name(std::string n) { node_->name = std::move(n); }

  // The accumulated gradient; empty (size 0) until backward reaches this variable.
  const Tensor<T>& grad() const { return node_->grad; }
  bool has_grad() const { return node_->has_grad; }
  // Handle semantics: these mutate the shared state, so they are const on the handle.
  void zero_grad() const {
    node_->grad = Tensor<T>();
    node_->has_grad = false;
    node_->grad_borrowed = false;
  }

  // grad += g. The shape must match the value's; `op` names the operation whose
  // backward produced g, for the error message.
  void add_grad(const Tensor<T>& g, const char* op) const;
  // Like add_grad, for a gradient the caller owns outright (no other handle
  // shares its storage): the first contribution is adopted without a copy.
  void add_grad_owned(Tensor<T>&& g, const char* op) const {
    if (can_adopt(g)) return adopt(std::move(g), false);
    add_grad(g, op);
  }
  // Like add_grad_owned, for a gradient whose storage someone else may still
  // hold and must never see written (a backward seed): it is adopted without a
  // copy, and copied only if a later contribution has to be added to it.
  void add_grad_borrowed(const Tensor<T>& g, const char* op) const {
    if (can_adopt(g)) return adopt(g, true);
    add_grad(g, op);
  }
  // Like add_grad, but lets the caller write into the gradient buffer directly:
  // returns the buffer, zero-filled if this is the first contribution.
  Tensor<T>& grad_buffer() const;

  bool same_as(const Variable& other) const { return node_ == other.node_; }

 private:
  // A first contribution of the right shape becomes the gradient as it is.
  bool can_adopt(const Tensor<T>& g) const { return !node_->has_grad && g.shape() == node_->value.shape(); }
  void adopt(Tensor<T> g, bool borrowed) const {
    node_->grad = std::move(g);
    node_->has_grad = true;
    node_->grad_borrowed = borrowed;
  }
  void own_grad() const;  // copies a borrowed gradient before it is written
  struct Node {
    Tensor<T> value;
    Tensor<T> grad;
    bool has_grad = false;
    bool grad_borrowed = false;  // grad shares storage it must not write (copy on write)
    bool requires_grad = false;
    std::string name;
  };
  std::shared_ptr<Node> node_;
};

}  // namespace sepconv

#pragma once
// The weight arguments Keras's Dense and Conv2D share: kernel_* and bias_*
// initializer, regularizer and constraint, and activity_regularizer. An
// options class derives from KernelBiasOptions<itself>, so the setters chain
// with its own: `DenseOptions(10).kernel_initializer("he_normal").use_bias(false)`.
// Identifiers are resolved when set (a bad one throws at once, as Keras's
// constructor does): a Keras name, a {"class_name", "config"} object, or a C++ object.
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "sepconv/core/error.h"
#include "sepconv/layers/config_reader.h"
#include "sepconv/layers/constraints.h"
#include "sepconv/layers/initializers.h"
#include "sepconv/layers/layer_checks.h"
#include "sepconv/layers/regularizers.h"

namespace sepconv {

template <typename Derived>
class KernelBiasOptions {
 public:
  Derived& kernel_initializer(const nlohmann::json& id) { return kernel_initializer(get_initializer(id)); }
  Derived& kernel_initializer(std::shared_ptr<Initializer> i) {
    kernel_initializer_ = required(std::move(i), "kernel_initializer");
    return self();
  }
  Derived& bias_initializer(const nlohmann::json& id) { return bias_initializer(get_initializer(id)); }
  Derived& bias_initializer(std::shared_ptr<Initializer> i) {
    bias_initializer_ = required(std::move(i), "bias_initializer");
    return self();
  }
  Derived& kernel_regularizer(const nlohmann::json& id) { return kernel_regularizer(get_regularizer(id)); }
  Derived& kernel_regularizer(std::shared_ptr<Regularizer> r) { kernel_regularizer_ = std::move(r); return self(); }
  Derived& bias_regularizer(const nlohmann::json& id) { return bias_regularizer(get_regularizer(id)); }
  Derived& bias_regularizer(std::shared_ptr<Regularizer> r) { bias_regularizer_ = std::move(r); return self(); }
  Derived& activity_regularizer(const nlohmann::json& id) { return activity_regularizer(get_regularizer(id)); }
  Derived& activity_regularizer(std::shared_ptr<Regularizer> r) { activity_regularizer_ = std::move(r); return self(); }
  Derived& kernel_constraint(const nlohmann::json& id) { return kernel_constraint(get_constraint(id)); }
  Derived& kernel_constraint(std::shared_ptr<Constraint> c) { kernel_constraint_ = std::move(c); return self(); }
  Derived& bias_constraint(const nlohmann::json& id) { return bias_constraint(get_constraint(id)); }
  Derived& bias_constraint(std::shared_ptr<Constraint> c) { bias_constraint_ = std::move(c); return self(); }

  const std::shared_ptr<Initializer>& kernel_initializer() const { return kernel_initializer_; }
  const std::shared_ptr<Initializer>& bias_initializer() const { return bias_initializer_; }
  const std::shared_ptr<Regularizer>& kernel_regularizer() const { return kernel_regularizer_; }
  const std::shared_ptr<Regularizer>& bias_regularizer() const { return bias_regularizer_; }
  const std::shared_ptr<Regularizer>& activity_regularizer() const { return activity_regularizer_; }
  const std::shared_ptr<Constraint>& kernel_constraint() const { return kernel_constraint_; }
  const std::shared_ptr<Constraint>& bias_constraint() const { return bias_constraint_; }

 protected:
  // The seven keys of a Keras config that are present (absent: the defaults).
  void read_kernel_bias_arguments(ConfigReader& r) {
    if (r.has("kernel_initializer")) kernel_initializer(r.raw("kernel_initializer"));
    if (r.has("bias_initializer")) bias_initializer(r.raw("bias_initializer"));
    if (r.has("kernel_regularizer")) kernel_regularizer(r.raw("kernel_regularizer"));
    if (r.has("bias_regularizer")) bias_regularizer(r.raw("bias_regularizer"));
    if (r.has("activity_regularizer")) activity_regularizer(r.raw("activity_regularizer"));
    if (r.has("kernel_constraint")) kernel_constraint(r.raw("kernel_constraint"));
    if (r.has("bias_constraint")) bias_constraint(r.raw("bias_constraint"));
  }

 public:
  // Writes the seven keys into a layer's get_config. activity_regularizer is
  // the layer's own (Layer::activity_regularizer), which may have been set
  // after construction.
  void write_kernel_bias_arguments(nlohmann::json& c, const std::shared_ptr<Regularizer>& activity) const {
    using layer_detail::serialize_or_null;
    c["kernel_initializer"] = serialize_or_null(kernel_initializer_);
    c["bias_initializer"] = serialize_or_null(bias_initializer_);
    c["kernel_regularizer"] = serialize_or_null(kernel_regularizer_);
    c["bias_regularizer"] = serialize_or_null(bias_regularizer_);
    c["activity_regularizer"] = serialize_or_null(activity);
    c["kernel_constraint"] = serialize_or_null(kernel_constraint_);
    c["bias_constraint"] = serialize_or_null(bias_constraint_);
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  static std::shared_ptr<Initializer> required(std::shared_ptr<Initializer> i, const char* argument) {
    if (!i)
      throw ValueError(std::string("Could not interpret initializer identifier: None (") + argument +
                       " must not be None)");
    return i;
  }
  std::shared_ptr<Initializer> kernel_initializer_ = get_initializer("glorot_uniform");
  std::shared_ptr<Initializer> bias_initializer_ = get_initializer("zeros");
  std::shared_ptr<Regularizer> kernel_regularizer_, bias_regularizer_, activity_regularizer_;
  std::shared_ptr<Constraint> kernel_constraint_, bias_constraint_;
};

}  // namespace sepconv

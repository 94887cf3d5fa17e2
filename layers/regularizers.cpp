#include "sepconv/layers/regularizers.h"

#include <cmath>

#include <fmt/format.h>

#include "sepconv/autograd/ops.h"
#include "sepconv/core/error.h"
#include "sepconv/layers/identifier.h"

namespace sepconv {

using nlohmann::json;

namespace {
// Keras's validate_float_arg: a finite, non-negative number.
double validate_factor(double v, const char* name) {
  if (!std::isfinite(v) || v < 0)
    throw ValueError(fmt::format("Invalid value for argument {}: expected a non-negative float. Received: {}={}", name,
                                 name, v));
  return v;
}

// l1 * sum(|x|) + l2 * sum(x^2), each term only when its factor is non-zero
// (as Keras's L1L2.__call__), the factors cast to the weight's dtype first.
template <typename T>
Variable<T> penalty(const Variable<T>& x, double l1, double l2) {
  std::optional<Variable<T>> total;
  if (l1 != 0) total = scale(sum(abs(x)), static_cast<T>(l1));
  if (l2 != 0) {
    Variable<T> t2 = scale(sum(square(x)), static_cast<T>(l2));
    total = total ? add(*total, t2) : t2;
  }
  return total ? *total : Variable<T>(Tensor<T>::scalar(T(0)));
}
}  // namespace

L1L2::L1L2(double l1, double l2) : l1_(validate_factor(l1, "l1")), l2_(validate_factor(l2, "l2")) {}
Variable<float> L1L2::operator()(const Variable<float>& x) const { return penalty(x, l1_, l2_); }
Variable<double> L1L2::operator()(const Variable<double>& x) const { return penalty(x, l1_, l2_); }
json L1L2::get_config() const { return json{{"l1", l1_}, {"l2", l2_}}; }

L1::L1(double l1) : L1L2(l1, 0.0) {}
json L1::get_config() const { return json{{"l1", l1_}}; }

L2::L2(double l2) : L1L2(0.0, l2) {}
json L2::get_config() const { return json{{"l2", l2_}}; }

namespace {
std::shared_ptr<Regularizer> make_regularizer(const std::string& name, const json& config, const json& identifier) {
  // Keras's ALL_OBJECTS_DICT: class names and their snake_case forms; a bare
  // string instantiates the class with its defaults (so "l1l2" is L1L2(0, 0)).
  if (name == "L1" || name == "l1") {
    detail::check_config_keys(config, {"l1"}, "L1");
    return std::make_shared<L1>(detail::config_number(config, "l1", 0.01, "L1"));
  }
  if (name == "L2" || name == "l2") {
    detail::check_config_keys(config, {"l2"}, "L2");
    return std::make_shared<L2>(detail::config_number(config, "l2", 0.01, "L2"));
  }
  if (name == "L1L2" || name == "l1l2" || name == "l1_l2") {
    detail::check_config_keys(config, {"l1", "l2"}, "L1L2");
    return std::make_shared<L1L2>(detail::config_number(config, "l1", 0.0, "L1L2"),
                                  detail::config_number(config, "l2", 0.0, "L1L2"));
  }
  detail::throw_uninterpretable(identifier, "regularizer",
                                "unknown regularizer; known: L1/l1, L2/l2, L1L2/l1l2/l1_l2");
}
}  // namespace

std::shared_ptr<Regularizer> get_regularizer(const json& identifier) {
  if (identifier.is_null()) return nullptr;
  if (identifier.is_string()) return get_regularizer(identifier.get<std::string>());
  const detail::ObjectSpec spec = detail::parse_object_spec(identifier, "regularizer");
  return make_regularizer(spec.class_name, spec.config, identifier);
}

std::shared_ptr<Regularizer> get_regularizer(const std::string& identifier) {
  return make_regularizer(identifier, json::object(), json(identifier));
}

json serialize(const Regularizer& r) {
  return json{{"module", "keras.regularizers"},
              {"class_name", r.class_name()},
              {"config", r.get_config()},
              {"registered_name", nullptr}};
}

}  // namespace sepconv

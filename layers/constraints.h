#pragma once
// Weight constraints (Keras: keras.constraints): projections applied to a
// weight after each optimizer step. `axis` indexes the weight's Keras shape;
// norms are taken over those axes (Keras's keepdims semantics).
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace sepconv {

class Constraint {
 public:
  virtual ~Constraint() = default;
  // Returns the projected weight (same shape); the input is not modified.
  virtual Tensor<float> operator()(const Tensor<float>& w) const = 0;
  virtual Tensor<double> operator()(const Tensor<double>& w) const = 0;
  virtual std::string class_name() const = 0;
  virtual nlohmann::json get_config() const = 0;
};

class MaxNorm;      // MaxNorm(max_value = 2, axis = 0)
class NonNeg;       // NonNeg()
class UnitNorm;     // UnitNorm(axis = 0)
class MinMaxNorm;   // MinMaxNorm(min_value = 0, max_value = 1, rate = 1, axis = 0)
// Definitions in constraints_impl / constraints.cpp (see the .cpp for the formulas).

// Keras's constraints.get: null -> nullptr, string ids ("max_norm", "MaxNorm",
// "non_neg", "NonNeg", "unit_norm", "UnitNorm", "min_max_norm", "MinMaxNorm"),
// {"class_name", "config"}; else ValueError "Could not interpret constraint identifier: ...".
std::shared_ptr<Constraint> get_constraint(const nlohmann::json& identifier);
std::shared_ptr<Constraint> get_constraint(const std::string& identifier);
nlohmann::json serialize(const Constraint& c);

}  // namespace sepconv

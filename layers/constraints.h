#pragma once
// Weight constraints (Keras: keras.constraints): projections applied to a
// weight after each optimizer step. `axis` indexes the weight's Keras shape;
// norms are taken over those axes (Keras's keepdims semantics). Formulas are
// Keras's, with its fuzz factor epsilon() = 1e-7:
//   MaxNorm:    w * clip(n, 0, max_value) / (eps + n)
//   UnitNorm:   w / (eps + n)
//   MinMaxNorm: w * (rate * clip(n, min_value, max_value) + (1 - rate) * n) / (eps + n)
//   NonNeg:     max(w, 0)
// where n = sqrt(sum(w^2 over axis)). The arithmetic runs in the weight's dtype.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/autograd/parameter.h"
#include "sepconv/core/tensor.h"

namespace sepconv {

// A constraint is a Projection (what the optimizer applies after its update)
// that Keras can serialize.
class Constraint : public Projection {
 public:
  virtual nlohmann::json get_config() const = 0;
};

// The axes a norm is taken over: one int (Keras's default form) or a list.
// Negative axes count from the end; an axis outside the weight's rank is a
// ValueError when the constraint is applied.
class NormAxis {
 public:
  NormAxis(int64_t axis = 0) : axes_{axis}, is_list_(false) {}  // NOLINT: implicit, as Keras takes an int
  NormAxis(std::vector<int64_t> axes) : axes_(std::move(axes)), is_list_(true) {}  // NOLINT
  NormAxis(std::initializer_list<int64_t> axes) : axes_(axes), is_list_(true) {}   // NOLINT
  // An int or a list of ints; ValueError naming `axis` otherwise.
  static NormAxis from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;  // an int stays an int, a list a list
  const std::vector<int64_t>& axes() const { return axes_; }
  // The axes normalized against a rank (sorted, deduplicated); ValueError when out of range.
  std::vector<int64_t> resolve(int64_t rank) const;

 private:
  std::vector<int64_t> axes_;
  bool is_list_;
};

// Norms over `axis`, broadcast back to w's shape (keepdims then broadcast):
// out[i] = sqrt(sum of w^2 over the elements sharing i's non-reduced coordinates).
template <typename T>
Tensor<T> norms_over_axes(const Tensor<T>& w, const NormAxis& axis);

class MaxNorm : public Constraint {
 public:
  explicit MaxNorm(double max_value = 2, NormAxis axis = 0);
  Tensor<float> operator()(const Tensor<float>& w) const override;
  Tensor<double> operator()(const Tensor<double>& w) const override;
  std::string class_name() const override { return "MaxNorm"; }
  nlohmann::json get_config() const override;
  double max_value() const { return max_value_; }
  const NormAxis& axis() const { return axis_; }

 private:
  double max_value_;
  NormAxis axis_;
};

class NonNeg : public Constraint {
 public:
  Tensor<float> operator()(const Tensor<float>& w) const override;
  Tensor<double> operator()(const Tensor<double>& w) const override;
  std::string class_name() const override { return "NonNeg"; }
  nlohmann::json get_config() const override { return nlohmann::json::object(); }
};

class UnitNorm : public Constraint {
 public:
  explicit UnitNorm(NormAxis axis = 0);
  Tensor<float> operator()(const Tensor<float>& w) const override;
  Tensor<double> operator()(const Tensor<double>& w) const override;
  std::string class_name() const override { return "UnitNorm"; }
  nlohmann::json get_config() const override;
  const NormAxis& axis() const { return axis_; }

 private:
  NormAxis axis_;
};

class MinMaxNorm : public Constraint {
 public:
  explicit MinMaxNorm(double min_value = 0.0, double max_value = 1.0, double rate = 1.0, NormAxis axis = 0);
  Tensor<float> operator()(const Tensor<float>& w) const override;
  Tensor<double> operator()(const Tensor<double>& w) const override;
  std::string class_name() const override { return "MinMaxNorm"; }
  nlohmann::json get_config() const override;
  double min_value() const { return min_value_; }
  double max_value() const { return max_value_; }
  double rate() const { return rate_; }
  const NormAxis& axis() const { return axis_; }

 private:
  double min_value_, max_value_, rate_;
  NormAxis axis_;
};

// Keras's constraints.get: null -> nullptr, string ids ("max_norm", "MaxNorm",
// "non_neg", "NonNeg", "unit_norm", "UnitNorm", "min_max_norm", "MinMaxNorm"),
// {"class_name", "config"}; else ValueError "Could not interpret constraint identifier: ...".
std::shared_ptr<Constraint> get_constraint(const nlohmann::json& identifier);
std::shared_ptr<Constraint> get_constraint(const std::string& identifier);
inline std::shared_ptr<Constraint> get_constraint(const char* identifier) {
  return get_constraint(std::string(identifier));
}
nlohmann::json serialize(const Constraint& c);

}  // namespace sepconv

#include "sepconv/layers/constraints.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/layers/identifier.h"
#include "sepconv/layers/keras_config.h"

namespace sepconv {

using nlohmann::json;

NormAxis NormAxis::from_json(const json& j) {
  if (j.is_number_integer()) return NormAxis(j.get<int64_t>());
  if (j.is_array()) {
    std::vector<int64_t> axes;
    for (const json& a : j) {
      if (!a.is_number_integer())
        throw ValueError(fmt::format("Invalid value for argument `axis`: expected an int or a list of ints. "
                                     "Received: axis={}",
                                     j.dump()));
      axes.push_back(a.get<int64_t>());
    }
    return NormAxis(std::move(axes));
  }
  throw ValueError(fmt::format(
      "Invalid value for argument `axis`: expected an int or a list of ints. Received: axis={}", j.dump()));
}

json NormAxis::to_json() const {
  if (!is_list_) return json(axes_.front());
  return json(axes_);
}

std::vector<int64_t> NormAxis::resolve(int64_t rank) const {
  std::vector<int64_t> out;
  for (int64_t a : axes_) {
    const int64_t r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank)
      throw ValueError(fmt::format("Invalid value for argument `axis`: axis {} is out of bounds for a weight of rank "
                                   "{} (valid: {} to {}). Received: axis={}",
                                   a, rank, -rank, rank - 1, to_json().dump()));
    out.push_back(r);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw ValueError(fmt::format("Invalid value for argument `axis`: repeated axis. Received: axis={}",
                                 to_json().dump()));
  return out;
}

template <typename T>
Tensor<T> norms_over_axes(const Tensor<T>& w, const NormAxis& axis) {
  const int64_t rank = w.rank();
  const std::vector<int64_t> axes = axis.resolve(rank);
  const Shape& shape = w.shape();
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
  // Each element belongs to the group of its non-reduced coordinates; the
  // group index is those coordinates flattened in row-major order.
  const int64_t n = w.size();
  std::vector<int64_t> group(static_cast<size_t>(n));
  int64_t groups = 1;
  for (int64_t d = 0; d < rank; ++d)
    if (!reduced[static_cast<size_t>(d)]) groups *= shape[static_cast<size_t>(d)];
  std::vector<int64_t> coord(static_cast<size_t>(rank), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t g = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (!reduced[static_cast<size_t>(d)]) g = g * shape[static_cast<size_t>(d)] + coord[static_cast<size_t>(d)];
    group[static_cast<size_t>(i)] = g;
    for (int64_t d = rank - 1; d >= 0; --d) {  // advance the row-major coordinate
      if (++coord[static_cast<size_t>(d)] < shape[static_cast<size_t>(d)]) break;
      coord[static_cast<size_t>(d)] = 0;
    }
  }
  std::vector<double> sums(static_cast<size_t>(groups), 0.0);
  for (int64_t i = 0; i < n; ++i) sums[static_cast<size_t>(group[i])] += static_cast<double>(w[i]) * w[i];
  Tensor<T> out(shape);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(std::sqrt(sums[static_cast<size_t>(group[i])]));
  return out;
}
template Tensor<float> norms_over_axes(const Tensor<float>&, const NormAxis&);
template Tensor<double> norms_over_axes(const Tensor<double>&, const NormAxis&);

namespace {
// w * desired(n) / (eps + n), elementwise in the weight's dtype.
template <typename T, typename Desired>
Tensor<T> rescale(const Tensor<T>& w, const NormAxis& axis, Desired desired) {
  const Tensor<T> norms = norms_over_axes(w, axis);
  const T eps = static_cast<T>(epsilon());
  Tensor<T> out(w.shape());
  for (int64_t i = 0; i < w.size(); ++i) out[i] = w[i] * (desired(norms[i]) / (eps + norms[i]));
  return out;
}
template <typename T>
T clip(T v, T lo, T hi) {
  return std::min(std::max(v, lo), hi);
}
}  // namespace

MaxNorm::MaxNorm(double max_value, NormAxis axis) : max_value_(max_value), axis_(std::move(axis)) {}
template <typename T>
static Tensor<T> max_norm_apply(const Tensor<T>& w, double max_value, const NormAxis& axis) {
  const T hi = static_cast<T>(max_value);
  return rescale(w, axis, [hi](T n) { return clip(n, T(0), hi); });
}
Tensor<float> MaxNorm::operator()(const Tensor<float>& w) const { return max_norm_apply(w, max_value_, axis_); }
Tensor<double> MaxNorm::operator()(const Tensor<double>& w) const { return max_norm_apply(w, max_value_, axis_); }
json MaxNorm::get_config() const { return json{{"max_value", max_value_}, {"axis", axis_.to_json()}}; }

template <typename T>
static Tensor<T> non_neg_apply(const Tensor<T>& w) {
  Tensor<T> out(w.shape());
  for (int64_t i = 0; i < w.size(); ++i) out[i] = std::isnan(w[i]) ? w[i] : std::max(w[i], T(0));
  return out;
}
Tensor<float> NonNeg::operator()(const Tensor<float>& w) const { return non_neg_apply(w); }
Tensor<double> NonNeg::operator()(const Tensor<double>& w) const { return non_neg_apply(w); }

UnitNorm::UnitNorm(NormAxis axis) : axis_(std::move(axis)) {}
template <typename T>
static Tensor<T> unit_norm_apply(const Tensor<T>& w, const NormAxis& axis) {
  const Tensor<T> norms = norms_over_axes(w, axis);
  const T eps = static_cast<T>(epsilon());
  Tensor<T> out(w.shape());
  for (int64_t i = 0; i < w.size(); ++i) out[i] = w[i] / (eps + norms[i]);
  return out;
}
Tensor<float> UnitNorm::operator()(const Tensor<float>& w) const { return unit_norm_apply(w, axis_); }
Tensor<double> UnitNorm::operator()(const Tensor<double>& w) const { return unit_norm_apply(w, axis_); }
json UnitNorm::get_config() const { return json{{"axis", axis_.to_json()}}; }

MinMaxNorm::MinMaxNorm(double min_value, double max_value, double rate, NormAxis axis)
    : min_value_(min_value), max_value_(max_value), rate_(rate), axis_(std::move(axis)) {}
template <typename T>
static Tensor<T> min_max_apply(const Tensor<T>& w, double min_value, double max_value, double rate,
                               const NormAxis& axis) {
  const T lo = static_cast<T>(min_value), hi = static_cast<T>(max_value), r = static_cast<T>(rate);
  const T one_minus_r = static_cast<T>(1 - rate);
  return rescale(w, axis, [=](T n) { return r * clip(n, lo, hi) + one_minus_r * n; });
}
Tensor<float> MinMaxNorm::operator()(const Tensor<float>& w) const {
  return min_max_apply(w, min_value_, max_value_, rate_, axis_);
}
Tensor<double> MinMaxNorm::operator()(const Tensor<double>& w) const {
  return min_max_apply(w, min_value_, max_value_, rate_, axis_);
}
json MinMaxNorm::get_config() const {
  return json{{"min_value", min_value_}, {"max_value", max_value_}, {"rate", rate_}, {"axis", axis_.to_json()}};
}

namespace {
NormAxis config_axis(const json& config) {
  if (!config.contains("axis") || config.at("axis").is_null()) return NormAxis(0);
  return NormAxis::from_json(config.at("axis"));
}

std::shared_ptr<Constraint> make_constraint(const std::string& name, const json& config, const json& identifier) {
  if (name == "MaxNorm" || name == "max_norm") {
    detail::check_config_keys(config, {"max_value", "axis"}, "MaxNorm");
    return std::make_shared<MaxNorm>(detail::config_number(config, "max_value", 2.0, "MaxNorm"), config_axis(config));
  }
  if (name == "NonNeg" || name == "non_neg") {
    detail::check_config_keys(config, {}, "NonNeg");
    return std::make_shared<NonNeg>();
  }
  if (name == "UnitNorm" || name == "unit_norm") {
    detail::check_config_keys(config, {"axis"}, "UnitNorm");
    return std::make_shared<UnitNorm>(config_axis(config));
  }
  if (name == "MinMaxNorm" || name == "min_max_norm") {
    detail::check_config_keys(config, {"min_value", "max_value", "rate", "axis"}, "MinMaxNorm");
    return std::make_shared<MinMaxNorm>(detail::config_number(config, "min_value", 0.0, "MinMaxNorm"),
                                        detail::config_number(config, "max_value", 1.0, "MinMaxNorm"),
                                        detail::config_number(config, "rate", 1.0, "MinMaxNorm"),
                                        config_axis(config));
  }
  detail::throw_uninterpretable(
      identifier, "constraint",
      "unknown constraint; known: MaxNorm/max_norm, NonNeg/non_neg, UnitNorm/unit_norm, MinMaxNorm/min_max_norm");
}
}  // namespace

std::shared_ptr<Constraint> get_constraint(const json& identifier) {
  if (identifier.is_null()) return nullptr;
  if (identifier.is_string()) return get_constraint(identifier.get<std::string>());
  const detail::ObjectSpec spec = detail::parse_object_spec(identifier, "constraint");
  return make_constraint(spec.class_name, spec.config, identifier);
}

std::shared_ptr<Constraint> get_constraint(const std::string& identifier) {
  return make_constraint(identifier, json::object(), json(identifier));
}

json serialize(const Constraint& c) {
  return json{{"module", "keras.constraints"},
              {"class_name", c.class_name()},
              {"config", c.get_config()},
              {"registered_name", nullptr}};
}

}  // namespace sepconv

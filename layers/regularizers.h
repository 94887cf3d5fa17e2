#pragma once
// Weight regularizers (Keras: keras.regularizers). A regularizer maps a weight
// to a scalar penalty, as a taped op so its gradient joins the objective.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "sepconv/autograd/variable.h"

namespace sepconv {

class Regularizer {
 public:
  virtual ~Regularizer() = default;
  virtual Variable<float> operator()(const Variable<float>& x) const = 0;
  virtual Variable<double> operator()(const Variable<double>& x) const = 0;
  virtual std::string class_name() const = 0;
  virtual nlohmann::json get_config() const = 0;
};

// loss = l1 * sum(|x|) + l2 * sum(x^2)
class L1L2 : public Regularizer {
 public:
  explicit L1L2(double l1 = 0.0, double l2 = 0.0);
  Variable<float> operator()(const Variable<float>& x) const override;
  Variable<double> operator()(const Variable<double>& x) const override;
  std::string class_name() const override { return "L1L2"; }
  nlohmann::json get_config() const override;
  double l1() const { return l1_; }
  double l2() const { return l2_; }

 protected:
  double l1_, l2_;
};
class L1 : public L1L2 {
 public:
  explicit L1(double l1 = 0.01);
  std::string class_name() const override { return "L1"; }
  nlohmann::json get_config() const override;
};
class L2 : public L1L2 {
 public:
  explicit L2(double l2 = 0.01);
  std::string class_name() const override { return "L2"; }
  nlohmann::json get_config() const override;
};

// Keras's regularizers.get: accepts null (returns nullptr), a string id
// ("l1", "L1", "l2", "l1l2", "l1_l2", "L1L2"), a {"class_name", "config"}
// object, or fails with ValueError "Could not interpret regularizer identifier: ...".
std::shared_ptr<Regularizer> get_regularizer(const nlohmann::json& identifier);
std::shared_ptr<Regularizer> get_regularizer(const std::string& identifier);
inline std::shared_ptr<Regularizer> get_regularizer(const char* identifier) {
  return get_regularizer(std::string(identifier));
}
nlohmann::json serialize(const Regularizer& r);  // {"class_name", "config"}

}  // namespace sepconv

#include "sepconv/optim/adam.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace sepconv {

namespace {
void require_beta(const char* name, double beta) {
  if (!(beta >= 0 && beta < 1))
    throw ValueError(fmt::format("Argument `{}` must be in [0, 1). Received: {}={}", name, name, beta));
}
}  // namespace

template <typename T>
template <typename Options>
Adam<T>::Adam(const Options& options, std::string default_name)
    : Optimizer<T>(options.common(), std::move(default_name)),
      beta_1_(options.beta_1()),
      beta_2_(options.beta_2()),
      epsilon_(options.epsilon()),
      amsgrad_(options.amsgrad()) {
  require_beta("beta_1", beta_1_);
  require_beta("beta_2", beta_2_);
  optim_detail::require_non_negative("epsilon", epsilon_);
}

template <typename T>
Adam<T>::Adam(const AdamOptions& options) : Adam(options, "adam") {}

template <typename T>
AdamW<T>::AdamW(const AdamWOptions& options) : Adam<T>(options, "adamw") {
  if (!this->weight_decay())
    throw ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None");
}

template <typename T>
std::vector<std::string> Adam<T>::slot_names() const {
  if (amsgrad_) return {"momentum", "velocity", "velocity_hat"};
  return {"momentum", "velocity"};
}

template <typename T>
void Adam<T>::update_step(const Tensor<T>& gradient, Tensor<T>& variable, std::vector<Tensor<T>>& slots,
                          double learning_rate) {
  const double t = static_cast<double>(this->iterations() + 1);
  const T alpha =
      static_cast<T>(learning_rate * std::sqrt(1 - std::pow(beta_2_, t)) / (1 - std::pow(beta_1_, t)));
  const T one_minus_b1 = static_cast<T>(1 - beta_1_), one_minus_b2 = static_cast<T>(1 - beta_2_);
  const T eps = static_cast<T>(epsilon_);
  const int64_t n = variable.size();
  T* w = variable.data();
  const T* g = gradient.data();
  T* m = slots[0].data();
  T* v = slots[1].data();
  T* v_hat = amsgrad_ ? slots[2].data() : nullptr;
  for (int64_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * one_minus_b1;
    v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
    T denom_v = v[i];
    if (v_hat) {
      v_hat[i] = std::max(v_hat[i], v[i]);
      denom_v = v_hat[i];
    }
    w[i] -= (m[i] * alpha) / (std::sqrt(denom_v) + eps);
  }
}

template <typename T>
nlohmann::json Adam<T>::get_config() const {
  nlohmann::json config = Optimizer<T>::get_config();
  config["beta_1"] = beta_1_;
  config["beta_2"] = beta_2_;
  config["epsilon"] = epsilon_;
  config["amsgrad"] = amsgrad_;
  return config;
}

template class Adam<float>;
template class Adam<double>;
template class AdamW<float>;
template class AdamW<double>;

}  // namespace sepconv

#include "sepconv/optim/sgd.h"

#include <cmath>

#include <fmt/format.h>

namespace sepconv {

template <typename T>
SGD<T>::SGD(const SGDOptions& options)
    : Optimizer<T>(options.common(), "SGD"), momentum_(options.momentum()), nesterov_(options.nesterov()) {
  if (!(momentum_ >= 0 && momentum_ <= 1))
    throw ValueError(fmt::format("`momentum` must be a float between [0, 1]. Received: momentum={}", momentum_));
}

template <typename T>
std::vector<std::string> SGD<T>::slot_names() const {
  if (momentum_ == 0) return {};
  return {"momentum"};
}

template <typename T>
void SGD<T>::update_step(const Tensor<T>& gradient, Tensor<T>& variable, std::vector<Tensor<T>>& slots,
                         double learning_rate) {
  const T lr = static_cast<T>(learning_rate);
  const int64_t n = variable.size();
  T* w = variable.data();
  const T* g = gradient.data();
  if (momentum_ == 0) {
    for (int64_t i = 0; i < n; ++i) w[i] -= g[i] * lr;
    return;
  }
  const T mu = static_cast<T>(momentum_);
  T* m = slots[0].data();
  if (nesterov_) {
    for (int64_t i = 0; i < n; ++i) {
      m[i] = m[i] * mu - g[i] * lr;
      w[i] += m[i] * mu - g[i] * lr;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      m[i] = m[i] * mu - g[i] * lr;
      w[i] += m[i];
    }
  }
}

template <typename T>
nlohmann::json SGD<T>::get_config() const {
  nlohmann::json config = Optimizer<T>::get_config();
  config["momentum"] = momentum_;
  config["nesterov"] = nesterov_;
  return config;
}

template class SGD<float>;
template class SGD<double>;

}  // namespace sepconv

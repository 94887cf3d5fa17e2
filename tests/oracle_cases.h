#pragma once
// Test helpers for the reference cases in tests/data/oracle (format in
// FORMAT.md there): finding the cases of one family, reading tensors, and
// comparing with a tolerance relative to the expected tensor's largest value.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/core/tensor.h"

namespace sepconv::test {

inline std::string oracle_dir() { return std::string(SEPCONV_TEST_DATA) + "/oracle"; }

// Every case file whose name starts with `prefix`, sorted (cases may sit in
// oracle/ or oracle/cases/).
inline std::vector<std::string> oracle_cases(const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& dir : {oracle_dir(), oracle_dir() + "/cases"}) {
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && e.path().extension() == ".json") out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline nlohmann::json load_case(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

template <typename T>
Tensor<T> json_tensor(const nlohmann::json& j) {
  Shape shape = j.at("shape").get<Shape>();
  std::vector<T> values;
  for (const auto& v : j.at("data")) values.push_back(static_cast<T>(v.get<double>()));
  return Tensor<T>(shape, values);
}

// max |actual - expected| / max(max |expected|, 1e-30); +inf when shapes differ.
template <typename T>
double relative_error(const Tensor<T>& actual, const Tensor<T>& expected) {
  if (actual.shape() != expected.shape()) return INFINITY;
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < expected.size(); ++i) {
    const double d = std::fabs(double(actual[i]) - double(expected[i]));
    worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    scale = std::max(scale, std::fabs(double(expected[i])));
  }
  return worst / std::max(scale, 1e-30);
}

// Tolerances of FORMAT.md: float64 to about 1e-10 (we ask 1e-9); float32
// layer-sized computations to 1e-5, multi-step training to 1e-4.
template <typename T>
constexpr double single_step_tolerance() {
  return sizeof(T) == 8 ? 1e-9 : 1e-5;
}
template <typename T>
constexpr double training_tolerance() {
  return sizeof(T) == 8 ? 1e-9 : 1e-4;
}

}  // namespace sepconv::test

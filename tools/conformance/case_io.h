#pragma once
// JSON <-> tensor helpers shared by the conformance runner's case kinds.
// A tensor is {"shape": [d0, d1, ...], "data": [flat values, row-major]}.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sepconv/core/tensor.h"

namespace sepconv::conformance {

// Reads and parses a case file; IOError naming the file when it cannot be read
// or is not valid JSON.
nlohmann::json read_case_file(const std::string& path);

// Parses {"shape", "data"} into a tensor of element type T (values are read as
// double and converted; null stands for NaN). `what` names the tensor in errors.
template <typename T>
Tensor<T> tensor_from_json(const nlohmann::json& j, const std::string& what);

// A list of tensors ([{"shape", "data"}, ...]).
template <typename T>
std::vector<Tensor<T>> tensors_from_json(const nlohmann::json& j, const std::string& what);

// {"shape", "data"}, each value converted to double (so float32 results print
// exactly; the runner's dump keeps every significant digit).
template <typename T>
nlohmann::json tensor_to_json(const Tensor<T>& t);

// c["tensors"][name] as a tensor; ValueError naming the case and tensor when missing.
template <typename T>
Tensor<T> case_tensor(const nlohmann::json& c, const std::string& name);
bool case_has_tensor(const nlohmann::json& c, const std::string& name);

// Formats a result object as one line of JSON with 17 significant digits for
// every number (nlohmann's shortest round-trip form already is exact; this
// writes NaN and infinities as the strings "NaN"/"Infinity"/"-Infinity" rather
// than null, so they stay visible in a comparison).
std::string dump_result(const nlohmann::json& result);

}  // namespace sepconv::conformance

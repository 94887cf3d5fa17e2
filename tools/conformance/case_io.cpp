#include "conformance/case_io.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/core/json_limits.h"
#include "sepconv/core/regular_file.h"

namespace sepconv::conformance {

using nlohmann::json;

// The largest reference cases (whole-model training runs) are a few MB of
// JSON; 1 GiB is far above them and still stops /dev/zero-like input early.
constexpr uint64_t kMaxCaseFileBytes = uint64_t{1} << 30;

json read_case_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_regular_file(path, kMaxCaseFileBytes, "case file");
  try {
    return parse_json_bounded(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                              fmt::format("Case file '{}'", path));
  } catch (const ValueError& e) {
    throw IOError(e.what());
  }
}

namespace {
double number_from_json(const json& v, const std::string& what) {
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "NaN" || s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity" || s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity" || s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  throw ValueError(fmt::format("Tensor '{}': data holds a non-number: {}", what, v.dump()));
}
}  // namespace

template <typename T>
Tensor<T> tensor_from_json(const json& j, const std::string& what) {
  if (!j.is_object() || !j.contains("shape") || !j.contains("data"))
    throw ValueError(fmt::format("Tensor '{}' must be an object {{\"shape\", \"data\"}}, received: {:.200}", what,
                                 j.dump()));
  const json& js = j.at("shape");
  if (!js.is_array()) throw ValueError(fmt::format("Tensor '{}': shape must be a list of ints", what));
  Shape shape;
  for (const json& d : js) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      throw ValueError(fmt::format("Tensor '{}': shape must be a list of non-negative ints, received {}", what,
                                   js.dump()));
    shape.push_back(d.get<int64_t>());
  }
  const json& jd = j.at("data");
  if (!jd.is_array()) throw ValueError(fmt::format("Tensor '{}': data must be a flat list of numbers", what));
  const int64_t n = shape_size(shape);
  if (static_cast<int64_t>(jd.size()) != n)
    throw ValueError(fmt::format("Tensor '{}': shape {} needs {} values, data holds {}", what, shape_str(shape), n,
                                 jd.size()));
  Tensor<T> t(shape);
  for (int64_t i = 0; i < n; ++i) t[i] = static_cast<T>(number_from_json(jd[static_cast<size_t>(i)], what));
  return t;
}

template <typename T>
std::vector<Tensor<T>> tensors_from_json(const json& j, const std::string& what) {
  if (!j.is_array()) throw ValueError(fmt::format("'{}' must be a list of tensors", what));
  std::vector<Tensor<T>> out;
  for (size_t i = 0; i < j.size(); ++i) out.push_back(tensor_from_json<T>(j[i], fmt::format("{}[{}]", what, i)));
  return out;
}

template <typename T>
json tensor_to_json(const Tensor<T>& t) {
  json data = json::array();
  for (int64_t i = 0; i < t.size(); ++i) data.push_back(static_cast<double>(t[i]));
  return json{{"shape", t.shape()}, {"data", std::move(data)}};
}

bool case_has_tensor(const json& c, const std::string& name) {
  return c.contains("tensors") && c.at("tensors").is_object() && c.at("tensors").contains(name) &&
         !c.at("tensors").at(name).is_null();
}

template <typename T>
Tensor<T> case_tensor(const json& c, const std::string& name) {
  if (!case_has_tensor(c, name))
    throw ValueError(fmt::format("Case '{}' has no tensor '{}'", c.value("name", std::string("?")), name));
  return tensor_from_json<T>(c.at("tensors").at(name), name);
}

namespace {
void write_json(std::string& out, const json& j) {
  switch (j.type()) {
    case json::value_t::number_float: {
      const double v = j.get<double>();
      if (std::isnan(v))
        out += "\"NaN\"";
      else if (std::isinf(v))
        out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      else
        out += fmt::format("{:.17g}", v);
      break;
    }
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const json& e : j) {
        if (!first) out += ',';
        first = false;
        write_json(out, e);
      }
      out += ']';
      break;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out += ',';
        first = false;
        out += json(it.key()).dump();
        out += ':';
        write_json(out, it.value());
      }
      out += '}';
      break;
    }
    default:
      out += j.dump();
  }
}
}  // namespace

std::string dump_result(const json& result) {
  std::string out;
  write_json(out, result);
  return out;
}

#define SEPCONV_INSTANTIATE(T)                                                          \
  template Tensor<T> tensor_from_json<T>(const json&, const std::string&);              \
  template std::vector<Tensor<T>> tensors_from_json<T>(const json&, const std::string&); \
  template json tensor_to_json<T>(const Tensor<T>&);                                    \
  template Tensor<T> case_tensor<T>(const json&, const std::string&);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv::conformance

#include "sepconv/layers/identifier.h"

#include <cctype>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/core/json_limits.h"

namespace sepconv::detail {

using nlohmann::json;

std::string identifier_repr(const json& identifier) {
  // json_excerpt: dump() recurses, and the identifier may come from anywhere.
  return identifier.is_string() ? identifier.get<std::string>() : json_excerpt(identifier);
}

void throw_uninterpretable(const json& identifier, const char* kind, const std::string& detail) {
  throw ValueError(fmt::format("Could not interpret {} identifier: {}{}", kind, identifier_repr(identifier),
                               detail.empty() ? "" : " (" + detail + ")"));
}

ObjectSpec parse_object_spec(const json& identifier, const char* kind) {
  // Before the copy of "config" below: copying a json recurses too, and a
  // caller may pass a value nested 100,000 deep that no bounded parse made.
  if (json_deeper_than(identifier))
    throw_uninterpretable(identifier, kind, fmt::format("nested deeper than {} levels", kMaxJsonNesting));
  if (!identifier.is_object() || !identifier.contains("class_name") || !identifier.at("class_name").is_string())
    throw_uninterpretable(identifier, kind, "expected a name or {\"class_name\": ..., \"config\": {...}}");
  for (auto it = identifier.begin(); it != identifier.end(); ++it)
    if (it.key() != "class_name" && it.key() != "config" && it.key() != "module" && it.key() != "registered_name")
      throw_uninterpretable(identifier, kind, fmt::format("unexpected key '{}'", it.key()));
  ObjectSpec spec;
  spec.class_name = identifier.at("class_name").get<std::string>();
  spec.config = identifier.value("config", json::object());
  if (spec.config.is_null()) spec.config = json::object();
  if (!spec.config.is_object()) throw_uninterpretable(identifier, kind, "\"config\" must be an object");
  return spec;
}

double config_number(const json& config, const char* key, double default_value, const std::string& owner) {
  if (!config.contains(key) || config.at(key).is_null()) return default_value;
  const json& v = config.at(key);
  if (!v.is_number() || v.is_boolean())
    throw ValueError(
        fmt::format("Invalid value for argument `{}` of {}: expected a number. Received: {}={}", key, owner, key, json_excerpt(v)));
  return v.get<double>();
}

void check_config_keys(const json& config, std::initializer_list<const char*> allowed, const std::string& owner) {
  for (auto it = config.begin(); it != config.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok)
      throw ValueError(fmt::format("Unrecognized keyword argument passed to {}: '{}' (accepted: {})", owner, it.key(),
                                   [&] {
                                     std::string s;
                                     for (const char* a : allowed) s += (s.empty() ? "" : ", ") + std::string(a);
                                     return s.empty() ? std::string("none") : s;
                                   }()));
  }
}

std::string to_snake_case(const std::string& name) {
  // Same three steps as keras.src.utils.naming.to_snake_case:
  //   drop non-word characters; "(.)([A-Z][a-z]+)" -> "\1_\2"; "([a-z])([A-Z])" -> "\1_\2"; lower.
  std::string s;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') s += c;
  auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto is_lower = [](char c) { return c >= 'a' && c <= 'z'; };
  std::string a;
  for (size_t i = 0; i < s.size(); ++i) {
    // A capital followed by a lowercase letter starts a word (regex matches are
    // non-overlapping, so the previous character must not itself have been the
    // start of a match consumed in the same step; with one character of context
    // that never happens for a capital+lowercase run).
    if (i > 0 && is_upper(s[i]) && i + 1 < s.size() && is_lower(s[i + 1])) a += '_';
    a += s[i];
  }
  std::string b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && is_upper(a[i]) && is_lower(a[i - 1])) b += '_';
    b += a[i];
  }
  for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return b;
}

}  // namespace sepconv::detail

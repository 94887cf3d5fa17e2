#include "sepconv/core/json_limits.h"

#include <utility>
#include <vector>

#include <fmt/format.h>

#include "sepconv/core/error.h"

namespace sepconv {

nlohmann::json parse_json_bounded(std::string_view text, const std::string& what) {
  bool too_deep = false;
  nlohmann::json::parser_callback_t check = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start) &&
        static_cast<size_t>(depth) >= kMaxJsonNesting) {
      too_deep = true;
      throw ValueError(fmt::format("{} nests arrays or objects deeper than {} levels", what, kMaxJsonNesting));
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), check);
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(fmt::format("{} is not valid JSON: {}", what, e.what()));
  }
}

bool json_deeper_than(const nlohmann::json& value, size_t limit) {
  std::vector<std::pair<const nlohmann::json*, size_t>> stack{{&value, 0}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (!v->is_structured()) continue;
    if (depth + 1 > limit) return true;
    for (const auto& child : *v) stack.emplace_back(&child, depth + 1);
  }
  return false;
}

std::string json_excerpt(const nlohmann::json& value, size_t max_chars) {
  if (json_deeper_than(value)) return fmt::format("<a {} nested deeper than {} levels>", value.type_name(), kMaxJsonNesting);
  std::string s = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

}  // namespace sepconv

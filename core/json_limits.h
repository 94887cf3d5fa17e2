#pragma once
// Bounds on the JSON the library accepts from outside (case files, model
// configs, keras.json, checkpoint metadata): nlohmann's dump and destructor
// recurse, so a value nested 100,000 deep would overflow the stack in an
// error message. Every text is parsed through parse_json_bounded, and error
// messages quote values through json_excerpt.
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sepconv {

// Deeper than any Keras config (a model config is about 8 levels deep).
constexpr size_t kMaxJsonNesting = 128;

// Parses `text`; ValueError naming `what` when it is not JSON or nests
// arrays/objects deeper than kMaxJsonNesting.
nlohmann::json parse_json_bounded(std::string_view text, const std::string& what);

// Whether the value nests deeper than `limit` (checked without recursion).
bool json_deeper_than(const nlohmann::json& value, size_t limit = kMaxJsonNesting);

// At most `max_chars` of the value's JSON text ("..." when cut), safe for any
// value: one nested too deeply is described rather than dumped.
std::string json_excerpt(const nlohmann::json& value, size_t max_chars = 200);

}  // namespace sepconv

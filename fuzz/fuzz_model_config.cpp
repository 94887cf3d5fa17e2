// Fuzzes the Keras model-config reader (model/keras_json.h): the config.json
// of a .keras file, Functional or Sequential, with every layer registry behind
// it.
//
// Input: the text, parsed as JSON. Accepted outcomes: a model, or one of
// sepconv's documented exceptions (ValueError, ShapeError). Anything else
// escaping, a crash, a hang or a sanitizer report is a bug. A model that is
// accepted must serialize to a config that rebuilds the same model (same
// serialization again).
//
// Resource limit: configs holding an integer above 4096 (a Dense of a billion
// units, an input of 10^5 x 10^5 pixels) are skipped. They are valid and build
// the model they describe; the fuzzer would only measure the allocator.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_common.h"
#include "sepconv/core/error.h"
#include "sepconv/core/json_limits.h"
#include "sepconv/model/keras_json.h"

using nlohmann::json;
using namespace sepconv;

namespace {

bool has_large_integer(const json& j) {
  if (j.is_number_integer()) return j.get<int64_t>() > 4096;
  if (j.is_number_unsigned()) return true;
  if (j.is_number_float()) return j.get<double>() > 4096.0;
  if (j.is_structured())
    for (const auto& e : j)
      if (has_large_integer(e)) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const json config = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return 0;
  // Nesting past kMaxJsonNesting: model_from_json (the text reader) refuses
  // it; has_large_integer, which recurses, must not see it.
  if (json_deeper_than(config)) {
    try {
      (void)model_from_json<float>(std::string(reinterpret_cast<const char*>(data), size));
      FUZZ_CHECK(false);
    } catch (const ValueError&) {
    }
    return 0;
  }
  if (has_large_integer(config)) return 0;
  std::string first;
  try {
    std::unique_ptr<ModelBase<float>> model = model_from_config<float>(config);
    first = model_to_json(*model);
  } catch (const ValueError&) {
    return 0;
  } catch (const ShapeError&) {
    return 0;
  }
  // What was accepted round-trips.
  std::unique_ptr<ModelBase<float>> again = model_from_json<float>(first);
  FUZZ_CHECK(model_to_json(*again) == first);
  return 0;
}

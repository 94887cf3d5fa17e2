// Fuzzes the reading of reference-case files (tests/data/oracle/FORMAT.md):
// the case JSON, its tensors through tools/conformance/case_io.h, and its
// layer config through SeparableConv2DOptions::from_config.
//
// Accepted outcomes: a result, or one of sepconv's documented exceptions
// (ValueError, ShapeError, IOError, NumericsError) or nlohmann::json::exception.
// Tensors read must write back to JSON that reads to the same tensor.
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "conformance/case_io.h"
#include "sepconv/core/error.h"
#include "sepconv/core/json_limits.h"
#include "fuzz_common.h"
#include "sepconv/layers/separable_conv2d.h"

using nlohmann::json;
using namespace sepconv;
using namespace sepconv::conformance;

namespace {

template <typename F>
void guarded(F&& f) {
  try {
    f();
  } catch (const ValueError&) {
  } catch (const ShapeError&) {
  } catch (const IOError&) {
  } catch (const NumericsError&) {
  } catch (const json::exception&) {
  }
}

bool same_values(const Tensor<double>& a, const Tensor<double>& b) {
  if (a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

void fuzz_tensor(const json& j, const std::string& what) {
  guarded([&] {
    Tensor<double> t = tensor_from_json<double>(j, what);
    Tensor<double> back = tensor_from_json<double>(tensor_to_json(t), what);
    FUZZ_CHECK(same_values(t, back));
    (void)dump_result(tensor_to_json(t));
  });
  guarded([&] { (void)tensor_from_json<float>(j, what); });
  guarded([&] { (void)tensors_from_json<double>(j, what); });
}

std::string g_case_path;  // a private file the input is written to, for read_case_file
std::string g_tmp_dir;    // removed at exit

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/sepconv_fuzz_case_XXXXXX";
  if (!::mkdtemp(tmpl)) std::abort();
  g_case_path = std::string(tmpl) + "/case.json";
  g_tmp_dir = tmpl;
  std::atexit([] {
    std::remove(g_case_path.c_str());
    ::rmdir(g_tmp_dir.c_str());
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json c = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  // The case reader refuses nesting past kMaxJsonNesting (its error messages
  // and dump_result recurse); such input goes no further than the reader.
  const bool too_deep = !c.is_discarded() && sepconv::json_deeper_than(c);
  {
    FILE* f = std::fopen(g_case_path.c_str(), "wb");
    FUZZ_CHECK(f != nullptr);
    if (size) FUZZ_CHECK(std::fwrite(data, 1, size, f) == size);
    std::fclose(f);
    try {
      json from_file = read_case_file(g_case_path);
      FUZZ_CHECK(!c.is_discarded() && !too_deep && from_file == c);
    } catch (const IOError&) {
      FUZZ_CHECK(c.is_discarded() || too_deep);
    }
  }
  if (c.is_discarded() || too_deep) return 0;
  guarded([&] { (void)dump_result(c); });
  if (!c.is_object()) {
    fuzz_tensor(c, "input");
    return 0;
  }
  guarded([&] {
    if (c.contains("tensors") && c["tensors"].is_object())
      for (const auto& item : c["tensors"].items()) {
        // A named copy, not a structured binding: clang 14 cannot capture those.
        const std::string name = item.key();
        fuzz_tensor(item.value(), name);
        guarded([&] {
          if (case_has_tensor(c, name)) (void)case_tensor<double>(c, name);
        });
      }
  });
  guarded([&] {
    if (c.contains("expected") && c["expected"].is_object())
      for (const auto& [name, t] : c["expected"].items()) fuzz_tensor(t, name);
  });
  guarded([&] { (void)case_tensor<float>(c, "input"); });
  guarded([&] {
    if (c.contains("layer")) {
      SeparableConv2DOptions opts = SeparableConv2DOptions::from_config(c["layer"]);
      SeparableConv2D<double> layer(opts);
      json config = layer.get_config();
      FUZZ_CHECK(SeparableConv2D<double>::from_config(config)->get_config() == config);
    }
  });
  return 0;
}

// Fuzzes the safetensors reader (io/safetensors.h) and the typed helpers.
//
// Accepted: a parsed file, or sepconv::IOError. A parsed file must re-encode
// (without error) to bytes that parse to the same content and re-encode
// identically; F32/F64 entries must convert to tensors (with NaN and infinity
// allowed; refused, they are a ValueError and nothing else) and I64 scalars to ints.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sepconv/core/error.h"
#include "fuzz_common.h"
#include "sepconv/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sepconv;
  SafeTensorsFile f;
  try {
    f = parse_safetensors(std::span<const uint8_t>(data, size), "fuzz-input");
  } catch (const IOError&) {
    return 0;
  }
  std::vector<uint8_t> bytes = encode_safetensors(f.tensors, f.metadata);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t{bytes[static_cast<size_t>(i)]} << (8 * i);
  FUZZ_CHECK(header_len % 8 == 0);  // the reference padding
  SafeTensorsFile g = parse_safetensors(bytes, "re-encoded");
  FUZZ_CHECK(g.tensors == f.tensors);
  FUZZ_CHECK(g.metadata == f.metadata);
  FUZZ_CHECK(encode_safetensors(g.tensors, g.metadata) == bytes);

  for (const auto& [name, t] : f.tensors) {
    if (t.dtype == "F32" || t.dtype == "F64") {
      Tensor<float> tf = tensor_from_safetensor<float>(t, t.shape, name, NonFinite::Allow);
      Tensor<double> td = tensor_from_safetensor<double>(t, name, NonFinite::Allow);
      // The default refuses non-finite values: exactly when one is there.
      bool tf_finite = std::all_of(tf.begin(), tf.end(), [](float v) { return std::isfinite(v); });
      try {
        (void)tensor_from_safetensor<float>(t, t.shape, name);
        FUZZ_CHECK(tf_finite);
      } catch (const ValueError&) {
        FUZZ_CHECK(!tf_finite);
      }
      FUZZ_CHECK(tf.shape() == t.shape && td.shape() == t.shape);
      if (t.dtype == "F32") FUZZ_CHECK(to_safetensor(tf) == t);
      if (t.dtype == "F64") FUZZ_CHECK(to_safetensor(td) == t);
      // A wrong expected shape is a ValueError, never anything worse.
      Shape wrong = t.shape;
      wrong.push_back(2);
      try {
        (void)tensor_from_safetensor<float>(t, wrong, name);
        FUZZ_CHECK(false);
      } catch (const ValueError&) {
      }
    } else if (t.dtype == "I64" && (t.shape.empty() || t.shape == Shape{1})) {
      int64_t v = int64_from_safetensor(t, name);
      FUZZ_CHECK(int64_scalar_safetensor(v).bytes == t.bytes);
    } else {
      try {
        (void)tensor_from_safetensor<double>(t, name);
        FUZZ_CHECK(false);
      } catch (const ValueError&) {
      }
    }
  }
  return 0;
}

// Fuzzes the IDX reader (io/idx.h) on raw and gzip-compressed bytes.
//
// Accepted: an IdxArray, or sepconv::IOError. Anything else escaping, a crash,
// a sanitizer report, or an allocation beyond what the input justifies, is a bug.
// A parsed array must re-encode to the exact raw bytes it came from.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sepconv/core/error.h"
#include "fuzz_common.h"
#include "sepconv/io/idx.h"

namespace {

// Raw input: parse_idx sees exactly these bytes, raw or (by their magic) gzip.
void check(std::span<const uint8_t> bytes, bool is_raw_idx) {
  sepconv::IdxArray a;
  try {
    a = sepconv::parse_idx(bytes, "fuzz-input");
  } catch (const sepconv::IOError&) {
    return;
  }
  FUZZ_CHECK(!a.dims.empty() && a.dims.size() <= 255);
  FUZZ_CHECK(a.data.size() == static_cast<size_t>(a.size()) * static_cast<size_t>(sepconv::idx_type_size(a.type)));
  std::vector<uint8_t> raw = sepconv::encode_idx(a, false);
  if (is_raw_idx) FUZZ_CHECK(std::vector<uint8_t>(bytes.begin(), bytes.end()) == raw);
  sepconv::IdxArray b = sepconv::parse_idx(raw);
  FUZZ_CHECK(b.type == a.type && b.dims == a.dims && b.data == a.data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  bool looks_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  check(in, !looks_gzip);
  // The same bytes behind a valid gzip wrapper, so mutations of the IDX
  // content also reach the gzip path (random bytes rarely inflate).
  if (!looks_gzip && size <= 4096) check(sepconv::gzip_compress(in), false);
  return 0;
}

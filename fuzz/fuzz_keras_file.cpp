// Fuzzes the .keras reader: io/zip_archive.h's parse_zip (libzip on an
// in-memory image), then model/keras_file.h's load_model_bytes (config.json
// through the model registry, model.weights.h5 through libhdf5).
//
// Accepted: a loaded model, or sepconv::IOError / ValueError. A parsed archive
// must re-encode to bytes that parse to the same members. The uncompressed
// cap is small (1 MiB) so a bomb is refused rather than exhausting memory.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_common.h"
#include "sepconv/sepconv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sepconv;
  constexpr uint64_t kCap = uint64_t{1} << 20;
  const std::span<const uint8_t> bytes(data, size);
  std::vector<ZipMember> members;
  try {
    members = parse_zip(bytes, "fuzz-input", kCap);
  } catch (const IOError&) {
    return 0;
  }
  try {
    FUZZ_CHECK(parse_zip(encode_zip(members), "re-encoded", kCap) == members);
  } catch (const ValueError&) {
    // a member name our writer refuses (e.g. with ".."), which a zip can hold
  }
  try {
    auto model = load_model_bytes<float>(bytes, "fuzz-input", kCap);
    FUZZ_CHECK(model != nullptr);
  } catch (const IOError&) {
  } catch (const ValueError&) {
  }
  return 0;
}

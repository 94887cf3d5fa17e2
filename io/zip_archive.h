#pragma once
// Zip archives as a list of named byte strings, on Debian's libzip. This file
// knows nothing of models; model/keras_file.h puts a Keras 3 `.keras` file
// (config.json, metadata.json, model.weights.h5) into one.
//
// Writing builds the whole archive in memory and hands it to
// write_file_atomic (io/atomic_file.h): a failed save leaves the old file.
// Entries get a fixed modification time (1980-01-01, the zip epoch), so the
// same members always give the same bytes.
//
// Reading opens an in-memory image; libzip never opens a path. Python's
// zipfile (which Keras uses) writes stored or deflated entries; both are read,
// nothing else: another compression method, an encrypted entry, a directory
// name with data, an empty, absolute or ".." name, a name twice, or more than
// kZipMaxEntries entries is refused. Against zip bombs the uncompressed bytes
// of all entries together are capped (max_uncompressed_bytes): the declared
// sizes are checked before anything is inflated and the inflated bytes while
// inflating, so a lying header cannot get past the cap either. Every entry's
// CRC-32 is checked (libzip checks it at the end of each read).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sepconv {

struct ZipMember {
  std::string name;
  std::vector<uint8_t> data;

  bool operator==(const ZipMember&) const = default;
};

enum class ZipCompression { kStored, kDeflated };

// Largest archive read, and largest total uncompressed size, by default
// (16 GiB, as for HDF5 and safetensors files).
inline constexpr uint64_t kZipMaxFileBytes = uint64_t{16} << 30;
inline constexpr uint64_t kZipMaxUncompressedBytes = uint64_t{16} << 30;
inline constexpr uint64_t kZipMaxEntries = 65535;

// The archive's bytes, members in the given order. ValueError for an empty,
// absolute or ".." name or a name twice; IOError if libzip fails.
std::vector<uint8_t> encode_zip(const std::vector<ZipMember>& members,
                                ZipCompression compression = ZipCompression::kStored);
// encode_zip, written with write_file_atomic.
void save_zip(const std::string& path, const std::vector<ZipMember>& members,
              ZipCompression compression = ZipCompression::kStored);

// The members of an archive image, in the archive's order (directory entries,
// names ending in '/', with no data are skipped). IOError naming `name`, the
// member where there is one, and the defect.
std::vector<ZipMember> parse_zip(std::span<const uint8_t> bytes, const std::string& name = "<memory>",
                                 uint64_t max_uncompressed_bytes = kZipMaxUncompressedBytes);
// Reads the regular file `path` (at most max_file_bytes), then parse_zip.
std::vector<ZipMember> load_zip(const std::string& path, uint64_t max_file_bytes = kZipMaxFileBytes,
                                uint64_t max_uncompressed_bytes = kZipMaxUncompressedBytes);

}  // namespace sepconv

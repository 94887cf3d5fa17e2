#pragma once
// The IDX array format of MNIST and Fashion-MNIST
// (http://yann.lecun.com/exdb/mnist/): bytes 0 0, a type code, the number of
// dimensions, one big-endian uint32 per dimension, then the elements,
// big-endian, row-major. Files may be gzip-compressed; that is recognised by
// the gzip magic bytes, not by the file name.
//
// Readers treat the bytes as hostile: every header field is checked against
// the data actually present before anything is allocated, a gzip stream is
// never inflated beyond what its header promises, and arrays above
// kIdxMaxDataBytes are refused.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace sepconv {

enum class IdxType : uint8_t {
  UInt8 = 0x08,
  Int8 = 0x09,
  Int16 = 0x0B,
  Int32 = 0x0C,
  Float32 = 0x0D,
  Float64 = 0x0E,
};

// "uint8", "int8", "int16", "int32", "float32", "float64".
const char* idx_type_name(IdxType type);
// Bytes per element of `type`.
int idx_type_size(IdxType type);

// Largest element payload accepted by default (2 GiB): far above any IDX data
// set (Fashion-MNIST's training images are 47 MB), far below what a forged
// header could make us allocate. Callers that know what to expect pass a
// tighter cap (IdxReadOptions::max_data_bytes).
inline constexpr uint64_t kIdxMaxDataBytes = uint64_t{2} << 30;

// Largest file read_idx accepts for a payload cap of `max_data_bytes`: the
// header (at most 4 + 4 * 255 bytes), the payload, and room for gzip's
// framing of incompressible data (deflate's stored blocks add 5 bytes per
// 64 KiB; each gzip member at least 18), so any honest file fits.
constexpr uint64_t idx_max_file_bytes(uint64_t max_data_bytes) {
  return max_data_bytes + max_data_bytes / 64 + (uint64_t{1} << 20);
}

// What an IDX header declares, not yet checked against the cap or the data
// (neither has happened when IdxReadOptions::check_header sees it).
// data_bytes saturates at UINT64_MAX rather than overflow.
struct IdxHeader {
  IdxType type = IdxType::UInt8;
  std::vector<int64_t> dims;
  uint64_t data_bytes = 0;  // product of dims x element size
};

struct IdxReadOptions {
  // Payloads (decompressed) above this many bytes are refused from the header,
  // before anything is allocated or inflated. At most kIdxMaxDataBytes (a
  // larger value counts as kIdxMaxDataBytes).
  uint64_t max_data_bytes = kIdxMaxDataBytes;
  // Called with the header before the payload is read; throws to refuse the
  // file. Lets a caller compare the header with what it expects (the images
  // file with its labels file's count) before committing memory to it.
  std::function<void(const IdxHeader&)> check_header;
};

struct IdxArray {
  IdxType type = IdxType::UInt8;
  std::vector<int64_t> dims;
  // The elements in host byte order, row-major; size() * idx_type_size(type) bytes.
  std::vector<uint8_t> data;

  int64_t size() const;  // number of elements (product of dims)
  // The elements as T, which must be the C++ type of `type` (uint8_t for
  // UInt8, int8_t, int16_t, int32_t, float, double); else ValueError.
  template <typename T>
  std::vector<T> values() const;
};

// Reads an IDX file, raw or gzip-compressed. Throws IOError naming the file and
// the defect: missing or unreadable, not a regular file (a FIFO or device is
// refused before anything is read), above idx_max_file_bytes, bad magic,
// unknown type code, no dimensions, a payload above options.max_data_bytes,
// a gzip file too small to inflate to the promised payload (deflate expands
// at most 1032:1), truncated data, trailing bytes, a corrupt or truncated gzip
// stream. A gzip payload is inflated in growing chunks, so memory follows the
// data actually present, not the header's claim.
IdxArray read_idx(const std::string& path, const IdxReadOptions& options = {});
// The same on bytes already in memory; `name` is used in error messages.
IdxArray parse_idx(std::span<const uint8_t> bytes, const std::string& name = "<memory>",
                   const IdxReadOptions& options = {});

// IDX bytes of `array` (gzip-compressed, deterministic: no time stamp or file
// name in the gzip header, when `gzip`). Throws ValueError when data.size()
// does not match the dims or a dimension does not fit in uint32.
std::vector<uint8_t> encode_idx(const IdxArray& array, bool gzip = false);
// gzip(1)-compatible compression of `bytes`, deterministic (no file name,
// time stamp 0), for writing .gz files and test data.
std::vector<uint8_t> gzip_compress(std::span<const uint8_t> bytes);

// encode_idx, written with write_file_atomic.
void write_idx(const std::string& path, const IdxArray& array, bool gzip = false);

}  // namespace sepconv

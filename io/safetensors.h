#pragma once
// The safetensors format (https://github.com/huggingface/safetensors): an
// 8-byte little-endian header length N, N bytes of JSON header
//   {"__metadata__": {"key": "value", ...},
//    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// then the tensors' bytes, little-endian, row-major, offsets relative to the
// end of the header.
//
// Writing is deterministic and byte-for-byte what the reference implementation
// writes (same tensors and metadata -> same bytes: tensors laid out widest
// dtype first, then in name order, which keeps every tensor aligned to its
// element size; metadata keys sorted; no time stamps; the header padded with
// spaces to a multiple of 8) and crash-safe
// (io/atomic_file.h). Reading validates everything and throws IOError naming
// the file and the defect.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sepconv/core/tensor.h"

namespace sepconv {

// One tensor as stored: its dtype code ("F32", "F64", "I64", ...), shape, and
// size-of(dtype) * prod(shape) bytes, little-endian.
struct SafeTensor {
  std::string dtype;
  Shape shape;
  std::vector<uint8_t> bytes;

  bool operator==(const SafeTensor&) const = default;
};
using SafeTensorMap = std::map<std::string, SafeTensor>;
using SafeTensorMetadata = std::map<std::string, std::string>;

struct SafeTensorsFile {
  SafeTensorMap tensors;
  SafeTensorMetadata metadata;
};

// Bytes per element of a dtype code, or nullopt for an unknown code. Known:
// BOOL U8 I8 F8_E5M2 F8_E4M3 (1), I16 U16 F16 BF16 (2), I32 U32 F32 (4),
// I64 U64 F64 (8).
std::optional<int> safetensors_dtype_size(const std::string& dtype);

// Largest header accepted, as in the reference implementation (100 MB).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
// Largest file load_safetensors reads by default (16 GiB): the whole file is
// held in memory, so this only stops a mistaken path (a disk image) before it
// is read; checkpoints of this library are far smaller.
inline constexpr uint64_t kSafetensorsMaxFileBytes = uint64_t{16} << 30;

// The file's bytes. Throws ValueError for an unknown dtype, a negative
// dimension, a byte count that does not match dtype and shape, or the reserved
// name "__metadata__".
std::vector<uint8_t> encode_safetensors(const SafeTensorMap& tensors, const SafeTensorMetadata& metadata = {});
// encode_safetensors, written with write_file_atomic (IOError on failure; the
// old file is then untouched).
void save_safetensors(const std::string& path, const SafeTensorMap& tensors,
                      const SafeTensorMetadata& metadata = {});

// Parses and validates: header length within the file and the 100 MB limit,
// a JSON object (no duplicate keys), known dtypes, non-negative shapes whose
// byte size does not overflow, offsets that tile the data area exactly (in
// order, no gaps, no overlaps, nothing left over), each matching dtype x shape,
// metadata a map of strings. IOError naming `name` and the defect otherwise.
SafeTensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name = "<memory>");
// Reads `path` as read_regular_file does (core/regular_file.h): a FIFO, device
// or directory is refused before anything is read, as is a file above
// max_bytes; then parse_safetensors.
SafeTensorsFile load_safetensors(const std::string& path, uint64_t max_bytes = kSafetensorsMaxFileBytes);

// Typed conversions. to_safetensor stores float as F32 and double as F64.
SafeTensor to_safetensor(const Tensor<float>& t);
SafeTensor to_safetensor(const Tensor<double>& t);
// Whether tensor_from_safetensor accepts NaN and infinities. Weights never
// legitimately hold them, and a model loaded with one computes NaN silently
// from then on, so Refuse is the default.
enum class NonFinite { Refuse, Allow };
// A Tensor<T> from an F32 or F64 entry (converting between the two). Throws
// ValueError naming `name` when the dtype is neither, or when the shape is not
// `expected_shape` (the overload without it accepts any shape). With
// NonFinite::Refuse, also when a value is NaN or infinite once converted to T:
// stored so, or an F64 value beyond float's range (1e300) read as float; the
// message names the tensor, the value and its flat index.
template <typename T>
Tensor<T> tensor_from_safetensor(const SafeTensor& st, const Shape& expected_shape, const std::string& name,
                                 NonFinite non_finite = NonFinite::Refuse);
template <typename T>
Tensor<T> tensor_from_safetensor(const SafeTensor& st, const std::string& name,
                                 NonFinite non_finite = NonFinite::Refuse);

// Rank-0 I64 entries, for counters such as an optimizer's iteration count.
SafeTensor int64_scalar_safetensor(int64_t value);
// Accepts a rank-0 or shape-(1,) I64 entry; ValueError naming `name` otherwise.
int64_t int64_from_safetensor(const SafeTensor& st, const std::string& name);

}  // namespace sepconv

#include "sepconv/io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <bit>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sepconv/core/error.h"
#include "sepconv/io/atomic_file.h"
#include "sepconv/core/regular_file.h"

namespace sepconv {

namespace {

using json = nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";
// Deeper than any valid header (which nests 3 levels); refusing early keeps a
// hostile "[[[[..." header from building a deep tree.
constexpr size_t kMaxJsonDepth = 16;

// Element count and byte size of shape x dtype, or nullopt on overflow.
std::optional<uint64_t> checked_nbytes(const Shape& shape, int elem) {
  uint64_t n = static_cast<uint64_t>(elem);
  for (int64_t d : shape) {
    auto u = static_cast<uint64_t>(d);
    if (u != 0 && n > std::numeric_limits<uint64_t>::max() / u) return std::nullopt;
    n *= u;
  }
  return n;
}

// Copies n little-endian elements of `size` bytes to host order (or back).
void copy_le(void* dst, const void* src, size_t n, size_t size) {
  std::memcpy(dst, src, n * size);
  if constexpr (std::endian::native == std::endian::big) {
    auto* p = static_cast<uint8_t*>(dst);
    for (size_t i = 0; i < n; ++i) std::reverse(p + i * size, p + (i + 1) * size);
  }
}

void validate_for_writing(const std::string& name, const SafeTensor& t) {
  if (name == kMetadataKey)
    throw ValueError("A tensor cannot be named \"__metadata__\": the name is reserved for the safetensors metadata");
  std::optional<int> elem = safetensors_dtype_size(t.dtype);
  if (!elem) throw ValueError(fmt::format("Tensor '{}' has unknown safetensors dtype '{}'", name, t.dtype));
  for (int64_t d : t.shape)
    if (d < 0)
      throw ValueError(fmt::format("Tensor '{}' has a negative dimension in shape {}", name, shape_str(t.shape)));
  std::optional<uint64_t> nbytes = checked_nbytes(t.shape, *elem);
  if (!nbytes || *nbytes != t.bytes.size())
    throw ValueError(fmt::format("Tensor '{}' of dtype {} and shape {} needs {} bytes, holds {}", name, t.dtype,
                                 shape_str(t.shape), nbytes ? std::to_string(*nbytes) : "too many",
                                 t.bytes.size()));
}

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw IOError(fmt::format("Cannot read safetensors file '{}': {}", file, what));
}

std::string describe(const json& j) {
  std::string s = j.dump(-1, ' ', true, json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

struct Entry {
  std::string name;
  std::string dtype;
  Shape shape;
  uint64_t begin, end, nbytes;
};

Entry parse_entry(const std::string& file, const std::string& name, const json& info) {
  if (!info.is_object())
    fail(file, fmt::format("the entry of tensor '{}' is {}, expected an object", name, describe(info)));
  auto field = [&](const char* key) -> const json& {
    auto it = info.find(key);
    if (it == info.end()) fail(file, fmt::format("tensor '{}' has no \"{}\"", name, key));
    return *it;
  };
  Entry e{name, {}, {}, 0, 0, 0};
  const json& dtype = field("dtype");
  if (!dtype.is_string()) fail(file, fmt::format("tensor '{}' has dtype {}, expected a string", name, describe(dtype)));
  e.dtype = dtype.get<std::string>();
  std::optional<int> elem = safetensors_dtype_size(e.dtype);
  if (!elem) fail(file, fmt::format("tensor '{}' has unknown dtype '{}'", name, e.dtype));

  const json& shape = field("shape");
  if (!shape.is_array())
    fail(file, fmt::format("tensor '{}' has shape {}, expected a list of integers", name, describe(shape)));
  for (const json& d : shape) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(file, fmt::format("tensor '{}' has shape {}, expected non-negative integers", name, describe(shape)));
    e.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  }
  std::optional<uint64_t> nbytes = checked_nbytes(e.shape, *elem);
  if (!nbytes) fail(file, fmt::format("tensor '{}' has shape {}, too large (its size overflows)", name,
                                      shape_str(e.shape)));
  e.nbytes = *nbytes;

  const json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail(file, fmt::format("tensor '{}' has data_offsets {}, expected [begin, end] with non-negative integers", name,
                           describe(offsets)));
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  if (e.end < e.begin)
    fail(file, fmt::format("tensor '{}' has data_offsets [{}, {}]: end before begin", name, e.begin, e.end));
  if (e.end - e.begin != e.nbytes)
    fail(file, fmt::format("tensor '{}' of dtype {} and shape {} needs {} bytes, its data_offsets [{}, {}] span {}",
                           name, e.dtype, shape_str(e.shape), e.nbytes, e.begin, e.end, e.end - e.begin));
  return e;
}

}  // namespace

namespace {
struct DtypeInfo {
  int size;
  int rank;  // position in the reference implementation's Dtype enum, in increasing alignment
};
const DtypeInfo* dtype_info(std::string_view dtype) {
  static const std::map<std::string, DtypeInfo, std::less<>> table = {
      {"BOOL", {1, 0}},  {"U8", {1, 1}},  {"I8", {1, 2}},   {"F8_E5M2", {1, 3}}, {"F8_E4M3", {1, 4}},
      {"I16", {2, 5}},   {"U16", {2, 6}}, {"F16", {2, 7}},  {"BF16", {2, 8}},    {"I32", {4, 9}},
      {"U32", {4, 10}},  {"F32", {4, 11}}, {"F64", {8, 12}}, {"I64", {8, 13}},   {"U64", {8, 14}}};
  auto it = table.find(dtype);
  return it == table.end() ? nullptr : &it->second;
}
}  // namespace

std::optional<int> safetensors_dtype_size(const std::string& dtype) {
  const DtypeInfo* info = dtype_info(dtype);
  if (!info) return std::nullopt;
  return info->size;
}

std::vector<uint8_t> encode_safetensors(const SafeTensorMap& tensors, const SafeTensorMetadata& metadata) {
  // The reference implementation's layout: widest dtype first, then by name.
  // With the header padded to 8 bytes, every tensor then starts at a multiple
  // of its element size, so a memory-mapped file can be read in place.
  std::vector<std::pair<const std::string*, const SafeTensor*>> order;
  for (const auto& [name, t] : tensors) {
    validate_for_writing(name, t);
    order.emplace_back(&name, &t);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return dtype_info(a.second->dtype)->rank > dtype_info(b.second->dtype)->rank;  // names already sorted
  });

  // The header text exactly as the reference writes it: compact JSON, the
  // metadata first (only when there is some), then one entry per tensor in
  // layout order with fields dtype, shape, data_offsets. Built piecewise
  // (nlohmann escaping the strings) so that many tensors stay linear time.
  std::string text = "{";
  uint64_t offset = 0;
  try {
    if (!metadata.empty()) {
      json meta = json::object();  // std::map ordered: keys sorted, as in `metadata`
      for (const auto& [k, v] : metadata) meta[k] = v;
      text += fmt::format("\"{}\":{}", kMetadataKey, meta.dump());
    }
    for (const auto& [name, t] : order) {
      if (text.size() > 1) text += ',';
      text += fmt::format("{}:{{\"dtype\":{},\"shape\":{},\"data_offsets\":[{},{}]}}", json(*name).dump(),
                          json(t->dtype).dump(), json(t->shape).dump(), offset, offset + t->bytes.size());
      offset += t->bytes.size();
    }
  } catch (const json::type_error& e) {
    throw ValueError(fmt::format("Tensor names and metadata must be valid UTF-8 ({})", e.what()));
  }
  text += '}';
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<uint8_t> out(8 + text.size() + offset);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* p = out.data() + 8 + text.size();
  for (const auto& [name, t] : order) {
    if (!t->bytes.empty()) std::memcpy(p, t->bytes.data(), t->bytes.size());
    p += t->bytes.size();
  }
  return out;
}

void save_safetensors(const std::string& path, const SafeTensorMap& tensors, const SafeTensorMetadata& metadata) {
  write_file_atomic(path, encode_safetensors(tensors, metadata));
}

SafeTensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < 8)
    fail(name, fmt::format("the file is {} bytes long, too short for the 8-byte header length", bytes.size()));
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t{bytes[static_cast<size_t>(i)]} << (8 * i);
  uint64_t after = bytes.size() - 8;
  if (header_len > kSafetensorsMaxHeaderBytes)
    fail(name, fmt::format("header length {} is above the {} bytes allowed", header_len, kSafetensorsMaxHeaderBytes));
  if (header_len > after)
    fail(name, fmt::format("header length {} runs past the end of the file ({} bytes follow the length)", header_len,
                           after));
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  if (header_len == 0 || text[0] != '{')
    fail(name, "the header does not start with '{' (not a safetensors file?)");

  json header;
  try {
    // Tracks the keys of each open object to refuse duplicates, which JSON
    // parsers resolve differently (last wins here, an error elsewhere).
    std::vector<std::set<std::string>> open_objects;
    json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
      switch (event) {
        case json::parse_event_t::object_start:
        case json::parse_event_t::array_start:
          if (static_cast<size_t>(depth) >= kMaxJsonDepth) fail(name, "the header JSON is nested too deeply");
          if (event == json::parse_event_t::object_start) open_objects.emplace_back();
          break;
        case json::parse_event_t::object_end:
          if (!open_objects.empty()) open_objects.pop_back();
          break;
        case json::parse_event_t::key:
          if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second)
            fail(name, fmt::format("the header repeats the key {}", describe(parsed)));
          break;
        default:
          break;
      }
      return true;
    };
    header = json::parse(text, text + header_len, check);
  } catch (const json::exception& e) {
    fail(name, fmt::format("the header is not valid JSON ({})", e.what()));
  }
  if (!header.is_object()) fail(name, "the header is not a JSON object");

  SafeTensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (value.is_null()) continue;
      if (!value.is_object()) fail(name, fmt::format("__metadata__ is {}, expected an object", describe(value)));
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          fail(name, fmt::format("__metadata__ value of '{}' is {}, expected a string", mk, describe(mv)));
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, key, value));
  }

  // The reference layout: tensors tile the data area in offset order.
  uint64_t data_size = after - header_len;
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    if (e.end > data_size)
      fail(name, fmt::format("tensor '{}' has data_offsets [{}, {}] beyond the {} bytes of data", e.name, e.begin,
                             e.end, data_size));
    if (e.begin < expected)
      fail(name, fmt::format("tensor '{}' has data_offsets [{}, {}] overlapping the previous tensor (which ends at {})",
                             e.name, e.begin, e.end, expected));
    if (e.begin > expected)
      fail(name, fmt::format("tensor '{}' has data_offsets [{}, {}], leaving bytes [{}, {}) unused", e.name, e.begin,
                             e.end, expected, e.begin));
    expected = e.end;
  }
  if (expected != data_size)
    fail(name, fmt::format("the tensors cover {} bytes of data but the file holds {} ({} bytes unaccounted for)",
                           expected, data_size, data_size - expected));

  const uint8_t* data = bytes.data() + 8 + header_len;
  for (Entry& e : entries) {
    SafeTensor t;
    t.dtype = std::move(e.dtype);
    t.shape = std::move(e.shape);
    t.bytes.assign(data + e.begin, data + e.end);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

SafeTensorsFile load_safetensors(const std::string& path, uint64_t max_bytes) {
  std::vector<uint8_t> bytes = read_regular_file(path, max_bytes, "safetensors file");
  return parse_safetensors(bytes, path);
}

namespace {
template <typename T>
SafeTensor to_safetensor_impl(const Tensor<T>& t, const char* dtype) {
  SafeTensor st{dtype, t.shape(), std::vector<uint8_t>(static_cast<size_t>(t.size()) * sizeof(T))};
  if (t.size() > 0) copy_le(st.bytes.data(), t.data(), static_cast<size_t>(t.size()), sizeof(T));
  return st;
}

template <typename Stored, typename T>
void convert_into(Tensor<T>& out, const SafeTensor& st, NonFinite non_finite, const std::string& name) {
  const size_t n = static_cast<size_t>(out.size());
  std::vector<Stored> stored;
  if constexpr (std::is_same_v<Stored, T>) {
    if (n > 0) copy_le(out.data(), st.bytes.data(), n, sizeof(T));
  } else {
    stored.resize(n);
    if (n > 0) copy_le(stored.data(), st.bytes.data(), n, sizeof(Stored));
    for (size_t i = 0; i < n; ++i) out[static_cast<int64_t>(i)] = static_cast<T>(stored[i]);
  }
  if (non_finite == NonFinite::Allow) return;
  // Checked after the conversion, on what the model would really hold: an F64
  // 1e300 is finite as stored but infinite as float.
  const T* v = out.data();
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(v[i])) continue;
    if (!stored.empty() && std::isfinite(stored[i]))
      throw ValueError(fmt::format("Weight '{}' holds {} at flat index {}, outside the range of {} (it would become "
                                   "{}); non-finite weights are refused",
                                   name, stored[i], i, sizeof(T) == 4 ? "float32" : "float64", v[i]));
    throw ValueError(fmt::format("Weight '{}' holds {} at flat index {}; non-finite weights are refused", name, v[i], i));
  }
}

template <typename T>
Tensor<T> from_safetensor_impl(const SafeTensor& st, const Shape* expected, const std::string& name,
                               NonFinite non_finite) {
  if (st.dtype != "F32" && st.dtype != "F64")
    throw ValueError(fmt::format("Weight '{}' is stored as {}, expected F32 or F64", name, st.dtype));
  if (expected && st.shape != *expected)
    throw ValueError(fmt::format("Weight '{}' expects shape {}, received saved weight with shape {}", name,
                                 shape_str(*expected), shape_str(st.shape)));
  size_t elem = st.dtype == "F32" ? 4 : 8;
  for (int64_t d : st.shape)
    if (d < 0) throw ValueError(fmt::format("Weight '{}' has negative shape {}", name, shape_str(st.shape)));
  std::optional<uint64_t> nbytes = checked_nbytes(st.shape, static_cast<int>(elem));
  if (!nbytes || *nbytes != st.bytes.size())
    throw ValueError(fmt::format("Weight '{}' of dtype {} and shape {} holds {} bytes, expected {}", name, st.dtype,
                                 shape_str(st.shape), st.bytes.size(), nbytes ? std::to_string(*nbytes) : "too many"));
  Tensor<T> out(st.shape);
  if (elem == 4)
    convert_into<float>(out, st, non_finite, name);
  else
    convert_into<double>(out, st, non_finite, name);
  return out;
}
}  // namespace

SafeTensor to_safetensor(const Tensor<float>& t) { return to_safetensor_impl(t, "F32"); }
SafeTensor to_safetensor(const Tensor<double>& t) { return to_safetensor_impl(t, "F64"); }

template <typename T>
Tensor<T> tensor_from_safetensor(const SafeTensor& st, const Shape& expected_shape, const std::string& name,
                                 NonFinite non_finite) {
  return from_safetensor_impl<T>(st, &expected_shape, name, non_finite);
}
template <typename T>
Tensor<T> tensor_from_safetensor(const SafeTensor& st, const std::string& name, NonFinite non_finite) {
  return from_safetensor_impl<T>(st, nullptr, name, non_finite);
}
template Tensor<float> tensor_from_safetensor<float>(const SafeTensor&, const Shape&, const std::string&, NonFinite);
template Tensor<double> tensor_from_safetensor<double>(const SafeTensor&, const Shape&, const std::string&, NonFinite);
template Tensor<float> tensor_from_safetensor<float>(const SafeTensor&, const std::string&, NonFinite);
template Tensor<double> tensor_from_safetensor<double>(const SafeTensor&, const std::string&, NonFinite);

SafeTensor int64_scalar_safetensor(int64_t value) {
  SafeTensor st{"I64", Shape{}, std::vector<uint8_t>(8)};
  copy_le(st.bytes.data(), &value, 1, 8);
  return st;
}

int64_t int64_from_safetensor(const SafeTensor& st, const std::string& name) {
  if (st.dtype != "I64")
    throw ValueError(fmt::format("'{}' is stored as {}, expected an I64 scalar", name, st.dtype));
  if (!(st.shape.empty() || st.shape == Shape{1}))
    throw ValueError(fmt::format("'{}' has shape {}, expected a scalar", name, shape_str(st.shape)));
  if (st.bytes.size() != 8)
    throw ValueError(fmt::format("'{}' holds {} bytes, an I64 scalar needs 8", name, st.bytes.size()));
  int64_t v;
  copy_le(&v, st.bytes.data(), 1, 8);
  return v;
}

}  // namespace sepconv

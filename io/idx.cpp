#include "sepconv/io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <new>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/io/atomic_file.h"
#include "sepconv/core/regular_file.h"

namespace sepconv {

namespace {

bool known_type(uint8_t code) {
  switch (code) {
    case 0x08: case 0x09: case 0x0B: case 0x0C: case 0x0D: case 0x0E:
      return true;
    default:
      return false;
  }
}

bool is_gzip(std::span<const uint8_t> bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

// Deflate cannot expand data by more than 1032:1 (a 258-byte match costs at
// least 2 bits), so this many compressed bytes can never inflate to more than
// this: a header promising more is a lie we refuse before allocating.
uint64_t max_inflated_size(uint64_t compressed) {
  if (compressed > std::numeric_limits<uint64_t>::max() / 1032 - 1024) return std::numeric_limits<uint64_t>::max();
  return compressed * 1032 + 1024;
}

// Inflates a gzip stream (possibly several concatenated members, as gzip(1)
// produces and reads) incrementally, so only the bytes asked for are produced.
class GzipReader {
 public:
  GzipReader(std::span<const uint8_t> in, const std::string& name) : in_(in), name_(name) {
    // 16 + MAX_WBITS: gzip wrapper only (its CRC-32 and length are verified).
    int rc = inflateInit2(&zs_, 16 + MAX_WBITS);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK) throw IOError(fmt::format("Cannot read '{}': zlib failed to initialise ({})", name_, rc));
  }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;
  ~GzipReader() { inflateEnd(&zs_); }

  // Fills dst with up to n bytes; fewer only when the stream has ended, cleanly
  // (a corrupt or truncated stream throws).
  size_t read(uint8_t* dst, size_t n) {
    size_t produced = 0;
    while (produced < n && !finished_) {
      if (zs_.avail_in == 0 && in_pos_ < in_.size()) {
        size_t chunk = std::min<size_t>(in_.size() - in_pos_, size_t{1} << 30);
        zs_.next_in = const_cast<Bytef*>(in_.data() + in_pos_);
        zs_.avail_in = static_cast<uInt>(chunk);
        in_pos_ += chunk;
      }
      size_t want = std::min<size_t>(n - produced, size_t{1} << 30);
      zs_.next_out = dst + produced;
      zs_.avail_out = static_cast<uInt>(want);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      produced += want - zs_.avail_out;
      switch (rc) {
        case Z_OK:
          break;
        case Z_STREAM_END: {
          size_t rest = in_pos_ - zs_.avail_in;  // first byte after this member
          if (rest == in_.size()) {
            finished_ = true;
          } else if (in_.size() - rest >= 2 && in_[rest] == 0x1f && in_[rest + 1] == 0x8b) {
            inflateReset(&zs_);  // another member follows; next_in/avail_in are kept
          } else {
            throw IOError(fmt::format("Cannot read '{}': {} bytes of trailing garbage after the gzip stream",
                                      name_, in_.size() - rest));
          }
          break;
        }
        case Z_BUF_ERROR:
          // No progress possible: with room to write, that means no input is left.
          if (zs_.avail_in == 0 && in_pos_ == in_.size())
            throw IOError(fmt::format("Cannot read '{}': the gzip stream is truncated", name_));
          break;
        case Z_MEM_ERROR:
          throw std::bad_alloc();
        default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
          throw IOError(fmt::format("Cannot read '{}': corrupt gzip data ({})", name_,
                                    zs_.msg ? zs_.msg : "zlib error " + std::to_string(rc)));
      }
    }
    return produced;
  }

 private:
  z_stream zs_{};
  std::span<const uint8_t> in_;
  size_t in_pos_ = 0;
  bool finished_ = false;
  const std::string& name_;
};

// Decodes the dimensions, lets the caller's check see them (its message, say
// "5 images but 4 labels", is the more useful one), then holds the payload to
// the cap. Nothing has been allocated for the payload yet either way.
// `dim_bytes` holds 4 * ndim bytes.
IdxHeader parse_header(const uint8_t magic[4], const uint8_t* dim_bytes, const std::string& name,
                       const IdxReadOptions& options) {
  IdxHeader h{static_cast<IdxType>(magic[2]), {}, 0};
  int ndim = magic[3];
  auto elem = static_cast<uint64_t>(idx_type_size(h.type));
  const uint64_t max_bytes = std::min(options.max_data_bytes, kIdxMaxDataBytes);
  // Saturates instead of overflowing: 255 dimensions of 2^32 - 1 do not fit in
  // 64 bits, and anything at the saturation point is far above the cap anyway.
  constexpr uint64_t kHuge = std::numeric_limits<uint64_t>::max();
  uint64_t bytes = elem;
  // The largest running product: a zero dimension after a 4-billion one makes
  // an empty array, but such a header is no honest file either, so the cap
  // applies to every prefix of the dimensions.
  uint64_t peak = bytes;
  std::string dims;
  h.dims.reserve(static_cast<size_t>(ndim));
  for (int i = 0; i < ndim; ++i) {
    const uint8_t* p = dim_bytes + 4 * i;
    uint64_t d = (uint64_t{p[0]} << 24) | (uint64_t{p[1]} << 16) | (uint64_t{p[2]} << 8) | uint64_t{p[3]};
    h.dims.push_back(static_cast<int64_t>(d));
    dims += (i ? " x " : "") + std::to_string(d);
    if (bytes != 0 && d != 0 && bytes > kHuge / d)
      bytes = kHuge;
    else if (bytes != kHuge || d == 0)
      bytes *= d;
    peak = std::max(peak, bytes);
  }
  h.data_bytes = bytes;
  if (options.check_header) options.check_header(h);
  if (peak > max_bytes)
    throw IOError(fmt::format("Cannot read '{}': the IDX header declares {} {} elements, more than the {} bytes "
                              "accepted",
                              name, dims, idx_type_name(h.type), max_bytes));
  return h;
}

void check_magic(std::span<const uint8_t> first, const std::string& name, const char* where) {
  if (first.size() < 4)
    throw IOError(fmt::format("Cannot read '{}': {} is {} bytes long, too short for an IDX header (4 bytes)", name,
                              where, first.size()));
  if (first[0] != 0 || first[1] != 0)
    throw IOError(fmt::format("Cannot read '{}': not an IDX file (magic bytes {:02x} {:02x}, expected 00 00)", name,
                              first[0], first[1]));
  if (!known_type(first[2]))
    throw IOError(fmt::format("Cannot read '{}': unsupported IDX element type 0x{:02x} (supported: 0x08 uint8, "
                              "0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64)",
                              name, first[2]));
  if (first[3] == 0) throw IOError(fmt::format("Cannot read '{}': the IDX header declares 0 dimensions", name));
}

// Big-endian elements to host order, in place.
void to_host_order(std::vector<uint8_t>& data, int elem) {
  if (elem == 1 || std::endian::native == std::endian::big) return;
  for (size_t i = 0; i + static_cast<size_t>(elem) <= data.size(); i += static_cast<size_t>(elem))
    std::reverse(data.begin() + static_cast<std::ptrdiff_t>(i), data.begin() + static_cast<std::ptrdiff_t>(i) + elem);
}

IdxArray parse_raw(std::span<const uint8_t> bytes, const std::string& name, const IdxReadOptions& options) {
  check_magic(bytes.first(std::min<size_t>(bytes.size(), 4)), name, "the file");
  size_t ndim = bytes[3];
  size_t header_bytes = 4 + 4 * ndim;
  if (bytes.size() < header_bytes)
    throw IOError(fmt::format("Cannot read '{}': truncated IDX header ({} dimensions need {} bytes, the file has {})",
                              name, ndim, header_bytes, bytes.size()));
  IdxHeader h = parse_header(bytes.data(), bytes.data() + 4, name, options);
  uint64_t present = bytes.size() - header_bytes;
  if (present < h.data_bytes)
    throw IOError(fmt::format("Cannot read '{}': truncated IDX data (the header promises {} bytes, the file has {})",
                              name, h.data_bytes, present));
  if (present > h.data_bytes)
    throw IOError(fmt::format("Cannot read '{}': {} bytes of trailing data after the {} bytes of IDX data", name,
                              present - h.data_bytes, h.data_bytes));
  IdxArray out;
  out.type = h.type;
  out.dims = std::move(h.dims);
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header_bytes), bytes.end());
  to_host_order(out.data, idx_type_size(out.type));
  return out;
}

IdxArray parse_gzip_content(GzipReader& gz, std::span<const uint8_t> bytes, const std::string& name,
                            const IdxReadOptions& options);

IdxArray parse_gzip(std::span<const uint8_t> bytes, const std::string& name, const IdxReadOptions& options) {
  GzipReader gz(bytes, name);
  try {
    return parse_gzip_content(gz, bytes, name, options);
  } catch (const IOError&) {
    // The content looked wrong before the gzip checksum, at the end, was
    // reached. If the stream itself is corrupt, say that instead: a flipped
    // bit in the compressed data is not a bad IDX header. Bounded, so a bomb
    // is not inflated just to improve a message.
    uint8_t scratch[4096];
    for (uint64_t drained = 0; drained < (uint64_t{64} << 20); drained += sizeof scratch)
      if (gz.read(scratch, sizeof scratch) < sizeof scratch) break;  // throws if corrupt
    throw;
  }
}

IdxArray parse_gzip_content(GzipReader& gz, std::span<const uint8_t> bytes, const std::string& name,
                            const IdxReadOptions& options) {
  uint8_t head[4 + 4 * 255];
  size_t got = gz.read(head, 4);
  check_magic(std::span<const uint8_t>(head, got), name, "the decompressed data");
  size_t ndim = head[3];
  size_t header_bytes = 4 + 4 * ndim;
  got += gz.read(head + 4, 4 * ndim);
  if (got < header_bytes)
    throw IOError(fmt::format("Cannot read '{}': truncated IDX header ({} dimensions need {} bytes, the "
                              "decompressed data has {})",
                              name, ndim, header_bytes, got));
  IdxHeader h = parse_header(head, head + 4, name, options);
  if (h.data_bytes > max_inflated_size(bytes.size()))
    throw IOError(fmt::format("Cannot read '{}': the IDX header promises {} bytes of data, more than {} compressed "
                              "bytes can hold",
                              name, h.data_bytes, bytes.size()));
  IdxArray out;
  out.type = h.type;
  out.dims = std::move(h.dims);
  // Inflated in chunks that at most double what has arrived so far: a header
  // that lies about the count (a short stream claiming 2 GB) costs memory in
  // proportion to the data really there, not to the claim.
  constexpr uint64_t kFirstChunk = uint64_t{16} << 20;
  size_t data_got = 0;
  while (data_got < h.data_bytes) {
    const size_t next = static_cast<size_t>(std::min<uint64_t>(h.data_bytes, std::max<uint64_t>(kFirstChunk, 2 * data_got)));
    out.data.resize(next);
    const size_t n = gz.read(out.data.data() + data_got, next - data_got);
    data_got += n;
    if (data_got < next)
      throw IOError(fmt::format("Cannot read '{}': truncated IDX data (the header promises {} bytes, the decompressed "
                                "data has {})",
                                name, h.data_bytes, data_got));
  }
  // The stream must end here; reading on also verifies the gzip checksum.
  uint8_t extra[4096];
  uint64_t trailing = 0;
  while (size_t n = gz.read(extra, sizeof extra)) {
    trailing += n;
    if (trailing > (uint64_t{1} << 20)) break;  // enough to say so; do not inflate a bomb to count it
  }
  if (trailing > 0)
    throw IOError(fmt::format("Cannot read '{}': {}{} bytes of trailing data after the {} bytes of IDX data", name,
                              trailing > (uint64_t{1} << 20) ? "over " : "", std::min<uint64_t>(trailing, 1 << 20),
                              h.data_bytes));
  to_host_order(out.data, idx_type_size(out.type));
  return out;
}

}  // namespace

const char* idx_type_name(IdxType type) {
  switch (type) {
    case IdxType::UInt8: return "uint8";
    case IdxType::Int8: return "int8";
    case IdxType::Int16: return "int16";
    case IdxType::Int32: return "int32";
    case IdxType::Float32: return "float32";
    case IdxType::Float64: return "float64";
  }
  return "unknown";
}

int idx_type_size(IdxType type) {
  switch (type) {
    case IdxType::UInt8: case IdxType::Int8: return 1;
    case IdxType::Int16: return 2;
    case IdxType::Int32: case IdxType::Float32: return 4;
    case IdxType::Float64: return 8;
  }
  throw ValueError(fmt::format("Unknown IDX type code 0x{:02x}", static_cast<unsigned>(type)));
}

int64_t IdxArray::size() const {
  // Checked: dims set by hand need not have passed parse_header's limits.
  if (std::find(dims.begin(), dims.end(), 0) != dims.end()) return 0;
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || n > std::numeric_limits<int64_t>::max() / d)
      throw ValueError("IDX array dimensions are negative or overflow int64");
    n *= d;
  }
  return n;
}

namespace {
template <typename T>
constexpr IdxType idx_type_of();
template <> constexpr IdxType idx_type_of<uint8_t>() { return IdxType::UInt8; }
template <> constexpr IdxType idx_type_of<int8_t>() { return IdxType::Int8; }
template <> constexpr IdxType idx_type_of<int16_t>() { return IdxType::Int16; }
template <> constexpr IdxType idx_type_of<int32_t>() { return IdxType::Int32; }
template <> constexpr IdxType idx_type_of<float>() { return IdxType::Float32; }
template <> constexpr IdxType idx_type_of<double>() { return IdxType::Float64; }
}  // namespace

template <typename T>
std::vector<T> IdxArray::values() const {
  if (type != idx_type_of<T>())
    throw ValueError(fmt::format("IDX array holds {} elements, asked for {}", idx_type_name(type),
                                 idx_type_name(idx_type_of<T>())));
  std::vector<T> out(data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), data.data(), out.size() * sizeof(T));
  return out;
}
template std::vector<uint8_t> IdxArray::values<uint8_t>() const;
template std::vector<int8_t> IdxArray::values<int8_t>() const;
template std::vector<int16_t> IdxArray::values<int16_t>() const;
template std::vector<int32_t> IdxArray::values<int32_t>() const;
template std::vector<float> IdxArray::values<float>() const;
template std::vector<double> IdxArray::values<double>() const;

IdxArray parse_idx(std::span<const uint8_t> bytes, const std::string& name, const IdxReadOptions& options) {
  return is_gzip(bytes) ? parse_gzip(bytes, name, options) : parse_raw(bytes, name, options);
}

IdxArray read_idx(const std::string& path, const IdxReadOptions& options) {
  const uint64_t max_data = std::min(options.max_data_bytes, kIdxMaxDataBytes);
  std::vector<uint8_t> bytes = read_regular_file(path, idx_max_file_bytes(max_data), "IDX file");
  return parse_idx(bytes, path, options);
}

std::vector<uint8_t> encode_idx(const IdxArray& array, bool gzip) {
  if (!known_type(static_cast<uint8_t>(array.type)))
    throw ValueError(fmt::format("Unknown IDX type code 0x{:02x}", static_cast<unsigned>(array.type)));
  if (array.dims.empty() || array.dims.size() > 255)
    throw ValueError(fmt::format("An IDX array needs 1 to 255 dimensions, received {}", array.dims.size()));
  int elem = idx_type_size(array.type);
  uint64_t count = 1;
  for (int64_t d : array.dims) {
    if (d < 0 || d > int64_t{0xffffffff})
      throw ValueError(fmt::format("IDX dimension {} is outside [0, 2^32 - 1]", d));
    if (d != 0 && count > kIdxMaxDataBytes / static_cast<uint64_t>(d))
      throw ValueError("IDX array is too large");
    count *= static_cast<uint64_t>(d);
  }
  if (count * static_cast<uint64_t>(elem) != array.data.size())
    throw ValueError(fmt::format("IDX array of {} {} elements needs {} data bytes, received {}", count,
                                 idx_type_name(array.type), count * static_cast<uint64_t>(elem), array.data.size()));

  std::vector<uint8_t> raw;
  raw.reserve(4 + 4 * array.dims.size() + array.data.size());
  raw.insert(raw.end(), {0, 0, static_cast<uint8_t>(array.type), static_cast<uint8_t>(array.dims.size())});
  for (int64_t d : array.dims) {
    auto u = static_cast<uint32_t>(d);
    raw.insert(raw.end(), {static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16), static_cast<uint8_t>(u >> 8),
                           static_cast<uint8_t>(u)});
  }
  size_t data_start = raw.size();
  raw.insert(raw.end(), array.data.begin(), array.data.end());
  if (elem > 1 && std::endian::native == std::endian::little)
    for (size_t i = data_start; i < raw.size(); i += static_cast<size_t>(elem))
      std::reverse(raw.begin() + static_cast<std::ptrdiff_t>(i), raw.begin() + static_cast<std::ptrdiff_t>(i) + elem);
  return gzip ? gzip_compress(raw) : raw;
}

std::vector<uint8_t> gzip_compress(std::span<const uint8_t> bytes) {
  z_stream zs{};
  // No deflateSetHeader: zlib then writes a header with no name and time 0, so
  // the output depends on the bytes alone.
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::bad_alloc();
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  size_t pos = 0;
  int rc = Z_OK;
  do {
    size_t chunk = std::min<size_t>(bytes.size() - pos, size_t{1} << 30);
    zs.next_in = const_cast<Bytef*>(bytes.data() + pos);
    zs.avail_in = static_cast<uInt>(chunk);
    pos += chunk;
    int flush = pos == bytes.size() ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = buf;
      zs.avail_out = sizeof buf;
      rc = deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) break;
      out.insert(out.end(), buf, buf + (sizeof buf - zs.avail_out));
    } while (zs.avail_out == 0);
  } while (pos < bytes.size() && rc != Z_STREAM_ERROR);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw IOError(fmt::format("gzip compression failed (zlib error {})", rc));
  return out;
}

void write_idx(const std::string& path, const IdxArray& array, bool gzip) {
  write_file_atomic(path, encode_idx(array, gzip));
}

}  // namespace sepconv

#include "sepconv/io/zip_archive.h"

#include <cstring>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <zip.h>

#include "sepconv/core/error.h"
#include "sepconv/core/regular_file.h"
#include "sepconv/io/atomic_file.h"

namespace sepconv {

namespace {

// 1980-01-01 00:00 UTC, the earliest time a zip header can hold: a fixed
// time so that saving the same members twice gives the same bytes.
constexpr time_t kZipEpoch = 315532800;

void check_member_name(const std::string& name) {
  if (name.empty()) throw ValueError("zip member name must not be empty");
  if (name.front() == '/' || name.find('\\') != std::string::npos)
    throw ValueError(fmt::format("zip member name must be a relative path with '/' separators. Received: {}", name));
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find('/', start), name.size());
    if (name.compare(start, end - start, "..") == 0)
      throw ValueError(fmt::format("zip member name must not contain '..'. Received: {}", name));
    start = end + 1;
  }
}

std::string zip_error_text(zip_error_t* error) {
  const char* s = zip_error_strerror(error);
  return s ? s : "unknown libzip error";
}

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct SourceCloser {
  void operator()(zip_source_t* s) const { zip_source_free(s); }
};
struct FileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

}  // namespace

std::vector<uint8_t> encode_zip(const std::vector<ZipMember>& members, ZipCompression compression) {
  std::set<std::string> seen;
  for (const ZipMember& m : members) {
    check_member_name(m.name);
    if (!seen.insert(m.name).second) throw ValueError(fmt::format("zip member '{}' given twice", m.name));
  }
  zip_error_t error;
  zip_error_init(&error);
  // The archive is written into this in-memory source; zip_source_keep lets
  // it outlive zip_close, which would otherwise free it.
  std::unique_ptr<zip_source_t, SourceCloser> out(zip_source_buffer_create(nullptr, 0, 0, &error));
  if (!out) throw IOError(fmt::format("encode_zip: {}", zip_error_text(&error)));
  zip_source_keep(out.get());
  zip_t* archive = zip_open_from_source(out.get(), ZIP_TRUNCATE, &error);
  if (!archive) {
    std::string why = zip_error_text(&error);
    zip_error_fini(&error);
    throw IOError(fmt::format("encode_zip: {}", why));
  }
  std::unique_ptr<zip_t, ArchiveCloser> guard(archive);
  for (const ZipMember& m : members) {
    // libzip reads the data at zip_close, while `members` is still alive.
    zip_source_t* src = zip_source_buffer(archive, m.data.empty() ? static_cast<const void*>("") : m.data.data(), m.data.size(), 0);
    if (!src) throw IOError(fmt::format("encode_zip: member '{}': {}", m.name, zip_strerror(archive)));
    const zip_int64_t index = zip_file_add(archive, m.name.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(src);
      throw IOError(fmt::format("encode_zip: member '{}': {}", m.name, zip_strerror(archive)));
    }
    const zip_int32_t method = compression == ZipCompression::kDeflated ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
    if (zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), method, 0) != 0 ||
        zip_file_set_mtime(archive, static_cast<zip_uint64_t>(index), kZipEpoch, 0) != 0)
      throw IOError(fmt::format("encode_zip: member '{}': {}", m.name, zip_strerror(archive)));
  }
  if (zip_close(archive) != 0) throw IOError(fmt::format("encode_zip: {}", zip_strerror(archive)));
  guard.release();  // closed

  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_open(out.get()) != 0 || zip_source_stat(out.get(), &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    throw IOError(fmt::format("encode_zip: {}", zip_error_strerror(zip_source_error(out.get()))));
  std::vector<uint8_t> bytes(st.size);
  const zip_int64_t got = zip_source_read(out.get(), bytes.data(), bytes.size());
  zip_source_close(out.get());
  if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
    throw IOError("encode_zip: reading back the archive failed");
  return bytes;
}

void save_zip(const std::string& path, const std::vector<ZipMember>& members, ZipCompression compression) {
  const std::vector<uint8_t> bytes = encode_zip(members, compression);
  write_file_atomic(path, bytes);
}

std::vector<ZipMember> parse_zip(std::span<const uint8_t> bytes, const std::string& name,
                                 uint64_t max_uncompressed_bytes) {
  auto fail = [&](const std::string& what) { return IOError(fmt::format("{}: not a valid zip file: {}", name, what)); };
  auto fail_member = [&](const std::string& member, const std::string& what) {
    return IOError(fmt::format("{}: zip member '{}': {}", name, member, what));
  };
  if (bytes.empty()) throw fail("the file is empty");
  zip_error_t error;
  zip_error_init(&error);
  std::unique_ptr<zip_source_t, SourceCloser> src(zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error));
  if (!src) throw fail(zip_error_text(&error));
  zip_t* raw = zip_open_from_source(src.get(), ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!raw) {
    std::string why = zip_error_text(&error);
    zip_error_fini(&error);
    throw fail(why);
  }
  src.release();  // now owned by the archive
  std::unique_ptr<zip_t, ArchiveCloser> archive(raw);
  const zip_int64_t count = zip_get_num_entries(raw, 0);
  if (count < 0) throw fail("cannot count its entries");
  if (static_cast<uint64_t>(count) > kZipMaxEntries)
    throw fail(fmt::format("{} entries (at most {} are read)", count, kZipMaxEntries));

  // Declared sizes first, so a bomb is refused before anything is inflated.
  struct Entry {
    zip_uint64_t index;
    std::string name;
    zip_uint64_t size;
  };
  std::vector<Entry> entries;
  std::set<std::string> seen;
  uint64_t total = 0;
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(raw, static_cast<zip_uint64_t>(i), 0, &st) != 0)
      throw fail(fmt::format("entry {}: {}", i, zip_strerror(raw)));
    if (!(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_METHOD))
      throw fail(fmt::format("entry {} has no name, size or compression method", i));
    std::string member = st.name;
    if (std::strlen(st.name) == 0) throw fail(fmt::format("entry {} has an empty name", i));
    try {
      check_member_name(member.back() == '/' ? member.substr(0, member.size() - 1) : member);
    } catch (const ValueError& e) {
      throw fail_member(member, e.what());
    }
    if (!seen.insert(member).second) throw fail_member(member, "the name appears twice");
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
      throw fail_member(member, "encrypted entries are not read");
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
      throw fail_member(member, fmt::format("compression method {} (only stored and deflated entries are read)",
                                            st.comp_method));
    if (member.back() == '/') {
      if (st.size != 0) throw fail_member(member, "a directory entry with data");
      continue;
    }
    if (st.size > max_uncompressed_bytes || total + st.size > max_uncompressed_bytes)
      throw fail_member(member, fmt::format("uncompressed size {} takes the archive over its limit of {} bytes",
                                            st.size, max_uncompressed_bytes));
    total += st.size;
    entries.push_back({static_cast<zip_uint64_t>(i), std::move(member), st.size});
  }

  std::vector<ZipMember> members;
  members.reserve(entries.size());
  for (const Entry& e : entries) {
    std::unique_ptr<zip_file_t, FileCloser> file(zip_fopen_index(raw, e.index, 0));
    if (!file) throw fail_member(e.name, zip_strerror(raw));
    ZipMember m{e.name, std::vector<uint8_t>(e.size)};
    // One byte more than declared: an entry that inflates beyond its header's
    // size is caught here rather than trusted.
    uint64_t got = 0;
    uint8_t extra = 0;
    while (got < e.size) {
      const zip_int64_t n = zip_fread(file.get(), m.data.data() + got, e.size - got);
      if (n < 0) throw fail_member(e.name, zip_file_strerror(file.get()));
      if (n == 0) break;
      got += static_cast<uint64_t>(n);
    }
    if (got != e.size)
      throw fail_member(e.name, fmt::format("truncated: {} of {} bytes", got, e.size));
    const zip_int64_t more = zip_fread(file.get(), &extra, 1);
    if (more < 0) throw fail_member(e.name, zip_file_strerror(file.get()));
    if (more > 0) throw fail_member(e.name, "more data than its declared size");
    members.push_back(std::move(m));
  }
  return members;
}

std::vector<ZipMember> load_zip(const std::string& path, uint64_t max_file_bytes, uint64_t max_uncompressed_bytes) {
  const std::vector<uint8_t> bytes = read_regular_file(path, max_file_bytes, "zip file");
  return parse_zip(bytes, path, max_uncompressed_bytes);
}

}  // namespace sepconv

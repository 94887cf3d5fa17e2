#include "sepconv/core/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "sepconv/core/error.h"

namespace sepconv {

namespace {

[[noreturn]] void fail(std::string_view what, const std::string& path, const std::string& why) {
  throw IOError(fmt::format("Cannot read {} '{}': {}", what, path, why));
}

// Shared by the throwing and the optional variant: nullopt only for a path
// that does not exist, when `missing_ok`.
std::optional<RegularFile> open_impl(const std::string& path, uint64_t max_bytes, std::string_view what,
                                     bool missing_ok) {
  if (path.empty()) throw IOError(fmt::format("Cannot read {}: the path is empty", what));
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer,
  // forever if none comes. It changes nothing for a regular file, which is
  // all that gets past the fstat below.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    if (missing_ok && (err == ENOENT || err == ENOTDIR)) return std::nullopt;
    fail(what, path, std::strerror(err));
  }
  RegularFile file(fd, 0);
  struct stat st{};
  if (::fstat(fd, &st) != 0) fail(what, path, std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    fail(what, path, fmt::format("it is {}, not a regular file", file_kind_name(st.st_mode)));
  auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) fail(what, path, fmt::format("it is {} bytes, more than the {} bytes allowed", size, max_bytes));
  return RegularFile(file.release(), size);
}

std::vector<uint8_t> read_all(const RegularFile& file, const std::string& path, uint64_t max_bytes,
                              std::string_view what) {
  // Sized from fstat, plus one spare byte so the read that finds end-of-file
  // needs no growth; a file that grows meanwhile is still held to max_bytes.
  std::vector<uint8_t> out(static_cast<size_t>(file.size()) + 1);
  size_t len = 0;
  for (;;) {
    if (len == out.size()) {
      if (len > max_bytes)
        fail(what, path, fmt::format("it grew while being read, beyond the {} bytes allowed", max_bytes));
      // One byte past the cap is enough to notice it was exceeded; saturated,
      // since the default cap is UINT64_MAX.
      const uint64_t limit = max_bytes == std::numeric_limits<uint64_t>::max() ? max_bytes : max_bytes + 1;
      out.resize(static_cast<size_t>(std::min<uint64_t>(uint64_t{out.size()} * 2, limit)));
    }
    ssize_t r = ::read(file.fd(), out.data() + len, out.size() - len);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(what, path, std::strerror(errno));
    }
    if (r == 0) break;
    len += static_cast<size_t>(r);
  }
  if (len > max_bytes) fail(what, path, fmt::format("it grew while being read, beyond the {} bytes allowed", max_bytes));
  out.resize(len);
  return out;
}

}  // namespace

const char* file_kind_name(unsigned st_mode) {
  if (S_ISREG(st_mode)) return "a regular file";
  if (S_ISDIR(st_mode)) return "a directory";
  if (S_ISFIFO(st_mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(st_mode)) return "a character device";
  if (S_ISBLK(st_mode)) return "a block device";
  if (S_ISSOCK(st_mode)) return "a socket";
  if (S_ISLNK(st_mode)) return "a symbolic link";
  return "an unknown kind of file";
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

RegularFile open_regular_file(const std::string& path, uint64_t max_bytes, std::string_view what) {
  return std::move(*open_impl(path, max_bytes, what, false));
}

std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes, std::string_view what) {
  RegularFile file = open_regular_file(path, max_bytes, what);
  return read_all(file, path, max_bytes, what);
}

std::optional<std::vector<uint8_t>> read_regular_file_if_exists(const std::string& path, uint64_t max_bytes,
                                                                std::string_view what) {
  std::optional<RegularFile> file = open_impl(path, max_bytes, what, true);
  if (!file) return std::nullopt;
  return read_all(*file, path, max_bytes, what);
}

}  // namespace sepconv

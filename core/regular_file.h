#pragma once
// Reading outside files safely: regular files only, of bounded size.
//
// A path given by a user may name a FIFO (open(2) then blocks until a writer
// appears: a run that waits forever), a device such as /dev/zero (read(2)
// never ends: memory runs out) or a directory. Every reader of the library
// (IDX, safetensors, keras.json, conformance cases) goes through these
// functions, which open with O_NONBLOCK (so a FIFO cannot block the open),
// refuse anything fstat(2) does not call a regular file, and compare the size
// with the caller's cap before allocating. Messages have one wording:
//   Cannot read <what> '<path>': it is a FIFO (named pipe), not a regular file
//   Cannot read <what> '<path>': it is 5000000000 bytes, more than the 1073741824 bytes allowed
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sepconv {

// "a regular file", "a directory", "a FIFO (named pipe)", "a character
// device", "a block device", "a socket", "a symbolic link" or "an unknown kind
// of file", for a st_mode from stat(2).
const char* file_kind_name(unsigned st_mode);

// An open, read-only descriptor on a regular file, closed on destruction.
class RegularFile {
 public:
  RegularFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  RegularFile(RegularFile&& other) noexcept : fd_(other.fd_), size_(other.size_) { other.fd_ = -1; }
  RegularFile& operator=(RegularFile&&) = delete;
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  ~RegularFile();
  int fd() const { return fd_; }
  // The size fstat(2) reported when the file was opened.
  uint64_t size() const { return size_; }
  // Gives up ownership of the descriptor.
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
  uint64_t size_;
};

// Opens `path` for reading. Throws IOError naming `what` (e.g. "IDX file") and
// the path when it is missing, unreadable, not a regular file, or larger than
// max_bytes.
RegularFile open_regular_file(const std::string& path, uint64_t max_bytes, std::string_view what = "file");

// The whole content of the regular file `path`, at most max_bytes (checked
// before reading, and again while reading, in case the file grows). Throws
// IOError as open_regular_file does, and when a read fails.
std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes, std::string_view what = "file");

// As read_regular_file, but nullopt when `path` does not exist (ENOENT, or a
// component of it is not a directory), for optional files such as keras.json.
std::optional<std::vector<uint8_t>> read_regular_file_if_exists(const std::string& path, uint64_t max_bytes,
                                                                std::string_view what = "file");

}  // namespace sepconv

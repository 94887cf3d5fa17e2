#include "sepconv/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "sepconv/core/error.h"

namespace sepconv {

namespace io_detail {
namespace {
AtomicWriteFaultHook g_fault_hook = nullptr;
}
void set_atomic_write_fault_hook_for_testing(AtomicWriteFaultHook hook) { g_fault_hook = hook; }
}  // namespace io_detail

namespace {

// Returns the injected errno for `step`, or 0.
int injected_fault(std::string_view step) {
  return io_detail::g_fault_hook ? io_detail::g_fault_hook(step) : 0;
}

[[noreturn]] void throw_io(const std::string& what, const std::string& path, int err) {
  throw IOError(fmt::format("{} '{}': {}", what, path, std::strerror(err)));
}

// Closes the descriptor and removes the temporary file unless released, so
// every failure path after the temporary exists cleans up after itself.
class TempFile {
 public:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!released_) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // close(2) reports delayed write errors (NFS, quotas), so its result matters.
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void release() { released_ = true; }

 private:
  int fd_;
  std::string path_;
  bool released_ = false;
};

std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  return fmt::format("{}-{:x}-{:x}", static_cast<long>(::getpid()), salt, n);
}

TempFile create_temp_next_to(const std::string& path) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  std::string base = target.filename().string();
  // Hidden, and named after the target, so a leftover (after a crash, the only
  // way one survives) is recognisable.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::filesystem::path tmp = dir / fmt::format(".{}.tmp-{}", base, unique_suffix());
    std::string tmp_path = tmp.string();
    int err = injected_fault("open");
    int fd = -1;
    if (err == 0) {
      fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd < 0) err = errno;
    }
    if (fd >= 0) return TempFile(fd, tmp_path);
    if (err == EEXIST) continue;
    throw_io("Cannot create a temporary file next to", path, err);
  }
  throw IOError(fmt::format("Cannot create a temporary file next to '{}': too many name collisions", path));
}

void write_all(int fd, const uint8_t* data, size_t n, const std::string& path) {
  while (n > 0) {
    int err = injected_fault("write");
    if (err) throw_io("Cannot write", path, err);
    // Bounded chunks: some kernels reject single writes above 2 GiB.
    size_t chunk = std::min<size_t>(n, size_t{1} << 30);
    ssize_t w = ::write(fd, data, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_io("Cannot write", path, errno);
    }
    if (w == 0) throw_io("Cannot write", path, EIO);
    data += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  if (path.empty()) throw IOError("Cannot write a file with an empty path");
  struct stat st{};
  bool target_exists = ::stat(path.c_str(), &st) == 0;
  if (target_exists && S_ISDIR(st.st_mode)) throw_io("Cannot write", path, EISDIR);

  TempFile tmp = create_temp_next_to(path);
  if (target_exists && S_ISREG(st.st_mode)) {
    // Best effort: a file we cannot chmod is still written.
    (void)::fchmod(tmp.fd(), st.st_mode & 07777);
  }
  write_all(tmp.fd(), bytes.data(), bytes.size(), path);

  int err = injected_fault("fsync");
  if (err == 0 && ::fsync(tmp.fd()) != 0) err = errno;
  if (err) throw_io("Cannot flush to disk", path, err);

  err = injected_fault("close");
  if (tmp.close() != 0 && err == 0) err = errno;
  if (err) throw_io("Cannot close", path, err);

  err = injected_fault("rename");
  if (err == 0 && ::rename(tmp.path().c_str(), path.c_str()) != 0) err = errno;
  if (err) throw_io("Cannot replace", path, err);
  tmp.release();

  // Without this the rename may be lost on power failure, leaving the old file.
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::string dir_path = dir.empty() ? std::string(".") : dir.string();
  err = injected_fault("fsync_dir");
  if (err == 0) {
    int dfd = ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      err = errno;
    } else {
      if (::fsync(dfd) != 0) err = errno;
      ::close(dfd);
    }
  }
  // Filesystems that cannot sync a directory say EINVAL; nothing more can be done there.
  if (err && err != EINVAL && err != ENOTSUP)
    throw IOError(fmt::format("Wrote '{}' but could not flush its directory '{}' to disk: {}", path, dir_path,
                              std::strerror(err)));
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) throw IOError(fmt::format("No such file: '{}'", path));
    throw_io("Cannot open", path, err);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0) throw_io("Cannot read", path, errno);
  if (S_ISDIR(st.st_mode)) throw_io("Cannot read", path, EISDIR);
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes)
    throw IOError(fmt::format("File '{}' is {} bytes, more than the {} bytes allowed", path,
                              static_cast<int64_t>(st.st_size), max_bytes));

  // Read straight into the result; the spare byte lets the read that hits
  // end-of-file happen without growing the buffer.
  std::vector<uint8_t> out(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : size_t{1} << 16);
  size_t len = 0;
  for (;;) {
    if (len == out.size()) out.resize(out.size() * 2);
    ssize_t r = ::read(fd, out.data() + len, out.size() - len);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_io("Cannot read", path, errno);
    }
    if (r == 0) break;
    len += static_cast<size_t>(r);
    if (len > max_bytes)
      throw IOError(fmt::format("File '{}' is longer than the {} bytes allowed", path, max_bytes));
  }
  out.resize(len);
  return out;
}

}  // namespace sepconv

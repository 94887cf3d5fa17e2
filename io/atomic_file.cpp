#include "sepconv/io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <limits>
#include <cstring>
#include <filesystem>
#include <random>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/core/regular_file.h"

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

std::string dir_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? std::string(".") : dir;
}

// This process's part of every temporary name: random, so that a process
// that reuses a dead writer's pid still tells its own temporaries apart.
uint64_t process_salt() {
  static const uint64_t salt = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return salt;
}

// "<pid>-<salt>-<counter>", pid in decimal, salt and counter in hex.
std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  return fmt::format("{}-{:x}-{:x}", static_cast<long>(::getpid()), process_salt(), n);
}

std::string temp_prefix(const std::string& base) { return fmt::format(".{}.tmp-", base); }

// Parses `digits` (the whole of it: 1 to 19 decimal or 1 to 16 hex digits, no
// sign, decimal without a leading zero) as written by unique_suffix.
bool parse_name_number(std::string_view digits, int base, uint64_t& out) {
  if (digits.empty() || digits.size() > (base == 10 ? 19u : 16u) || (base == 10 && digits[0] == '0')) return false;
  for (char c : digits)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || (base == 16 && c >= 'a' && c <= 'f'))) return false;
  out = std::stoull(std::string(digits), nullptr, base);
  return true;
}

// Whether `name` is exactly a temporary this library made for `base`
// (".<base>.tmp-<pid>-<salt>-<counter>") that no live writer can still be
// using: its writer's process is gone, or it is an earlier process that had
// our pid (another salt). Our own process's temporaries are left alone: another
// thread may be writing one now, and a failed write removes its own.
bool is_stale_temp(const std::string& name, const std::string& base) {
  const std::string prefix = temp_prefix(base);
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string_view rest = std::string_view(name).substr(prefix.size());
  const size_t a = rest.find('-');
  const size_t b = a == std::string_view::npos ? a : rest.find('-', a + 1);
  if (b == std::string_view::npos) return false;
  uint64_t pid = 0, salt = 0, counter = 0;
  if (!parse_name_number(rest.substr(0, a), 10, pid) || !parse_name_number(rest.substr(a + 1, b - a - 1), 16, salt) ||
      !parse_name_number(rest.substr(b + 1), 16, counter))
    return false;
  if (pid > static_cast<uint64_t>(std::numeric_limits<pid_t>::max()) || pid == 0) return false;
  if (static_cast<pid_t>(pid) == ::getpid()) return salt != process_salt();
  // ESRCH: no such process. EPERM means it exists (another user's): keep.
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// After a successful save of `target`: removes the temporaries a killed
// writer of the same file left behind (the only way one survives; see
// TempFile). Only names of exactly our pattern for this file, only regular
// files of this user, only when is_stale_temp says no writer is alive; best
// effort (a file that cannot be removed stays, the save has succeeded).
// A writer in another pid namespace sharing the directory looks dead from
// here; sharing one checkpoint path across containers is not supported.
void remove_stale_temps(const std::string& target) {
  const std::filesystem::path t(target);
  const std::string base = t.filename().string();
  const std::string dir = dir_of(target);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (!is_stale_temp(name, base)) continue;
    const std::string p = (std::filesystem::path(dir) / name).string();
    struct stat st{};
    if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) stale.push_back(p);
  }
  ::closedir(d);
  for (const std::string& p : stale) (void)::unlink(p.c_str());
}

// `path` is where the file goes (symbolic links resolved); `shown` is the
// name the caller gave, for messages.
TempFile create_temp_next_to(const std::string& path, const std::string& shown) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  std::string base = target.filename().string();
  // Hidden, and named after the target, so a leftover (after a crash, the only
  // way one survives) is recognisable.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::filesystem::path tmp = dir / (temp_prefix(base) + unique_suffix());
    std::string tmp_path = tmp.string();
    int err = injected_fault("open");
    int fd = -1;
    if (err == 0) {
      fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd < 0) err = errno;
    }
    if (fd >= 0) return TempFile(fd, tmp_path);
    if (err == EEXIST) continue;
    throw_io("Cannot create a temporary file next to", shown, err);
  }
  throw IOError(fmt::format("Cannot create a temporary file next to '{}': too many name collisions", shown));
}

// Writes all n bytes; returns 0, or the errno of the failed write.
int write_all(int fd, const uint8_t* data, size_t n) {
  while (n > 0) {
    if (int err = injected_fault("write")) return err;
    // Bounded chunks: some kernels reject single writes above 2 GiB.
    size_t chunk = std::min<size_t>(n, size_t{1} << 30);
    ssize_t w = ::write(fd, data, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

// Where a write to a path really goes: the end of its symbolic-link chain.
struct OutputTarget {
  std::string path;  // no symbolic link in its last component
  bool exists = false;
  mode_t mode = 0;   // of the existing regular file
};

[[noreturn]] void refuse(std::string_view what, const std::string& path, const std::string& why) {
  throw IOError(fmt::format("Cannot write {} '{}': {}", what, path, why));
}

// Follows symbolic links at the last component by hand (rather than with
// realpath) because a dangling link is a valid target: writing creates the
// file it names. Renaming onto the link itself would replace the link by a
// regular file, so the temporary and the rename must use the final name.
// Refuses existing non-regular files: rename would replace a device node or a
// FIFO by a regular file (as root, /dev/null for everyone). Another process
// could still swap the path between this check and the rename; that race
// needs write access to the directory, which already allows replacing it.
OutputTarget resolve_output(const std::string& path, std::string_view what) {
  if (path.empty()) throw IOError(fmt::format("Cannot write {}: empty path", what));
  std::string cur = path;
  // As the kernel's own limit on links followed in one lookup (ELOOP).
  constexpr int kMaxLinks = 40;
  for (int hops = 0;; ++hops) {
    auto subject = [&] {
      return cur == path ? std::string("it") : fmt::format("the target of its symbolic link, '{}',", cur);
    };
    struct stat st{};
    if (::lstat(cur.c_str(), &st) != 0) {
      int err = errno;
      if (err != ENOENT) refuse(what, path, fmt::format("cannot examine '{}': {}", cur, std::strerror(err)));
      std::string dir = dir_of(cur);
      struct stat ds{};
      if (::stat(dir.c_str(), &ds) != 0) {
        int derr = errno;
        refuse(what, path,
               derr == ENOENT ? fmt::format("its directory '{}' does not exist ({})", dir, std::strerror(derr))
                              : fmt::format("cannot examine its directory '{}': {}", dir, std::strerror(derr)));
      }
      if (!S_ISDIR(ds.st_mode))
        refuse(what, path, fmt::format("'{}' is {}, not a directory", dir, file_kind_name(ds.st_mode)));
      return {cur, false, 0};
    }
    if (S_ISLNK(st.st_mode)) {
      if (hops >= kMaxLinks)
        refuse(what, path, fmt::format("more than {} symbolic links to follow ({})", kMaxLinks, std::strerror(ELOOP)));
      std::vector<char> buf(static_cast<size_t>(st.st_size > 0 ? st.st_size : 255) + 1);
      ssize_t n = ::readlink(cur.c_str(), buf.data(), buf.size());
      if (n < 0) refuse(what, path, fmt::format("cannot read the symbolic link '{}': {}", cur, std::strerror(errno)));
      if (static_cast<size_t>(n) >= buf.size())
        refuse(what, path, fmt::format("the symbolic link '{}' changed while being read", cur));
      std::filesystem::path target(std::string(buf.data(), static_cast<size_t>(n)));
      // A relative link is relative to the directory holding the link.
      cur = target.is_absolute() ? target.string() : (std::filesystem::path(dir_of(cur)) / target).string();
      continue;
    }
    if (!S_ISREG(st.st_mode))
      refuse(what, path,
             fmt::format("{} is {}, not a regular file (only regular files are written, so that a device, FIFO or "
                         "directory is never replaced)",
                         subject(), file_kind_name(st.st_mode)));
    return {cur, true, st.st_mode};
  }
}

}  // namespace

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  const OutputTarget target = resolve_output(path, "file");

  TempFile tmp = create_temp_next_to(target.path, path);
  if (target.exists) {
    // Best effort: a file we cannot chmod is still written.
    (void)::fchmod(tmp.fd(), target.mode & 07777);
  }
  int err = write_all(tmp.fd(), bytes.data(), bytes.size());
  if (err) throw_io("Cannot write", path, err);

  err = injected_fault("fsync");
  if (err == 0 && ::fsync(tmp.fd()) != 0) err = errno;
  if (err) throw_io("Cannot flush to disk", path, err);

  err = injected_fault("close");
  if (tmp.close() != 0 && err == 0) err = errno;
  if (err) throw_io("Cannot close", path, err);

  err = injected_fault("rename");
  if (err == 0 && ::rename(tmp.path().c_str(), target.path.c_str()) != 0) err = errno;
  if (err) throw_io("Cannot replace", path, err);
  tmp.release();

  // Without this the rename may be lost on power failure, leaving the old file.
  const std::string dir_path = dir_of(target.path);
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
  remove_stale_temps(target.path);
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

void check_output_path(const std::string& path, std::string_view what) {
  const OutputTarget target = resolve_output(path, what);
  // The temporary file is created in the target's directory, so that is the
  // permission that matters (not the target's own: rename replaces it).
  const std::string dir = dir_of(target.path);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    refuse(what, path, fmt::format("its directory '{}' is not writable ({})", dir, std::strerror(errno)));
}

void append_text_line(const std::string& path, std::string_view line, std::string_view what) {
  if (line.find('\n') != std::string_view::npos)
    throw ValueError(fmt::format("A line appended to {} '{}' must not contain a newline, received {:.80}", what, path,
                                 std::string(line)));
  const OutputTarget target = resolve_output(path, what);
  auto fail = [&](const char* step, int err) {
    throw IOError(fmt::format("Cannot append to {} '{}': {} failed: {}", what, path, step, std::strerror(err)));
  };

  int err = injected_fault("open");
  // O_NONBLOCK and O_NOCTTY: should a FIFO or a terminal replace the file after
  // resolve_output looked, the open neither blocks nor adopts a terminal; the
  // fstat below then refuses it.
  int fd = err ? -1 : ::open(target.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0666);
  if (fd < 0) fail("open", err ? err : errno);
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0) fail("fstat", errno);
  if (!S_ISREG(st.st_mode))
    refuse(what, path, fmt::format("it is {}, not a regular file", file_kind_name(st.st_mode)));

  std::string record(line);
  record += '\n';
  err = write_all(fd, reinterpret_cast<const uint8_t*>(record.data()), record.size());
  if (err) {
    // A half-written record would corrupt the JSON-lines file for every later
    // reader; cutting back to the size before this append removes it (best
    // effort: if even that fails, the error below is still reported).
    (void)::ftruncate(fd, st.st_size);
    fail("write", err);
  }
  // A log is read after a crash too; fdatasync also reports the delayed write
  // errors (NFS, quotas) that write(2) did not.
  err = injected_fault("fsync");
  if (err == 0 && ::fdatasync(fd) != 0) err = errno;
  if (err && err != EINVAL && err != ENOTSUP) fail("flush", err);

  err = injected_fault("close");
  int rc = ::close(fd);
  closer.fd = -1;
  if (rc != 0 && err == 0) err = errno;
  if (err) fail("close", err);
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  return read_regular_file(path, max_bytes, "file");
}

}  // namespace sepconv

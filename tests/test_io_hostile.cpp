// Hostile paths and contents for the io/ readers and writers (issue 18, part
// 2, items 4-7): device nodes, FIFOs and sockets where files are expected,
// symbolic links, missing directories, /dev/zero, forged IDX counts, full
// disks, non-finite checkpoint weights.
#define BOOST_TEST_MODULE io_hostile
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "sepconv/core/error.h"
#include "sepconv/io/atomic_file.h"
#include "sepconv/io/fashion_mnist.h"
#include "sepconv/io/idx.h"
#include "sepconv/core/regular_file.h"
#include "sepconv/io/safetensors.h"
#include "sepconv/layers/dense.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/regularizers.h"
#include "sepconv/layers/constraints.h"
#include "sepconv/layers/initializers.h"
#include "sepconv/model/checkpoint.h"
#include "sepconv/model/sequential.h"
#include "io_test_support.h"

using namespace sepconv;
namespace fs = std::filesystem;
using namespace sepconv::io_test;

namespace {

// A reader that blocks on a FIFO, or reads /dev/zero for ever, would hang the
// whole test binary until ctest's 600 s timeout; SIGALRM kills it after 60 s
// instead, a plain failure that names no test but cannot go unnoticed.
struct HangGuard {
  HangGuard() { ::alarm(60); }
  ~HangGuard() { ::alarm(0); }
};

mode_t lstat_mode(const std::string& path) {
  struct stat st{};
  BOOST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode;
}

// Every way of writing `path` must refuse it with a message holding `parts`
// and leave it as it was (same kind of file).
void check_all_writers_refuse(const std::string& path, std::initializer_list<std::string> parts) {
  const mode_t before = lstat_mode(path);
  check_throws<IOError>([&] { write_file_atomic(path, std::string_view("x")); }, parts);
  check_throws<IOError>([&] { check_output_path(path, "--checkpoint"); }, parts);
  check_throws<IOError>([&] { check_output_path(path, "--checkpoint"); }, {"--checkpoint"});
  check_throws<IOError>([&] { append_text_line(path, "{}", "--metrics"); }, parts);
  BOOST_TEST((lstat_mode(path) & S_IFMT) == (before & S_IFMT), path << " changed kind");
}

}  // namespace

// ============================================================================
// Item 4: atomic saves write regular files only
// ============================================================================

BOOST_AUTO_TEST_SUITE(writing)

BOOST_AUTO_TEST_CASE(device_node_is_refused_not_replaced) {
  TempDir dir;
  const std::string dev = dir / "null";
  // The same device as /dev/null (1, 3), but in our own directory, so a bug
  // replaces only a copy. mknod needs CAP_MKNOD (root).
  if (::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    BOOST_TEST_MESSAGE("skipped the device-node case: mknod failed (" << std::strerror(errno)
                                                                      << "; it needs root); FIFO and socket cases "
                                                                         "below still run");
  } else {
    check_all_writers_refuse(dev, {dev, "character device", "not a regular file"});
    BOOST_TEST(S_ISCHR(lstat_mode(dev)));
    BOOST_TEST(dir.entries() == std::vector<std::string>{"null"});  // no temporary left either
  }
  // /dev/null itself only through the writers that cannot damage it if wrong:
  // the check writes nothing, and appending to /dev/null is harmless.
  check_throws<IOError>([] { check_output_path("/dev/null", "--plot"); }, {"--plot", "/dev/null", "character device"});
  check_throws<IOError>([] { append_text_line("/dev/null", "x"); }, {"/dev/null", "character device"});
  BOOST_TEST(S_ISCHR(lstat_mode("/dev/null")));
}

BOOST_AUTO_TEST_CASE(fifo_and_socket_are_refused_without_blocking) {
  HangGuard guard;
  TempDir dir;
  const std::string fifo = dir / "metrics.jsonl";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0666) == 0);
  // No reader on the FIFO: an open for writing would block (or fail ENXIO
  // with O_NONBLOCK); the writers must refuse before opening.
  check_all_writers_refuse(fifo, {fifo, "FIFO"});
  BOOST_TEST(S_ISFIFO(lstat_mode(fifo)));

  const std::string sock = dir / "s";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  BOOST_REQUIRE(sock.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  check_all_writers_refuse(sock, {sock, "socket"});
  ::close(fd);

  fs::create_directory(dir / "sub");
  check_all_writers_refuse(dir / "sub", {dir / "sub", "directory"});
  BOOST_TEST(dir.entries() == (std::vector<std::string>{"metrics.jsonl", "s", "sub"}));
}

BOOST_AUTO_TEST_CASE(symlink_keeps_the_link_and_updates_its_target) {
  TempDir dir;
  TempDir other;  // the target lives in another directory: the temporary must go there
  const std::string real = other / "real.safetensors";
  write_file_atomic(real, std::string_view("old"));
  BOOST_REQUIRE(::chmod(real.c_str(), 0640) == 0);
  const std::string link = dir / "ckpt";
  fs::create_symlink(real, link);
  const std::string link2 = dir / "ckpt2";  // a chain, relative: ckpt2 -> ckpt -> real
  fs::create_symlink("ckpt", link2);

  write_file_atomic(link2, std::string_view("new contents"));
  BOOST_TEST(fs::is_symlink(link));
  BOOST_TEST(fs::is_symlink(link2));
  BOOST_TEST(fs::read_symlink(link2).string() == "ckpt");
  BOOST_TEST(fs::read_symlink(link).string() == real);
  BOOST_TEST(text_of(read_file(real)) == "new contents");
  BOOST_TEST((lstat_mode(real) & 07777) == 0640u);
  BOOST_TEST(dir.entries() == (std::vector<std::string>{"ckpt", "ckpt2"}));
  BOOST_TEST(other.entries() == std::vector<std::string>{"real.safetensors"});

  append_text_line(link, "{\"epoch\": 1}");
  BOOST_TEST(fs::is_symlink(link));
  BOOST_TEST(text_of(read_file(real)) == "new contents{\"epoch\": 1}\n");
  check_output_path(link2, "--checkpoint");  // accepted: it names a regular file

  // A dangling link names the file to create; the link stays a link.
  const std::string dangling = dir / "dangling";
  fs::create_symlink("made.bin", dangling);
  check_output_path(dangling, "--plot");
  write_file_atomic(dangling, std::string_view("made"));
  BOOST_TEST(fs::is_symlink(dangling));
  BOOST_TEST(text_of(read_file(dir / "made.bin")) == "made");

  // A link to a FIFO is refused as the FIFO would be, naming both.
  const std::string fifo = dir / "fifo";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0666) == 0);
  fs::create_symlink(fifo, dir / "to_fifo");
  check_all_writers_refuse(dir / "to_fifo", {dir / "to_fifo", fifo, "FIFO"});
  BOOST_TEST(fs::is_symlink(dir / "to_fifo"));

  // A loop ends with an error, not a hang.
  fs::create_symlink("loop_b", dir / "loop_a");
  fs::create_symlink("loop_a", dir / "loop_b");
  check_throws<IOError>([&] { write_file_atomic(dir / "loop_a", std::string_view("x")); },
                        {dir / "loop_a", "symbolic links", std::strerror(ELOOP)});
}

BOOST_AUTO_TEST_CASE(missing_directory_is_named) {
  TempDir dir;
  const std::string p = dir / "no/such/model.safetensors";
  for (auto* f : {+[](const std::string& s) { write_file_atomic(s, std::string_view("x")); },
                  +[](const std::string& s) { check_output_path(s, "--checkpoint"); },
                  +[](const std::string& s) { append_text_line(s, "x"); }})
    check_throws<IOError>([&] { f(p); }, {p, "directory", dir / "no/such", "does not exist"});
  // A dangling symlink into a missing directory: the directory named is the target's.
  fs::create_symlink(dir / "gone/file", dir / "link");
  check_throws<IOError>([&] { write_file_atomic(dir / "link", std::string_view("x")); },
                        {dir / "link", dir / "gone", "does not exist"});
  // A regular file where a directory should be.
  write_plain(dir / "plain", Bytes{1});
  check_throws<IOError>([&] { check_output_path(dir / "plain/x", "--metrics"); }, {"--metrics", dir / "plain/x"});
  check_throws<IOError>([&] { check_output_path("", "--metrics"); }, {"--metrics", "empty path"});
  BOOST_TEST(dir.entries() == (std::vector<std::string>{"link", "plain"}));
}

BOOST_AUTO_TEST_CASE(check_output_path_accepts_new_and_regular_files_and_writes_nothing) {
  TempDir dir;
  check_output_path(dir / "new.safetensors", "--checkpoint");
  write_plain(dir / "old.svg", Bytes{'a'});
  check_output_path(dir / "old.svg", "--plot");
  BOOST_TEST(dir.entries() == std::vector<std::string>{"old.svg"});
  BOOST_TEST(text_of(read_file(dir / "old.svg")) == "a");
  if (::geteuid() == 0) {
    BOOST_TEST_MESSAGE("skipped the unwritable-directory case: root may write anywhere");
    return;
  }
  fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
  check_throws<IOError>([&] { check_output_path(dir / "new.safetensors", "--checkpoint"); },
                        {"--checkpoint", "not writable", std::strerror(EACCES)});
  fs::permissions(dir.path, fs::perms::owner_all);
}

BOOST_AUTO_TEST_CASE(append_text_line_appends_whole_lines) {
  TempDir dir;
  const std::string p = dir / "metrics.jsonl";
  append_text_line(p, "{\"epoch\": 1}");
  append_text_line(p, "{\"epoch\": 2}");
  BOOST_TEST(text_of(read_file(p)) == "{\"epoch\": 1}\n{\"epoch\": 2}\n");
  check_throws<ValueError>([&] { append_text_line(p, "a\nb", "--metrics"); }, {"--metrics", p, "newline"});
  BOOST_TEST(text_of(read_file(p)) == "{\"epoch\": 1}\n{\"epoch\": 2}\n");
}

BOOST_AUTO_TEST_CASE(append_text_line_reports_a_full_disk) {
  TempDir dir;
  const std::string p = dir / "metrics.jsonl";
  append_text_line(p, "first");
  for (const char* step : {"open", "write", "fsync", "close"}) {
    BOOST_TEST_CONTEXT("failing step " << step) {
      {
        FaultGuard fault(step, ENOSPC);
        check_throws<IOError>([&] { append_text_line(p, "second", "--metrics"); },
                              {"--metrics", p, std::strerror(ENOSPC)});
      }
      // Failing before or at the write leaves the file as it was; later steps
      // fail after the bytes reached the file, which then holds the whole line.
      const std::string expect =
          std::string(step) == "open" || std::string(step) == "write" ? "first\n" : "first\nsecond\n";
      BOOST_TEST(text_of(read_file(p)) == expect);
      write_file_atomic(p, std::string_view("first\n"));
    }
  }
  // The flush's EINVAL (a file system that cannot sync) is no error.
  FaultGuard fault("fsync", EINVAL);
  append_text_line(p, "third");
  BOOST_TEST(text_of(read_file(p)) == "first\nthird\n");
}

// Item 9: a writer killed mid-save leaves its temporary; the next successful
// save of the same file removes it, and only what no live writer can own.
namespace {
std::string g_seen_dir, g_seen_temp;
int remember_temp(std::string_view step) {  // at "fsync" the temporary exists
  if (step == "fsync")
    for (const auto& e : fs::directory_iterator(g_seen_dir))
      if (e.path().filename().string().rfind(".ck.bin.tmp-", 0) == 0) g_seen_temp = e.path().filename().string();
  return 0;
}
}  // namespace

BOOST_AUTO_TEST_CASE(stale_temporaries_of_dead_writers_are_removed_on_the_next_save) {
  TempDir dir;
  const std::string target = dir / "ck.bin";
  // This process's own prefix "<pid>-<salt>-", seen during a save.
  g_seen_dir = dir.path.string();
  io_detail::set_atomic_write_fault_hook_for_testing(remember_temp);
  write_file_atomic(target, std::string_view("first"));
  io_detail::set_atomic_write_fault_hook_for_testing(nullptr);
  BOOST_REQUIRE(!g_seen_temp.empty());
  const std::string ours = g_seen_temp.substr(0, g_seen_temp.rfind('-') + 1);  // ".ck.bin.tmp-<pid>-<salt>-"
  BOOST_TEST((dir.entries() == std::vector<std::string>{"ck.bin"}));

  // A pid that is certainly dead: a child that has exited and been reaped.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  BOOST_REQUIRE(child > 0);
  int status = 0;
  BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  const std::string dead = std::to_string(child), self = std::to_string(::getpid()),
                    parent = std::to_string(::getppid());
  const std::vector<std::string> stale = {
      ".ck.bin.tmp-" + dead + "-1a2b-0",                  // its writer is gone
      ".ck.bin.tmp-" + self + "-0-7",                     // our pid, but an earlier process's salt
  };
  const std::vector<std::string> kept = {
      ours + "ff",                                        // ours: another thread may be writing it
      ".ck.bin.tmp-" + parent + "-1a2b-0",                // a live process's
      ".ck.bin.tmp-" + dead + "-1A2B-0",                  // not our spelling (upper-case hex)
      ".ck.bin.tmp-0" + dead + "-1a2b-0",                 // a leading zero
      ".ck.bin.tmp-" + dead + "-1a2b-0.bak",              // something after the name
      ".ck.bin.tmp-" + dead + "-1a2b",                    // a part missing
      "ck.bin.tmp-" + dead + "-1a2b-0",                   // not hidden
      ".other.bin.tmp-" + dead + "-1a2b-0",               // another file's
      ".ck.bin.tmp-" + dead + "-1a2b-1",                  // a directory, not a file
      ".ck.bin.tmp-" + dead + "-1a2b-2",                  // a symbolic link
  };
  for (const std::string& n : stale) write_plain(dir / n, bytes_of("partial"));
  for (size_t i = 0; i + 2 < kept.size(); ++i) write_plain(dir / kept[i], bytes_of("partial"));
  fs::create_directory(dir / kept[kept.size() - 2]);
  fs::create_symlink("ck.bin", dir / kept.back());

  // A failed save removes nothing; a successful one removes the stale two.
  {
    FaultGuard fault("rename", EIO);
    check_throws<IOError>([&] { write_file_atomic(target, std::string_view("second")); }, {target});
  }
  for (const std::string& n : stale) BOOST_TEST(fs::exists(dir / n), n << " removed by a failed save");
  write_file_atomic(target, std::string_view("third"));
  for (const std::string& n : stale) BOOST_TEST(!fs::exists(dir / n), n << " was not removed");
  for (const std::string& n : kept) BOOST_TEST(fs::exists(fs::symlink_status(dir / n)), n << " was removed");
  BOOST_TEST(text_of(read_file(target)) == "third");
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================
// Item 5: readers open regular files only, of bounded size
// ============================================================================

BOOST_AUTO_TEST_SUITE(reading)

BOOST_AUTO_TEST_CASE(fifo_data_files_are_refused_without_waiting) {
  HangGuard guard;
  TempDir dir;
  const std::string fifo = dir / "fifo";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0666) == 0);
  check_throws<IOError>([&] { read_idx(fifo); }, {"IDX file", fifo, "FIFO", "not a regular file"});
  check_throws<IOError>([&] { load_safetensors(fifo); }, {"safetensors file", fifo, "FIFO"});
  check_throws<IOError>([&] { read_file(fifo); }, {fifo, "FIFO"});
  check_throws<IOError>([&] { read_regular_file(fifo, 100, "case file"); }, {"case file", fifo, "FIFO"});

  // A FIFO in place of one of the four Fashion-MNIST files.
  IdxArray lab;
  lab.dims = {2};
  lab.data = {1, 2};
  IdxArray img;
  img.dims = {2, 28, 28};
  img.data.assign(2 * 784, 7);
  for (const char* prefix : {"train", "t10k"}) {
    write_idx(dir / (std::string(prefix) + "-images-idx3-ubyte.gz"), img, true);
    write_idx(dir / (std::string(prefix) + "-labels-idx1-ubyte.gz"), lab, true);
  }
  BOOST_REQUIRE(load_fashion_mnist(dir.path.string()).train_labels.size() == 2u);
  fs::remove(dir / "t10k-images-idx3-ubyte.gz");
  BOOST_REQUIRE(::mkfifo((dir / "t10k-images-idx3-ubyte.gz").c_str(), 0666) == 0);
  check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); }, {"t10k-images-idx3-ubyte.gz", "FIFO"});

  // keras.json as a FIFO: an IOError naming it, not a hang.
  const char* old_home = std::getenv("KERAS_HOME");
  const std::string saved = old_home ? old_home : "";
  BOOST_REQUIRE(::mkfifo((dir / "keras.json").c_str(), 0666) == 0);
  ::setenv("KERAS_HOME", dir.path.c_str(), 1);
  check_throws<IOError>([] { image_data_format(); }, {"Keras config file", "keras.json", "FIFO"});
  fs::remove(dir / "keras.json");
  BOOST_TEST(image_data_format() == "channels_last");  // missing is still Keras's default
  if (old_home)
    ::setenv("KERAS_HOME", saved.c_str(), 1);
  else
    ::unsetenv("KERAS_HOME");
}

BOOST_AUTO_TEST_CASE(dev_zero_is_refused_before_reading) {
  HangGuard guard;
  check_throws<IOError>([] { read_idx("/dev/zero"); }, {"IDX file", "/dev/zero", "character device"});
  check_throws<IOError>([] { load_safetensors("/dev/zero"); }, {"safetensors file", "/dev/zero", "character device"});
  check_throws<IOError>([] { read_file("/dev/zero"); }, {"/dev/zero", "character device"});

  // checkpoint-info, the program, likewise (when built).
  const std::string tool = std::string(SEPCONV_BIN_DIR) + "/checkpoint-info";
  if (!fs::exists(tool)) {
    BOOST_TEST_MESSAGE("skipped checkpoint-info /dev/zero: " << tool << " is not built");
    return;
  }
  FILE* p = ::popen((tool + " /dev/zero 2>&1").c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  std::string out;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 1);
  BOOST_TEST(out.find("/dev/zero") != std::string::npos, out);
  BOOST_TEST(out.find("character device") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(size_cap_is_checked_before_reading) {
  TempDir dir;
  write_plain(dir / "big", Bytes(1000, 1));
  check_throws<IOError>([&] { read_regular_file(dir / "big", 999, "case file"); },
                        {"case file", dir / "big", "1000 bytes", "999 bytes allowed"});
  BOOST_TEST(read_regular_file(dir / "big", 1000, "case file").size() == 1000u);
  BOOST_TEST(!read_regular_file_if_exists(dir / "missing", 10).has_value());
  check_throws<IOError>([&] { read_regular_file(dir / "missing", 10, "IDX file"); },
                        {"IDX file", dir / "missing", std::strerror(ENOENT)});
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================
// Item 6: forged IDX counts
// ============================================================================

BOOST_AUTO_TEST_SUITE(forged_idx)

namespace {
// An IDX uint8 header for `dims`, followed by `payload` bytes.
Bytes idx_bytes(std::initializer_list<uint32_t> dims, const Bytes& payload) {
  Bytes out = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    out.insert(out.end(), {static_cast<uint8_t>(d >> 24), static_cast<uint8_t>(d >> 16), static_cast<uint8_t>(d >> 8),
                           static_cast<uint8_t>(d)});
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}
constexpr uint32_t kClaimed = 2'739'000;  // x 784 = 2,147,376,000 bytes: just under kIdxMaxDataBytes
}  // namespace

BOOST_AUTO_TEST_CASE(huge_gzip_claim_is_refused_quickly) {
  HangGuard guard;
  // A megabyte of zeros compresses to about a kilobyte, which cannot inflate to 2 GB.
  Bytes small = gzip_compress(idx_bytes({kClaimed, 28, 28}, Bytes(1 << 20, 0)));
  check_throws<IOError>([&] { parse_idx(small, "bomb.gz"); }, {"bomb.gz", "2147376000", "compressed bytes can hold"});

  // Random bytes do not compress: 2.2 MB of them pass the 1032:1 bound, but
  // the stream ends long before the claimed count. Memory follows the data.
  Bytes noise(2'200'000);
  std::mt19937 rng(5);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  Bytes big = gzip_compress(idx_bytes({kClaimed, 28, 28}, noise));
  BOOST_REQUIRE(big.size() * 1032 > uint64_t{kClaimed} * 784);
  check_throws<IOError>([&] { parse_idx(big, "short.gz"); },
                        {"short.gz", "truncated IDX data", "2147376000", std::to_string(noise.size())});
}

BOOST_AUTO_TEST_CASE(agreeing_labels_do_not_make_a_forged_count_acceptable) {
  HangGuard guard;
  TempDir dir;
  // Both files claim 2,739,000 examples; the labels file even holds them all
  // (2.7 MB of zeros, a few KB compressed). Refused from the labels header.
  write_plain(dir / "train-labels-idx1-ubyte.gz", gzip_compress(idx_bytes({kClaimed}, Bytes(kClaimed, 0))));
  write_plain(dir / "train-images-idx3-ubyte.gz", gzip_compress(idx_bytes({kClaimed, 28, 28}, Bytes(1 << 20, 0))));
  for (const char* f : {"t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"})
    fs::copy_file(dir / (std::string("train") + (f + 4)), dir / f);
  check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); },
                        {"train-labels-idx1-ubyte.gz", "2739000", std::to_string(kFashionMnistMaxExamples)});

  // Counts that agree and are small, but an images stream shorter than its header says.
  write_plain(dir / "train-labels-idx1-ubyte.gz", gzip_compress(idx_bytes({5}, Bytes(5, 1))));
  write_plain(dir / "train-images-idx3-ubyte.gz", gzip_compress(idx_bytes({5, 28, 28}, Bytes(4 * 784, 1))));
  check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); },
                        {"train-images-idx3-ubyte.gz", "truncated IDX data", "3920", "3136"});
  // Or longer than it says.
  write_plain(dir / "train-images-idx3-ubyte.gz", gzip_compress(idx_bytes({5, 28, 28}, Bytes(6 * 784, 1))));
  check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); },
                        {"train-images-idx3-ubyte.gz", "trailing data"});
  // The image count is compared with the labels' before the images are inflated.
  write_plain(dir / "train-images-idx3-ubyte.gz", gzip_compress(idx_bytes({kClaimed, 28, 28}, Bytes(1 << 20, 0))));
  check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); }, {"2739000 images but 5 labels"});
}

BOOST_AUTO_TEST_CASE(truncated_files_are_refused) {
  TempDir dir;
  const Bytes whole = idx_bytes({3, 4}, Bytes(12, 9));
  write_plain(dir / "raw.idx", Bytes(whole.begin(), whole.end() - 1));
  check_throws<IOError>([&] { read_idx(dir / "raw.idx"); },
                        {dir / "raw.idx", "truncated IDX data", "promises 12 bytes", "has 11"});
  const Bytes gz = gzip_compress(whole);
  write_plain(dir / "cut.gz", Bytes(gz.begin(), gz.end() - 6));  // the trailer's CRC and length, cut
  check_throws<IOError>([&] { read_idx(dir / "cut.gz"); }, {dir / "cut.gz", "truncated"});
  // The caller's cap is applied from the header.
  write_plain(dir / "ok.idx", whole);
  IdxReadOptions tight;
  tight.max_data_bytes = 11;
  check_throws<IOError>([&] { read_idx(dir / "ok.idx", tight); }, {dir / "ok.idx", "3 x 4", "11 bytes accepted"});
  BOOST_TEST(read_idx(dir / "ok.idx").data == Bytes(12, 9));
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================
// Item 7: non-finite checkpoint weights
// ============================================================================

BOOST_AUTO_TEST_SUITE(non_finite_weights)

namespace {
SafeTensor f64_tensor(std::vector<double> v) {
  Tensor<double> t({static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t[static_cast<int64_t>(i)] = v[i];
  return to_safetensor(t);
}
}  // namespace

BOOST_AUTO_TEST_CASE(tensor_conversion_refuses_nan_and_overflow) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  check_throws<ValueError>([&] { tensor_from_safetensor<float>(f64_tensor({1, nan}), "dense/kernel"); },
                           {"dense/kernel", "nan", "index 1"});
  check_throws<ValueError>([&] { tensor_from_safetensor<double>(f64_tensor({-inf}), "dense/bias"); },
                           {"dense/bias", "-inf", "index 0"});
  // Finite as stored, infinite as float32.
  check_throws<ValueError>([&] { tensor_from_safetensor<float>(f64_tensor({0, 0, 1e300}), Shape{3}, "dense/kernel"); },
                           {"dense/kernel", "1e+300", "index 2", "float32"});
  BOOST_TEST(tensor_from_safetensor<double>(f64_tensor({1e300}), "w")[0] == 1e300);
  Tensor<float> f({1});
  f[0] = std::numeric_limits<float>::quiet_NaN();
  check_throws<ValueError>([&] { tensor_from_safetensor<double>(to_safetensor(f), "bn/gamma"); }, {"bn/gamma", "nan"});
  // Allowed on request, for tools that inspect rather than load.
  BOOST_TEST(std::isnan(tensor_from_safetensor<float>(f64_tensor({nan}), "w", NonFinite::Allow)[0]));
  BOOST_TEST(std::isinf(tensor_from_safetensor<float>(f64_tensor({1e300}), "w", NonFinite::Allow)[0]));
}

BOOST_AUTO_TEST_CASE(load_checkpoint_refuses_a_nan_weight_and_changes_nothing) {
  TempDir dir;
  auto make = [] {
    auto m = std::make_unique<Sequential<float>>("m");
    m->add(std::make_shared<Dense<float>>(DenseOptions(2).name("dense")));
    m->build({3});
    return m;
  };
  auto model = make();
  const std::string path = dir / "ckpt.safetensors";
  save_checkpoint(path, *model, nullptr);
  SafeTensorsFile file = load_safetensors(path);
  BOOST_REQUIRE(file.tensors.count("dense/kernel") == 1u);
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), 1e300}) {
    BOOST_TEST_CONTEXT("value " << bad) {
      SafeTensorMap tensors = file.tensors;
      Tensor<double> k = tensor_from_safetensor<double>(tensors.at("dense/kernel"), "dense/kernel");
      k[4] = bad;
      tensors["dense/kernel"] = to_safetensor(k);  // F64: loaded into a float model
      const std::string bad_path = dir / "bad.safetensors";
      save_safetensors(bad_path, tensors, file.metadata);
      auto target = make();
      const std::vector<float> before(target->weights().at(0).second->variable.value().begin(),
                                      target->weights().at(0).second->variable.value().end());
      check_throws<ValueError>([&] { load_checkpoint(bad_path, *target, nullptr); },
                               {bad_path, "dense/kernel", "index 4"});
      const auto& after = target->weights().at(0).second->variable.value();
      BOOST_TEST(std::equal(before.begin(), before.end(), after.begin()));
    }
  }
  // The good checkpoint still loads.
  auto target = make();
  load_checkpoint(path, *target, nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

// Found by the fuzz seed fuzz/corpus/fuzz_json_config/deep_100k_config: an
// identifier object nested 100,000 deep, handed to get_regularizer (or
// get_constraint, get_initializer) as a json value rather than read through a
// bounded parse, overflowed the stack copying its "config".
BOOST_AUTO_TEST_CASE(deeply_nested_identifier_objects_are_refused) {
  nlohmann::json spec = nlohmann::json::parse(R"({"class_name": "L1", "config": {}})");
  spec["config"]["l1"] = nlohmann::json::parse(std::string(100000, '[') + "0" + std::string(100000, ']'));
  check_throws<ValueError>([&] { (void)get_regularizer(spec); },
                           {"Could not interpret regularizer identifier", "nested deeper than 128 levels"});
  check_throws<ValueError>([&] { (void)get_constraint(spec); }, {"constraint", "nested deeper than 128 levels"});
  check_throws<ValueError>([&] { (void)get_initializer(spec); }, {"initializer", "nested deeper than 128 levels"});
}

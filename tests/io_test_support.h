#pragma once
// What the io/ test programs share: a scratch directory, byte helpers, an
// assertion on exception messages, and the fault hook of io/atomic_file.h.
#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "sepconv/io/atomic_file.h"

namespace sepconv::io_test {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// A fresh directory per test, removed afterwards (even if a test made it read-only).
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& prefix = "sepconv_test_io") {
    std::string tmpl = (fs::temp_directory_path() / (prefix + "_XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    BOOST_REQUIRE(::mkdtemp(buf.data()) != nullptr);
    path = buf.data();
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

inline Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline std::string text_of(const Bytes& b) { return std::string(b.begin(), b.end()); }

// Writes `b` with plain streams: the fixture, not the code under test.
inline void write_plain(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Asserts that `f` throws E whose message contains every one of `parts`.
template <typename E, typename F>
void check_throws(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    BOOST_ERROR("no exception thrown; expected one mentioning '" << *parts.begin() << "'");
  } catch (const E& e) {
    std::string msg = e.what();
    for (const std::string& p : parts)
      BOOST_TEST(msg.find(p) != std::string::npos, "message \"" << msg << "\" lacks \"" << p << "\"");
  }
}

// Makes the atomic writer's step `step` fail with errno `err` while in scope.
inline std::string g_fail_step;
inline int g_fail_errno = 0;
inline int fault_hook(std::string_view step) { return step == g_fail_step ? g_fail_errno : 0; }
struct FaultGuard {
  FaultGuard(std::string step, int err) {
    g_fail_step = std::move(step);
    g_fail_errno = err;
    io_detail::set_atomic_write_fault_hook_for_testing(&fault_hook);
  }
  FaultGuard(const FaultGuard&) = delete;
  FaultGuard& operator=(const FaultGuard&) = delete;
  ~FaultGuard() { io_detail::set_atomic_write_fault_hook_for_testing(nullptr); }
};

}  // namespace sepconv::io_test

#pragma once
// Whole-file reads and crash-safe whole-file writes.
//
// write_file_atomic never leaves a half-written target behind: the bytes go to
// a fresh temporary file in the target's directory, which is flushed to disk
// and then renamed over the target (rename is atomic within a filesystem), and
// the directory is flushed so the rename itself survives a power loss. A reader
// (or a crash) sees either the complete old file or the complete new one.
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sepconv {

// Replaces (or creates) `path` with `bytes`. An existing target keeps its
// permission bits; a new one gets 0666 minus the umask, like any created file.
// On failure throws IOError naming the path, the step that failed and the
// system's reason; the temporary file is removed and the old target is intact.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);
void write_file_atomic(const std::string& path, std::string_view bytes);

// The whole content of `path`. Throws IOError for a missing, unreadable or
// non-regular file (a directory), and for a file longer than max_bytes.
std::vector<uint8_t> read_file(const std::string& path,
                               uint64_t max_bytes = std::numeric_limits<uint64_t>::max());

namespace io_detail {
// Fault injection for tests: when set, called before each step of
// write_file_atomic ("open", "write", "fsync", "close", "rename", "fsync_dir");
// a non-zero return is taken as that step failing with that errno.
// Not thread-safe; tests only.
using AtomicWriteFaultHook = int (*)(std::string_view step);
void set_atomic_write_fault_hook_for_testing(AtomicWriteFaultHook hook);
}  // namespace io_detail

}  // namespace sepconv

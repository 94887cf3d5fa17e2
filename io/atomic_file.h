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
// Only regular files are written: a symbolic link is followed (to the end of
// its chain) and its final target replaced, in the target's directory, so the
// link stays and points at the new contents; an existing path that is not a
// regular file (a device such as /dev/null, a FIFO, a socket, a directory) is
// refused, as is a new name whose directory does not exist.
// On failure throws IOError naming the path, the step that failed and the
// system's reason; the temporary file is removed and the old target is intact.
// The temporary is ".<name>.tmp-<pid>-<salt>-<counter>" in the target's
// directory; only a killed writer leaves one behind. After a successful
// write, the temporaries of exactly that pattern for the same target whose
// writer is gone (no process of that pid, or an earlier process of our pid)
// and that are this user's regular files are removed (best effort).
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);
void write_file_atomic(const std::string& path, std::string_view bytes);

// Checks up front, without writing anything, that write_file_atomic and
// append_text_line would accept `path`: not empty; after following symbolic
// links, either an existing regular file or a new name in an existing
// directory; that directory writable. Throws IOError naming `what` (e.g.
// "--checkpoint"), the path and the defect, so a command line can be
// validated before hours of training.
void check_output_path(const std::string& path, std::string_view what = "file");

// Appends `line` and a newline to the regular file `path` (created when
// missing, 0666 minus the umask; symbolic links followed), then flushes it to
// disk, for logs such as JSON-lines metrics. Refuses non-regular files as
// write_file_atomic does; ValueError when `line` contains a newline (it would
// become two records). Throws IOError naming `what` and the path when open,
// write, flush or close fails (ENOSPC, EIO, ...); a partly written line is
// then cut off again, so the file keeps only whole lines.
void append_text_line(const std::string& path, std::string_view line, std::string_view what = "file");

// The whole content of `path`: read_regular_file (core/regular_file.h). Throws
// IOError for a missing or unreadable file, one that is not a regular file
// (directory, FIFO, device), and one longer than max_bytes.
std::vector<uint8_t> read_file(const std::string& path,
                               uint64_t max_bytes = std::numeric_limits<uint64_t>::max());

namespace io_detail {
// Fault injection for tests: when set, called before each step of
// write_file_atomic ("open", "write", "fsync", "close", "rename", "fsync_dir")
// and of append_text_line ("open", "write", "fsync", "close");
// a non-zero return is taken as that step failing with that errno.
// Not thread-safe; tests only.
using AtomicWriteFaultHook = int (*)(std::string_view step);
void set_atomic_write_fault_hook_for_testing(AtomicWriteFaultHook hook);
}  // namespace io_detail

}  // namespace sepconv

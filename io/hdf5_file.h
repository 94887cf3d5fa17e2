#pragma once
// HDF5 files as a plain tree: groups holding groups and numeric datasets
// (float32, float64, int32, int64), on Debian's libhdf5 (the C API). This file
// knows nothing of layers or models; model/keras_weights.h maps a model onto
// the tree Keras 3 writes.
//
// Writing builds the whole file in memory (HDF5's core driver, no backing
// store) and hands the bytes to write_file_atomic (io/atomic_file.h): a failed
// or killed save leaves the old file intact. The same tree always gives the
// same bytes (object modification times are not recorded, as h5py does not
// record them either).
//
// Reading loads the bytes of a regular file (core/regular_file.h: no FIFO or
// device, a size cap) and opens them as an in-memory image, so HDF5 itself
// never opens a path. HDF5's own error printing is switched off; every failure
// is an IOError naming the file, the path inside it and the defect. Only what
// a plain h5py writer produces is accepted: hard links to groups and datasets
// (a soft or external link, a named datatype, or a second link to an object
// already read is refused: external links and virtual datasets would make
// HDF5 open other files), datasets stored contiguously or compactly without
// filters or external storage (so no dataset can inflate beyond the file's
// size) and with their data really stored, little-endian IEEE floats or
// two's-complement integers of the sizes above. Attributes are not read.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "sepconv/io/safetensors.h"

namespace sepconv {

// One group of an HDF5 file. Datasets reuse the plain tensor record of
// io/safetensors.h, with dtype "F32", "F64", "I32" or "I64", row-major
// little-endian bytes, and a shape that is empty for a scalar dataspace.
struct Hdf5Group {
  std::map<std::string, Hdf5Group> groups;
  SafeTensorMap datasets;

  bool operator==(const Hdf5Group&) const = default;
};

// Largest file load_hdf5 reads by default (16 GiB), as for safetensors.
inline constexpr uint64_t kHdf5MaxFileBytes = uint64_t{16} << 30;
// Deepest group nesting read or written (Keras files are 4 deep).
inline constexpr int kHdf5MaxDepth = 64;

// The file's bytes. Throws ValueError for an unsupported dtype, a byte count
// that does not match dtype and shape, an empty name or one containing '/' or
// a name "." (HDF5 would read them as paths), or nesting deeper than
// kHdf5MaxDepth; IOError if HDF5 fails.
std::vector<uint8_t> encode_hdf5(const Hdf5Group& root);
// encode_hdf5, written with write_file_atomic (IOError on failure; the old
// file is then untouched).
void save_hdf5(const std::string& path, const Hdf5Group& root);

// Parses an image of an HDF5 file (it must start with the HDF5 signature: no
// user block). IOError naming `name`, the object's path and the defect.
Hdf5Group parse_hdf5(std::span<const uint8_t> bytes, const std::string& name = "<memory>");
// Reads `path` as read_regular_file does (a FIFO, device or directory is
// refused before anything is read, as is a file above max_bytes); then
// parse_hdf5.
Hdf5Group load_hdf5(const std::string& path, uint64_t max_bytes = kHdf5MaxFileBytes);

}  // namespace sepconv

#include "sepconv/io/hdf5_file.h"

#include <atomic>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <hdf5.h>

#include "sepconv/core/error.h"
#include "sepconv/core/regular_file.h"
#include "sepconv/io/atomic_file.h"

namespace sepconv {

namespace {

constexpr uint8_t kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

// HDF5 prints its error stack to stderr by default; the library reports
// failures through exceptions instead. Done once, before any other HDF5 call.
void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// The innermost message of HDF5's error stack (the most specific one), then
// cleared, for our own messages.
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
        if (e && e->desc && *e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason.empty() ? "HDF5 reported an error" : "HDF5: " + reason;
}

// An HDF5 identifier closed on destruction.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  Closer close_;
};

struct DtypeInfo {
  const char* code;
  hid_t (*type)();  // the standard little-endian HDF5 type
};
// Called rather than stored: the H5T_* names are run-time globals of the
// library, valid only once it is initialised.
hid_t f32_type() { return H5T_IEEE_F32LE; }
hid_t f64_type() { return H5T_IEEE_F64LE; }
hid_t i32_type() { return H5T_STD_I32LE; }
hid_t i64_type() { return H5T_STD_I64LE; }
constexpr DtypeInfo kDtypes[] = {{"F32", f32_type}, {"F64", f64_type}, {"I32", i32_type}, {"I64", i64_type}};

std::optional<DtypeInfo> dtype_info(const std::string& code) {
  for (const DtypeInfo& d : kDtypes)
    if (code == d.code) return d;
  return std::nullopt;
}

// prod(shape) * elem, or nullopt on a negative dimension or overflow.
std::optional<uint64_t> byte_count(const Shape& shape, uint64_t elem) {
  uint64_t n = elem;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > UINT64_MAX / static_cast<uint64_t>(d)) return std::nullopt;
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

void check_name(const std::string& name, const std::string& parent) {
  if (name.empty() || name == "." || name.find('/') != std::string::npos || name.find('\0') != std::string::npos)
    throw ValueError(fmt::format("encode_hdf5: invalid name '{}' in group '{}': names must be non-empty, not '.', and "
                                 "contain no '/'",
                                 name, parent));
}

std::string child_path(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

// ---- writing ---------------------------------------------------------------

struct Writer {
  hid_t gcpl, dcpl;

  void fail(const std::string& what, const std::string& path) {
    throw IOError(fmt::format("encode_hdf5: cannot {} '{}': {}", what, path, hdf5_reason()));
  }

  void write_dataset(hid_t parent, const std::string& name, const std::string& path, const SafeTensor& t) {
    std::optional<DtypeInfo> info = dtype_info(t.dtype);
    if (!info)
      throw ValueError(fmt::format("encode_hdf5: dataset '{}' has dtype {}; expected F32, F64, I32 or I64", path,
                                   t.dtype));
    std::optional<uint64_t> nbytes = byte_count(t.shape, t.dtype[1] == '3' ? 4 : 8);
    if (!nbytes || *nbytes != t.bytes.size())
      throw ValueError(fmt::format("encode_hdf5: dataset '{}' of dtype {} and shape {} holds {} bytes, expected {}",
                                   path, t.dtype, shape_str(t.shape), t.bytes.size(),
                                   nbytes ? std::to_string(*nbytes) : "too many"));
    if (t.shape.size() > H5S_MAX_RANK)
      throw ValueError(fmt::format("encode_hdf5: dataset '{}' has rank {}, more than HDF5's {}", path, t.shape.size(),
                                   H5S_MAX_RANK));
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    Handle space(t.shape.empty() ? H5Screate(H5S_SCALAR)
                                 : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                 H5Sclose);
    if (!space.ok()) fail("create the dataspace of", path);
    Handle ds(H5Dcreate2(parent, name.c_str(), info->type(), space.get(), H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
    if (!ds.ok()) fail("create dataset", path);
    if (!t.bytes.empty() && H5Dwrite(ds.get(), info->type(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.bytes.data()) < 0)
      fail("write dataset", path);
  }

  void write_group(hid_t id, const std::string& path, const Hdf5Group& g, int depth) {
    if (depth > kHdf5MaxDepth)
      throw ValueError(fmt::format("encode_hdf5: group '{}' is nested deeper than {} levels", path, kHdf5MaxDepth));
    for (const auto& [name, child] : g.groups) {
      check_name(name, path);
      if (g.datasets.count(name))
        throw ValueError(fmt::format("encode_hdf5: '{}' is both a group and a dataset", child_path(path, name)));
      const std::string p = child_path(path, name);
      Handle sub(H5Gcreate2(id, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose);
      if (!sub.ok()) fail("create group", p);
      write_group(sub.get(), p, child, depth + 1);
    }
    for (const auto& [name, t] : g.datasets) {
      check_name(name, path);
      write_dataset(id, name, child_path(path, name), t);
    }
  }
};

// A name for the in-memory file: HDF5 refuses to create a second open file of
// the same name, even in memory.
std::string memory_file_name(const char* what) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("sepconv-{}-{}.h5", what, counter.fetch_add(1));
}

// ---- reading ---------------------------------------------------------------

struct LinkEntry {
  std::string name;
  H5L_type_t type;
};

struct Reader {
  const std::string& file;
  uint64_t file_size;
  std::set<haddr_t> seen;  // object addresses already read: no object twice

  [[noreturn]] void fail(const std::string& path, const std::string& defect) {
    throw IOError(fmt::format("Cannot read HDF5 file '{}': '{}' {}", file, path, defect));
  }
  [[noreturn]] void fail_hdf5(const std::string& path, const std::string& what) {
    std::string reason = hdf5_reason();
    fail(path, fmt::format("{} ({})", what, reason));
  }

  std::vector<LinkEntry> links_of(hid_t group, const std::string& path) {
    struct Collect {
      std::vector<LinkEntry> links;
      bool bad_name = false;
    } collect;
    hsize_t idx = 0;
    herr_t r = H5Literate(
        group, H5_INDEX_NAME, H5_ITER_INC, &idx,
        [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
          auto* c = static_cast<Collect*>(data);
          if (!name) {
            c->bad_name = true;
            return -1;
          }
          c->links.push_back({name, info->type});
          return 0;
        },
        &collect);
    if (r < 0 || collect.bad_name) fail_hdf5(path, "cannot be listed");
    return collect.links;
  }

  SafeTensor read_dataset(hid_t parent, const std::string& name, const std::string& path) {
    Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.ok()) fail_hdf5(path, "cannot be opened as a dataset");

    Handle type(H5Dget_type(ds.get()), H5Tclose);
    if (!type.ok()) fail_hdf5(path, "has an unreadable datatype");
    std::optional<DtypeInfo> info;
    for (const DtypeInfo& d : kDtypes) {
      htri_t eq = H5Tequal(type.get(), d.type());
      if (eq < 0) fail_hdf5(path, "has an unreadable datatype");
      if (eq > 0) info = d;
    }
    if (!info) {
      H5T_class_t cls = H5Tget_class(type.get());
      size_t size = H5Tget_size(type.get());
      const char* kind = cls == H5T_FLOAT     ? "a float"
                         : cls == H5T_INTEGER ? "an integer"
                         : cls == H5T_STRING  ? "a string"
                                              : "a non-numeric";
      fail(path, fmt::format("has {} datatype of {} bytes that is not little-endian float32, float64, int32 or int64",
                             kind, size));
    }

    Handle space(H5Dget_space(ds.get()), H5Sclose);
    if (!space.ok()) fail_hdf5(path, "has an unreadable dataspace");
    H5S_class_t sclass = H5Sget_simple_extent_type(space.get());
    Shape shape;
    if (sclass == H5S_SIMPLE) {
      int rank = H5Sget_simple_extent_ndims(space.get());
      if (rank < 0 || rank > H5S_MAX_RANK) fail_hdf5(path, "has an unreadable rank");
      std::vector<hsize_t> dims(static_cast<size_t>(rank));
      if (H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) fail_hdf5(path, "has unreadable dimensions");
      for (hsize_t d : dims) {
        if (d > static_cast<hsize_t>(INT64_MAX)) fail(path, fmt::format("has a dimension of {}", d));
        shape.push_back(static_cast<int64_t>(d));
      }
    } else if (sclass != H5S_SCALAR) {
      fail(path, "has a null or unknown dataspace (no values)");
    }
    const uint64_t elem = info->code[1] == '3' ? 4 : 8;
    std::optional<uint64_t> nbytes = byte_count(shape, elem);
    // Unfiltered data lies in the file: more bytes than the file holds is a lie.
    if (!nbytes || *nbytes > file_size)
      fail(path, fmt::format("claims shape {} of {}, more data than the file's {} bytes", shape_str(shape), info->code,
                             file_size));

    Handle dcpl(H5Dget_create_plist(ds.get()), H5Pclose);
    if (!dcpl.ok()) fail_hdf5(path, "has unreadable storage properties");
    H5D_layout_t layout = H5Pget_layout(dcpl.get());
    if (layout != H5D_CONTIGUOUS && layout != H5D_COMPACT)
      fail(path, layout == H5D_CHUNKED   ? "is stored in chunks; only contiguous or compact datasets are read"
                 : layout == H5D_VIRTUAL ? "is a virtual dataset (it maps other files); refused"
                                         : "has an unknown storage layout");
    int nfilters = H5Pget_nfilters(dcpl.get());
    if (nfilters != 0) fail(path, "is filtered (compressed); only unfiltered datasets are read");
    int nexternal = H5Pget_external_count(dcpl.get());
    if (nexternal != 0) fail(path, "keeps its data in external files; refused");
    if (*nbytes > 0 && H5Dget_storage_size(ds.get()) != *nbytes)
      fail(path, fmt::format("stores {} bytes of data, expected {} for shape {} of {}", H5Dget_storage_size(ds.get()),
                             *nbytes, shape_str(shape), info->code));

    SafeTensor t{info->code, shape, std::vector<uint8_t>(static_cast<size_t>(*nbytes))};
    if (*nbytes > 0 && H5Dread(ds.get(), info->type(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.bytes.data()) < 0)
      fail_hdf5(path, "cannot be read");
    return t;
  }

  void read_group(hid_t id, const std::string& path, Hdf5Group& out, int depth) {
    if (depth > kHdf5MaxDepth) fail(path, fmt::format("is nested deeper than {} levels", kHdf5MaxDepth));
    for (const LinkEntry& link : links_of(id, path)) {
      const std::string p = child_path(path, link.name);
      if (link.type != H5L_TYPE_HARD)
        fail(p, link.type == H5L_TYPE_SOFT       ? "is a soft link; only hard links are read"
                : link.type == H5L_TYPE_EXTERNAL ? "is an external link (to another file); refused"
                                                 : "is a user-defined link; refused");
      if (link.name.empty() || link.name == ".") fail(p, "has an empty name");
      H5O_info_t oinfo;
      if (H5Oget_info_by_name2(id, link.name.c_str(), &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        fail_hdf5(p, "cannot be opened");
      if (!seen.insert(oinfo.addr).second) fail(p, "links to an object already read (a shared or cyclic link)");
      if (oinfo.type == H5O_TYPE_GROUP) {
        Handle sub(H5Gopen2(id, link.name.c_str(), H5P_DEFAULT), H5Gclose);
        if (!sub.ok()) fail_hdf5(p, "cannot be opened as a group");
        read_group(sub.get(), p, out.groups[link.name], depth + 1);
      } else if (oinfo.type == H5O_TYPE_DATASET) {
        out.datasets[link.name] = read_dataset(id, link.name, p);
      } else {
        fail(p, oinfo.type == H5O_TYPE_NAMED_DATATYPE ? "is a named datatype; only groups and datasets are read"
                                                      : "is an object of unknown type");
      }
    }
  }
};

}  // namespace

std::vector<uint8_t> encode_hdf5(const Hdf5Group& root) {
  silence_hdf5();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!fapl.ok() || !gcpl.ok() || !dcpl.ok() || H5Pset_fapl_core(fapl.get(), 1 << 16, 0) < 0 ||
      H5Pset_obj_track_times(gcpl.get(), 0) < 0 || H5Pset_obj_track_times(dcpl.get(), 0) < 0)
    throw IOError("encode_hdf5: cannot set up an in-memory file: " + hdf5_reason());
  const std::string name = memory_file_name("write");
  std::vector<uint8_t> image;
  {
    Handle file(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
    if (!file.ok()) throw IOError("encode_hdf5: cannot create an in-memory file: " + hdf5_reason());
    // The root group too: its creation properties are the file's.
    Writer w{gcpl.get(), dcpl.get()};
    w.write_group(file.get(), "/", root, 0);
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) throw IOError("encode_hdf5: cannot flush: " + hdf5_reason());
    ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
    if (size <= 0) throw IOError("encode_hdf5: cannot size the file image: " + hdf5_reason());
    image.resize(static_cast<size_t>(size));
    if (H5Fget_file_image(file.get(), image.data(), image.size()) != size)
      throw IOError("encode_hdf5: cannot copy the file image: " + hdf5_reason());
  }
  return image;
}

void save_hdf5(const std::string& path, const Hdf5Group& root) { write_file_atomic(path, encode_hdf5(root)); }

Hdf5Group parse_hdf5(std::span<const uint8_t> bytes, const std::string& name) {
  silence_hdf5();
  if (bytes.size() < sizeof(kSignature) || std::memcmp(bytes.data(), kSignature, sizeof(kSignature)) != 0)
    throw IOError(fmt::format("Cannot read HDF5 file '{}': it does not start with the HDF5 signature ({} bytes)", name,
                              bytes.size()));
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.ok() || H5Pset_fapl_core(fapl.get(), 1 << 16, 0) < 0 ||
      H5Pset_file_image(fapl.get(), const_cast<uint8_t*>(bytes.data()), bytes.size()) < 0)
    throw IOError(fmt::format("Cannot read HDF5 file '{}': cannot set up the in-memory image ({})", name,
                              hdf5_reason()));
  const std::string mem_name = memory_file_name("read");
  Handle file(H5Fopen(mem_name.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!file.ok())
    throw IOError(fmt::format("Cannot read HDF5 file '{}': it is truncated or corrupt ({})", name, hdf5_reason()));
  Reader r{name, bytes.size(), {}};
  H5O_info_t root_info;
  if (H5Oget_info2(file.get(), &root_info, H5O_INFO_BASIC) < 0)
    throw IOError(fmt::format("Cannot read HDF5 file '{}': its root group is unreadable ({})", name, hdf5_reason()));
  r.seen.insert(root_info.addr);  // a link back to the root is a cycle too
  Hdf5Group root;
  r.read_group(file.get(), "/", root, 0);
  return root;
}

Hdf5Group load_hdf5(const std::string& path, uint64_t max_bytes) {
  std::vector<uint8_t> bytes = read_regular_file(path, max_bytes, "HDF5 file");
  return parse_hdf5(bytes, path);
}

}  // namespace sepconv

#define BOOST_TEST_MODULE io
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "sepconv/core/error.h"
#include "sepconv/core/tensor.h"
#include "sepconv/io/atomic_file.h"
#include "sepconv/io/fashion_mnist.h"
#include "sepconv/io/idx.h"
#include "sepconv/io/safetensors.h"
#include "io_test_support.h"

using namespace sepconv;
namespace fs = std::filesystem;
using namespace sepconv::io_test;

namespace {

Bytes le64(uint64_t n) {
  Bytes b(8);
  for (int i = 0; i < 8; ++i) b[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  return b;
}

// A safetensors file from a header text and a data area, as a hostile writer would make it.
Bytes make_safetensors(const std::string& header, const Bytes& data, std::optional<uint64_t> claimed_len = {}) {
  Bytes out(8 + header.size() + data.size());
  Bytes len = le64(claimed_len.value_or(header.size()));
  std::copy(len.begin(), len.end(), out.begin());
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return out;
}

Bytes f32_le(std::initializer_list<float> values) {
  Bytes out;
  for (float v : values) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(u >> (8 * i)));
  }
  return out;
}

}  // namespace

// ============================================================================
// atomic_file
// ============================================================================

BOOST_AUTO_TEST_SUITE(atomic_file)

BOOST_AUTO_TEST_CASE(write_then_read_round_trips_and_replaces) {
  TempDir dir;
  std::string p = dir / "a.bin";
  write_file_atomic(p, std::string_view("first version"));
  BOOST_TEST(text_of(read_file(p)) == "first version");
  write_file_atomic(p, std::string_view("second"));
  BOOST_TEST(text_of(read_file(p)) == "second");
  write_file_atomic(p, std::string_view(""));
  BOOST_TEST(read_file(p).empty());
  // Binary content, including NULs, and a size that spans several read chunks.
  Bytes big(300000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7 + 3);
  write_file_atomic(p, big);
  BOOST_TEST(read_file(p) == big);
  // No temporary file is left behind.
  BOOST_TEST(dir.entries() == std::vector<std::string>{"a.bin"});
}

BOOST_AUTO_TEST_CASE(relative_path_in_current_directory) {
  TempDir dir;
  fs::path old = fs::current_path();
  fs::current_path(dir.path);
  write_file_atomic("rel.txt", std::string_view("x"));
  fs::current_path(old);
  BOOST_TEST(text_of(read_file(dir / "rel.txt")) == "x");
}

BOOST_AUTO_TEST_CASE(keeps_permissions_of_the_replaced_file) {
  TempDir dir;
  std::string p = dir / "mode.bin";
  write_file_atomic(p, std::string_view("a"));
  BOOST_REQUIRE(::chmod(p.c_str(), 0640) == 0);
  write_file_atomic(p, std::string_view("b"));
  struct stat st{};
  BOOST_REQUIRE(::stat(p.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0640u);
}

BOOST_AUTO_TEST_CASE(target_is_a_directory) {
  TempDir dir;
  fs::create_directory(dir / "sub");
  write_plain(dir / "sub/inside", bytes_of("keep"));
  check_throws<IOError>([&] { write_file_atomic(dir / "sub", std::string_view("x")); },
                        {dir / "sub", "a directory, not a regular file"});
  BOOST_TEST(fs::is_directory(dir / "sub"));
  BOOST_TEST(text_of(read_file(dir / "sub/inside")) == "keep");
  BOOST_TEST(dir.entries() == std::vector<std::string>{"sub"});
}

BOOST_AUTO_TEST_CASE(missing_parent_directory) {
  TempDir dir;
  check_throws<IOError>([&] { write_file_atomic(dir / "no/such/file", std::string_view("x")); },
                        {dir / "no/such/file", std::strerror(ENOENT)});
  check_throws<IOError>([&] { write_file_atomic("", std::string_view("x")); }, {"empty path"});
}

BOOST_AUTO_TEST_CASE(unwritable_directory_keeps_old_file) {
  if (::geteuid() == 0) {
    BOOST_TEST_MESSAGE("running as root, which may write anywhere: directory permissions cannot make the write "
                       "fail (the fault-injection test covers this path)");
    return;
  }
  TempDir dir;
  std::string p = dir / "old.bin";
  write_file_atomic(p, std::string_view("old"));
  fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
  check_throws<IOError>([&] { write_file_atomic(p, std::string_view("new")); }, {p, std::strerror(EACCES)});
  fs::permissions(dir.path, fs::perms::owner_all);
  BOOST_TEST(text_of(read_file(p)) == "old");
}

BOOST_AUTO_TEST_CASE(failure_at_every_step_keeps_old_file_and_removes_temporary) {
  for (const char* step : {"open", "write", "fsync", "close", "rename"}) {
    BOOST_TEST_CONTEXT("failing step " << step) {
      TempDir dir;
      std::string p = dir / "model.safetensors";
      write_file_atomic(p, std::string_view("old contents"));
      {
        FaultGuard fault(step, ENOSPC);
        check_throws<IOError>([&] { write_file_atomic(p, std::string_view("new contents, longer")); },
                              {p, std::strerror(ENOSPC)});
      }
      BOOST_TEST(text_of(read_file(p)) == "old contents");
      BOOST_TEST(dir.entries() == std::vector<std::string>{"model.safetensors"});
    }
  }
}

BOOST_AUTO_TEST_CASE(failure_on_a_new_file_leaves_nothing) {
  TempDir dir;
  FaultGuard fault("write", EIO);
  BOOST_CHECK_THROW(write_file_atomic(dir / "new.bin", std::string_view("abc")), IOError);
  BOOST_TEST(dir.entries().empty());
}

BOOST_AUTO_TEST_CASE(directory_sync_failure_is_reported_after_the_replace) {
  TempDir dir;
  std::string p = dir / "f";
  write_file_atomic(p, std::string_view("old"));
  {
    FaultGuard fault("fsync_dir", EIO);
    check_throws<IOError>([&] { write_file_atomic(p, std::string_view("new")); }, {p, "directory"});
  }
  // The rename had happened: the new content is complete, just not known to be durable.
  BOOST_TEST(text_of(read_file(p)) == "new");
  {
    // A filesystem that cannot sync directories (EINVAL) is not an error.
    FaultGuard fault("fsync_dir", EINVAL);
    write_file_atomic(p, std::string_view("newer"));
  }
  BOOST_TEST(text_of(read_file(p)) == "newer");
}

BOOST_AUTO_TEST_CASE(read_file_errors) {
  TempDir dir;
  check_throws<IOError>([&] { read_file(dir / "missing.bin"); }, {"No such file", dir / "missing.bin"});
  check_throws<IOError>([&] { read_file(dir.path.string()); }, {dir.path.string(), "a directory, not a regular file"});
  write_plain(dir / "ten", Bytes(10, 1));
  BOOST_TEST(read_file(dir / "ten", 10).size() == 10u);
  check_throws<IOError>([&] { read_file(dir / "ten", 9); }, {dir / "ten", "10 bytes"});
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================
// IDX
// ============================================================================

BOOST_AUTO_TEST_SUITE(idx)

namespace {
// 00 00 08 02 | 00 00 00 02 | 00 00 00 03 | 1 2 3 4 5 6 : a 2x3 uint8 matrix,
// written out by hand from the format's definition.
const Bytes kRaw2x3 = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};

IdxArray array_2x3() {
  IdxArray a;
  a.type = IdxType::UInt8;
  a.dims = {2, 3};
  a.data = {1, 2, 3, 4, 5, 6};
  return a;
}
}  // namespace

BOOST_AUTO_TEST_CASE(parses_hand_written_uint8) {
  IdxArray a = parse_idx(kRaw2x3);
  BOOST_TEST((a.type == IdxType::UInt8));
  BOOST_TEST((a.dims == std::vector<int64_t>{2, 3}));
  BOOST_TEST(a.size() == 6);
  BOOST_TEST((a.values<uint8_t>() == std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  BOOST_CHECK_THROW(a.values<float>(), ValueError);
  BOOST_TEST(encode_idx(array_2x3()) == kRaw2x3);
}

BOOST_AUTO_TEST_CASE(parses_big_endian_types) {
  // int8 {-1, 127}
  IdxArray i8 = parse_idx(Bytes{0, 0, 0x09, 1, 0, 0, 0, 2, 0xff, 0x7f});
  BOOST_TEST((i8.values<int8_t>() == std::vector<int8_t>{-1, 127}));
  // int16 {258, -2}
  IdxArray i16 = parse_idx(Bytes{0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe});
  BOOST_TEST((i16.values<int16_t>() == std::vector<int16_t>{258, -2}));
  // int32 {16909060, -1}
  IdxArray i32 = parse_idx(Bytes{0, 0, 0x0C, 1, 0, 0, 0, 2, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff});
  BOOST_TEST((i32.values<int32_t>() == std::vector<int32_t>{16909060, -1}));
  // float32 {1.5, -2}: 0x3FC00000, 0xC0000000
  IdxArray f32 = parse_idx(Bytes{0, 0, 0x0D, 1, 0, 0, 0, 2, 0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0});
  BOOST_TEST((f32.values<float>() == std::vector<float>{1.5f, -2.0f}));
  // float64 {0.1}: 0x3FB999999999999A
  IdxArray f64 = parse_idx(Bytes{0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a});
  BOOST_TEST((f64.values<double>() == std::vector<double>{0.1}));
  // And back to the same bytes.
  BOOST_TEST((encode_idx(f64) == Bytes{0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a}));
  BOOST_TEST((encode_idx(i16) == Bytes{0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe}));
}

BOOST_AUTO_TEST_CASE(zero_sized_dimension) {
  IdxArray a = parse_idx(Bytes{0, 0, 0x08, 2, 0, 0, 0, 0, 0, 0, 0, 5});
  BOOST_TEST(a.size() == 0);
  BOOST_TEST(a.data.empty());
}

BOOST_AUTO_TEST_CASE(files_raw_and_gzip_detected_by_content_not_name) {
  TempDir dir;
  IdxArray a = array_2x3();
  write_idx(dir / "raw.gz", a, false);        // raw, despite the name
  write_idx(dir / "packed.idx", a, true);     // gzip, despite the name
  Bytes gz = read_file(dir / "packed.idx");
  BOOST_TEST(gz.size() >= 2u);
  BOOST_TEST((gz[0] == 0x1f && gz[1] == 0x8b));
  for (const char* name : {"raw.gz", "packed.idx"}) {
    IdxArray b = read_idx(dir / name);
    BOOST_TEST((b.dims == a.dims));
    BOOST_TEST((b.data == a.data));
  }
  // Compression is deterministic.
  BOOST_TEST(encode_idx(a, true) == gz);
}

BOOST_AUTO_TEST_CASE(multi_member_gzip) {
  // gzip(1) concatenates members and reads them as one stream.
  Bytes first(kRaw2x3.begin(), kRaw2x3.begin() + 7), second(kRaw2x3.begin() + 7, kRaw2x3.end());
  Bytes gz = gzip_compress(first);
  Bytes gz2 = gzip_compress(second);
  gz.insert(gz.end(), gz2.begin(), gz2.end());
  IdxArray a = parse_idx(gz);
  BOOST_TEST((a.data == std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
}

BOOST_AUTO_TEST_CASE(header_errors) {
  check_throws<IOError>([] { parse_idx(Bytes{1, 0, 0x08, 1, 0, 0, 0, 0}, "x.idx"); },
                        {"x.idx", "not an IDX file", "01 00"});
  check_throws<IOError>([] { parse_idx(bytes_of("PK\x03\x04 zip file"), "x.idx"); }, {"not an IDX file"});
  check_throws<IOError>([] { parse_idx(Bytes{0, 0, 0x0A, 1, 0, 0, 0, 0}, "x.idx"); },
                        {"x.idx", "unsupported IDX element type 0x0a"});
  check_throws<IOError>([] { parse_idx(Bytes{0, 0, 0x08, 0}, "x.idx"); }, {"x.idx", "0 dimensions"});
  check_throws<IOError>([] { parse_idx(Bytes{}, "empty.idx"); }, {"empty.idx", "0 bytes", "too short"});
  check_throws<IOError>([] { parse_idx(Bytes{0, 0, 0x08, 3, 0, 0, 0, 1}, "x.idx"); },
                        {"truncated IDX header", "3 dimensions need 16 bytes"});
}

BOOST_AUTO_TEST_CASE(absurd_dimensions_are_refused_before_allocating) {
  // 4 x (2^32 - 1): the product overflows 64 bits.
  Bytes overflow = {0, 0, 0x08, 4};
  for (int i = 0; i < 16; ++i) overflow.push_back(0xff);
  check_throws<IOError>([&] { parse_idx(overflow, "big.idx"); }, {"big.idx", "more than"});
  // 2^31 + 1 float64 elements: fits in 64 bits, above the 2 GiB limit.
  check_throws<IOError>([] { parse_idx(Bytes{0, 0, 0x0E, 1, 0x80, 0, 0, 1}, "big.idx"); }, {"more than"});
  // 1e9 bytes promised by a 12-byte file.
  check_throws<IOError>([] { parse_idx(Bytes{0, 0, 0x08, 1, 0x3b, 0x9a, 0xca, 0x00, 1, 2, 3, 4}, "t.idx"); },
                        {"t.idx", "truncated IDX data", "1000000000", "has 4"});
  // The same header gzipped: refused before inflating, since 40-odd
  // compressed bytes cannot hold 1e9.
  Bytes gz = gzip_compress(Bytes{0, 0, 0x08, 1, 0x3b, 0x9a, 0xca, 0x00});
  check_throws<IOError>([&] { parse_idx(gz, "bomb.gz"); }, {"bomb.gz", "compressed bytes can hold"});
  // A zero dimension does not excuse an overflowing one before it.
  Bytes zero_after = {0, 0, 0x08, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
  BOOST_CHECK_THROW(parse_idx(zero_after), IOError);
}

BOOST_AUTO_TEST_CASE(trailing_data) {
  Bytes extra = kRaw2x3;
  extra.push_back(9);
  check_throws<IOError>([&] { parse_idx(extra, "t.idx"); }, {"t.idx", "1 bytes of trailing data"});
  check_throws<IOError>([&] { parse_idx(gzip_compress(extra), "t.gz"); }, {"t.gz", "1 bytes of trailing data"});
  // Bytes after the gzip stream that are not another gzip member.
  Bytes gz = gzip_compress(kRaw2x3);
  gz.push_back(0);
  gz.push_back(0);
  check_throws<IOError>([&] { parse_idx(gz, "t.gz"); }, {"t.gz", "trailing garbage after the gzip stream"});
}

BOOST_AUTO_TEST_CASE(truncation_at_every_length) {
  for (size_t n = 0; n < kRaw2x3.size(); ++n) {
    BOOST_TEST_CONTEXT("raw prefix of " << n << " bytes") {
      BOOST_CHECK_THROW(parse_idx(Bytes(kRaw2x3.begin(), kRaw2x3.begin() + static_cast<std::ptrdiff_t>(n))),
                        IOError);
    }
  }
  Bytes gz = gzip_compress(kRaw2x3);
  for (size_t n = 0; n < gz.size(); ++n) {
    BOOST_TEST_CONTEXT("gzip prefix of " << n << " bytes") {
      BOOST_CHECK_THROW(parse_idx(Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(n))), IOError);
    }
  }
}

BOOST_AUTO_TEST_CASE(corrupt_gzip_every_byte) {
  Bytes gz = gzip_compress(kRaw2x3);
  check_throws<IOError>(
      [&] {
        Bytes bad = gz;
        bad[bad.size() - 6] ^= 0xff;  // inside the CRC-32 of the trailer
        parse_idx(bad, "crc.gz");
      },
      {"crc.gz", "corrupt gzip data"});
  // Any single flipped byte either still decodes to the same array (bytes
  // zlib ignores: time stamp, OS code) or is reported as an IOError.
  int rejected = 0;
  for (size_t i = 2; i < gz.size(); ++i) {
    Bytes bad = gz;
    bad[i] ^= 0x55;
    try {
      IdxArray a = parse_idx(bad);
      BOOST_TEST((a.data == std::vector<uint8_t>{1, 2, 3, 4, 5, 6}), "byte " << i);
    } catch (const IOError& e) {
      ++rejected;
      // Damage to the compressed data or trailer is reported as such, even
      // when the inflated bytes fail the IDX checks before the checksum is reached.
      if (i >= 10) BOOST_TEST(std::string(e.what()).find("gzip") != std::string::npos, "byte " << i << ": " << e.what());
    }
  }
  BOOST_TEST(rejected > static_cast<int>(gz.size()) / 2);
}

BOOST_AUTO_TEST_CASE(missing_file) {
  check_throws<IOError>([] { read_idx("/nonexistent/dir/train-images-idx3-ubyte.gz"); },
                        {"/nonexistent/dir/train-images-idx3-ubyte.gz"});
}

BOOST_AUTO_TEST_CASE(encode_checks_its_input) {
  IdxArray a = array_2x3();
  a.data.pop_back();
  check_throws<ValueError>([&] { encode_idx(a); }, {"needs 6 data bytes, received 5"});
  IdxArray b = array_2x3();
  b.dims = {};
  BOOST_CHECK_THROW(encode_idx(b), ValueError);
  IdxArray c = array_2x3();
  c.dims = {int64_t{1} << 33, 0};
  BOOST_CHECK_THROW(encode_idx(c), ValueError);
}

// Reproducers found by fuzz/fuzz_idx.cpp go here (none so far: 1,000,000 runs clean).

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================
// Fashion-MNIST
// ============================================================================

BOOST_AUTO_TEST_SUITE(fashion_mnist)

namespace {
void write_fake_split(const TempDir& dir, const std::string& prefix, int64_t n_images, int64_t n_labels,
                      uint8_t label, int64_t side = 28, bool gzip = true) {
  IdxArray img;
  img.dims = {n_images, side, side};
  img.data.assign(static_cast<size_t>(n_images * side * side), 0);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<uint8_t>(i % 256);
  IdxArray lab;
  lab.dims = {n_labels};
  lab.data.assign(static_cast<size_t>(n_labels), label);
  std::string ext = gzip ? ".gz" : "";
  write_idx(dir / (prefix + "-images-idx3-ubyte" + ext), img, gzip);
  write_idx(dir / (prefix + "-labels-idx1-ubyte" + ext), lab, gzip);
}
}  // namespace

BOOST_AUTO_TEST_CASE(class_names) {
  BOOST_TEST(kFashionMnistClassNames.size() == 10u);
  BOOST_TEST(std::string(kFashionMnistClassNames[0]) == "T-shirt/top");
  BOOST_TEST(std::string(kFashionMnistClassNames[9]) == "Ankle boot");
}

BOOST_AUTO_TEST_CASE(installed_dataset) {
  if (!fs::is_directory(kFashionMnistDefaultDir)) {
    BOOST_TEST_MESSAGE("skipped: " << kFashionMnistDefaultDir
                                   << " is missing (install the Debian package dataset-fashion-mnist)");
    return;
  }
  FashionMnist d = load_fashion_mnist();
  BOOST_TEST((d.train_images.shape() == Shape{60000, 28, 28, 1}));
  BOOST_TEST((d.test_images.shape() == Shape{10000, 28, 28, 1}));
  BOOST_TEST(d.train_labels.size() == 60000u);
  BOOST_TEST(d.test_labels.size() == 10000u);
  // The data set is balanced: 6000 training and 1000 test images per class.
  std::vector<int> train_count(10), test_count(10);
  for (int32_t l : d.train_labels) ++train_count.at(static_cast<size_t>(l));
  for (int32_t l : d.test_labels) ++test_count.at(static_cast<size_t>(l));
  BOOST_TEST(train_count == std::vector<int>(10, 6000), boost::test_tools::per_element());
  BOOST_TEST(test_count == std::vector<int>(10, 1000), boost::test_tools::per_element());
  // First labels of each split, as published: 9 0 0 3 ... and 9 2 1 1 ...
  BOOST_TEST((std::vector<int32_t>(d.train_labels.begin(), d.train_labels.begin() + 4) ==
              std::vector<int32_t>{9, 0, 0, 3}));
  BOOST_TEST((std::vector<int32_t>(d.test_labels.begin(), d.test_labels.begin() + 4) ==
              std::vector<int32_t>{9, 2, 1, 1}));
  float lo = *std::min_element(d.train_images.begin(), d.train_images.end());
  float hi = *std::max_element(d.train_images.begin(), d.train_images.end());
  BOOST_TEST(lo == 0.0f);
  BOOST_TEST(hi == 1.0f);
  // Every value is k / 255 for an integer k.
  for (int64_t i = 0; i < 28 * 28; ++i) {
    float k = d.train_images[i] * 255.0f;
    BOOST_TEST(std::fabs(k - std::round(k)) < 1e-3f);
  }

  FashionMnist small = load_fashion_mnist(kFashionMnistDefaultDir, 100, 7);
  BOOST_TEST((small.train_images.shape() == Shape{100, 28, 28, 1}));
  BOOST_TEST((small.test_images.shape() == Shape{7, 28, 28, 1}));
  BOOST_TEST(small.train_labels.size() == 100u);
  BOOST_TEST(small.test_labels.size() == 7u);
  BOOST_TEST(std::equal(small.train_images.begin(), small.train_images.end(), d.train_images.begin()));
  FashionMnist none = load_fashion_mnist(kFashionMnistDefaultDir, 0, 0);
  BOOST_TEST((none.train_images.shape() == Shape{0, 28, 28, 1}));
  BOOST_CHECK_THROW(load_fashion_mnist(kFashionMnistDefaultDir, -2), ValueError);
}

BOOST_AUTO_TEST_CASE(synthetic_directory) {
  TempDir dir;
  write_fake_split(dir, "train", 5, 5, 3);
  write_fake_split(dir, "t10k", 2, 2, 9, 28, /*gzip=*/false);  // uncompressed files are found too
  FashionMnist d = load_fashion_mnist(dir.path.string(), 3);
  BOOST_TEST((d.train_images.shape() == Shape{3, 28, 28, 1}));
  BOOST_TEST((d.test_images.shape() == Shape{2, 28, 28, 1}));
  BOOST_TEST((d.train_labels == std::vector<int32_t>{3, 3, 3}));
  BOOST_TEST(d.train_images[1] == 1.0f / 255.0f);
  BOOST_TEST(d.train_images[255] == 1.0f);
  // NHWC with C = 1: element (n, h, w, 0) is pixel n*784 + h*28 + w.
  BOOST_TEST(d.train_images[(1 * 28 + 2) * 28 + 3] == static_cast<float>((784 + 2 * 28 + 3) % 256) / 255.0f);
}

BOOST_AUTO_TEST_CASE(errors) {
  check_throws<IOError>([] { load_fashion_mnist("/nonexistent/fashion"); },
                        {"/nonexistent/fashion", "dataset-fashion-mnist"});
  {
    TempDir dir;
    write_fake_split(dir, "train", 5, 5, 1);
    check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); },
                          {"t10k-images-idx3-ubyte.gz", "missing", "dataset-fashion-mnist"});
  }
  {
    TempDir dir;
    write_fake_split(dir, "train", 5, 4, 1);
    write_fake_split(dir, "t10k", 2, 2, 1);
    check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); }, {"5 images but 4 labels"});
  }
  {
    TempDir dir;
    write_fake_split(dir, "train", 5, 5, 10);
    write_fake_split(dir, "t10k", 2, 2, 1);
    check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); }, {"label 10", "[0, 10)"});
  }
  {
    TempDir dir;
    write_fake_split(dir, "train", 5, 5, 1, 27);
    write_fake_split(dir, "t10k", 2, 2, 1);
    check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); }, {"27x27", "expected 28x28"});
  }
  {
    TempDir dir;
    write_fake_split(dir, "train", 5, 5, 1);
    write_fake_split(dir, "t10k", 2, 2, 1);
    write_plain(dir / "t10k-labels-idx1-ubyte.gz", Bytes{0x1f, 0x8b, 8, 0});
    check_throws<IOError>([&] { load_fashion_mnist(dir.path.string()); },
                          {"t10k-labels-idx1-ubyte.gz", "truncated"});
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================
// safetensors
// ============================================================================

BOOST_AUTO_TEST_SUITE(safetensors)

BOOST_AUTO_TEST_CASE(matches_the_reference_implementation_bytes) {
  // The reference implementation's documented outputs: an empty file is the
  // header "{}" padded with 6 spaces; ...
  Bytes empty = encode_safetensors({});
  Bytes expected = le64(8);
  for (char c : std::string("{}      ")) expected.push_back(static_cast<uint8_t>(c));
  BOOST_TEST(empty == expected);
  // ... with metadata {"framework": "pt"}, the metadata comes first; ...
  Bytes meta = encode_safetensors({}, {{"framework", "pt"}});
  std::string meta_header = R"({"__metadata__":{"framework":"pt"}})";
  BOOST_TEST(text_of(Bytes(meta.begin() + 8, meta.end())) == meta_header + "     ");
  BOOST_TEST(meta.size() == 8u + 40u);
  // ... one F32 tensor "attn0" of shape [1, 1, 2, 3] holding 0..5: fields in
  // the order dtype, shape, data_offsets, header padded to 72 bytes.
  SafeTensorMap m;
  m["attn0"] = SafeTensor{"F32", {1, 1, 2, 3}, f32_le({0, 1, 2, 3, 4, 5})};
  Bytes one = encode_safetensors(m);
  std::string h = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  BOOST_TEST(h.size() == 65u);
  Bytes want = make_safetensors(h + "       ", f32_le({0, 1, 2, 3, 4, 5}));
  BOOST_TEST(one == want);
}

BOOST_AUTO_TEST_CASE(layout_is_deterministic_and_aligned) {
  SafeTensorMap m;
  m["z_f64"] = SafeTensor{"F64", {1}, Bytes(8, 0xaa)};
  m["b_u8"] = SafeTensor{"U8", {3}, Bytes{1, 2, 3}};
  m["a_f32"] = SafeTensor{"F32", {1}, Bytes(4, 0xbb)};
  m["c_f32"] = SafeTensor{"F32", {2}, Bytes(8, 0xcc)};
  SafeTensorMetadata md = {{"zeta", "1"}, {"alpha", "2"}};
  Bytes a = encode_safetensors(m, md);
  // Same content built in another order: same bytes.
  SafeTensorMap m2;
  m2["c_f32"] = m["c_f32"];
  m2["a_f32"] = m["a_f32"];
  m2["z_f64"] = m["z_f64"];
  m2["b_u8"] = m["b_u8"];
  BOOST_TEST(encode_safetensors(m2, {{"alpha", "2"}, {"zeta", "1"}}) == a);
  // Widest dtype first, then by name: z_f64 [0,8), a_f32 [8,12), c_f32 [12,20), b_u8 [20,23).
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{a[static_cast<size_t>(i)]} << (8 * i);
  BOOST_TEST((8 + n) % 8 == 0u);
  std::string header = text_of(Bytes(a.begin() + 8, a.begin() + 8 + static_cast<std::ptrdiff_t>(n)));
  std::string expect =
      R"({"__metadata__":{"alpha":"2","zeta":"1"},)"
      R"("z_f64":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
      R"("a_f32":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
      R"("c_f32":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},)"
      R"("b_u8":{"dtype":"U8","shape":[3],"data_offsets":[20,23]}})";
  BOOST_TEST(header.substr(0, expect.size()) == expect);
  BOOST_TEST(header.find_first_not_of(' ', expect.size()) == std::string::npos);
  BOOST_TEST(a.size() == 8 + n + 23);
}

BOOST_AUTO_TEST_CASE(round_trip_through_a_file) {
  TempDir dir;
  Tensor<float> k({3, 3, 2, 1});
  for (int64_t i = 0; i < k.size(); ++i) k[i] = 0.25f * static_cast<float>(i) - 1.0f;
  Tensor<double> b({4}, std::vector<double>{0.1, -0.2, 1e-300, 3.0});
  SafeTensorMap m;
  m["separable_conv2d/depthwise_kernel"] = to_safetensor(k);
  m["separable_conv2d/bias"] = to_safetensor(b);
  m["optimizer/iterations"] = int64_scalar_safetensor(-1234567890123LL);
  m["empty"] = SafeTensor{"F32", {0, 5}, {}};
  m["scalar"] = to_safetensor(Tensor<float>::scalar(2.5f));
  SafeTensorMetadata md = {{"format", "sepconv"}, {"note", "unicode \xc3\xa9"}};
  std::string p = dir / "model.safetensors";
  save_safetensors(p, m, md);
  SafeTensorsFile f = load_safetensors(p);
  BOOST_TEST((f.metadata == md));
  BOOST_TEST(f.tensors.size() == m.size());
  for (const auto& [name, t] : m) BOOST_TEST((f.tensors.at(name) == t), name);
  Tensor<float> k2 = tensor_from_safetensor<float>(f.tensors.at("separable_conv2d/depthwise_kernel"),
                                                   Shape{3, 3, 2, 1}, "separable_conv2d/depthwise_kernel");
  BOOST_TEST(max_abs_diff(k2, k) == 0.0);
  Tensor<double> b2 = tensor_from_safetensor<double>(f.tensors.at("separable_conv2d/bias"), "bias");
  BOOST_TEST(max_abs_diff(b2, b) == 0.0);
  BOOST_TEST(int64_from_safetensor(f.tensors.at("optimizer/iterations"), "iterations") == -1234567890123LL);
  BOOST_TEST(tensor_from_safetensor<double>(f.tensors.at("scalar"), Shape{}, "scalar").item() == 2.5);
  // Saving the loaded content again gives the same bytes.
  Bytes first = read_file(p);
  save_safetensors(p, f.tensors, f.metadata);
  BOOST_TEST(read_file(p) == first);
  BOOST_TEST(dir.entries() == std::vector<std::string>{"model.safetensors"});
}

BOOST_AUTO_TEST_CASE(typed_helpers) {
  // Bytes from the IEEE-754 definition: 1.0f = 0x3F800000, -2.0 = 0xC000000000000000.
  SafeTensor f32{"F32", {2}, Bytes{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}};
  Tensor<double> d = tensor_from_safetensor<double>(f32, Shape{2}, "w");
  BOOST_TEST(d[0] == 1.0);
  BOOST_TEST(d[1] == -2.0);
  SafeTensor f64{"F64", {1}, Bytes{0, 0, 0, 0, 0, 0, 0, 0xc0}};
  BOOST_TEST(tensor_from_safetensor<float>(f64, Shape{1}, "w")[0] == -2.0f);
  BOOST_TEST((to_safetensor(Tensor<float>({2}, std::vector<float>{1.0f, -2.0f})) == f32));
  BOOST_TEST((to_safetensor(Tensor<double>({1}, std::vector<double>{-2.0})) == f64));

  check_throws<ValueError>(
      [&] { tensor_from_safetensor<float>(f32, Shape{3, 3, 4, 1}, "separable_conv2d/depthwise_kernel"); },
      {"separable_conv2d/depthwise_kernel", "(3, 3, 4, 1)", "(2,)"});
  check_throws<ValueError>(
      [&] { tensor_from_safetensor<float>(int64_scalar_safetensor(3), "step"); }, {"step", "I64"});
  SafeTensor short_bytes{"F32", {2}, Bytes(7)};
  check_throws<ValueError>([&] { tensor_from_safetensor<float>(short_bytes, "w"); }, {"w", "7 bytes"});
  check_throws<ValueError>([&] { int64_from_safetensor(f32, "iterations"); }, {"iterations", "F32"});
  check_throws<ValueError>([&] { int64_from_safetensor(SafeTensor{"I64", {2}, Bytes(16)}, "it"); },
                           {"it", "(2,)"});
  BOOST_TEST(int64_from_safetensor(SafeTensor{"I64", {1}, le64(7)}, "it") == 7);
  BOOST_TEST(int64_scalar_safetensor(0x0102030405060708LL).bytes == (Bytes{8, 7, 6, 5, 4, 3, 2, 1}));
}

BOOST_AUTO_TEST_CASE(encode_checks_its_input) {
  check_throws<ValueError>([] { encode_safetensors({{"w", SafeTensor{"F32", {2}, Bytes(7)}}}); },
                           {"'w'", "needs 8 bytes, holds 7"});
  check_throws<ValueError>([] { encode_safetensors({{"w", SafeTensor{"F31", {1}, Bytes(4)}}}); },
                           {"'w'", "unknown safetensors dtype 'F31'"});
  check_throws<ValueError>([] { encode_safetensors({{"w", SafeTensor{"F32", {-1}, {}}}}); }, {"negative"});
  check_throws<ValueError>([] { encode_safetensors({{"__metadata__", SafeTensor{"F32", {0}, {}}}}); },
                           {"reserved"});
  check_throws<ValueError>([] { encode_safetensors({{"bad\xff", SafeTensor{"F32", {0}, {}}}}); }, {"UTF-8"});
}

BOOST_AUTO_TEST_CASE(failed_save_keeps_the_old_checkpoint) {
  TempDir dir;
  std::string p = dir / "ckpt.safetensors";
  SafeTensorMap old_map = {{"w", to_safetensor(Tensor<float>({2}, 1.0f))}};
  save_safetensors(p, old_map);
  {
    FaultGuard fault("write", ENOSPC);
    BOOST_CHECK_THROW(save_safetensors(p, {{"w", to_safetensor(Tensor<float>({1000}, 2.0f))}}), IOError);
  }
  BOOST_TEST((load_safetensors(p).tensors == old_map));
  BOOST_TEST(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
  check_throws<IOError>([&] { save_safetensors(dir.path.string(), old_map); },
                        {dir.path.string(), "a directory, not a regular file"});
  check_throws<IOError>([&] { load_safetensors(dir / "missing.safetensors"); }, {"missing.safetensors"});
}

BOOST_AUTO_TEST_CASE(truncation_at_every_length) {
  SafeTensorMap m;
  m["a"] = SafeTensor{"F32", {2}, f32_le({1, 2})};
  m["b"] = int64_scalar_safetensor(5);
  Bytes full = encode_safetensors(m, {{"k", "v"}});
  BOOST_TEST((parse_safetensors(full).tensors == m));
  for (size_t n = 0; n < full.size(); ++n) {
    BOOST_TEST_CONTEXT("prefix of " << n << " bytes") {
      BOOST_CHECK_THROW(parse_safetensors(Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n))),
                        IOError);
    }
  }
  Bytes longer = full;
  longer.push_back(0);
  check_throws<IOError>([&] { parse_safetensors(longer, "f.st"); }, {"f.st", "1 bytes unaccounted for"});
}

BOOST_AUTO_TEST_CASE(header_errors) {
  const Bytes d8 = Bytes(8, 0);
  auto parse = [](const Bytes& b) { parse_safetensors(b, "bad.safetensors"); };
  // Length field.
  check_throws<IOError>([&] { parse(Bytes{1, 2, 3}); }, {"bad.safetensors", "too short"});
  check_throws<IOError>([&] { parse(make_safetensors("{}", {}, 100)); }, {"header length 100 runs past"});
  check_throws<IOError>([&] { parse(make_safetensors("{}", {}, ~uint64_t{0})); }, {"above the 100000000"});
  check_throws<IOError>([&] { parse(make_safetensors("", {})); }, {"does not start with '{'"});
  check_throws<IOError>([&] { parse(make_safetensors("[1, 2]", {})); }, {"does not start with '{'"});
  // JSON.
  check_throws<IOError>([&] { parse(make_safetensors("{\"a\": ", {})); }, {"not valid JSON"});
  check_throws<IOError>([&] { parse(make_safetensors("{} x", {})); }, {"not valid JSON"});
  check_throws<IOError>([&] { parse(make_safetensors("{\"a\":\"\xff\"}", {})); }, {"not valid JSON"});
  check_throws<IOError>([&] { parse(make_safetensors(std::string("{\"a\"\0:1}", 8), {})); }, {"not valid JSON"});
  check_throws<IOError>(
      [&] {
        parse(make_safetensors(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                               R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                               Bytes(2)));
      },
      {"repeats the key \"w\""});
  check_throws<IOError>(
      [&] { parse(make_safetensors("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}", {})); },
      {"nested too deeply"});
  // Entries.
  check_throws<IOError>([&] { parse(make_safetensors(R"({"w": 3})", {})); }, {"'w'", "expected an object"});
  check_throws<IOError>([&] { parse(make_safetensors(R"({"w":{"shape":[],"data_offsets":[0,0]}})", {})); },
                        {"'w'", "no \"dtype\""});
  check_throws<IOError>([&] { parse(make_safetensors(R"({"w":{"dtype":"F32","data_offsets":[0,0]}})", {})); },
                        {"'w'", "no \"shape\""});
  check_throws<IOError>([&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[]}})", {})); },
                        {"'w'", "no \"data_offsets\""});
  check_throws<IOError>([&] { parse(make_safetensors(R"({"w":{"dtype":7,"shape":[],"data_offsets":[0,4]}})", d8)); },
                        {"'w'", "expected a string"});
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", Bytes(4))); },
      {"'w'", "unknown dtype 'F17'"});
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", Bytes(4))); },
      {"'w'", "non-negative"});
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", Bytes(4))); },
      {"'w'", "non-negative integers"});
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":{},"data_offsets":[0,4]}})", Bytes(4))); },
      {"'w'", "expected a list"});
  check_throws<IOError>(
      [&] {
        parse(make_safetensors(
            R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", Bytes(4)));
      },
      {"'w'", "overflows"});
  check_throws<IOError>(
      [&] {
        parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}})",
                               Bytes(4)));
      },
      {"'w'", "non-negative integers"});
  // Offsets.
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", Bytes(4))); },
      {"'w'", "[begin, end]"});
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})", Bytes(4))); },
      {"'w'", "[begin, end]"});
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", Bytes(4))); },
      {"'w'", "end before begin"});
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", Bytes(4))); },
      {"'w'", "needs 8 bytes", "span 4"});
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", Bytes(2))); },
      {"'w'", "beyond the 2 bytes of data"});
  check_throws<IOError>(
      [&] {
        parse(make_safetensors(
            R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551616]}})",
            Bytes(4)));
      },
      {"'w'"});
  check_throws<IOError>(
      [&] { parse(make_safetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", Bytes(8))); },
      {"'w'", "leaving bytes [0, 4) unused"});
  check_throws<IOError>(
      [&] {
        parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                               Bytes(8)));
      },
      {"'b'", "overlapping"});
  check_throws<IOError>([&] { parse(make_safetensors("{}", Bytes(3))); }, {"3 bytes unaccounted for"});
  // Metadata.
  check_throws<IOError>([&] { parse(make_safetensors(R"({"__metadata__":{"k":1}})", {})); },
                        {"__metadata__", "'k'", "expected a string"});
  check_throws<IOError>([&] { parse(make_safetensors(R"({"__metadata__":[]})", {})); },
                        {"__metadata__", "expected an object"});
}

BOOST_AUTO_TEST_CASE(accepts_what_other_writers_may_produce) {
  // Offsets in another order than the keys, null metadata, unknown extra fields,
  // zero-size tensors, trailing spaces or none.
  Bytes b = make_safetensors(R"({"__metadata__":null,"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("a":{"dtype":"U8","shape":[2],"data_offsets":[1,3],"extra":true},)"
                             R"("z":{"dtype":"BF16","shape":[0,3],"data_offsets":[3,3]}})",
                             Bytes{7, 8, 9});
  SafeTensorsFile f = parse_safetensors(b);
  BOOST_TEST(f.metadata.empty());
  BOOST_TEST((f.tensors.at("b").bytes == Bytes{7}));
  BOOST_TEST((f.tensors.at("a").bytes == Bytes{8, 9}));
  BOOST_TEST((f.tensors.at("z").shape == Shape{0, 3}));
}

// Reproducers found by fuzz/fuzz_safetensors.cpp go here (none so far: 1,000,000 runs clean).

BOOST_AUTO_TEST_SUITE_END()

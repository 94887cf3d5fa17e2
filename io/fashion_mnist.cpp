#include "sepconv/io/fashion_mnist.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/io/idx.h"

namespace sepconv {

namespace {

constexpr const char* kInstallHint =
    "install the Debian package dataset-fashion-mnist (apt install dataset-fashion-mnist), or pass the directory "
    "that holds train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
    "t10k-labels-idx1-ubyte.gz";

bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

std::string find_file(const std::string& dir, const std::string& stem) {
  std::string gz = dir + "/" + stem + ".gz";
  if (exists(gz)) return gz;
  std::string raw = dir + "/" + stem;
  if (exists(raw)) return raw;
  throw IOError(fmt::format("Fashion-MNIST file '{}' is missing; {}", gz, kInstallHint));
}

// Type and rank, from the header alone: a wrong file is refused before its
// payload is inflated.
void check_part_header(const IdxHeader& h, const std::string& path, size_t rank) {
  if (h.type != IdxType::UInt8)
    throw IOError(fmt::format("Fashion-MNIST file '{}' holds {} elements, expected uint8", path,
                              idx_type_name(h.type)));
  if (h.dims.size() != rank)
    throw IOError(fmt::format("Fashion-MNIST file '{}' has {} dimensions, expected {}", path, h.dims.size(), rank));
}

void load_split(const std::string& dir, const std::string& prefix, int64_t limit, Tensor<float>& images,
                std::vector<int32_t>& labels) {
  std::string images_path = find_file(dir, prefix + "-images-idx3-ubyte");
  std::string labels_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  constexpr int64_t pixels = int64_t{kFashionMnistImageSize} * kFashionMnistImageSize;

  // The labels first: one byte per example, so even a forged count costs
  // little, and their count then bounds the images file before its payload
  // (784 times larger, then 4 times more as floats) is read. The two counts
  // agreeing is not enough on its own: both are also held to
  // kFashionMnistMaxExamples, and read_idx checks that the file can hold (and
  // really holds) what its header claims.
  IdxReadOptions label_options;
  label_options.check_header = [&](const IdxHeader& h) {
    check_part_header(h, labels_path, 1);
    if (h.dims[0] > kFashionMnistMaxExamples)
      throw IOError(fmt::format("Fashion-MNIST file '{}' declares {} labels, more than the {} examples accepted",
                                labels_path, h.dims[0], kFashionMnistMaxExamples));
  };
  IdxArray lab = read_idx(labels_path, label_options);
  const int64_t count = lab.dims[0];

  IdxReadOptions image_options;
  image_options.max_data_bytes = static_cast<uint64_t>(count * pixels);
  image_options.check_header = [&](const IdxHeader& h) {
    check_part_header(h, images_path, 3);
    if (h.dims[1] != kFashionMnistImageSize || h.dims[2] != kFashionMnistImageSize)
      throw IOError(fmt::format("Fashion-MNIST file '{}' holds {}x{} images, expected 28x28", images_path, h.dims[1],
                                h.dims[2]));
    if (h.dims[0] != count)
      throw IOError(fmt::format("Fashion-MNIST files '{}' and '{}' disagree: {} images but {} labels", images_path,
                                labels_path, h.dims[0], count));
  };
  IdxArray img = read_idx(images_path, image_options);
  int64_t n = limit < 0 ? img.dims[0] : std::min(limit, img.dims[0]);

  labels.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint8_t l = lab.data[static_cast<size_t>(i)];
    if (l >= kFashionMnistClasses)
      throw IOError(fmt::format("Fashion-MNIST file '{}': label {} of example {} is not in [0, 10)", labels_path, l,
                                i));
    labels[static_cast<size_t>(i)] = l;
  }
  images = Tensor<float>({n, kFashionMnistImageSize, kFashionMnistImageSize, 1});
  float* out = images.data();
  const uint8_t* in = img.data.data();
  for (int64_t i = 0; i < n * pixels; ++i) out[i] = static_cast<float>(in[i]) / 255.0f;
}

}  // namespace

FashionMnist load_fashion_mnist(const std::string& dir, int64_t train_limit, int64_t test_limit) {
  if (train_limit < -1) throw ValueError(fmt::format("train_limit must be -1 (all) or >= 0, received {}", train_limit));
  if (test_limit < -1) throw ValueError(fmt::format("test_limit must be -1 (all) or >= 0, received {}", test_limit));
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw IOError(fmt::format("Fashion-MNIST directory '{}' does not exist; {}", dir, kInstallHint));
  FashionMnist data;
  load_split(dir, "train", train_limit, data.train_images, data.train_labels);
  load_split(dir, "t10k", test_limit, data.test_images, data.test_labels);
  return data;
}

}  // namespace sepconv

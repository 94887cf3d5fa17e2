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

IdxArray read_part(const std::string& path, size_t rank) {
  IdxArray a = read_idx(path);
  if (a.type != IdxType::UInt8)
    throw IOError(fmt::format("Fashion-MNIST file '{}' holds {} elements, expected uint8", path,
                              idx_type_name(a.type)));
  if (a.dims.size() != rank)
    throw IOError(fmt::format("Fashion-MNIST file '{}' has {} dimensions, expected {}", path, a.dims.size(), rank));
  return a;
}

void load_split(const std::string& dir, const std::string& prefix, int64_t limit, Tensor<float>& images,
                std::vector<int32_t>& labels) {
  std::string images_path = find_file(dir, prefix + "-images-idx3-ubyte");
  std::string labels_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  IdxArray img = read_part(images_path, 3);
  IdxArray lab = read_part(labels_path, 1);
  if (img.dims[1] != kFashionMnistImageSize || img.dims[2] != kFashionMnistImageSize)
    throw IOError(fmt::format("Fashion-MNIST file '{}' holds {}x{} images, expected 28x28", images_path, img.dims[1],
                              img.dims[2]));
  if (img.dims[0] != lab.dims[0])
    throw IOError(fmt::format("Fashion-MNIST files '{}' and '{}' disagree: {} images but {} labels", images_path,
                              labels_path, img.dims[0], lab.dims[0]));
  int64_t n = limit < 0 ? img.dims[0] : std::min(limit, img.dims[0]);
  constexpr int64_t pixels = int64_t{kFashionMnistImageSize} * kFashionMnistImageSize;

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

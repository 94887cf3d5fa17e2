#pragma once
// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) as Debian's package
// dataset-fashion-mnist installs it: four gzipped IDX files, 60000 training and
// 10000 test images of 28x28 grey pixels, ten classes. The same files
// keras.datasets.fashion_mnist.load_data() reads.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sepconv/core/tensor.h"

namespace sepconv {

inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int kFashionMnistClasses = 10;
inline constexpr int kFashionMnistImageSize = 28;
// Most examples accepted in one split (the data set has 60,000 and 10,000):
// with 784 bytes per image, and 4 bytes per pixel once converted to floats,
// a forged header claiming millions would otherwise exhaust memory even when
// its labels file agrees.
inline constexpr int64_t kFashionMnistMaxExamples = 1'000'000;

// Class names by label, as in the data set's documentation.
inline constexpr std::array<const char*, kFashionMnistClasses> kFashionMnistClassNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

struct FashionMnist {
  Tensor<float> train_images;         // (N, 28, 28, 1), NHWC, pixel / 255 in [0, 1]
  std::vector<int32_t> train_labels;  // N labels in [0, 10)
  Tensor<float> test_images;          // (M, 28, 28, 1)
  std::vector<int32_t> test_labels;   // M labels
};

// Loads the four files from `dir` (each `<name>.gz`, or `<name>` uncompressed
// when no .gz is there). train_limit / test_limit keep the first that many
// examples (-1: all; more than there are: all). Throws IOError when the
// directory or a file is missing (pointing at the Debian package), when a file
// is corrupt or not the expected shape (N x 28 x 28 uint8 images, N uint8
// labels), when image and label counts differ (checked from the headers,
// before the images are read), N is above kFashionMnistMaxExamples, or a label
// is >= 10; ValueError
// for a limit below -1.
FashionMnist load_fashion_mnist(const std::string& dir = kFashionMnistDefaultDir, int64_t train_limit = -1,
                                int64_t test_limit = -1);

}  // namespace sepconv

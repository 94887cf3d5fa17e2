// Fuzzes the Keras weight-file reader: io/hdf5_file.h's parse_hdf5 (and so
// libhdf5 itself, on an in-memory image) and model/keras_weights.h's loader.
//
// Accepted: a parsed tree, or sepconv::IOError. A parsed tree must re-encode to
// bytes that parse to the same tree. Loading it into a small model (with an
// Adam optimizer) either succeeds or is a sepconv::ValueError, and a refused
// load leaves the weights as they were.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "fuzz_common.h"
#include "sepconv/sepconv.h"

namespace {
using namespace sepconv;

// Sequential: separable_conv2d, batch_normalization, dense (the seeds' layout).
std::unique_ptr<Sequential<float>> small_model() {
  auto m = std::make_unique<Sequential<float>>();
  m->add(std::make_shared<SeparableConv2D<float>>(SeparableConv2DOptions(2, 1)));
  m->add(std::make_shared<BatchNormalization<float>>());
  m->add(std::make_shared<Flatten<float>>());
  m->add(std::make_shared<Dense<float>>(DenseOptions(2)));
  m->build({2, 2, 1});
  return m;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Hdf5Group tree;
  try {
    tree = parse_hdf5(std::span<const uint8_t>(data, size), "fuzz-input");
  } catch (const IOError&) {
    return 0;
  }
  std::vector<uint8_t> bytes;
  try {
    bytes = encode_hdf5(tree);
  } catch (const ValueError&) {
    return 0;  // a name our writer refuses ('.' or with '/'), which HDF5 can store
  }
  FUZZ_CHECK(parse_hdf5(bytes, "re-encoded") == tree);

  static std::unique_ptr<Sequential<float>> model = small_model();
  static auto adam = std::make_shared<Adam<float>>();
  std::vector<float> before;
  for (auto& [name, w] : model->weights()) before.insert(before.end(), w->variable.value().begin(), w->variable.value().end());
  try {
    load_weights_tree(*model, tree, "fuzz-input", adam.get());
  } catch (const ValueError&) {
    std::vector<float> after;
    for (auto& [name, w] : model->weights()) after.insert(after.end(), w->variable.value().begin(), w->variable.value().end());
    FUZZ_CHECK(after.size() == before.size() && std::memcmp(after.data(), before.data(), 4 * after.size()) == 0);
  }
  return 0;
}

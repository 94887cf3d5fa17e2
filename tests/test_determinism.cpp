// Training is bitwise reproducible whatever the thread count: every reduction
// (depthwise kernel gradient, bias gradient, batch-norm statistics, GEMM) runs
// in a fixed order. Trains the same model with 1 and with 2 threads and
// compares the checkpoints byte for byte (weights, batch-norm statistics and
// optimizer slots).
#define BOOST_TEST_MODULE determinism
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <random>

#include <unistd.h>

#include "sepconv/core/parallel.h"
#include "sepconv/io/atomic_file.h"
#include "sepconv/model/checkpoint.h"
#include "sepconv/layers/core_layers.h"
#include "sepconv/layers/dense.h"
#include "sepconv/layers/normalization.h"
#include "sepconv/layers/pooling.h"
#include "sepconv/layers/separable_conv2d.h"
#include "sepconv/model/sequential.h"
#include "sepconv/optim/adam.h"

using namespace sepconv;

namespace {
std::shared_ptr<Initializer> seeded(uint64_t s) { return std::make_shared<GlorotUniform>(s); }

// Sizes chosen so the threaded paths of every kernel run: a batch larger than
// the thread count, channel counts that are and are not multiples of 16.
std::unique_ptr<Sequential<float>> make_model() {
  auto m = std::make_unique<Sequential<float>>("det");
  m->add(std::make_shared<SeparableConv2D<float>>(SeparableConv2DOptions(20, 3).padding("same").depth_multiplier(3)
                                                      .depthwise_initializer(seeded(1)).pointwise_initializer(seeded(2))
                                                      .name("sep1")));
  m->add(std::make_shared<BatchNormalization<float>>(BatchNormalizationOptions().name("bn")));
  m->add(std::make_shared<ActivationLayer<float>>(ActivationOptions("relu").name("act")));
  m->add(std::make_shared<MaxPooling2D<float>>(Pooling2DOptions(2).name("pool")));
  m->add(std::make_shared<SeparableConv2D<float>>(SeparableConv2DOptions(33, 3).strides(2).padding("same")
                                                      .activation("relu").depthwise_initializer(seeded(3))
                                                      .pointwise_initializer(seeded(4)).name("sep2")));
  m->add(std::make_shared<Flatten<float>>(FlattenOptions().name("flat")));
  m->add(std::make_shared<Dense<float>>(DenseOptions(5).kernel_initializer(seeded(5)).name("out")));
  m->build({16, 16, 7});
  return m;
}

std::vector<uint8_t> train_and_save(int threads, const Tensor<float>& x, const Tensor<float>& y,
                                    const std::string& path) {
  set_num_threads(threads);
  auto model = make_model();
  auto opt = std::make_shared<Adam<float>>(AdamOptions(0.01));
  model->compile(opt, nlohmann::json{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
  model->fit(x, y, FitOptions<float>().epochs(2).batch_size(24).verbose(0).seed(9));
  save_checkpoint(path, *model, opt.get(), {});
  return read_file(path);
}
}  // namespace

BOOST_AUTO_TEST_CASE(one_and_two_threads_give_identical_checkpoints) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  Tensor<float> x({96, 16, 16, 7}), y({96});
  for (auto& v : x) v = nd(rng);
  for (int64_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(rng() % 5);
  const auto dir = std::filesystem::temp_directory_path() / ("sepconv_det_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::vector<uint8_t> one = train_and_save(1, x, y, (dir / "one.safetensors").string());
  const std::vector<uint8_t> two = train_and_save(2, x, y, (dir / "two.safetensors").string());
  const std::vector<uint8_t> again = train_and_save(2, x, y, (dir / "again.safetensors").string());
  std::filesystem::remove_all(dir);
  set_num_threads(0);
  BOOST_TEST(one.size() > 1000u);
  BOOST_TEST((two == again), "two runs with 2 threads differ");
  BOOST_TEST((one == two), "1 thread and 2 threads give different checkpoints");
}

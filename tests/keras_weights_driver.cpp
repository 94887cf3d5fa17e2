// The C++ half of keras_weights_h5py.py: writes our Keras weight files (and
// safetensors checkpoints of the same models, for h5py to compare against),
// and loads a file that h5py wrote from Keras's rules.
//   keras_weights_driver write DIR    DIR/{functional32,sequential64}.{weights.h5,safetensors}
//   keras_weights_driver read FILE    loads FILE into the functional float32 model and an
//                                     Adam optimizer; checks every value; prints "read ok"
//   keras_weights_driver load FILE    loads FILE; prints the error and exits 1 if refused
#include <cstdio>
#include <exception>
#include <string>

#include "keras_weights_models.h"

using namespace sepconv;
using namespace sepconv::keras_weights_test;

namespace {

const nlohmann::json kLoss = {{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}};

// Layers made and dropped first, so our layers' auto-generated names
// (dense_1, add_1, ...) differ from the file's place-based keys.
void shift_auto_names() {
  (void)functional_model<float>();
}

int write(const std::string& dir) {
  shift_auto_names();
  auto f = functional_model<float>();
  fill_weights(*f, 0.0);
  auto adam = std::make_shared<Adam<float>>(AdamOptions(0.01));
  f->compile(adam, kLoss);
  Tensor<float> x, y;
  test_batch<float>({6, 6, 3}, 8, x, y);
  f->train_step(x, y);
  f->train_step(x, y);
  save_weights(*f, dir + "/functional32.weights.h5", adam.get());
  save_checkpoint(dir + "/functional32.safetensors", *f, adam.get());

  auto s = sequential_model<double>();
  fill_weights(*s, 1.0);
  save_weights(*s, dir + "/sequential64.weights.h5");
  save_checkpoint(dir + "/sequential64.safetensors", *s, nullptr);
  std::puts("write ok");
  return 0;
}

int read(const std::string& file) {
  shift_auto_names();
  auto f = functional_model<float>();
  fill_weights(*f, 5.0);
  auto adam = std::make_shared<Adam<float>>(AdamOptions(0.02));
  load_weights(*f, file, adam.get());
  int bad = 0;
  auto check = [&](const std::string& what, const Tensor<float>& t, double salt, int64_t i, int64_t j, bool positive) {
    for (int64_t k = 0; k < t.size(); ++k) {
      const float want = static_cast<float>(test_value(i, j, k, salt, positive));
      if (t[k] != want && bad++ < 10) std::printf("%s[%lld] = %.9g, expected %.9g\n", what.c_str(), (long long)k, t[k], want);
    }
  };
  for (size_t i = 0; i < f->layers().size(); ++i) {
    auto& weights = f->layers()[i]->weights();
    for (size_t j = 0; j < weights.size(); ++j)
      check(f->layers()[i]->name() + "/" + weights[j].name, weights[j].variable.value(), 0.0, static_cast<int64_t>(i),
            static_cast<int64_t>(j), weights[j].name == "moving_variance");
  }
  // The python writer's optimizer: iteration 7, learning rate 0.005, and for
  // trainable weight w momentum = test_value(w, 0, k, 11), velocity = test_value(w, 1, k, 12, positive).
  if (adam->iterations() != 7 && bad++ < 10) std::printf("iterations %lld, expected 7\n", (long long)adam->iterations());
  if (static_cast<float>(adam->learning_rate()) != 0.005f && bad++ < 10)
    std::printf("learning rate %.9g, expected 0.005\n", adam->learning_rate());
  auto state = adam->state(f->trainable_weights());
  for (size_t w = 0; w < state.size() / 2; ++w) {
    check(state[2 * w].first, *state[2 * w].second, 11.0, static_cast<int64_t>(w), 0, false);
    check(state[2 * w + 1].first, *state[2 * w + 1].second, 12.0, static_cast<int64_t>(w), 1, true);
  }
  if (bad) {
    std::printf("%d values differ\n", bad);
    return 1;
  }
  std::puts("read ok");
  return 0;
}

int load(const std::string& file) {
  auto f = functional_model<float>();
  try {
    f->load_weights(file);
  } catch (const std::exception& e) {
    std::printf("refused: %s\n", e.what());
    return 1;
  }
  std::puts("loaded");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: keras_weights_driver write DIR | read FILE | load FILE\n");
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "write") return write(argv[2]);
    if (cmd == "read") return read(argv[2]);
    if (cmd == "load") return load(argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 3;
  }
  std::fprintf(stderr, "unknown command %s\n", argv[1]);
  return 2;
}

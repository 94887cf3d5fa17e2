// Keras 3 weight files (model/keras_weights.h, io/hdf5_file.h): the layout's
// paths, round trips in both dtypes, two identical models trading files, the
// optimizer's state continuing training bitwise, and hostile files. h5py's
// view of the same files is checked by keras_weights_h5py.py.
#define BOOST_TEST_MODULE keras_weights
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <fstream>

#include "io_test_support.h"
#include "keras_weights_models.h"

using namespace sepconv;
using namespace sepconv::keras_weights_test;
using io_test::check_throws;
using io_test::TempDir;

namespace {


template <typename T>
bool same_outputs(ModelBase<T>& a, ModelBase<T>& b, const Shape& input_shape) {
  Tensor<T> x, y;
  test_batch<T>(input_shape, 4, x, y);
  return same<T>({a.predict(x)}, {b.predict(x)});
}

}  // namespace

BOOST_AUTO_TEST_CASE(layer_paths_follow_keras) {
  auto f = functional_model<float>();
  const std::vector<std::string> expected_f{"layers/input_layer",   "layers/separable_conv2d", "layers/batch_normalization",
                                            "layers/separable_conv2d_1", "layers/add",         "layers/depthwise_conv2d",
                                            "layers/conv2d",        "layers/global_average_pooling2d", "layers/dense"};
  BOOST_TEST(keras_layer_paths(*f) == expected_f, boost::test_tools::per_element());
  auto s = sequential_model<double>();
  const std::vector<std::string> expected_s{"layers/separable_conv2d", "layers/batch_normalization",
                                            "layers/separable_conv2d_1", "layers/flatten", "layers/dense"};
  BOOST_TEST(keras_layer_paths(*s) == expected_s, boost::test_tools::per_element());
}

template <typename T>
void round_trip() {
  TempDir dir;
  auto a = functional_model<T>();
  auto b = functional_model<T>();  // auto-named add_1, input_layer_1, ...: the paths are the same
  fill_weights(*a, 0.0);
  fill_weights(*b, 9.0);
  BOOST_TEST(!same_outputs<T>(*a, *b, {6, 6, 3}));
  save_weights(*a, dir / "a.weights.h5");
  load_weights(*b, dir / "a.weights.h5");
  BOOST_TEST(same(snapshot(*a), snapshot(*b)));
  BOOST_TEST(same_outputs<T>(*a, *b, {6, 6, 3}));
  // the same model always writes the same bytes
  save_weights(*b, dir / "b.weights.h5");
  BOOST_TEST((io_test::Bytes(read_file(dir / "a.weights.h5")) == read_file(dir / "b.weights.h5")));

  auto s = sequential_model<T>();
  auto t = sequential_model<T>();
  fill_weights(*s, 1.0);
  fill_weights(*t, 2.0);
  s->save_weights(dir / "s.weights.h5");
  t->load_weights(dir / "s.weights.h5");
  BOOST_TEST(same_outputs<T>(*s, *t, {5, 5, 2}));
}
BOOST_AUTO_TEST_CASE(round_trip_float32) { round_trip<float>(); }
BOOST_AUTO_TEST_CASE(round_trip_float64) { round_trip<double>(); }

BOOST_AUTO_TEST_CASE(two_identical_models_swap_files) {
  TempDir dir;
  auto a = functional_model<float>();
  auto b = functional_model<float>();
  fill_weights(*a, 3.0);
  fill_weights(*b, 4.0);
  const auto wa = snapshot(*a), wb = snapshot(*b);
  a->save_weights(dir / "a.weights.h5");
  b->save_weights(dir / "b.weights.h5");
  a->load_weights(dir / "b.weights.h5");
  b->load_weights(dir / "a.weights.h5");
  BOOST_TEST(same(snapshot(*a), wb));
  BOOST_TEST(same(snapshot(*b), wa));
}

template <typename T>
void optimizer_continues(std::function<std::shared_ptr<Optimizer<T>>()> make) {
  TempDir dir;
  Tensor<T> x, y;
  test_batch<T>({6, 6, 3}, 8, x, y);
  auto a = functional_model<T>();
  fill_weights(*a, 0.5);
  a->compile(make(), kLoss);
  a->train_step(x, y);
  a->train_step(x, y);
  a->save_weights(dir / "mid.weights.h5");
  a->train_step(x, y);
  a->train_step(x, y);

  auto b = functional_model<T>();
  fill_weights(*b, 7.0);
  b->compile(make(), kLoss);
  b->load_weights(dir / "mid.weights.h5");
  BOOST_TEST(b->optimizer().iterations() == 2);
  b->train_step(x, y);
  b->train_step(x, y);
  BOOST_TEST(b->optimizer().iterations() == 4);
  BOOST_TEST(same(snapshot(*a), snapshot(*b)));
}
BOOST_AUTO_TEST_CASE(optimizer_state_continues_training_bitwise) {
  optimizer_continues<float>([] { return std::make_shared<Adam<float>>(AdamOptions(0.01)); });
  optimizer_continues<float>([] { return std::make_shared<Adam<float>>(AdamOptions(0.01).amsgrad(true)); });
  optimizer_continues<float>([] { return std::make_shared<SGD<float>>(SGDOptions(0.05).momentum(0.9)); });
  optimizer_continues<double>([] { return std::make_shared<AdamW<double>>(AdamWOptions(0.003)); });
  optimizer_continues<float>([] {
    return std::make_shared<Adam<float>>(AdamOptions(std::make_shared<ExponentialDecay>(0.01, 10, 0.5)));
  });
}

BOOST_AUTO_TEST_CASE(optimizer_variables_in_keras_order) {
  auto m = sequential_model<float>();
  auto opt = std::make_shared<Adam<float>>(AdamOptions(0.01).amsgrad(true));
  Tensor<float> x, y;
  test_batch<float>({5, 5, 2}, 4, x, y);
  m->compile(opt, kLoss);
  m->train_step(x, y);
  Hdf5Group root = keras_weights_tree(*m, opt.get());
  const SafeTensorMap& vars = root.groups.at("optimizer").groups.at("vars").datasets;
  const size_t n = m->trainable_weights().size();  // 3 + 2 + 3 + 2 (BN's gamma, beta)
  BOOST_TEST(n == 10u);
  BOOST_TEST(vars.size() == 2 + 3 * n);
  BOOST_TEST(vars.at("0").dtype == "I64");
  BOOST_TEST(vars.at("1").dtype == "F32");
  // momentum, velocity of the first weight, then of the second, ...; velocity_hat last
  auto state = opt->state(m->trainable_weights());
  for (size_t w = 0; w < n; ++w) {
    BOOST_TEST((vars.at(std::to_string(2 + 2 * w)) == to_safetensor(*state[3 * w].second)));
    BOOST_TEST((vars.at(std::to_string(3 + 2 * w)) == to_safetensor(*state[3 * w + 1].second)));
    BOOST_TEST((vars.at(std::to_string(2 + 2 * n + w)) == to_safetensor(*state[3 * w + 2].second)));
  }
}

// ---- hostile files: each is refused with the file and the path, and the model is unchanged

struct Hostile {
  TempDir dir;
  std::unique_ptr<Model<float>> model = functional_model<float>();
  std::vector<Tensor<float>> before;
  Hostile() {
    fill_weights(*model, 0.25);
    before = snapshot(*model);
  }
  Hdf5Group tree() {
    auto other = functional_model<float>();
    fill_weights(*other, 5.0);
    return keras_weights_tree(*other, nullptr);
  }
  template <typename E>
  void refused(const std::string& path, std::initializer_list<std::string> parts) {
    check_throws<E>([&] { model->load_weights(path); }, parts);
    BOOST_TEST(same(snapshot(*model), before));
  }
  template <typename E>
  void refused(Hdf5Group g, std::initializer_list<std::string> parts) {
    const std::string path = dir / "bad.weights.h5";
    save_hdf5(path, g);
    refused<E>(path, parts);
  }
};

BOOST_AUTO_TEST_CASE(hostile_files_are_refused_and_change_nothing) {
  Hostile h;
  const std::string good = h.dir / "good.weights.h5";
  save_hdf5(good, h.tree());
  const io_test::Bytes bytes = read_file(good);

  // truncated, and not HDF5 at all
  for (size_t cut : {bytes.size() / 2, bytes.size() - 1, size_t{100}, size_t{7}}) {
    io_test::write_plain(h.dir / "cut.weights.h5", io_test::Bytes(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
    h.refused<IOError>(h.dir / "cut.weights.h5", {"cut.weights.h5"});
  }
  io_test::write_plain(h.dir / "text.weights.h5", io_test::bytes_of("{\"not\": \"hdf5\"}"));
  h.refused<IOError>(h.dir / "text.weights.h5", {"text.weights.h5", "HDF5 signature"});
  h.refused<ValueError>(good.substr(0, good.size() - 11) + ".h5", {"File format not supported"});
  BOOST_REQUIRE(::mkfifo((h.dir / "fifo.weights.h5").c_str(), 0600) == 0);
  h.refused<IOError>(h.dir / "fifo.weights.h5", {"fifo.weights.h5", "FIFO"});

  // a dataset of the wrong shape, of the wrong dtype, with a NaN
  Hdf5Group g = h.tree();
  SafeTensorMap& dense = g.groups["layers"].groups["dense"].groups["vars"].datasets;
  dense["0"] = to_safetensor(Tensor<float>(Shape{4, 3}));
  h.refused<ValueError>(g, {"bad.weights.h5", "layers/dense/vars/0", "out/kernel", "(5, 3)", "(4, 3)"});
  g = h.tree();
  g.groups["layers"].groups["conv2d"].groups["vars"].datasets["1"] = int64_scalar_safetensor(3);
  h.refused<ValueError>(g, {"layers/conv2d/vars/1", "I64"});
  g = h.tree();
  {
    Tensor<float> t(Shape{4});
    t[2] = std::nanf("");
    g.groups["layers"].groups["batch_normalization"].groups["vars"].datasets["3"] = to_safetensor(t);
  }
  h.refused<ValueError>(g, {"layers/batch_normalization/vars/3", "bn/moving_variance", "nan", "non-finite"});
  g = h.tree();
  g.groups["layers"].groups["depthwise_conv2d"].groups["vars"].datasets["0"] =
      to_safetensor(Tensor<double>(Shape{3, 3, 4, 1}, 1e300));
  h.refused<ValueError>(g, {"layers/depthwise_conv2d/vars/0", "range of float32"});

  // missing and extra groups and datasets
  g = h.tree();
  g.groups["layers"].groups.erase("separable_conv2d_1");
  h.refused<ValueError>(g, {"'layers/separable_conv2d_1'", "sep_b"});
  g = h.tree();
  g.groups["layers"].groups["dense"].groups["vars"].datasets.erase("1");
  h.refused<ValueError>(g, {"layers/dense/vars", "holds 1 datasets", "kernel, bias"});
  g = h.tree();
  g.groups["layers"].groups["dense"].groups["vars"].datasets["2"] = to_safetensor(Tensor<float>(Shape{3}));
  h.refused<ValueError>(g, {"layers/dense/vars", "holds 3 datasets"});
  g = h.tree();
  g.groups["layers"].groups["dense_1"].groups["vars"];
  h.refused<ValueError>(g, {"'layers/dense_1'", "does not have"});
  g = h.tree();
  g.groups.erase("vars");
  h.refused<ValueError>(g, {"no group 'vars'"});
  g = h.tree();
  g.groups.erase("layers");
  h.refused<ValueError>(g, {"no group 'layers'"});

  // the optimizer's group is required when an optimizer is loaded
  auto opt = std::make_shared<Adam<float>>();
  check_throws<ValueError>([&] { load_weights(*h.model, good, opt.get()); }, {"optimizer/vars"});
  BOOST_TEST(same(snapshot(*h.model), h.before));

  // and after all that, the good file loads
  BOOST_CHECK_NO_THROW(h.model->load_weights(good));
  BOOST_TEST(!same(snapshot(*h.model), h.before));
}

BOOST_AUTO_TEST_CASE(hdf5_tree_round_trip) {
  Hdf5Group g;
  g.groups["a"].groups["b"].datasets["x"] = to_safetensor(Tensor<double>(Shape{2, 0, 3}));
  g.groups["a"].datasets["s"] = int64_scalar_safetensor(-5);
  g.datasets["f"] = to_safetensor(Tensor<float>(Shape{3}, 1.5f));
  g.groups["empty"];
  BOOST_TEST((parse_hdf5(encode_hdf5(g)) == g));
  Hdf5Group bad;
  bad.groups["a/b"];
  check_throws<ValueError>([&] { (void)encode_hdf5(bad); }, {"a/b"});
}

// Keras 3 .keras files (model/keras_file.h) and the zip layer under them
// (io/zip_archive.h). The independent view (Python's zipfile + h5py, and a
// .keras built by Python from an oracle case) is tests/keras_file_py.py.
#define BOOST_TEST_MODULE keras_file
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <functional>

#include "io_test_support.h"
#include "keras_weights_models.h"

using namespace sepconv;
using namespace sepconv::keras_weights_test;
using io_test::Bytes;
using io_test::bytes_of;
using io_test::check_throws;
using io_test::TempDir;

namespace {


const ZipMember& member(const std::vector<ZipMember>& ms, const std::string& name) {
  for (const ZipMember& m : ms)
    if (m.name == name) return m;
  throw std::runtime_error("no member " + name);
}

// A compiled model trained a few steps, saved, trained on; the loaded copy,
// trained the same steps, must end bit for bit where the original did.
template <typename T, typename MakeModel>
void continues_bitwise(MakeModel make_model, const Shape& input_shape,
                       std::function<std::shared_ptr<Optimizer<T>>()> make_optimizer_fn) {
  TempDir dir;
  Tensor<T> x, y;
  test_batch<T>(input_shape, 8, x, y);
  auto a = make_model();
  fill_weights(*a, 0.5);
  a->compile(make_optimizer_fn(), kLoss, {"accuracy"});
  a->train_step(x, y);
  a->train_step(x, y);
  save_model(*a, dir / "mid.keras");
  a->train_step(x, y);
  a->train_step(x, y);
  a->train_step(x, y);

  std::unique_ptr<ModelBase<T>> b = load_model<T>(dir / "mid.keras");
  BOOST_REQUIRE(b->compiled());
  BOOST_TEST(b->optimizer().class_name() == a->optimizer().class_name());
  BOOST_TEST(b->optimizer().get_config() == a->optimizer().get_config());
  BOOST_TEST(b->optimizer().iterations() == 2);
  BOOST_TEST((b->metric_names() == std::vector<std::string>{"accuracy"}));
  BOOST_TEST(model_to_config(*b) == model_to_config(*a));
  b->train_step(x, y);
  b->train_step(x, y);
  b->train_step(x, y);
  BOOST_TEST(b->optimizer().iterations() == 5);
  BOOST_TEST(same(snapshot(*a), snapshot(*b)));
  BOOST_TEST(same<T>({a->predict(x)}, {b->predict(x)}));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(zip_archive)

BOOST_AUTO_TEST_CASE(stored_and_deflated_round_trip) {
  std::vector<ZipMember> ms = {{"a.json", bytes_of("{\"k\": 1}")}, {"empty", {}}, {"dir/b.bin", Bytes(5000, 7)}};
  for (ZipCompression c : {ZipCompression::kStored, ZipCompression::kDeflated}) {
    const std::vector<uint8_t> bytes = encode_zip(ms, c);
    BOOST_TEST(bytes.size() > 4u);
    BOOST_TEST(bytes[0] == 'P');
    BOOST_TEST(bytes[1] == 'K');
    BOOST_TEST((parse_zip(bytes) == ms));
    BOOST_TEST((encode_zip(ms, c) == bytes));  // deterministic
  }
  // Deflate really compresses the run of 5000 equal bytes.
  BOOST_TEST(encode_zip(ms, ZipCompression::kDeflated).size() < encode_zip(ms, ZipCompression::kStored).size());
}

BOOST_AUTO_TEST_CASE(bad_names_are_refused_on_write) {
  check_throws<ValueError>([] { encode_zip({{"", {}}}); }, {"empty"});
  check_throws<ValueError>([] { encode_zip({{"/etc/x", {}}}); }, {"/etc/x"});
  check_throws<ValueError>([] { encode_zip({{"a/../b", {}}}); }, {".."});
  check_throws<ValueError>([] { encode_zip({{"a", {}}, {"a", {}}}); }, {"'a'", "twice"});
}

BOOST_AUTO_TEST_CASE(hostile_archives) {
  check_throws<IOError>([] { parse_zip(Bytes{}, "x.zip"); }, {"x.zip", "empty"});
  check_throws<IOError>([] { parse_zip(bytes_of("not a zip at all, just text"), "x.zip"); }, {"x.zip", "not a valid zip"});
  const std::vector<uint8_t> good = encode_zip({{"m", Bytes(1000, 3)}}, ZipCompression::kDeflated);
  const Bytes cut(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
  check_throws<IOError>([&] { parse_zip(cut, "cut.zip"); }, {"cut.zip"});
  // A bomb: 8 MiB of zeros deflate to a few KiB; the cap is checked on the
  // declared size before anything is inflated.
  const std::vector<uint8_t> bomb = encode_zip({{"zeros", Bytes(8u << 20, 0)}}, ZipCompression::kDeflated);
  BOOST_TEST(bomb.size() < 64u * 1024u);
  check_throws<IOError>([&] { parse_zip(bomb, "bomb.zip", 1u << 20); }, {"bomb.zip", "'zeros'", "limit"});
  // A header that lies: shrink the declared size in both headers so the
  // entry inflates beyond it; the reader stops at the declared size.
  std::vector<uint8_t> liar = bomb;
  const uint32_t small = 16;
  int patched = 0;
  for (size_t i = 0; i + 30 < liar.size(); ++i) {
    if (liar[i] == 'P' && liar[i + 1] == 'K' && liar[i + 2] == 3 && liar[i + 3] == 4) {
      std::memcpy(&liar[i + 22], &small, 4), ++patched;
    } else if (liar[i] == 'P' && liar[i + 1] == 'K' && liar[i + 2] == 1 && liar[i + 3] == 2) {
      std::memcpy(&liar[i + 24], &small, 4), ++patched;
    }
  }
  BOOST_TEST(patched == 2);
  check_throws<IOError>([&] { parse_zip(liar, "liar.zip", 1u << 20); }, {"liar.zip", "'zeros'"});
  // A flipped data byte: the CRC check catches it.
  std::vector<uint8_t> flipped = encode_zip({{"m", bytes_of("hello, world")}}, ZipCompression::kStored);
  const std::string text(flipped.begin(), flipped.end());
  flipped[text.find("hello")] ^= 1;
  check_throws<IOError>([&] { parse_zip(flipped, "crc.zip"); }, {"crc.zip", "'m'"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(keras_file)

BOOST_AUTO_TEST_CASE(members_and_config) {
  auto m = functional_model<float>();
  fill_weights(*m, 0.25);
  m->compile(std::make_shared<Adam<float>>(AdamOptions(0.01)), kLoss, {"accuracy"});
  const std::vector<ZipMember> ms = parse_zip(encode_keras_file(*m));
  BOOST_REQUIRE(ms.size() == 3u);
  BOOST_TEST(ms[0].name == "metadata.json");
  BOOST_TEST(ms[1].name == "config.json");
  BOOST_TEST(ms[2].name == "model.weights.h5");
  const auto metadata = nlohmann::json::parse(io_test::text_of(ms[0].data));
  BOOST_TEST(metadata.at("keras_version").get<std::string>().rfind("3.", 0) == 0u);
  BOOST_TEST(metadata.at("date_saved").get<std::string>().find('@') == 10u);  // "%Y-%m-%d@%H:%M:%S"
  const auto config = nlohmann::json::parse(io_test::text_of(ms[1].data));
  nlohmann::json without = config;
  without.erase("compile_config");
  BOOST_TEST(without == model_to_config(*m));
  const auto& cc = config.at("compile_config");
  BOOST_TEST(cc.at("optimizer").at("module") == "keras.optimizers");
  BOOST_TEST(cc.at("optimizer").at("class_name") == "Adam");
  BOOST_TEST(cc.at("optimizer").at("registered_name").is_null());
  BOOST_TEST(cc.at("loss") == kLoss);
  BOOST_TEST(cc.at("metrics") == nlohmann::json::array({"accuracy"}));
  for (const char* k : {"loss_weights", "weighted_metrics", "run_eagerly", "steps_per_execution", "jit_compile"})
    BOOST_TEST(cc.contains(k), k);
  // The weights member is exactly the .weights.h5 tree, optimizer included.
  BOOST_TEST((parse_hdf5(ms[2].data) == keras_weights_tree(*m, m->optimizer_ptr().get())));
}

BOOST_AUTO_TEST_CASE(uncompiled_round_trip) {
  TempDir dir;
  auto m = sequential_model<double>();
  fill_weights(*m, 1.5);
  save_model(*m, dir / "s.keras");
  auto ms = load_zip(dir / "s.keras");
  BOOST_TEST(!nlohmann::json::parse(io_test::text_of(member(ms, "config.json").data)).contains("compile_config"));
  BOOST_TEST(!parse_hdf5(member(ms, "model.weights.h5").data).groups.count("optimizer"));
  std::unique_ptr<ModelBase<double>> b = load_model<double>(dir / "s.keras");
  BOOST_TEST(!b->compiled());
  BOOST_TEST(same(snapshot(*m), snapshot(*b)));
}

BOOST_AUTO_TEST_CASE(continues_training_bitwise) {
  continues_bitwise<float>([] { return functional_model<float>(); }, {6, 6, 3},
                           [] { return std::make_shared<Adam<float>>(AdamOptions(0.01)); });
  continues_bitwise<float>([] { return functional_model<float>(); }, {6, 6, 3},
                           [] { return std::make_shared<Adam<float>>(AdamOptions(0.01).amsgrad(true)); });
  continues_bitwise<float>([] { return sequential_model<float>(); }, {5, 5, 2},
                           [] { return std::make_shared<SGD<float>>(SGDOptions(0.05).momentum(0.9)); });
  continues_bitwise<double>([] { return functional_model<double>(); }, {6, 6, 3},
                            [] { return std::make_shared<AdamW<double>>(AdamWOptions(0.003)); });
  continues_bitwise<float>([] { return sequential_model<float>(); }, {5, 5, 2}, [] {
    return std::make_shared<Adam<float>>(AdamOptions(std::make_shared<ExponentialDecay>(0.01, 10, 0.5)));
  });
}

BOOST_AUTO_TEST_CASE(deflated_members_load) {
  TempDir dir;
  auto m = functional_model<float>();
  fill_weights(*m, 2.0);
  save_zip(dir / "d.keras", parse_zip(encode_keras_file(*m)), ZipCompression::kDeflated);
  auto b = load_model<float>(dir / "d.keras");
  BOOST_TEST(same(snapshot(*m), snapshot(*b)));
}

BOOST_AUTO_TEST_CASE(bad_files) {
  TempDir dir;
  auto m = functional_model<float>();
  fill_weights(*m, 0.5);
  m->compile(std::make_shared<SGD<float>>(SGDOptions(0.1)), kLoss);
  const std::vector<ZipMember> good = parse_zip(encode_keras_file(*m));
  auto write = [&](const std::string& name, std::vector<ZipMember> ms) {
    save_zip(dir / name, ms);
    return dir / name;
  };
  auto without = [&](const std::string& name) {
    std::vector<ZipMember> ms;
    for (const ZipMember& x : good)
      if (x.name != name) ms.push_back(x);
    return ms;
  };
  auto replaced = [&](const std::string& name, const std::string& text) {
    std::vector<ZipMember> ms = good;
    for (ZipMember& x : ms)
      if (x.name == name) x.data = bytes_of(text);
    return ms;
  };
  check_throws<ValueError>([&] { save_model(*m, dir / "m.h5"); }, {"m.h5", ".keras"});
  check_throws<ValueError>([&] { load_model<float>(dir / "m.weights.h5"); }, {"m.weights.h5"});
  check_throws<IOError>([&] { load_model<float>(dir / "absent.keras"); }, {"absent.keras"});
  io_test::write_plain(dir / "text.keras", bytes_of("just some text"));
  check_throws<IOError>([&] { load_model<float>(dir / "text.keras"); }, {"text.keras", "not a valid zip"});
  const std::vector<uint8_t> whole = encode_zip(good);
  io_test::write_plain(dir / "cut.keras", Bytes(whole.begin(), whole.begin() + static_cast<long>(whole.size() - 30)));
  check_throws<IOError>([&] { load_model<float>(dir / "cut.keras"); }, {"cut.keras"});
  const std::string p1 = write("nocfg.keras", without("config.json"));
  check_throws<IOError>([&] { load_model<float>(p1); }, {p1, "'config.json'", "missing"});
  const std::string p2 = write("now.keras", without("model.weights.h5"));
  check_throws<IOError>([&] { load_model<float>(p2); }, {p2, "'model.weights.h5'", "missing"});
  const std::string p3 = write("badjson.keras", replaced("config.json", "{\"class_name\": "));
  check_throws<ValueError>([&] { load_model<float>(p3); }, {p3, "'config.json'"});
  const std::string p4 = write("notmodel.keras", replaced("config.json", "{\"class_name\": \"Dense\", \"config\": {}}"));
  check_throws<ValueError>([&] { load_model<float>(p4); }, {p4, "'config.json'", "Dense"});
  const std::string p5 = write("badmeta.keras", replaced("metadata.json", "[1, 2"));
  check_throws<ValueError>([&] { load_model<float>(p5); }, {p5, "'metadata.json'"});
  const std::string p6 = write("badh5.keras", replaced("model.weights.h5", "not hdf5"));
  check_throws<IOError>([&] { load_model<float>(p6); }, {p6, "'model.weights.h5'"});
  // Weights of another model under this config.
  auto other = sequential_model<float>();
  std::vector<ZipMember> mismatch = good;
  for (ZipMember& x : mismatch)
    if (x.name == "model.weights.h5") x.data = encode_hdf5(keras_weights_tree(*other, nullptr));
  const std::string p7 = write("mismatch.keras", mismatch);
  check_throws<ValueError>([&] { load_model<float>(p7); }, {p7, "'model.weights.h5'"});
  // A compiled model without its optimizer variables.
  std::vector<ZipMember> no_opt = good;
  for (ZipMember& x : no_opt)
    if (x.name == "model.weights.h5") x.data = encode_hdf5(keras_weights_tree(*m, nullptr));
  const std::string p8 = write("noopt.keras", no_opt);
  check_throws<ValueError>([&] { load_model<float>(p8); }, {p8, "optimizer"});
  // A bomb inside a .keras: refused by the byte cap.
  std::vector<ZipMember> bomb = good;
  bomb.push_back({"assets/zeros", Bytes(4u << 20, 0)});
  const std::vector<uint8_t> bomb_bytes = encode_zip(bomb, ZipCompression::kDeflated);
  check_throws<IOError>([&] { load_model_bytes<float>(bomb_bytes, "bomb.keras", 1u << 20); },
                        {"bomb.keras", "'assets/zeros'", "limit"});
  // A loss given as a function has no identifier to save.
  auto f = functional_model<float>();
  f->compile(std::make_shared<SGD<float>>(SGDOptions(0.1)), get_loss<float>(kLoss));
  check_throws<ValueError>([&] { save_model(*f, dir / "f.keras"); }, {"loss function"});
}

BOOST_AUTO_TEST_CASE(failed_save_leaves_old_file) {
  TempDir dir;
  auto a = functional_model<float>();
  fill_weights(*a, 0.5);
  save_model(*a, dir / "m.keras");
  const std::vector<uint8_t> old_bytes = read_file(dir / "m.keras");
  fill_weights(*a, 3.0);
  {
    io_test::FaultGuard fault("rename", EIO);
    check_throws<IOError>([&] { save_model(*a, dir / "m.keras"); }, {"m.keras"});
  }
  BOOST_TEST((read_file(dir / "m.keras") == old_bytes));
  BOOST_TEST((dir.entries() == std::vector<std::string>{"m.keras"}));
}

BOOST_AUTO_TEST_SUITE_END()

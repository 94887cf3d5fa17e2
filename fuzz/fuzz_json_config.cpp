// Fuzzes the readers of Keras configuration: keras.json (layers/keras_config.h)
// and the identifier registries and layer config (layers/*.h).
//
// Input: one selector byte, then the text. Selector even: the text is the
// content of keras.json. Selector odd: the text is parsed as JSON (or, when it
// is not JSON, taken as a string identifier) and handed to every registry and
// to SeparableConv2D's from_config.
//
// Accepted outcomes: a result, or one of sepconv's documented exceptions
// (ValueError, ShapeError, IOError, NumericsError) or nlohmann::json::exception.
// Anything else escaping, a crash, a hang or a sanitizer report is a bug. What
// is accepted must serialize and deserialize back to the same config.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "sepconv/autograd/variable.h"
#include "sepconv/core/error.h"
#include "fuzz_common.h"
#include "sepconv/layers/activations.h"
#include "sepconv/layers/constraints.h"
#include "sepconv/layers/initializers.h"
#include "sepconv/layers/keras_config.h"
#include "sepconv/layers/regularizers.h"
#include "sepconv/layers/separable_conv2d.h"

using nlohmann::json;
using namespace sepconv;

namespace {

std::string g_keras_json;  // $KERAS_HOME/keras.json, in a private directory
std::string g_tmp_dir;    // removed at exit

// Runs f, swallowing only the documented exception types.
template <typename F>
void guarded(F&& f) {
  try {
    f();
  } catch (const ValueError&) {
  } catch (const ShapeError&) {
  } catch (const IOError&) {
  } catch (const NumericsError&) {
  } catch (const json::exception&) {
  }
}

void fuzz_keras_json(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(g_keras_json.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  if (size) FUZZ_CHECK(std::fwrite(data, 1, size, f) == size);
  std::fclose(f);
  guarded([] {
    std::string fmt = image_data_format();
    FUZZ_CHECK(fmt == "channels_last" || fmt == "channels_first");
  });
  guarded([&] { parse_data_format(std::string(reinterpret_cast<const char*>(data), size)); });
}

const Shape kWeightShape{3, 3, 2, 2};

Tensor<double> sample_weight() {
  Tensor<double> w(kWeightShape);
  for (int64_t i = 0; i < w.size(); ++i) w[i] = 0.37 * static_cast<double>(i % 7) - 1.0;
  return w;
}

void fuzz_identifier(const json& id) {
  guarded([&] {
    std::shared_ptr<Regularizer> r = get_regularizer(id);
    if (!r) return;
    json s = serialize(*r);
    std::shared_ptr<Regularizer> r2 = get_regularizer(s);
    FUZZ_CHECK(r2 && serialize(*r2) == s);
    Variable<double> v(sample_weight());
    (void)(*r)(v);
  });
  guarded([&] {
    std::shared_ptr<Constraint> c = get_constraint(id);
    if (!c) return;
    json s = serialize(*c);
    std::shared_ptr<Constraint> c2 = get_constraint(s);
    FUZZ_CHECK(c2 && serialize(*c2) == s);
    Tensor<double> out = (*c)(sample_weight());
    FUZZ_CHECK(out.shape() == kWeightShape);
  });
  guarded([&] {
    std::shared_ptr<Initializer> i = get_initializer(id);
    if (!i) return;
    json s = serialize(*i);
    std::shared_ptr<Initializer> i2 = get_initializer(s);
    FUZZ_CHECK(i2 && serialize(*i2) == s);
    Tensor<float> w = (*i)(kWeightShape, 0.0f);
    FUZZ_CHECK(w.shape() == kWeightShape);
  });
  guarded([&] { (void)get_activation<float>(id); });
  guarded([&] {
    SeparableConv2DOptions opts = SeparableConv2DOptions::from_config(id);
    SeparableConv2D<double> layer(opts);
    json config = layer.get_config();
    std::unique_ptr<SeparableConv2D<double>> again = SeparableConv2D<double>::from_config(config);
    FUZZ_CHECK(again->get_config() == config);
    for (const Shape& in : {Shape{1, 9, 9, 2}, Shape{2, 2, 9, 9}}) guarded([&] { layer.compute_output_shape(in); });
  });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/sepconv_fuzz_keras_XXXXXX";
  if (!::mkdtemp(tmpl)) std::abort();
  ::setenv("KERAS_HOME", tmpl, 1);
  g_keras_json = std::string(tmpl) + "/keras.json";
  g_tmp_dir = tmpl;
  std::atexit([] {
    std::remove(g_keras_json.c_str());
    ::rmdir(g_tmp_dir.c_str());
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  ++data;
  --size;
  if (selector % 2 == 0) {
    fuzz_keras_json(data, size);
    return 0;
  }
  json id = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (id.is_discarded()) id = std::string(reinterpret_cast<const char*>(data), size);
  fuzz_identifier(id);
  return 0;
}

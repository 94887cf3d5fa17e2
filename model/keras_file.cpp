#include "sepconv/model/keras_file.h"

#include <ctime>
#include <map>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sepconv/core/error.h"
#include "sepconv/core/json_limits.h"
#include "sepconv/core/regular_file.h"
#include "sepconv/io/atomic_file.h"
#include "sepconv/io/hdf5_file.h"
#include "sepconv/model/keras_json.h"
#include "sepconv/model/keras_weights.h"

namespace sepconv {

namespace {

using nlohmann::json;

// saving_lib.py's member names.
constexpr const char* kConfigMember = "config.json";
constexpr const char* kMetadataMember = "metadata.json";
constexpr const char* kWeightsMember = "model.weights.h5";

bool has_keras_suffix(const std::string& path) {
  constexpr std::string_view suffix = ".keras";
  return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Keras writes datetime.now() in this format.
std::string date_saved_now() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d@%H:%M:%S", &local);
  return text;
}

template <typename T>
json compile_config_of(const ModelBase<T>& model) {
  if (model.loss_config().is_null())
    throw ValueError(fmt::format("Cannot save model '{}': it was compiled with a loss function, which has no "
                                 "serialization; compile it with a loss identifier (e.g. "
                                 "\"sparse_categorical_crossentropy\") to save it as a .keras file",
                                 model.name()));
  const Optimizer<T>& optimizer = *model.optimizer_ptr();
  json metrics = json::array();
  for (const std::string& m : model.metric_names()) metrics.push_back(m);
  return {{"optimizer",
           {{"module", "keras.optimizers"},
            {"class_name", optimizer.class_name()},
            {"config", optimizer.get_config()},
            {"registered_name", nullptr}}},
          {"loss", model.loss_config()},
          {"loss_weights", nullptr},
          {"metrics", metrics},
          {"weighted_metrics", nullptr},
          {"run_eagerly", false},
          {"steps_per_execution", 1},
          {"jit_compile", false}};
}

const ZipMember* find_member(const std::vector<ZipMember>& members, const std::string& name) {
  for (const ZipMember& m : members)
    if (m.name == name) return &m;
  return nullptr;
}

std::string member_names(const std::vector<ZipMember>& members) {
  std::vector<std::string> names;
  for (const ZipMember& m : members) names.push_back(m.name);
  return names.empty() ? "nothing" : fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

template <typename T>
std::vector<uint8_t> encode_keras_file(ModelBase<T>& model) {
  model.require_built("save_model");
  json config = model_to_config(model);
  if (model.compiled()) config["compile_config"] = compile_config_of(model);
  const json metadata = {{"keras_version", kKerasFileVersion}, {"date_saved", date_saved_now()}};
  const Hdf5Group tree = keras_weights_tree(model, model.compiled() ? model.optimizer_ptr().get() : nullptr);
  auto bytes_of = [](const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  // saving_lib.py's order: metadata, config, then the weights.
  std::vector<ZipMember> members = {{kMetadataMember, bytes_of(metadata.dump())},
                                    {kConfigMember, bytes_of(config.dump())},
                                    {kWeightsMember, encode_hdf5(tree)}};
  return encode_zip(members, ZipCompression::kStored);
}

template <typename T>
void save_model(ModelBase<T>& model, const std::string& path) {
  if (!has_keras_suffix(path))
    throw ValueError(fmt::format("Invalid filepath extension for saving. Please add a `.keras` extension for the "
                                 "native Keras format. Received: filepath={}",
                                 path));
  const std::vector<uint8_t> bytes = encode_keras_file(model);
  write_file_atomic(path, bytes);
}

template <typename T>
std::unique_ptr<ModelBase<T>> load_model_bytes(std::span<const uint8_t> bytes, const std::string& name,
                                               uint64_t max_uncompressed_bytes) {
  const std::vector<ZipMember> members = parse_zip(bytes, name, max_uncompressed_bytes);
  auto require = [&](const char* member) -> const ZipMember& {
    const ZipMember* m = find_member(members, member);
    if (!m)
      throw IOError(fmt::format("{}: not a Keras 3 .keras file: member '{}' is missing (the archive holds {})", name,
                                member, member_names(members)));
    return *m;
  };
  auto parse = [&](const ZipMember& m) {
    const std::string_view text(reinterpret_cast<const char*>(m.data.data()), m.data.size());
    const json j = parse_json_bounded(text, fmt::format("{}: member '{}'", name, m.name));
    if (!j.is_object()) throw ValueError(fmt::format("{}: member '{}' must hold a JSON object", name, m.name));
    return j;
  };
  const ZipMember& config_member = require(kConfigMember);
  const ZipMember& weights_member = require(kWeightsMember);
  // Keras writes metadata.json but does not need it to load; when there, it
  // must at least be a JSON object.
  if (const ZipMember* metadata = find_member(members, kMetadataMember)) parse(*metadata);

  const json config = parse(config_member);
  std::unique_ptr<ModelBase<T>> model;
  try {
    model = model_from_config<T>(config);
  } catch (const ValueError& e) {
    throw ValueError(fmt::format("{}: member '{}': {}", name, kConfigMember, e.what()));
  }
  if (config.contains("compile_config") && !config.at("compile_config").is_null()) {
    const json& cc = config.at("compile_config");
    auto fail = [&](const std::string& what) {
      return ValueError(fmt::format("{}: member '{}': compile_config: {}", name, kConfigMember, what));
    };
    if (!cc.is_object()) throw fail("must be an object");
    for (const char* key : {"optimizer", "loss"})
      if (!cc.contains(key) || cc.at(key).is_null()) throw fail(fmt::format("\"{}\" is missing", key));
    for (const char* key : {"loss_weights", "weighted_metrics"})
      if (cc.contains(key) && !cc.at(key).is_null() && !(cc.at(key).is_array() && cc.at(key).empty()))
        throw fail(fmt::format("\"{}\" is not supported (received {})", key, cc.at(key).dump()));
    std::vector<std::string> metrics;
    if (cc.contains("metrics") && !cc.at("metrics").is_null()) {
      if (!cc.at("metrics").is_array()) throw fail("\"metrics\" must be a list of metric names");
      for (const json& m : cc.at("metrics")) {
        if (!m.is_string()) throw fail(fmt::format("\"metrics\": only metric names are supported (received {})", m.dump()));
        metrics.push_back(m.get<std::string>());
      }
    }
    try {
      std::shared_ptr<Optimizer<T>> optimizer = make_optimizer<T>(cc.at("optimizer"));
      model->compile(std::move(optimizer), cc.at("loss"), metrics);
    } catch (const ValueError& e) {
      throw fail(e.what());
    }
  }

  const std::string weights_name = fmt::format("{}: member '{}'", name, kWeightsMember);
  const Hdf5Group tree = parse_hdf5(weights_member.data, weights_name);
  load_weights_tree(*model, tree, weights_name, model->compiled() ? model->optimizer_ptr().get() : nullptr);
  return model;
}

template <typename T>
std::unique_ptr<ModelBase<T>> load_model(const std::string& path) {
  if (!has_keras_suffix(path))
    throw ValueError(fmt::format("File format not supported: filepath={}. Only `.keras` files (Keras 3's native "
                                 "format) are loaded by load_model.",
                                 path));
  const std::vector<uint8_t> bytes = read_regular_file(path, kZipMaxFileBytes, "model file");
  return load_model_bytes<T>(bytes, path);
}

#define SEPCONV_INSTANTIATE(T)                                                                                    \
  template std::vector<uint8_t> encode_keras_file<T>(ModelBase<T>&);                                             \
  template void save_model<T>(ModelBase<T>&, const std::string&);                                                \
  template std::unique_ptr<ModelBase<T>> load_model_bytes<T>(std::span<const uint8_t>, const std::string&, uint64_t); \
  template std::unique_ptr<ModelBase<T>> load_model<T>(const std::string&);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

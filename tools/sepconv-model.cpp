// sepconv-model: look at, convert and run saved models from the command line.
//
//   sepconv-model summary FILE                 Keras's summary table of a model
//   sepconv-model convert IN OUT               IN's model written as OUT
//   sepconv-model predict FILE --images IDX    one predicted class per image
//
// Files are told apart by their extension:
//   .json           a Keras 3 model config (model.to_json(), the config.json of a .keras file): no weights
//   .weights.h5     Keras 3 weights (model.save_weights); the architecture comes from --config
//   .safetensors    our checkpoint (weights keyed by place); the architecture comes from --config
//   .keras          Keras 3 archive: config, weights and, when compiled, optimizer
//   .onnx           ONNX model, written only                                (when built with it)
// --config names a .json or .keras file whose architecture the weights belong to.
//
// Exit status: 0 on success, 1 with the reason on stderr for a file that cannot
// be read or written, 2 for a bad command line.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/io/atomic_file.h"
#include "sepconv/io/idx.h"
#include "sepconv/model/checkpoint.h"
#include "sepconv/model/keras_file.h"
#include "sepconv/model/keras_json.h"
#include "sepconv/model/keras_weights.h"
#ifdef SEPCONV_HAVE_ONNX
#include "sepconv/onnx/export.h"
#endif

namespace {

using namespace sepconv;
using ModelPtr = std::unique_ptr<ModelBase<float>>;
// Far above any real config (the largest Keras application's is ~1 MiB) and far
// below what would exhaust memory.
constexpr uint64_t kMaxConfigFileBytes = uint64_t{64} << 20;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

enum class Kind { Config, KerasWeights, Checkpoint, KerasArchive, Onnx };

Kind kind_of(const std::string& path, const char* argument) {
  if (ends_with(path, ".weights.h5")) return Kind::KerasWeights;
  if (ends_with(path, ".safetensors")) return Kind::Checkpoint;
  if (ends_with(path, ".json")) return Kind::Config;
  if (ends_with(path, ".keras")) return Kind::KerasArchive;
  if (ends_with(path, ".onnx")) return Kind::Onnx;
  throw ValueError(fmt::format("{}: cannot tell the kind of file '{}' from its name: expected one of .keras, "
                               ".weights.h5, .safetensors, .json, .onnx",
                               argument, path));
}

[[noreturn]] void not_in_this_build(const std::string& path, const char* what) {
  throw ValueError(fmt::format("'{}': {} files are not supported by this build of sepconv", path, what));
}

// A model with its architecture from `path` (a .json or .keras).
ModelPtr architecture_from(const std::string& path, const char* argument) {
  switch (kind_of(path, argument)) {
    case Kind::Config: {
      const std::vector<uint8_t> bytes = read_file(path, kMaxConfigFileBytes);  // a config is text of kilobytes
      ModelPtr model = model_from_json<float>(std::string(bytes.begin(), bytes.end()));
      return model;
    }
    case Kind::KerasArchive:
      return load_model<float>(path);
    default:
      throw ValueError(fmt::format("{}: '{}' holds no architecture: give a model config (.json) or a .keras file",
                                   argument, path));
  }
}

struct LoadedModel {
  ModelPtr model;
  bool has_weights = false;
};

// The model of `path`: its architecture from the file itself or from `config`,
// its weights when the file has them.
LoadedModel load(const std::string& path, const std::string& config) {
  const Kind kind = kind_of(path, "FILE");
  if (kind == Kind::Onnx)
    throw ValueError(fmt::format("'{}': .onnx files are written by this tool, not read", path));
  if (kind == Kind::Config || kind == Kind::KerasArchive) {
    if (!config.empty())
      throw ValueError(fmt::format("--config '{}' is not used: '{}' carries its own architecture", config, path));
    LoadedModel out{architecture_from(path, "FILE"), kind == Kind::KerasArchive};
    return out;
  }
  if (config.empty())
    throw ValueError(fmt::format("'{}' holds weights only: name the model they belong to with --config "
                                 "(a .json model config or a .keras file)",
                                 path));
  LoadedModel out{architecture_from(config, "--config"), true};
  if (!out.model->built())
    throw ValueError(fmt::format("--config '{}': the model has no input shape (no Input layer or build_config), "
                                 "so its weights cannot be placed",
                                 config));
  if (kind == Kind::KerasWeights)
    load_weights(*out.model, path);
  else
    load_checkpoint(path, *out.model, nullptr);
  return out;
}

void write(ModelBase<float>& model, const std::string& path, bool has_weights) {
  const Kind kind = kind_of(path, "OUT");
  if (kind != Kind::Config && !has_weights)
    throw ValueError(fmt::format("OUT '{}' needs weights, but the input is a config only", path));
  switch (kind) {
    case Kind::Config:
      check_output_path(path, "model config");
      write_file_atomic(path, model_to_json(model, 2) + "\n");
      return;
    case Kind::KerasWeights:
      save_weights(model, path);
      return;
    case Kind::Checkpoint:
      save_checkpoint(path, model, nullptr);
      return;
    case Kind::KerasArchive:
      save_model(model, path);
      return;
    case Kind::Onnx:
#ifdef SEPCONV_HAVE_ONNX
      export_onnx(model, path);
      return;
#else
      not_in_this_build(path, "ONNX (built without libonnx-dev: scripts/install-deps.sh --interop)");
#endif
  }
}

// The shape of one sample the model takes (without the batch axis).
Shape sample_shape(const ModelBase<float>& model) {
  if (const auto* s = dynamic_cast<const Sequential<float>*>(&model)) return s->input_shape();
  if (const auto* f = dynamic_cast<const sepconv::Model<float>*>(&model)) {
    if (f->inputs().size() != 1)
      throw ValueError(fmt::format("predict: model '{}' has {} inputs; this tool feeds one", model.name(),
                                   f->inputs().size()));
    const Shape s = f->inputs()[0].shape();
    return Shape(s.begin() + 1, s.end());
  }
  throw ValueError(fmt::format("predict: model '{}' of class {} is not a Sequential or Functional model", model.name(),
                               model.class_name()));
}

// The images of an IDX file as predict's input, NHWC: uint8 [N, H, W] or
// [N, H, W, C] scaled to [0, 1] as the main job feeds its models, or float32
// values taken as they are (inputs already prepared).
Tensor<float> images_from(const std::string& path, const Shape& expected) {
  const IdxArray a = read_idx(path);
  if ((a.type != IdxType::UInt8 && a.type != IdxType::Float32) || (a.dims.size() != 3 && a.dims.size() != 4))
    throw ValueError(fmt::format("--images '{}': expected uint8 or float32 images [N, H, W] or [N, H, W, C], found "
                                 "{} of shape {}",
                                 path, idx_type_name(a.type), shape_str(Shape(a.dims.begin(), a.dims.end()))));
  Shape shape(a.dims.begin(), a.dims.end());
  if (shape.size() == 3) shape.push_back(1);
  const Shape per_image(shape.begin() + 1, shape.end());
  if (per_image != expected)
    throw ValueError(fmt::format("--images '{}': images of shape {} do not fit the model's input {}", path,
                                 shape_str(per_image), shape_str(expected)));
  Tensor<float> x(shape);
  if (a.type == IdxType::UInt8) {
    const std::vector<uint8_t> v = a.values<uint8_t>();
    for (size_t i = 0; i < v.size(); ++i) x.data()[i] = static_cast<float>(v[i]) / 255.0f;
  } else {
    const std::vector<float> v = a.values<float>();
    std::copy(v.begin(), v.end(), x.data());
  }
  return x;
}

int run(int argc, char** argv) {
  CLI::App app{"Look at, convert and run saved sepconv / Keras 3 models.", "sepconv-model"};
  app.require_subcommand(1);
  std::string file, in, out, config, images;
  int64_t batch_size = 256;

  CLI::App* summary = app.add_subcommand("summary", "Print Keras's summary table of a model (.keras or .json)");
  summary->add_option("FILE", file, "A .keras file or a model config (.json)")->required();
  summary->add_option("--config", config, "The architecture of a weights-only FILE (.json or .keras)");

  CLI::App* convert = app.add_subcommand("convert", "Convert IN to OUT, by their extensions");
  convert->add_option("IN", in, "A .keras, .weights.h5, .safetensors or .json file")->required();
  convert->add_option("OUT", out, "A .keras, .weights.h5, .safetensors, .json or .onnx file")->required();
  convert->add_option("--config", config, "The architecture of a weights-only IN (.json or .keras)");

  CLI::App* predict = app.add_subcommand("predict", "Print the predicted class of each image, one per line");
  predict->add_option("FILE", file, "The model: .keras, or .weights.h5/.safetensors with --config")->required();
  predict->add_option("--config", config, "The architecture of a weights-only FILE (.json or .keras)");
  predict->add_option("--images", images, "IDX file (raw or .gz) of uint8 images, scaled by 1/255 (e.g. "
                    "t10k-images-idx3-ubyte.gz), or of float32 inputs taken as they are")
      ->required();
  predict->add_option("--batch-size", batch_size, "Images per forward pass")->check(CLI::Range(1, 1 << 20));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a success; CLI11's own codes (106, 109...) become 2
  }

  if (*summary) {
    LoadedModel m = load(file, config);
    std::fputs(m.model->summary().c_str(), stdout);
  } else if (*convert) {
    LoadedModel m = load(in, config);
    write(*m.model, out, m.has_weights);
  } else if (*predict) {
    LoadedModel m = load(file, config);
    if (!m.has_weights) throw ValueError(fmt::format("FILE '{}' is a config only: it has no weights to predict with", file));
    m.model->require_built("predict");
    const Tensor<float> x = images_from(images, sample_shape(*m.model));
    const Tensor<float> y = m.model->predict(x, batch_size);
    const int64_t n = y.shape()[0], classes = y.size() / std::max<int64_t>(n, 1);
    std::string lines;
    for (int64_t i = 0; i < n; ++i) {
      const float* row = y.data() + i * classes;
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (row[c] > row[best]) best = c;
      lines += fmt::format("{}\n", best);
    }
    std::fputs(lines.c_str(), stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fputs("sepconv-model: out of memory (std::bad_alloc)\n", stderr);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sepconv-model: %s\n", e.what());
    return 1;
  }
}

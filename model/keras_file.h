#pragma once
// Keras 3 `.keras` files (`model.save("m.keras")`, `keras.models.load_model`):
// a zip archive (io/zip_archive.h) as keras/src/saving/saving_lib.py writes it
// (read at keras-team/keras 3.x: save_model, load_model, _save_state,
// _load_state; models/model.py get_compile_config; trainers/trainer.py
// compile):
//   metadata.json     {"keras_version": "...", "date_saved": "%Y-%m-%d@%H:%M:%S"}
//   config.json       the model's serialization (model/keras_json.h) plus,
//                     when it is compiled, "compile_config": {"optimizer":
//                     {"module": "keras.optimizers", "class_name", "config",
//                     "registered_name": null}, "loss", "loss_weights": null,
//                     "metrics", "weighted_metrics": null, "run_eagerly":
//                     false, "steps_per_execution": 1, "jit_compile": false}
//   model.weights.h5  the weight-file tree of model/keras_weights.h, with the
//                     optimizer's variables (iteration, learning_rate, slots)
//                     when compiled
// Members are stored uncompressed, as Keras's zipfile.ZipFile(path, "w")
// does; deflated members are read too. Other members (an assets/ folder) are
// ignored, as Keras ignores what it does not look up.
//
// A compiled model saved after some steps and loaded again continues training
// bit for bit: the optimizer comes back from its config with its iteration
// count and slots. A model compiled with a loss function (no identifier) has
// no compile_config to write: save_model refuses it (ValueError).
//
// Loading is all or nothing and strict: a file that is not a zip, a truncated
// or corrupt one, a member missing, an archive whose members inflate beyond
// the cap (zip bombs), a config.json or metadata.json that does not parse or
// describes no supported model, or weights that do not match the model are
// each an IOError or ValueError naming the file and the member.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sepconv/io/zip_archive.h"
#include "sepconv/model/model_base.h"

namespace sepconv {

// The Keras version written into metadata.json: the one whose format this
// follows (README "Keras compatibility").
inline constexpr const char* kKerasFileVersion = "3.14.0";

// The archive's bytes. The model must be built.
template <typename T>
std::vector<uint8_t> encode_keras_file(ModelBase<T>& model);
// Keras's model.save / keras.saving.save_model: `path` must end in ".keras"
// (ValueError in Keras's words otherwise); written atomically (IOError on
// failure, the old file then untouched).
template <typename T>
void save_model(ModelBase<T>& model, const std::string& path);

// A model from the bytes of a .keras file; `name` names the source in
// messages. Compiled (optimizer, loss, metrics and optimizer state) when the
// config has a compile_config.
template <typename T>
std::unique_ptr<ModelBase<T>> load_model_bytes(std::span<const uint8_t> bytes, const std::string& name,
                                               uint64_t max_uncompressed_bytes = kZipMaxUncompressedBytes);
// keras.models.load_model: `path` must end in ".keras".
template <typename T>
std::unique_ptr<ModelBase<T>> load_model(const std::string& path);

}  // namespace sepconv

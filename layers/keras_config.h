#pragma once
// Keras's global configuration (keras.config): the image data format read from
// keras.json, and the fuzz factor epsilon.
#include <optional>
#include <string>

#include "sepconv/core/geometry.h"  // DataFormat

namespace sepconv {

// Keras's standardize_data_format: "channels_last" / "channels_first",
// case-insensitive; anything else is a ValueError naming the value.
DataFormat parse_data_format(const std::string& s);
const char* data_format_name(DataFormat f);

// The default data format of layers (keras.config.image_data_format()):
// the value set by set_image_data_format, else "image_data_format" from
// $KERAS_HOME/keras.json when KERAS_HOME is set, else ~/.keras/keras.json,
// else "channels_last". The file is read at each call, so a test can point
// KERAS_HOME elsewhere. A file that is not valid JSON, or holds a value other
// than "channels_last"/"channels_first", is a ValueError naming the file; one
// that is not a regular file (a FIFO, /dev/zero) or is above 1 MiB, an
// IOError naming it (read with core/regular_file.h, so it can never hang).
std::string image_data_format();
// Overrides the file (keras.config.set_image_data_format); nullopt clears the override.
void set_image_data_format(std::optional<std::string> format);
// The keras.json the current environment points at (it need not exist).
std::string keras_config_path();

// keras.config.epsilon(): 1e-7, the fuzz factor of the constraints.
double epsilon();

}  // namespace sepconv

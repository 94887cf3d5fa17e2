#include "sepconv/layers/keras_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sepconv/core/error.h"
#include "sepconv/core/json_limits.h"
#include "sepconv/core/regular_file.h"

namespace sepconv {

namespace {
std::mutex g_mutex;
std::optional<std::string> g_override;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

DataFormat parse_data_format(const std::string& s) {
  const std::string l = lower(s);
  if (l == "channels_last") return DataFormat::ChannelsLast;
  if (l == "channels_first") return DataFormat::ChannelsFirst;
  throw ValueError(fmt::format(
      "The `data_format` argument must be one of {{\"channels_first\", \"channels_last\"}}. Received: data_format={}",
      s));
}

const char* data_format_name(DataFormat f) {
  return f == DataFormat::ChannelsLast ? "channels_last" : "channels_first";
}

std::string keras_config_path() {
  // Keras's backend/config.py: $KERAS_HOME, else ~/.keras (HOME unset: /tmp/.keras).
  if (const char* kh = std::getenv("KERAS_HOME"); kh && *kh) return std::string(kh) + "/keras.json";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.keras/keras.json";
}

std::string image_data_format() {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_override) return *g_override;
  }
  const std::string path = keras_config_path();
  // A few hundred bytes in practice; the cap and the regular-file check keep a
  // keras.json that is a FIFO or /dev/zero from hanging or exhausting memory.
  constexpr uint64_t kMaxKerasConfigBytes = uint64_t{1} << 20;
  const std::optional<std::vector<uint8_t>> bytes =
      read_regular_file_if_exists(path, kMaxKerasConfigBytes, "Keras config file");
  if (!bytes) return "channels_last";  // no config file: Keras's default
  const nlohmann::json config =
      parse_json_bounded(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()),
                         fmt::format("Keras config file '{}'", path));
  if (!config.is_object())
    throw ValueError(fmt::format("Keras config file '{}' must hold a JSON object, received: {}", path,
                                 config.dump()));
  if (!config.contains("image_data_format")) return "channels_last";
  const nlohmann::json& v = config.at("image_data_format");
  if (!v.is_string() || (v.get<std::string>() != "channels_last" && v.get<std::string>() != "channels_first"))
    throw ValueError(fmt::format(
        "Keras config file '{}': image_data_format must be \"channels_last\" or \"channels_first\", received {}",
        path, v.dump()));
  return v.get<std::string>();
}

void set_image_data_format(std::optional<std::string> format) {
  if (format) format = data_format_name(parse_data_format(*format));
  std::lock_guard<std::mutex> lock(g_mutex);
  g_override = std::move(format);
}

double epsilon() { return 1e-7; }

}  // namespace sepconv

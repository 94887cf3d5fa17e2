// checkpoint-info FILE: validates a safetensors checkpoint completely (header,
// dtypes, shapes, offsets) and lists its tensors and metadata. Exit status 0
// when the file loads, 1 (with the reason on stderr) when it does not.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

#include "sepconv/io/safetensors.h"

int main(int argc, char** argv) {
  constexpr const char* usage = "usage: checkpoint-info FILE.safetensors\n";
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(usage, stdout);
    return 0;
  }
  // A leading dash is an option we do not have, not a file name (name such a
  // file ./-x); reading it as a path printed "Cannot read ... '--help'".
  if (argc != 2 || argv[1][0] == '-') {
    std::fputs(usage, stderr);
    return 2;
  }
  try {
    const sepconv::SafeTensorsFile f = sepconv::load_safetensors(argv[1]);
    for (const auto& [name, t] : f.tensors)
      std::printf("%-60s %-4s %s\n", name.c_str(), t.dtype.c_str(), sepconv::shape_str(t.shape).c_str());
    for (const auto& [key, value] : f.metadata) std::printf("metadata %s = %s\n", key.c_str(), value.c_str());
    return 0;
  } catch (const std::bad_alloc&) {  // before std::exception, whose what() says only "std::bad_alloc"
    std::fprintf(stderr, "checkpoint-info: out of memory while reading '%s' (std::bad_alloc)\n", argv[1]);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint-info: %s\n", e.what());
    return 1;
  }
}

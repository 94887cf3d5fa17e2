// sepconv-conformance CASE.json [--dtype float32|float64]
//
// Runs one reference case (tests/data/oracle/FORMAT.md) through the library in
// the chosen element type (default float64) and prints exactly one JSON object
// on stdout: the case kind's result keys, tensors as {"shape", "data"} with 17
// significant digits. It never reads the case's `expected`. A failure of any
// kind (an error case's expected error, a bad case file, an exception while
// running) prints {"error": "<message>"} and exits 0; a bad command line prints
// the usage on stderr and exits 2.
#include <cstdio>
#include <iostream>
#include <new>
#include <string>

#include "conformance/case_io.h"
#include "conformance/kinds.h"

namespace {

const char* kUsage =
    "usage: sepconv-conformance CASE.json [--dtype float32|float64]\n"
    "  Runs a sepconv-case/1 reference case and prints the results as one JSON object.\n"
    "  --dtype   element type of the computation (default float64)\n";

template <typename T>
nlohmann::json run_case(const nlohmann::json& c) {
  using namespace sepconv::conformance;
  if (!c.is_object() || !c.contains("kind") || !c.at("kind").is_string())
    throw sepconv::ValueError("The case has no string \"kind\"");
  const std::string kind = c.at("kind").get<std::string>();
  if (kind == "layer") return run_layer_case<T>(c);
  if (kind == "error") return run_error_case<T>(c);
  if (kind == "optimizer") return run_optimizer_case<T>(c);
  if (kind == "train") return run_train_case<T>(c);
  if (kind == "model") return run_model_case<T>(c);
  if (kind == "model_train") return run_model_train_case<T>(c);
  throw sepconv::ValueError("Unknown case kind '" + kind +
                            "' (expected layer, error, optimizer, train, model or model_train)");
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, dtype = "float64";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--dtype" && i + 1 < argc) {
      dtype = argv[++i];
    } else if (a.rfind("--dtype=", 0) == 0) {
      dtype = a.substr(8);
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << "sepconv-conformance: unknown option '" << a << "'\n" << kUsage;
      return 2;
    } else if (path.empty()) {
      path = a;
    } else {
      std::cerr << "sepconv-conformance: more than one case file given\n" << kUsage;
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "sepconv-conformance: no case file given\n" << kUsage;
    return 2;
  }
  if (dtype != "float32" && dtype != "float64") {
    std::cerr << "sepconv-conformance: --dtype must be float32 or float64, received '" << dtype << "'\n" << kUsage;
    return 2;
  }

  nlohmann::json result;
  try {
    const nlohmann::json c = sepconv::conformance::read_case_file(path);
    result = dtype == "float32" ? run_case<float>(c) : run_case<double>(c);
  } catch (const std::bad_alloc&) {
    // Before std::exception: its what() is only "std::bad_alloc". A case too
    // big for memory (weights under kMaxWeightElements but many of them, or a
    // huge input) is an error result like any other, not an abort.
    result = nlohmann::json{{"error", "out of memory while running the case in '" + path + "' (std::bad_alloc)"}};
  } catch (const std::exception& e) {
    result = nlohmann::json{{"error", e.what()}};
  } catch (...) {
    result = nlohmann::json{{"error", "unknown exception"}};
  }
  std::cout << sepconv::conformance::dump_result(result) << "\n";
  std::cout.flush();
  return 0;
}

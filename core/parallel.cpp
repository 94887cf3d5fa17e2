#include "sepconv/core/parallel.h"

#include <omp.h>

#include <fmt/format.h>

#include <thread>

#include "sepconv/core/error.h"

extern "C" void openblas_set_num_threads(int);

namespace sepconv {

namespace {
int cores() {
  const unsigned n = std::thread::hardware_concurrency();  // 0 when unknown
  return n == 0 ? 1 : static_cast<int>(n);
}
}  // namespace

int max_num_threads() { return 4 * cores(); }

void set_num_threads(int n) {
  if (n < 0 || n > max_num_threads())
    throw ValueError(fmt::format("Invalid value for argument `num_threads`: expected 0 (all cores) or an integer "
                                 "in [1, {}] (4 x the {} cores). Received: num_threads={}",
                                 max_num_threads(), cores(), n));
  if (n == 0) n = cores();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace sepconv

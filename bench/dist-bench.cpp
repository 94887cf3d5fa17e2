// Times the data-parallel step's communication and sum for a gradient of N
// floats: the allgatherv of one tree node per process (what fit sends with
// micro-shards a multiple of the processes, each run an aligned subtree) and
// the tree sum of the gathered nodes on every process. Run it under mpirun;
// alone it times the single-process copy. Process 0 prints the medians.
// usage: mpirun -np 2 dist-bench [--floats N] [--repeat R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli_numbers.h"
#include "sepconv/dist/communicator.h"
#include "sepconv/model/data_parallel.h"

using namespace sepconv;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  const std::shared_ptr<Communicator> world = world_communicator();
  int64_t floats = 1 << 20, repeat = 50;
  CLI::App app{"Time the data-parallel gradient exchange"};
  cli::add_integer_option<int64_t>(app, "--floats", floats, 1, int64_t{1} << 28,
                                   "Gradient size in floats, 1 to 2^28 (default: 2^20, 4 MiB)");
  cli::add_integer_option<int64_t>(app, "--repeat", repeat, 1, 100000, "Timed repetitions, 1 to 100000");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return world->rank() == 0 ? app.exit(e) : e.get_exit_code();
  }
  const int p = world->size();
  std::vector<float> mine(static_cast<size_t>(floats), 1.0f + static_cast<float>(world->rank()));
  std::vector<float> all(static_cast<size_t>(floats * p)), sum(static_cast<size_t>(floats));
  const std::vector<int64_t> counts(static_cast<size_t>(p), floats);
  std::vector<double> gather_ms, sum_ms;
  auto node = [&](int64_t lo, int64_t hi) -> const float* { return hi - lo == 1 ? &all[lo * floats] : nullptr; };
  for (int64_t r = 0; r < repeat + 3; ++r) {  // 3 warm-up rounds
    world->barrier();
    const auto t0 = std::chrono::steady_clock::now();
    world->allgatherv(mine.data(), all.data(), counts);
    const auto t1 = std::chrono::steady_clock::now();
    tree_sum<float>(0, p, floats, node, sum.data());
    const auto t2 = std::chrono::steady_clock::now();
    if (r < 3) continue;
    gather_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    sum_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  if (world->rank() == 0)
    std::printf("%s, %lld floats (%.2f MiB) a process: allgatherv %.3f ms, tree sum %.3f ms (medians of %lld)\n",
                world->description().c_str(), static_cast<long long>(floats),
                static_cast<double>(floats) * 4 / (1 << 20), median(gather_ms), median(sum_ms),
                static_cast<long long>(repeat));
  return 0;
}

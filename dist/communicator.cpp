#include "sepconv/dist/communicator.h"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "sepconv/core/error.h"

namespace sepconv {

namespace {
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string description() const override { return "single process"; }
  void allgatherv(const float* send, float* recv, const std::vector<int64_t>& counts) override {
    copy(send, recv, counts);
  }
  void allgatherv(const double* send, double* recv, const std::vector<int64_t>& counts) override {
    copy(send, recv, counts);
  }
  void broadcast(void*, int64_t, int root) override {
    if (root != 0) throw ValueError(fmt::format("broadcast: root must be 0 in a single process, received root={}", root));
  }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }

 private:
  template <typename T>
  static void copy(const T* send, T* recv, const std::vector<int64_t>& counts) {
    if (counts.size() != 1)
      throw ValueError(fmt::format("allgatherv: expected 1 count (one per rank), received {}", counts.size()));
    if (counts[0]) std::memcpy(recv, send, static_cast<size_t>(counts[0]) * sizeof(T));
  }
};
}  // namespace

std::shared_ptr<Communicator> single_process_communicator() { return std::make_shared<SingleProcess>(); }

#ifndef SEPCONV_HAVE_MPI
std::shared_ptr<Communicator> world_communicator() { return single_process_communicator(); }
bool mpi_available() { return false; }
#endif

}  // namespace sepconv

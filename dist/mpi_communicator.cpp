// The MPI communicator; compiled only when CMake found MPI (SEPCONV_MPI).
// The C API only: the deprecated C++ bindings would need libmpi_cxx too.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <stdexcept>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/dist/communicator.h"

namespace sepconv {

namespace {
// MPI counts are int: a larger buffer is refused rather than truncated.
int mpi_count(int64_t n, const char* what) {
  if (n < 0 || n > INT_MAX)
    throw ValueError(fmt::format("{}: count must be in [0, {}] for MPI, received {}", what, INT_MAX, n));
  return static_cast<int>(n);
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(fmt::format("{} failed: {}", what, std::string(text, static_cast<size_t>(len))));
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    // A process waiting in a collective polls; with more processes than free
    // cores (a shared machine, or -np 4 on 2 cores) the polling takes the
    // core a working process needs. Measured here (2 cores, other jobs
    // running), a reference-model epoch on 2 processes took 3.7-4.5 s
    // polling and 2.1-2.4 s yielding. The user's own setting wins.
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    // Only the main thread calls MPI; OpenMP threads inside kernels never do.
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // A failing collective returns an error we turn into an exception.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiWorld() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string description() const override { return fmt::format("MPI ({} processes)", size_); }
  void allgatherv(const float* send, float* recv, const std::vector<int64_t>& counts) override {
    gather(send, recv, counts, MPI_FLOAT);
  }
  void allgatherv(const double* send, double* recv, const std::vector<int64_t>& counts) override {
    gather(send, recv, counts, MPI_DOUBLE);
  }
  void broadcast(void* data, int64_t bytes, int root) override {
    if (root < 0 || root >= size_)
      throw ValueError(fmt::format("broadcast: root must be in [0, {}), received root={}", size_, root));
    check(MPI_Bcast(data, mpi_count(bytes, "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  template <typename T>
  void gather(const T* send, T* recv, const std::vector<int64_t>& counts, MPI_Datatype type) {
    if (counts.size() != static_cast<size_t>(size_))
      throw ValueError(fmt::format("allgatherv: expected {} counts (one per rank), received {}", size_, counts.size()));
    std::vector<int> n(counts.size()), offsets(counts.size());
    int64_t total = 0;
    for (size_t r = 0; r < counts.size(); ++r) {
      n[r] = mpi_count(counts[r], "allgatherv");
      offsets[r] = mpi_count(total, "allgatherv (total)");
      total += counts[r];
    }
    mpi_count(total, "allgatherv (total)");
    check(MPI_Allgatherv(send, n[rank_], type, recv, n.data(), offsets.data(), type, MPI_COMM_WORLD),
          "MPI_Allgatherv");
  }

  int rank_ = 0, size_ = 1;
};

bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}
}  // namespace

std::shared_ptr<Communicator> world_communicator() {
  // One world per process, kept until exit (MPI can be initialized once only).
  static std::shared_ptr<Communicator> world =
      launched_by_mpirun() ? std::shared_ptr<Communicator>(std::make_shared<MpiWorld>()) : single_process_communicator();
  return world;
}

bool mpi_available() { return true; }

}  // namespace sepconv

#pragma once
// The processes of a data-parallel job and the few collectives training needs.
// Every collective here moves data in rank order and leaves the arithmetic to
// the caller: sums are formed by model/ in a fixed order, never inside MPI in
// arrival order, so results do not depend on the number of processes.
//
// A single-process communicator always exists, so code above has one path;
// the MPI one exists when the library is built with SEPCONV_MPI (CMake finds
// MPI) and the program was started by mpirun. Nothing here knows of models.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sepconv {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "single process" or "MPI (N processes)", for messages and logs.
  virtual std::string description() const = 0;

  // Every rank's buffer, concatenated in rank order, on every rank: rank r
  // sends counts[r] elements, recv holds sum(counts) elements.
  virtual void allgatherv(const float* send, float* recv, const std::vector<int64_t>& counts) = 0;
  virtual void allgatherv(const double* send, double* recv, const std::vector<int64_t>& counts) = 0;
  // Root's `count` bytes to every rank.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job with this exit code (a rank that hit bad
  // input calls it so the others do not wait forever in a collective).
  [[noreturn]] virtual void abort(int code) = 0;
};

// The communicator of a program that runs alone: rank 0 of 1.
std::shared_ptr<Communicator> single_process_communicator();

// The job's communicator: MPI's world when built with MPI and started by a
// launcher (mpirun sets OMPI_COMM_WORLD_SIZE / PMIX_RANK), else the single
// process one. MPI is initialized on the first call and finalized at exit.
std::shared_ptr<Communicator> world_communicator();

// Whether this build has the MPI communicator.
bool mpi_available();

}  // namespace sepconv

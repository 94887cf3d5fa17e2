#pragma once
// Thread count shared by our OpenMP kernels and OpenBLAS.
namespace sepconv {

// The most threads set_num_threads accepts: 4 x the cores the system reports
// (4 when it reports none). More threads than that only add context switches to
// compute-bound kernels, and far more kill the process: libgomp aborts or
// crashes when it cannot create them (measured: 50000 aborted, 100000 crashed
// in libgomp), so the count is refused rather than passed on.
int max_num_threads();

// Sets the threads used by every kernel (OpenMP and OpenBLAS); n == 0 means
// all cores. Throws ValueError for n < 0 or n > max_num_threads(). Results do
// not depend on it: reductions run in a fixed order.
void set_num_threads(int n);
int num_threads();

}  // namespace sepconv

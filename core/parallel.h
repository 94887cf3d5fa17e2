#pragma once
// Thread count shared by our OpenMP kernels and OpenBLAS.
namespace sepconv {

// Sets the threads used by every kernel (OpenMP and OpenBLAS); n <= 0 means
// all cores. Results do not depend on it: reductions run in a fixed order.
void set_num_threads(int n);
int num_threads();

}  // namespace sepconv

#pragma once
// Channel reductions and batch-normalization loops over (rows, channels)
// matrices: the channel is the last axis, every other axis is a row.
// Every reduction sums blocks of kReduceBlock rows in parallel (in double) and
// combines the blocks' partial sums in block order, so the bits do not depend
// on the thread count.
#include <cstdint>
#include <vector>

namespace sepconv::kernels {

// Rows per partial sum. Fixed (not derived from the thread count) so the order
// of every floating-point addition is fixed too.
constexpr int64_t kReduceBlock = 256;

// out[c] = sum over rows of m[r, c].
template <typename T>
std::vector<double> column_sums(const T* m, int64_t rows, int64_t channels);

// Per channel: mean = sum(x) / rows, then variance = sum((x - mean)^2) / rows
// (biased), two passes so that nothing cancels.
template <typename T>
void batch_moments(const T* x, int64_t rows, int64_t channels, std::vector<double>& mean,
                   std::vector<double>& variance);

// y[r, c] = x[r, c] * scale[c] + shift[c].
template <typename T>
void scale_shift(const T* x, int64_t rows, int64_t channels, const T* scale, const T* shift, T* y);

// sums[c] = sum over rows of dy, sums[channels + c] = sum of dy * xhat with
// xhat = (x - mean[c]) * inv_std[c].
template <typename T>
std::vector<double> batch_norm_backward_sums(const T* x, const T* dy, int64_t rows, int64_t channels, const T* mean,
                                             const T* inv_std);

// The input gradient, scale = gamma * inv_std. Training (the statistics depend
// on x): scale * (dy - mean_dy - xhat * mean_dy_xhat); inference: scale * dy.
// gx is overwritten, or added to with `accumulate`; mean_dy and mean_dy_xhat
// are only read in training.
template <typename T>
void batch_norm_backward_input(const T* x, const T* dy, int64_t rows, int64_t channels, const T* mean,
                               const T* inv_std, const T* scale, const T* mean_dy, const T* mean_dy_xhat,
                               bool training, T* gx, bool accumulate);

}  // namespace sepconv::kernels

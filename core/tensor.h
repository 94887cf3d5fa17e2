#pragma once
// Tensor<T>: a dense, row-major, 64-byte-aligned array of float or double.
//
// Copies share storage (like a torch::Tensor or a numpy view); clone() makes a
// deep copy. Shapes are vectors of int64 dimensions; a rank-0 tensor holds one
// value. Implemented once as a template and explicitly instantiated for float
// and double in tensor.cpp.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "sepconv/core/error.h"

namespace sepconv {

using Shape = std::vector<int64_t>;

// "(2, 3, 4)", as Keras prints shapes.
std::string shape_str(const Shape& shape);
// Number of elements; throws ShapeError for a negative dimension or overflow.
int64_t shape_size(const Shape& shape);

template <typename T>
struct DTypeName;
template <>
struct DTypeName<float> {
  static constexpr const char* value = "float32";
};
template <>
struct DTypeName<double> {
  static constexpr const char* value = "float64";
};

template <typename T>
class Tensor {
 public:
  using value_type = T;

  Tensor() = default;  // an empty (size-0, rank-1) tensor: Shape{0}
  explicit Tensor(Shape shape);            // zero-filled
  Tensor(Shape shape, T fill);
  Tensor(Shape shape, const std::vector<T>& values);  // values.size() must match

  static Tensor zeros(const Shape& shape) { return Tensor(shape); }
  // Storage left uninitialized, for callers that overwrite every element:
  // skips the zero-fill (a full pass over memory) that the constructors do.
  static Tensor uninitialized(const Shape& shape);
  static Tensor full(const Shape& shape, T value) { return Tensor(shape, value); }
  static Tensor scalar(T value) { return Tensor(Shape{}, value); }

  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Dimension i; negative i counts from the end, as in Python.
  int64_t dim(int64_t i) const;

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  T& operator[](int64_t i) { return data_.get()[i]; }
  const T& operator[](int64_t i) const { return data_.get()[i]; }
  // Value of a rank-0 or size-1 tensor.
  T item() const;

  Tensor clone() const;
  // Same storage, another shape of the same size.
  Tensor reshape(const Shape& shape) const;
  void fill(T value);
  // Copies values from a tensor of the same size (shapes may differ).
  void copy_from(const Tensor& other);
  bool shares_storage_with(const Tensor& other) const { return data_ == other.data_; }
  std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }

 private:
  struct UninitializedTag {};
  Tensor(Shape shape, UninitializedTag);

  Shape shape_{0};
  int64_t size_ = 0;
  std::shared_ptr<T> data_;
};

// Storage of 64 KiB and more is recycled through a size-bucketed cache instead
// of going back to the OS, because fresh pages are expensive to fault in (about
// 12 us per 4 KiB page on our virtual machines) and training allocates the same
// sizes every step. These report and empty that cache.
struct StorageCacheStats {
  int64_t cached_bytes = 0;   // idle blocks held for reuse
  int64_t live_bytes = 0;     // cache-managed blocks in use by tensors
  int64_t hits = 0, misses = 0;
};
StorageCacheStats storage_cache_stats();
// Frees every idle block back to the OS (blocks in use are unaffected).
void release_cached_storage();

// Element-type conversion (float <-> double), always a copy.
template <typename To, typename From>
Tensor<To> cast(const Tensor<From>& t) {
  Tensor<To> out(t.shape());
  for (int64_t i = 0; i < t.size(); ++i) out[i] = static_cast<To>(t[i]);
  return out;
}

// Layout helpers: (N, H, W, C) <-> (N, C, H, W).
template <typename T>
Tensor<T> nhwc_to_nchw(const Tensor<T>& x);
template <typename T>
Tensor<T> nchw_to_nhwc(const Tensor<T>& x);

// Largest |a - b| over elements; throws ShapeError if shapes differ.
template <typename T>
double max_abs_diff(const Tensor<T>& a, const Tensor<T>& b);
// Largest |x|.
template <typename T>
double max_abs(const Tensor<T>& a);

}  // namespace sepconv

#include "sepconv/core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include <fmt/format.h>

#include "sepconv/core/kernels/transpose.h"

namespace sepconv {

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

int64_t shape_size(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw ShapeError(fmt::format("Negative dimension in shape {}", shape_str(shape)));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw ShapeError(fmt::format("Shape {} has too many elements", shape_str(shape)));
    n *= d;
  }
  return n;
}

namespace {
constexpr size_t kAlignment = 64;  // a cache line, and one AVX-512 register

// The storage cache. Blocks of kCachedMin bytes and more are rounded up to a
// size class (eighths of a power of two, so at most 12.5% is wasted) and, when
// their last tensor goes away, kept on a free list for that class instead of
// being freed: the next step of a training loop asks for the same sizes and gets
// pages that are already mapped. Smaller blocks go straight to malloc, whose
// own free lists serve them well. Idle memory is capped (kIdleCap); past it,
// freed blocks go back to the OS.
constexpr size_t kCachedMin = size_t(64) << 10;
constexpr size_t kIdleCap = size_t(2) << 30;

size_t size_class(size_t bytes) {
  if (bytes < kCachedMin) return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  const int top = 63 - __builtin_clzll(bytes);
  const size_t step = size_t(1) << (top - 3);
  return (bytes + step - 1) / step * step;
}

class StorageCache {
 public:
  void* take(size_t bytes, bool& reused) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        idle_ -= bytes;
        live_ += bytes;
        ++hits_;
        reused = true;
        return p;
      }
      ++misses_;
      live_ += bytes;
    }
    reused = false;
    void* p = std::aligned_alloc(kAlignment, bytes);
    if (!p) {
      release();  // idle blocks of other sizes may be what stands in the way
      p = std::aligned_alloc(kAlignment, bytes);
    }
    if (!p) {
      std::lock_guard<std::mutex> lock(mutex_);
      live_ -= bytes;
      throw std::bad_alloc();
    }
    return p;
  }

  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_ -= bytes;
      if (idle_ + bytes <= kIdleCap) {
        free_[bytes].push_back(p);
        idle_ += bytes;
        return;
      }
    }
    std::free(p);
  }

  void release() {
    std::map<size_t, std::vector<void*>> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      idle_ = 0;
    }
    for (auto& [bytes, list] : blocks)
      for (void* p : list) std::free(p);
  }

  StorageCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    StorageCacheStats s;
    s.cached_bytes = static_cast<int64_t>(idle_);
    s.live_bytes = static_cast<int64_t>(live_);
    s.hits = hits_;
    s.misses = misses_;
    return s;
  }

 private:
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  size_t idle_ = 0, live_ = 0;
  int64_t hits_ = 0, misses_ = 0;
};

// Never destroyed: tensors held by other static objects may outlive any
// destructor order we could arrange.
StorageCache& storage_cache() {
  static StorageCache* cache = new StorageCache;
  return *cache;
}

template <typename T>
std::shared_ptr<T> allocate(int64_t n, bool zero) {
  // n * sizeof(T), rounded up to a size class, must not wrap around size_t:
  // (2^62,) doubles would otherwise "need" 0 bytes and get a 64-byte block.
  // Half the address space is more than any allocator can give anyway.
  if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / 2 / sizeof(T)) throw std::bad_array_new_length();
  const size_t bytes = size_class(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T));
  if (bytes < kCachedMin) {
    void* p = std::aligned_alloc(kAlignment, bytes);
    if (!p) throw std::bad_alloc();
    if (zero) std::memset(p, 0, bytes);
    return std::shared_ptr<T>(static_cast<T*>(p), [](T* q) { std::free(q); });
  }
  bool reused = false;
  void* p = storage_cache().take(bytes, reused);
  // Fresh blocks from aligned_alloc of this size come from mmap and are already
  // zero, but only glibc promises that; zero both kinds when asked.
  if (zero) std::memset(p, 0, bytes);
  return std::shared_ptr<T>(static_cast<T*>(p), [bytes](T* q) { storage_cache().give(q, bytes); });
}
}  // namespace

StorageCacheStats storage_cache_stats() { return storage_cache().stats(); }
void release_cached_storage() { storage_cache().release(); }

template <typename T>
Tensor<T>::Tensor(Shape shape) : shape_(std::move(shape)), size_(shape_size(shape_)), data_(allocate<T>(size_, true)) {}

template <typename T>
Tensor<T>::Tensor(Shape shape, UninitializedTag)
    : shape_(std::move(shape)), size_(shape_size(shape_)), data_(allocate<T>(size_, false)) {}

template <typename T>
Tensor<T> Tensor<T>::uninitialized(const Shape& shape) {
  return Tensor(shape, UninitializedTag{});
}

template <typename T>
Tensor<T>::Tensor(Shape shape, T fill_value) : Tensor(std::move(shape), UninitializedTag{}) {
  fill(fill_value);
}

template <typename T>
Tensor<T>::Tensor(Shape shape, const std::vector<T>& values) : Tensor(std::move(shape), UninitializedTag{}) {
  if (static_cast<int64_t>(values.size()) != size_)
    throw ShapeError(fmt::format("Tensor of shape {} needs {} values, received {}", shape_str(shape_), size_,
                                 values.size()));
  std::copy(values.begin(), values.end(), data());
}

template <typename T>
int64_t Tensor<T>::dim(int64_t i) const {
  int64_t r = rank();
  if (i < -r || i >= r) throw ShapeError(fmt::format("Axis {} is out of range for shape {}", i, shape_str(shape_)));
  return shape_[static_cast<size_t>(i < 0 ? i + r : i)];
}

template <typename T>
T Tensor<T>::item() const {
  if (size_ != 1) throw ShapeError(fmt::format("item() needs a tensor of one element, shape is {}", shape_str(shape_)));
  return data()[0];
}

template <typename T>
Tensor<T> Tensor<T>::clone() const {
  Tensor out(shape_, UninitializedTag{});
  if (size_) std::memcpy(out.data(), data(), static_cast<size_t>(size_) * sizeof(T));
  return out;
}

template <typename T>
Tensor<T> Tensor<T>::reshape(const Shape& shape) const {
  if (shape_size(shape) != size_)
    throw ShapeError(fmt::format("Cannot reshape a tensor of shape {} to {}", shape_str(shape_), shape_str(shape)));
  Tensor out = *this;
  out.shape_ = shape;
  return out;
}

template <typename T>
void Tensor<T>::fill(T value) {
  std::fill(begin(), end(), value);
}

template <typename T>
void Tensor<T>::copy_from(const Tensor& other) {
  if (other.size_ != size_)
    throw ShapeError(fmt::format("copy_from: sizes differ ({} vs {})", shape_str(shape_), shape_str(other.shape_)));
  if (size_ && data() != other.data()) std::memcpy(data(), other.data(), static_cast<size_t>(size_) * sizeof(T));
}

namespace {
template <typename T>
void check_rank4(const Tensor<T>& x, const char* fn) {
  if (x.rank() != 4) throw ShapeError(fmt::format("{} expects a rank-4 tensor, received shape {}", fn, shape_str(x.shape())));
}
}  // namespace

template <typename T>
Tensor<T> nhwc_to_nchw(const Tensor<T>& x) {
  check_rank4(x, "nhwc_to_nchw");
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  Tensor<T> y = Tensor<T>::uninitialized({n, c, h, w});
  kernels::transpose_planes(n, h * w, c, x.data(), y.data());  // each image (H*W x C) -> (C x H*W)
  return y;
}

template <typename T>
Tensor<T> nchw_to_nhwc(const Tensor<T>& x) {
  check_rank4(x, "nchw_to_nhwc");
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Tensor<T> y = Tensor<T>::uninitialized({n, h, w, c});
  kernels::transpose_planes(n, c, h * w, x.data(), y.data());  // each image (C x H*W) -> (H*W x C)
  return y;
}

template <typename T>
double max_abs_diff(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape())
    throw ShapeError(fmt::format("max_abs_diff: shapes differ, {} vs {}", shape_str(a.shape()), shape_str(b.shape())));
  double m = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

template <typename T>
double max_abs(const Tensor<T>& a) {
  double m = 0;
  for (int64_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i])));
  return m;
}

#define SEPCONV_INSTANTIATE(T)                                  \
  template class Tensor<T>;                                     \
  template Tensor<T> nhwc_to_nchw(const Tensor<T>&);            \
  template Tensor<T> nchw_to_nhwc(const Tensor<T>&);            \
  template double max_abs_diff(const Tensor<T>&, const Tensor<T>&); \
  template double max_abs(const Tensor<T>&);
SEPCONV_INSTANTIATE(float)
SEPCONV_INSTANTIATE(double)
#undef SEPCONV_INSTANTIATE

}  // namespace sepconv

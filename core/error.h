#pragma once
// Exception types of the library. Messages name the argument and the value
// received, in Keras's wording where Keras has one.
#include <stdexcept>
#include <string>

namespace sepconv {

// An argument has an invalid value (Keras raises ValueError).
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Tensors of incompatible shapes met (an input of the wrong rank, a gradient
// whose shape does not match its variable, ...).
struct ShapeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Reading or writing a file failed: missing, truncated, corrupt, or not writable.
struct IOError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A non-finite value appeared where numerics checking was asked for.
struct NumericsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace sepconv

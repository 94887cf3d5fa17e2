#pragma once
// Argument checks shared by the ops, with one wording.
#include <cstdint>

#include <fmt/format.h>

#include "sepconv/autograd/variable.h"
#include "sepconv/core/error.h"

namespace sepconv::op_checks {

template <typename T>
void require_rank(const Variable<T>& x, int64_t rank, const char* op, const char* arg) {
  if (x.value().rank() != rank)
    throw ShapeError(fmt::format("{}: `{}` must be rank {}, received shape {}", op, arg, rank, shape_str(x.shape())));
}

}  // namespace sepconv::op_checks

#pragma once
// Keras's model.summary() table, rendered from rows the models give.
#include <cstdint>
#include <string>
#include <vector>

#include "sepconv/core/tensor.h"

namespace sepconv {

struct SummaryRow {
  std::string layer;                      // "name (ClassName)"
  std::string output_shape;               // "(None, 8, 8, 4)"
  int64_t params = 0;
  std::vector<std::string> connected_to;  // "conv2d[0][0]", one line each (functional models)
};

// The table, then "Total params", "Trainable params", "Non-trainable params"
// with their sizes at `bytes_per_param`. With `connected`, a fourth column
// "Connected to" (Keras prints it for functional models).
std::string render_summary(const std::string& model_name, const std::vector<SummaryRow>& rows, bool connected,
                           int64_t total_params, int64_t trainable_params, int64_t bytes_per_param);

// "(None, 28, 28, 1)": -1 printed as None, a 1-tuple with its comma.
std::string shape_with_none(const Shape& s);

}  // namespace sepconv

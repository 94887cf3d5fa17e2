#pragma once
// The training loop's display: Keras's Progbar (verbose=1 on a terminal) and
// the one-line epoch summaries.
#include <cstdint>
#include <optional>
#include <string>

#include "sepconv/model/training.h"

namespace sepconv {

// " - loss: 0.1234 - accuracy: 0.9876 ..." for the metrics given.
std::string format_metrics(double loss, const std::optional<double>& acc, const std::optional<double>& val_loss = {},
                           const std::optional<double>& val_acc = {});

// Keras's Progbar, verbose=1: one line rewritten in place on a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(int64_t target) : target_(target) {}
  void update(int64_t current, double elapsed, double loss, const std::optional<double>& acc);
  void finish(double train_seconds, const EpochLogs& l);

 private:
  int digits() const;
  std::string bar(int64_t current) const;
  void draw(const std::string& line);
  int64_t target_;
  double last_ = -1;
  size_t previous_ = 0;
};

}  // namespace sepconv

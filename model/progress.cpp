#include "sepconv/model/progress.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace sepconv {

namespace {
std::string format_eta(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  if (s >= 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s % 3600) / 60, s % 60);
  if (s >= 60) return fmt::format("{}:{:02d}", s / 60, s % 60);
  return fmt::format("{}s", s);
}
}  // namespace

std::string format_metrics(double loss, const std::optional<double>& acc, const std::optional<double>& val_loss,
                           const std::optional<double>& val_acc) {
  std::string s = fmt::format(" - loss: {:.4f}", loss);
  if (acc) s += fmt::format(" - accuracy: {:.4f}", *acc);
  if (val_loss) s += fmt::format(" - val_loss: {:.4f}", *val_loss);
  if (val_acc) s += fmt::format(" - val_accuracy: {:.4f}", *val_acc);
  return s;
}

void ProgressBar::update(int64_t current, double elapsed, double loss, const std::optional<double>& acc) {
  if (current < target_ && elapsed - last_ < 0.1) return;  // at most ten redraws a second
  last_ = elapsed;
  std::string line = fmt::format("{:>{}}/{} [{}]", current, digits(), target_, bar(current));
  if (current < target_) {
    const double eta = current > 0 ? elapsed / static_cast<double>(current) * static_cast<double>(target_ - current) : 0;
    line += " - ETA: " + format_eta(eta);
  }
  line += format_metrics(loss, acc);
  draw(line);
}

void ProgressBar::finish(double train_seconds, const EpochLogs& l) {
  std::string line = fmt::format("{}/{} [{}] - {:.0f}s {:.0f}ms/step", target_, target_, bar(target_), train_seconds,
                                 1000.0 * train_seconds / static_cast<double>(std::max<int64_t>(target_, 1)));
  line += format_metrics(l.loss, l.accuracy, l.val_loss, l.val_accuracy);
  draw(line);
  std::fputs("\n", stdout);
  std::fflush(stdout);
}

int ProgressBar::digits() const { return static_cast<int>(std::to_string(target_).size()); }

std::string ProgressBar::bar(int64_t current) const {
  constexpr int64_t width = 30;
  const int64_t done = target_ > 0 ? width * current / target_ : width;
  std::string b;
  if (done > 0) b = std::string(static_cast<size_t>(done - 1), '=') + (current < target_ ? ">" : "=");
  return b + std::string(static_cast<size_t>(width - std::max<int64_t>(done, 0)), '.');
}

void ProgressBar::draw(const std::string& line) {
  const size_t pad = previous_ > line.size() ? previous_ - line.size() : 0;
  std::fputs(("\r" + line + std::string(pad, ' ')).c_str(), stdout);
  std::fflush(stdout);
  previous_ = line.size();
}

}  // namespace sepconv

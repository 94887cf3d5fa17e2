#include "sepconv/model/summary.h"

#include <algorithm>

#include <fmt/format.h>

namespace sepconv {

namespace {
std::string with_commas(int64_t n) {
  std::string s = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string readable_bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{:.2f} {}", bytes, units[u]);
}

// The width of a UTF-8 string in code points (the table draws with box characters).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
std::string pad_right(const std::string& s, size_t width) {
  return s + std::string(width > display_width(s) ? width - display_width(s) : 0, ' ');
}
std::string pad_left(const std::string& s, size_t width) {
  return std::string(width > display_width(s) ? width - display_width(s) : 0, ' ') + s;
}
}  // namespace

std::string shape_with_none(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += s[i] < 0 ? "None" : std::to_string(s[i]);
  }
  return out + (s.size() == 1 ? ",)" : ")");
}

std::string render_summary(const std::string& model_name, const std::vector<SummaryRow>& rows, bool connected,
                           int64_t total, int64_t trainable, int64_t bytes_per_param) {
  const size_t columns = connected ? 4 : 3;
  std::vector<size_t> width = {31, 22, 13, 22};
  const char* headers[] = {"Layer (type)", "Output Shape", "Param #", "Connected to"};
  for (const SummaryRow& r : rows) {
    width[0] = std::max(width[0], display_width(r.layer));
    width[1] = std::max(width[1], display_width(r.output_shape));
    width[2] = std::max(width[2], with_commas(r.params).size());
    for (const std::string& c : r.connected_to) width[3] = std::max(width[3], display_width(c));
  }
  auto rule = [&](const char* l, const char* fill, const char* mid, const char* r) {
    std::string s = l;
    for (size_t c = 0; c < columns; ++c) {
      for (size_t k = 0; k < width[c] + 2; ++k) s += fill;
      s += c + 1 < columns ? mid : r;
    }
    return s + "\n";
  };
  auto line = [&](const char* bar, const std::vector<std::string>& cells) {
    std::string s = bar;
    for (size_t c = 0; c < columns; ++c)
      s += " " + (c == 2 ? pad_left(cells[c], width[c]) : pad_right(cells[c], width[c])) + " " + bar;
    return s + "\n";
  };
  std::string out = fmt::format("Model: \"{}\"\n", model_name);
  out += rule("┏", "━", "┳", "┓");
  out += line("┃", {headers[0], headers[1], headers[2], headers[3]});
  out += rule("┡", "━", "╇", "┩");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out += rule("├", "─", "┼", "┤");
    const SummaryRow& r = rows[i];
    const size_t lines = std::max<size_t>(1, r.connected_to.size());
    for (size_t k = 0; k < lines; ++k) {
      const std::string c = k < r.connected_to.size() ? r.connected_to[k] : (k == 0 && connected ? "-" : "");
      out += line("│", {k ? "" : r.layer, k ? "" : r.output_shape, k ? "" : with_commas(r.params), c});
    }
  }
  out += rule("└", "─", "┴", "┘");
  const double b = static_cast<double>(bytes_per_param);
  out += fmt::format(" Total params: {} ({})\n", with_commas(total), readable_bytes(static_cast<double>(total) * b));
  out += fmt::format(" Trainable params: {} ({})\n", with_commas(trainable),
                     readable_bytes(static_cast<double>(trainable) * b));
  out += fmt::format(" Non-trainable params: {} ({})\n", with_commas(total - trainable),
                     readable_bytes(static_cast<double>(total - trainable) * b));
  return out;
}

}  // namespace sepconv

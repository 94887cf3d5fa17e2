#pragma once
// Strict parsing of the numbers command-line options take, shared by the
// programs of examples/, tools/ and bench/ (they get tools/ on their include
// path). CLI11's own conversion and std::atoi/atof are not strict enough: CLI11
// saturated --seed -1, --seed 18446744073709551616 and --seed 1e23 to 2^64-1
// and --epochs 99999999999999999999 to 2^63-1, and atoi turns junk into 0.
// Here the whole text must be one number of the option's type within its
// range, or the error names the option, what it accepts and the text received,
// in Keras's wording:
//   Invalid value for argument `--seed`: expected an integer in
//   [0, 18446744073709551615]. Received: --seed=-1
// It lives in tools/, not in the library: it is about command lines and CLI11,
// which the installed library does not depend on. A user copying the example
// copies this header with it.
#include <charconv>
#include <cmath>
#include <concepts>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace sepconv::cli {

// A command-line value outside what its option accepts.
struct OptionError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Throws OptionError: "Invalid value for argument `OPTION`: expected EXPECTED.
// Received: OPTION=TEXT" (TEXT cut at 80 characters: it is echoed to a terminal).
[[noreturn]] inline void fail(std::string_view option, std::string_view expected, std::string_view text) {
  const std::string shown = text.size() > 80 ? std::string(text.substr(0, 80)) + "..." : std::string(text);
  throw OptionError(fmt::format("Invalid value for argument `{}`: expected {}. Received: {}={}", option, expected,
                                option, shown));
}

template <std::integral T>
std::string integer_range(T lo, T hi) {
  return fmt::format("an integer in [{}, {}]", lo, hi);
}

// The integer `text` spells, if it is one in [lo, hi]: the whole text must be
// decimal digits, with a '-' only for a signed T: no '+', spaces, exponent or
// fraction. For values that are not options (checkpoint metadata), whose
// callers word their own errors.
template <std::integral T>
std::optional<T> integer_in(std::string_view text, T lo, T hi) {
  // Parsed into the widest type of T's signedness, then range-checked, so
  // the check also covers a T narrower than its range type (int threads).
  using Wide = std::conditional_t<std::is_signed_v<T>, long long, unsigned long long>;
  Wide v{};
  const char* const end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v, 10);
  if (text.empty() || ec != std::errc() || ptr != end || v < static_cast<Wide>(lo) || v > static_cast<Wide>(hi))
    return std::nullopt;
  return static_cast<T>(v);
}

// integer_in for an option: OptionError when `text` is not an integer in
// [lo, hi]. `expected` overrides the "an integer in [lo, hi]" of the message.
template <std::integral T>
T parse_integer(std::string_view option, std::string_view text, T lo, T hi, std::string_view expected = {}) {
  const std::optional<T> v = integer_in(text, lo, hi);
  // One message for malformed and out-of-range text: it says what is accepted.
  if (!v) fail(option, expected.empty() ? integer_range(lo, hi) : std::string(expected), text);
  return *v;
}

// The finite number `text` spells (decimal or exponent notation), in
// [lo, hi]. Refuses inf, nan, hexadecimal and trailing characters.
inline double parse_real(std::string_view option, std::string_view text, double lo, double hi) {
  const std::string range = fmt::format("a finite number in [{}, {}]", lo, hi);
  double v = 0;
  const char* const end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v, std::chars_format::general);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(v) || v < lo || v > hi)
    fail(option, range, text);
  return v;
}

// A CLI11 option that sets `var` through parse_integer. CLI11 prints the
// error (a ValidationError) and the program exits non-zero from CLI11_PARSE,
// before anything runs. `expected` as for parse_integer.
template <std::integral T>
CLI::Option* add_integer_option(CLI::App& app, const std::string& name, T& var, T lo, T hi,
                                const std::string& description, const std::string& expected = {}) {
  CLI::Option* opt = app.add_option_function<std::string>(
      name,
      [&var, name, lo, hi, expected](const std::string& text) {
        try {
          var = parse_integer<T>(name, text, lo, hi, expected);
        } catch (const OptionError& e) {
          throw CLI::ValidationError(e.what());
        }
      },
      description);
  opt->type_name("INT")->default_str(std::to_string(var));
  return opt;
}

}  // namespace sepconv::cli

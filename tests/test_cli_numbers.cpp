// tools/cli_numbers.h: the strict number parsing of the programs' options.
// Each hostile value of issue 18 that CLI11 or atoi turned silently into
// another number must be refused with the option, the range and the text.
#define BOOST_TEST_MODULE cli_numbers
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "cli_numbers.h"

using namespace sepconv::cli;

namespace {
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

// The message parse_* throws for `text`, or "" when it parsed.
template <typename F>
std::string error_of(F&& parse) {
  try {
    parse();
  } catch (const OptionError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(unsigned_refuses_sign_overflow_and_exponent) {
  BOOST_TEST(parse_integer<uint64_t>("--seed", "0", 0, kU64Max) == 0u);
  BOOST_TEST(parse_integer<uint64_t>("--seed", "18446744073709551615", 0, kU64Max) == kU64Max);
  for (const char* text : {"-1", "18446744073709551616", "1e23", "99999999999999999999999", "-0"})
    BOOST_TEST(error_of([&] { parse_integer<uint64_t>("--seed", text, 0, kU64Max); }) ==
               "Invalid value for argument `--seed`: expected an integer in [0, 18446744073709551615]. "
               "Received: --seed=" + std::string(text));
}

BOOST_AUTO_TEST_CASE(signed_checks_range_and_whole_text) {
  BOOST_TEST(parse_integer<int64_t>("--batch-size", "9223372036854775807", 1, kI64Max) == kI64Max);
  BOOST_TEST(parse_integer<int64_t>("--epochs", "1000000000", 1, 1'000'000'000) == 1'000'000'000);
  for (const char* text : {"99999999999999999999", "0", "-5", "1000000001", "", " 5", "5 ", "+5", "5abc", "0x10",
                           "1.0", "1e3", "--1"}) {
    const std::string e = error_of([&] { parse_integer<int64_t>("--epochs", text, 1, 1'000'000'000); });
    BOOST_TEST(e == "Invalid value for argument `--epochs`: expected an integer in [1, 1000000000]. "
                    "Received: --epochs=" + std::string(text));
  }
}

// int is narrower than the long long it is parsed into: the range check must
// still see 2^31 and 2^32 + 2 (which would wrap to 2 in an int).
BOOST_AUTO_TEST_CASE(narrow_type_keeps_its_range) {
  BOOST_TEST(parse_integer<int>("--threads", "8", 1, 8) == 8);
  for (const char* text : {"0", "9", "100000", "2147483648", "4294967298", "-2147483649"})
    BOOST_TEST(error_of([&] { parse_integer<int>("--threads", text, 1, 8); }) ==
               "Invalid value for argument `--threads`: expected an integer in [1, 8]. Received: --threads=" +
                   std::string(text));
}

BOOST_AUTO_TEST_CASE(custom_expectation_and_long_text_cut) {
  const std::string e = error_of([] { parse_integer<int64_t>("--train-limit", "-2", -1, 60000, "-1 (all) or 1..60000"); });
  BOOST_TEST(e == "Invalid value for argument `--train-limit`: expected -1 (all) or 1..60000. Received: --train-limit=-2");
  const std::string long_text(500, '7');
  const std::string cut = error_of([&] { parse_integer<int64_t>("--epochs", long_text, 1, 10); });
  BOOST_TEST(cut.size() < 200u);
  BOOST_TEST(cut.substr(cut.size() - 3) == "...");
}

BOOST_AUTO_TEST_CASE(real_must_be_finite_and_in_range) {
  BOOST_TEST(parse_real("--min-time", "0.25", 0, 3600) == 0.25);
  BOOST_TEST(parse_real("--min-time", "1e2", 0, 3600) == 100.0);
  BOOST_TEST(parse_real("--min-time", "0", 0, 3600) == 0.0);
  for (const char* text : {"inf", "-inf", "nan", "1e400", "-0.5", "3600.5", "", "1s", "0x1p3", " 1"})
    BOOST_TEST(error_of([&] { parse_real("--min-time", text, 0, 3600); }) ==
               "Invalid value for argument `--min-time`: expected a finite number in [0, 3600]. "
               "Received: --min-time=" + std::string(text));
}

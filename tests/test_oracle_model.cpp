#define BOOST_TEST_MODULE oracle_model
#include <boost/test/unit_test.hpp>

#include <boost/mpl/list.hpp>

#include "conformance/kinds.h"
#include "oracle_cases.h"

// The whole-model cases (kinds `model` and `model_train`) through the same
// code the conformance runner uses, compared with the cases' expected values
// at FORMAT.md's tolerances.

using namespace sepconv;
using Dtypes = boost::mpl::list<float, double>;
using nlohmann::json;

namespace {

// Walks `expected` and compares every tensor ({"shape", "data"}), number and
// list of numbers it holds with the same path in `actual`.
void compare(const json& actual, const json& expected, const std::string& path, double tolerance) {
  if (expected.is_object() && expected.contains("shape") && expected.contains("data")) {
    BOOST_TEST_REQUIRE(actual.is_object(), path << ": missing tensor");
    BOOST_TEST_REQUIRE((actual.at("shape") == expected.at("shape")), path << ": shape " << actual.at("shape").dump()
                                                                          << " vs " << expected.at("shape").dump());
    compare(actual.at("data"), expected.at("data"), path, tolerance);
    return;
  }
  if (expected.is_object()) {
    BOOST_TEST_REQUIRE(actual.is_object(), path << ": expected an object, received " << actual.dump().substr(0, 200));
    for (auto it = expected.begin(); it != expected.end(); ++it) {
      BOOST_TEST_REQUIRE(actual.contains(it.key()), path << "/" << it.key() << ": missing");
      compare(actual.at(it.key()), it.value(), path + "/" + it.key(), tolerance);
    }
    return;
  }
  if (expected.is_number()) {
    BOOST_TEST_REQUIRE(actual.is_number(), path << ": expected a number");
    const double e = expected.get<double>(), a = actual.get<double>();
    BOOST_TEST(std::fabs(a - e) <= tolerance * std::max(std::fabs(e), 1e-30) + (e == 0 ? tolerance : 0),
               path << ": " << a << " vs " << e);
    return;
  }
  BOOST_TEST_REQUIRE(expected.is_array(), path << ": unexpected value");
  BOOST_TEST_REQUIRE((actual.is_array() && actual.size() == expected.size()), path << ": list sizes differ");
  double worst = 0, scale = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double e = expected[i].get<double>(), a = actual[i].get<double>();
    worst = std::isnan(a) ? INFINITY : std::max(worst, std::fabs(a - e));
    scale = std::max(scale, std::fabs(e));
  }
  BOOST_TEST(worst <= tolerance * std::max(scale, 1e-30), path << ": max error " << worst << " at scale " << scale);
}

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(oracle_model_cases, T, Dtypes) {
  const auto cases = test::oracle_cases("m_");
  BOOST_TEST_REQUIRE(cases.size() >= 3u);
  for (const std::string& path : cases) {
    BOOST_TEST_CONTEXT(path << " in " << DTypeName<T>::value) {
      const json c = test::load_case(path);
      BOOST_TEST_REQUIRE(c.at("kind") == "model");
      const json result = conformance::run_model_case<T>(c);
      compare(result, c.at("expected"), "expected", test::single_step_tolerance<T>());
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(oracle_model_train_cases, T, Dtypes) {
  const auto cases = test::oracle_cases("mt_");
  BOOST_TEST_REQUIRE(cases.size() >= 1u);
  for (const std::string& path : cases) {
    BOOST_TEST_CONTEXT(path << " in " << DTypeName<T>::value) {
      const json c = test::load_case(path);
      BOOST_TEST_REQUIRE(c.at("kind") == "model_train");
      const json result = conformance::run_model_train_case<T>(c);
      compare(result, c.at("expected"), "expected", test::training_tolerance<T>());
    }
  }
}

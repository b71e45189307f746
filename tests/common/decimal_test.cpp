#include "guardian/common/decimal.hpp"

#include <gtest/gtest.h>

#include <string>

#include "guardian/common/json_writer.hpp"

namespace guardian {
namespace {

std::string json(double v) {
  std::string out;
  append_json_number(out, v);
  return out;
}

TEST(Decimal, CountsThePlacesOfTheShortestForm) {
  EXPECT_EQ(decimal_places(0.1), 1);
  EXPECT_EQ(decimal_places(230.0), 0);
  EXPECT_EQ(decimal_places(0.0625), 4);
  EXPECT_EQ(decimal_places(1e-05), 5);
  EXPECT_EQ(decimal_places(1e20), 0);
  EXPECT_EQ(decimal_places(-2.5), 1);
}

TEST(Decimal, ScaledValuesArePublishedAsTheDecimalTheyMean) {
  // In plain double arithmetic each of these prints with a long binary tail.
  ASSERT_EQ(json(2317 * 0.1), "231.70000000000002");
  EXPECT_EQ(json(scaled_decimal(2317, 0.1, 0)), "231.7");
  EXPECT_EQ(json(scaled_decimal(3, 0.1, 0)), "0.3");
  EXPECT_EQ(json(scaled_decimal(1234, 0.01, -40)), "-27.66");
  EXPECT_EQ(json(scaled_decimal(-7, 0.001, 0)), "-0.007");
  EXPECT_EQ(json(scaled_decimal(230.1, 0.1, 0)), "23.01");  // a float register, scaled
  EXPECT_EQ(json(scaled_decimal(5, 0.2, 0.1)), "1.1");
  EXPECT_EQ(json(scaled_decimal(65535, 0.0625, 0)), "4095.9375");
  EXPECT_EQ(json(scaled_decimal(4, 2.5, 0)), "10");
}

TEST(Decimal, LeavesValuesItCannotRoundExactlyAsComputed) {
  // Too many places to round within a double's 15–17 digits.
  const double third = 1.0 / 3.0;
  EXPECT_EQ(scaled_decimal(1, third, 0), third);
  // Rounding 2^60 × 0.1 to one place would lose integer digits.
  const double big = 1152921504606846976.0;
  EXPECT_EQ(scaled_decimal(big, 0.1, 0), big * 0.1);
}

}  // namespace
}  // namespace guardian

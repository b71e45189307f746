#include <gtest/gtest.h>

#include "guardian/common/time_format.hpp"

namespace guardian {
namespace {

using namespace std::chrono;

TEST(Rfc3339, FormatsUtcWithMilliseconds) {
  const Timestamp ts = sys_days{2026y / November / 26} + hours{15} + minutes{0} + seconds{55} +
                       milliseconds{7};
  EXPECT_EQ(format_rfc3339(ts), "2026-11-26T15:00:55.007Z");
}

TEST(Rfc3339, FormatsTheEpochAndLeapDays) {
  EXPECT_EQ(format_rfc3339(Timestamp{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(Timestamp{sys_days{2024y / February / 29}}), "2024-02-29T00:00:00.000Z");
}

TEST(Rfc3339, ParsesWhatItFormats) {
  const Timestamp ts = sys_days{2031y / January / 2} + hours{23} + minutes{59} + seconds{59} +
                       milliseconds{999};
  EXPECT_EQ(parse_rfc3339(format_rfc3339(ts)), ts);
}

TEST(Rfc3339, ParsesFractionsOfAnyLength) {
  const Timestamp base = sys_days{2026y / March / 1};
  EXPECT_EQ(parse_rfc3339("2026-03-01T00:00:00Z"), base);
  EXPECT_EQ(parse_rfc3339("2026-03-01T00:00:00.5Z"), base + milliseconds{500});
  EXPECT_EQ(parse_rfc3339("2026-03-01T00:00:00.123456Z"), base + milliseconds{123});
}

TEST(Rfc3339, RejectsMalformedText) {
  for (const char* bad : {"", "2026-03-01", "2026-03-01T00:00:00", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-03-01T24:00:00Z", "2026-03-01T00:00:00.Z",
                          "2026-03-01T00:00:00+01:00", "x026-03-01T00:00:00Z"})
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
}

}  // namespace
}  // namespace guardian

// How scalar values are written: durations, sizes, integers, decimals, booleans and names.
// Each is exercised through a real key so that the key's range is part of what is tested.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"

namespace guardian::config {
namespace {

using namespace std::chrono_literals;
using testing::has_error;
using testing::loads;
using testing::parse;

/// A site whose queue section is `queue_line` (a `key: value`, value at column 3 + key + 2).
LoadResult with_queue(std::string_view queue_line) {
  return parse("device: {id: gw}\nqueue:\n  " + std::string(queue_line) + "\n");
}

/// A site whose uplink section is `uplink_line`.
LoadResult with_uplink(std::string_view uplink_line) {
  return parse("device: {id: gw}\nuplink:\n  " + std::string(uplink_line) + "\n");
}

TEST(DurationSyntax, AcceptsEveryUnit) {
  const std::vector<std::pair<std::string, Duration>> cases{
      {"90000ms", 90s}, {"120s", 2min}, {"45m", 45min}, {"36h", 36h}, {"7d", 7 * 24h}};
  for (const auto& [text, expected] : cases) {
    const auto result = with_queue("max_age: " + text);
    ASSERT_TRUE(loads(result)) << text;
    EXPECT_EQ(result.config->queue.max_age, expected) << text;
  }
}

TEST(DurationSyntax, AcceptsBothEndsOfTheRange) {
  ASSERT_TRUE(loads(with_queue("commit_window: 0ms")));
  EXPECT_EQ(with_queue("commit_window: 0ms").config->queue.commit_window, 0ms);
  EXPECT_EQ(with_queue("commit_window: 10s").config->queue.commit_window, 10s);
  EXPECT_TRUE(has_error(with_queue("commit_window: 10001ms"), 3, 18,
                        "10001ms is out of range: expected a duration between 0ms and 10s"));
}

TEST(DurationSyntax, RequiresAUnit) {
  EXPECT_TRUE(
      has_error(with_queue("commit_window: 10"), 3, 18, "got '10'; add a unit, e.g. 500ms or 2s"));
}

TEST(DurationSyntax, RefusesFractionsAndSuggestsASmallerUnit) {
  EXPECT_TRUE(
      has_error(with_queue("commit_window: 1.5s"), 3, 18,
                "got '1.5s'; use a whole number with a smaller unit instead of a fraction"));
}

TEST(DurationSyntax, RefusesASpaceBetweenNumberAndUnit) {
  EXPECT_TRUE(has_error(with_queue("commit_window: 5 ms"), 3, 18,
                        "write the number and the unit without a space"));
}

TEST(DurationSyntax, ListsTheUnitsForAnUnknownUnit) {
  EXPECT_TRUE(has_error(with_queue("max_age: 10min"), 3, 12,
                        "the unit must be one of 'd', 'h', 'm', 's', 'ms'"));
  // Units are case-sensitive: M is not minutes.
  EXPECT_TRUE(has_error(with_queue("max_age: 10M"), 3, 12, "the unit must be one of"));
}

TEST(DurationSyntax, RefusesNegativeValues) {
  EXPECT_TRUE(
      has_error(with_queue("commit_window: -1s"), 3, 18, "negative values are not allowed"));
}

TEST(DurationSyntax, RefusesValuesThatOverflow) {
  EXPECT_TRUE(has_error(with_queue("max_age: 99999999999999999999d"), 3, 12, "too large"));
  EXPECT_TRUE(has_error(with_queue("max_age: 999999999999999999d"), 3, 12, "too large"));
}

TEST(DurationSyntax, KeepaliveIsAWholeNumberOfSeconds) {
  const auto whole = with_uplink("keepalive: 2000ms");
  ASSERT_TRUE(loads(whole));
  EXPECT_EQ(whole.config->uplink.keepalive, 2s);
  EXPECT_TRUE(has_error(with_uplink("keepalive: 1500ms"), 3, 14, "1500ms is not a multiple of 1s"));
  EXPECT_TRUE(has_error(with_uplink("keepalive: 65536s"), 3, 14, "out of range"));
}

TEST(SizeSyntax, AcceptsBinaryAndDecimalUnits) {
  const std::vector<std::pair<std::string, std::uint64_t>> cases{
      {"2097152B", 2ull << 20}, {"4096KiB", 4ull << 20}, {"300MiB", 300ull << 20},
      {"2GiB", 2ull << 30},     {"5000KB", 5'000'000},   {"10MB", 10'000'000},
      {"3GB", 3'000'000'000},
  };
  for (const auto& [text, expected] : cases) {
    const auto result = with_queue("max_bytes: " + text);
    ASSERT_TRUE(loads(result)) << text;
    EXPECT_EQ(result.config->queue.max_bytes, expected) << text;
  }
}

TEST(SizeSyntax, RefusesUnknownOrLowerCaseUnits) {
  EXPECT_TRUE(has_error(with_queue("max_bytes: 256mb"), 3, 14,
                        "the unit must be one of 'GiB', 'GB', 'MiB', 'MB', 'KiB', 'KB', 'B'"));
  EXPECT_TRUE(has_error(with_queue("max_bytes: 256M"), 3, 14, "the unit must be one of"));
}

TEST(SizeSyntax, RequiresAUnitAndAWholeNumber) {
  EXPECT_TRUE(has_error(with_queue("max_bytes: 268435456"), 3, 14, "add a unit, e.g. 256MiB"));
  EXPECT_TRUE(has_error(with_queue("max_bytes: 1.5GiB"), 3, 14, "instead of a fraction"));
}

TEST(SizeSyntax, RefusesSizesBelowTheMinimumOrThatOverflow) {
  EXPECT_TRUE(has_error(with_queue("max_bytes: 512KiB"), 3, 14,
                        "512KiB is out of range: expected a size of at least 1MiB"));
  EXPECT_TRUE(has_error(with_queue("max_bytes: 99999999999GiB"), 3, 14, "too large"));
}

TEST(IntegerSyntax, RefusesTextDecimalsAndOutOfRangeValues) {
  EXPECT_TRUE(has_error(with_uplink("max_inflight: abc"), 3, 17,
                        "expected an integer between 1 and 65535, got 'abc'"));
  EXPECT_TRUE(has_error(with_uplink("max_inflight: 1.5"), 3, 17,
                        "expected an integer between 1 and 65535, got '1.5'"));
  EXPECT_TRUE(has_error(with_uplink("max_inflight: 70000"), 3, 17,
                        "70000 is out of range: expected an integer between 1 and 65535"));
  EXPECT_TRUE(has_error(with_uplink("max_inflight: 0"), 3, 17, "0 is out of range"));
  EXPECT_TRUE(has_error(with_uplink("max_inflight: 99999999999999999999"), 3, 17, "out of range"));
}

TEST(IntegerSyntax, AcceptsHexadecimalAsPrintedInManuals) {
  const auto result = with_uplink("max_inflight: 0x1F");
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(result.config->uplink.max_inflight, 31);
  EXPECT_TRUE(has_error(with_uplink("max_inflight: 0x-1"), 3, 17, "got '0x-1'"));
}

TEST(BooleanSyntax, AcceptsOnlyTrueAndFalse) {
  const std::string serial_site =
      "device: {id: gw}\n"
      "adapters:\n"
      "  - name: bus\n"
      "    type: modbus\n"
      "    transport: rtu\n"
      "    serial: {port: /dev/ttyS0, rs485: ";
  const std::string rest =
      "}\n    devices: [{name: d, points: [{name: p, table: coil, address: "
      "0, type: bool}]}]\n";
  const auto on = parse(serial_site + "true" + rest);
  ASSERT_TRUE(loads(on));
  EXPECT_TRUE(std::get<ModbusAdapterConfig>(on.config->adapters[0]).serial.rs485);
  EXPECT_TRUE(has_error(parse(serial_site + "yes" + rest), 6, 39,
                        "adapters[0].serial.rs485: expected true or false, got 'yes'"));
}

TEST(DecimalSyntax, RefusesTextAndNonFiniteNumbers) {
  using testing::point_column;
  using testing::point_site;
  for (const std::string_view bad : {"ten", "nan", "inf", "0x10", "1e999"}) {
    const std::string point =
        "{name: p, table: holding, address: 0, type: int16, offset: " + std::string(bad) + "}";
    EXPECT_TRUE(
        has_error(parse(point_site(point)), 11, point_column(point, "offset: ") + 8,
                  "expected a decimal number such as 0.1 or -40, got '" + std::string(bad) + "'"))
        << bad;
  }
}

TEST(NameSyntax, DeviceIdIsOneTo64SafeCharactersStartingAlphanumeric) {
  EXPECT_TRUE(loads(parse("device: {id: " + std::string(64, 'a') + "}\n")));
  for (const std::string& bad : {std::string(65, 'a'), std::string("-gw"), std::string("gw/1"),
                                 std::string("gw+1"), std::string("'gw 1'")}) {
    EXPECT_TRUE(has_error(parse("device: {id: " + bad + "}\n"), 1, 14,
                          "device.id: expected a name of 1 to 64 characters"))
        << bad;
  }
}

}  // namespace
}  // namespace guardian::config

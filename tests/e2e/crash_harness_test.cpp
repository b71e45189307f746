// The short run of the crash harness (crash_harness.hpp): a dozen SIGKILLs at random moments of
// a gateway under load, then zero loss and duplicates only of unacknowledged messages. The long
// run (≥100 kills) is build/tests/bin/guardian-crash-harness, by hand.
#include <gtest/gtest.h>

#include "crash_harness.hpp"

namespace guardian::testing {
namespace {

TEST(CrashHarness, TwelveRandomSigkillsUnderLoadLoseNothingAndDuplicateOnlyUnacknowledged) {
  CrashOptions options;
  options.kills = 12;
  options.min_uptime_ms = 30;
  options.max_uptime_ms = 1200;
  const auto report = run_crash_harness(options);
  std::cout << report.summary() << "\n";
  EXPECT_TRUE(report.passed()) << report.summary();
  EXPECT_EQ(report.kills, 12);
  EXPECT_GT(report.last_seq, 0u) << "the gateway accepted nothing: the harness tested nothing";
  EXPECT_GT(report.kills_with_unacked, 0) << "no kill hit a moment with messages in flight";
}

}  // namespace
}  // namespace guardian::testing

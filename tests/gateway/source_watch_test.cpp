// SourceWatch: the transitions a technician reads in journald, each once, with the reason.
#include "guardian/gateway/source_watch.hpp"

#include <gtest/gtest.h>

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;

std::vector<adapters::AdapterHealth> snapshot(const std::string& state, const std::string& error,
                                              Timestamp last_ok = {}) {
  adapters::AdapterHealth a;
  a.name = "bus";
  adapters::SourceHealth s;
  s.source = "espresso-1";
  s.state = state;
  s.last_error = error;
  s.last_ok = last_ok;
  a.sources.push_back(s);
  return {a};
}

TEST(SourceWatch, LogsAFailureOnceWithItsReasonAndTheRecoveryWithItsDuration) {
  SourceWatch watch;
  const Timestamp t0{std::chrono::milliseconds{1'795'680'000'000}};
  EXPECT_TRUE(watch.observe(snapshot("connecting", ""), t0).empty());  // a normal start
  EXPECT_TRUE(watch.observe(snapshot("ok", "", t0), t0 + 1s).empty());
  auto lines = watch.observe(snapshot("comm_fail", "no answer from unit 1", t0), t0 + 2s);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].level, log::Level::warn);
  EXPECT_EQ(lines[0].message, "bus/espresso-1: comm_fail: no answer from unit 1");
  // Still failing, even with another error text: nothing more.
  EXPECT_TRUE(watch.observe(snapshot("comm_fail", "no answer from unit 1 (2)", t0), t0 + 3s).empty());
  lines = watch.observe(snapshot("ok", "", t0 + 14s), t0 + 14s);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].level, log::Level::info);
  EXPECT_EQ(lines[0].message, "bus/espresso-1: answering again after 12 s");
  EXPECT_TRUE(watch.observe(snapshot("ok", "", t0 + 15s), t0 + 15s).empty());
}

TEST(SourceWatch, ALostConnectionAndADeviceThatNeverAnsweredAreFailuresToo) {
  SourceWatch watch;
  const Timestamp t0{std::chrono::milliseconds{1'795'680'000'000}};
  // Seen failing at the first look: a device that never answered.
  auto lines = watch.observe(snapshot("backoff", "connection refused"), t0);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].message, "bus/espresso-1: backoff: connection refused");
  EXPECT_EQ(watch.observe(snapshot("ok", "", t0 + 5s), t0 + 5s).size(), 1u);
  // Connecting again after it had answered: the connection was lost.
  lines = watch.observe(snapshot("connecting", "peer closed the connection", t0 + 5s), t0 + 6s);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].message, "bus/espresso-1: connecting: peer closed the connection");
}

TEST(SourceWatch, AStreamWhoseFramesAllFailTheirChecksumIsLoggedOnceAndItsRecoveryToo) {
  SourceWatch watch;
  const Timestamp t0{std::chrono::milliseconds{1'795'680'000'000}};
  const auto stream = [](std::uint64_t messages, std::uint64_t bad) {
    auto s = snapshot("ok", "");
    s[0].sources[0].counters = {{"messages", messages}, {"bad_checksum", bad}};
    return s;
  };
  EXPECT_TRUE(watch.observe(stream(5, 0), t0).empty());
  // Frames keep coming, none passes: quiet for 30 s, then one warning, then quiet again.
  EXPECT_TRUE(watch.observe(stream(5, 10), t0 + 10s).empty());
  EXPECT_TRUE(watch.observe(stream(5, 20), t0 + 29s).empty());
  auto lines = watch.observe(stream(5, 30), t0 + 30s);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].level, log::Level::warn);
  EXPECT_EQ(lines[0].message,
            "bus/espresso-1: no line or frame has passed its checksum for 30 s (30 failed): is "
            "the codec's checksum the device's? `guardian probe` with --adapter names one that "
            "matches");
  EXPECT_TRUE(watch.observe(stream(5, 60), t0 + 60s).empty());
  lines = watch.observe(stream(6, 60), t0 + 61s);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].level, log::Level::info);
  EXPECT_EQ(lines[0].message,
            "bus/espresso-1: lines and frames pass their checksum again (60 failed meanwhile)");
  // A noisy line (some fail, some pass) is not a wrong checksum: nothing.
  for (int i = 1; i <= 60; ++i)
    EXPECT_TRUE(watch.observe(stream(6 + static_cast<std::uint64_t>(i), 60 + 2 * static_cast<std::uint64_t>(i)),
                              t0 + 61s + std::chrono::seconds{i})
                    .empty());
}

}  // namespace
}  // namespace guardian::gateway

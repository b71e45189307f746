// Edge processing per point, driven with explicit source timestamps and an explicit clock.
#include <gtest/gtest.h>

#include "guardian/gateway/edge_processor.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
using config::AggregateFunction;
using config::CounterKind;

const Timestamp kT0{std::chrono::milliseconds{1'795'680'000'000}};  // a whole minute (UTC)

Reading reading(const std::string& point, Value value, Timestamp ts,
                Quality quality = Quality::good) {
  return Reading{"dev",
                 point,
                 std::move(value),
                 "degC",
                 quality,
                 ts,
                 quality == Quality::good ? "" : "timeout"};
}

config::PointProcessing rule_for(const std::string& point) {
  config::PointProcessing r;
  r.source = "dev";
  r.point = point;
  return r;
}

// Values of the readings processing lets through for `inputs`.
std::vector<Value> sent(EdgeProcessor& edge, const std::vector<Reading>& inputs) {
  std::vector<Reading> out;
  for (const auto& r : inputs) edge.process(r, out);
  std::vector<Value> values;
  for (const auto& r : out) values.push_back(r.value);
  return values;
}

TEST(EdgeProcessor, AnAbsoluteDeadbandSendsOnlyMovesLargerThanItFromTheLastValueSent) {
  auto r = rule_for("t");
  r.deadband = config::Deadband{config::Deadband::Kind::absolute, 0.5, 10min};
  EdgeProcessor edge(std::vector{r});
  const auto values = sent(edge, {reading("t", 10.0, kT0), reading("t", 10.3, kT0 + 1s),
                                  reading("t", 10.6, kT0 + 2s), reading("t", 10.9, kT0 + 3s),
                                  reading("t", 11.2, kT0 + 4s), reading("t", 10.8, kT0 + 5s)});
  EXPECT_EQ(values, (std::vector<Value>{10.0, 10.6, 11.2}));
  EXPECT_EQ(edge.counters().suppressed, 3u);
}

TEST(EdgeProcessor, APercentDeadbandIsRelativeToTheLastValueSent) {
  auto r = rule_for("t");
  r.deadband = config::Deadband{config::Deadband::Kind::percent, 2.0, 10min};
  EdgeProcessor edge(std::vector{r});
  EXPECT_EQ(
      sent(edge,
           {reading("t", std::int64_t{100}, kT0), reading("t", std::int64_t{101}, kT0 + 1s),
            reading("t", std::int64_t{103}, kT0 + 2s), reading("t", std::int64_t{104}, kT0 + 3s)}),
      (std::vector<Value>{std::int64_t{100}, std::int64_t{103}}));
}

TEST(EdgeProcessor, TheHeartbeatSendsAnUnchangingValueAgain) {
  auto r = rule_for("t");
  r.deadband = config::Deadband{config::Deadband::Kind::absolute, 0.5, 1min};
  EdgeProcessor edge(std::vector{r});
  EXPECT_EQ(sent(edge, {reading("t", 20.0, kT0), reading("t", 20.0, kT0 + 30s),
                        reading("t", 20.0, kT0 + 59s), reading("t", 20.0, kT0 + 60s),
                        reading("t", 20.0, kT0 + 90s)}),
            (std::vector<Value>{20.0, 20.0}));
}

TEST(EdgeProcessor, AQualityChangeIsAlwaysSentEvenWithinTheDeadband) {
  auto r = rule_for("t");
  r.deadband = config::Deadband{config::Deadband::Kind::absolute, 100.0, 10min};
  EdgeProcessor edge(std::vector{r});
  std::vector<Reading> out;
  for (const auto& in :
       {reading("t", 1.0, kT0), reading("t", std::monostate{}, kT0 + 1s, Quality::comm_fail),
        reading("t", std::monostate{}, kT0 + 2s, Quality::comm_fail), reading("t", 1.0, kT0 + 3s)})
    edge.process(in, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].quality, Quality::comm_fail);
  EXPECT_EQ(out[2].quality, Quality::good);
}

TEST(EdgeProcessor, AZeroDeadbandSendsEveryChangeAndNoRepeatOfStates) {
  auto r = rule_for("state");
  r.deadband = config::Deadband{config::Deadband::Kind::absolute, 0.0, 10min};
  EdgeProcessor edge(std::vector{r});
  EXPECT_EQ(sent(edge, {reading("state", std::string("idle"), kT0),
                        reading("state", std::string("idle"), kT0 + 1s),
                        reading("state", std::string("brewing"), kT0 + 2s),
                        reading("state", std::string("brewing"), kT0 + 3s)}),
            (std::vector<Value>{std::string("idle"), std::string("brewing")}));
}

TEST(EdgeProcessor, PointsWithoutARuleAndOtherSourcesPassThrough) {
  auto r = rule_for("t");
  r.deadband = config::Deadband{config::Deadband::Kind::absolute, 100.0, 10min};
  EdgeProcessor edge(std::vector{r});
  auto other_source = reading("t", 1.0, kT0 + 1s);
  other_source.source = "dev-2";
  EXPECT_EQ(sent(edge, {reading("t", 1.0, kT0), reading("u", 1.0, kT0), reading("u", 1.0, kT0 + 1s),
                        other_source, reading("t", 1.0, kT0 + 1s)})
                .size(),
            4u);
}

TEST(EdgeProcessor, AggregatesAWindowIntoMinMaxMeanCountAndLastAtItsStart) {
  auto r = rule_for("t");
  r.aggregate =
      config::Aggregate{1min,
                        {AggregateFunction::min, AggregateFunction::max, AggregateFunction::mean,
                         AggregateFunction::count, AggregateFunction::last}};
  EdgeProcessor edge(std::vector{r});
  std::vector<Reading> out;
  for (const auto& in : {reading("t", 4.0, kT0 + 1s), reading("t", 2.0, kT0 + 20s),
                         reading("t", std::monostate{}, kT0 + 30s, Quality::comm_fail),
                         reading("t", 9.0, kT0 + 59s)})
    edge.process(in, out);
  EXPECT_TRUE(out.empty());
  edge.tick(kT0 + 1min, out);
  EXPECT_TRUE(out.empty()) << "closed only after the grace period";
  edge.tick(kT0 + 1min + EdgeProcessor::kWindowGrace, out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].point, "t.min");
  EXPECT_EQ(std::get<double>(out[0].value), 2.0);
  EXPECT_EQ(std::get<double>(out[1].value), 9.0);
  EXPECT_EQ(std::get<double>(out[2].value), 5.0);
  EXPECT_EQ(out[3].point, "t.count");
  EXPECT_EQ(std::get<std::uint64_t>(out[3].value), 3u) << "good readings only";
  EXPECT_EQ(std::get<double>(out[4].value), 9.0);
  for (const auto& a : out) EXPECT_EQ(a.source_ts, kT0);
  EXPECT_EQ(out[0].unit, "degC");
  EXPECT_EQ(edge.counters().windows, 1u);
}

TEST(EdgeProcessor, AReadingOfALaterWindowClosesTheOpenOne) {
  auto r = rule_for("t");
  r.aggregate = config::Aggregate{1min, {AggregateFunction::count}};
  EdgeProcessor edge(std::vector{r});
  std::vector<Reading> out;
  edge.process(reading("t", 1.0, kT0), out);
  edge.process(reading("t", 1.0, kT0 + 10s), out);
  edge.process(reading("t", 1.0, kT0 + 70s), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<std::uint64_t>(out[0].value), 2u);
}

TEST(EdgeProcessor, AWindowWithoutAGoodReadingSaysSoInsteadOfInventingAValue) {
  auto r = rule_for("t");
  r.aggregate = config::Aggregate{1min, {AggregateFunction::mean, AggregateFunction::count}};
  EdgeProcessor edge(std::vector{r});
  std::vector<Reading> out;
  edge.process(reading("t", std::monostate{}, kT0 + 1s, Quality::comm_fail), out);
  edge.tick(kT0 + 2min, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(out[0].value));
  EXPECT_EQ(out[0].quality, Quality::comm_fail);
  EXPECT_FALSE(out[0].error.empty());
  EXPECT_EQ(std::get<std::uint64_t>(out[1].value), 0u);
}

TEST(EdgeProcessor, CountsChangesCyclesAndRunHoursAndReportsThemEveryInterval) {
  auto r = rule_for("pump");
  r.counters = config::Counters{
      {CounterKind::changes, CounterKind::cycles, CounterKind::run_hours}, 1min, 0.0};
  EdgeProcessor edge(std::vector{r});
  std::vector<Reading> out;
  // off, on for 30 min, off, on for 15 min (then a comm failure: the blind time is not counted).
  for (const auto& in : {reading("pump", false, kT0), reading("pump", true, kT0 + 1min),
                         reading("pump", true, kT0 + 16min), reading("pump", false, kT0 + 31min),
                         reading("pump", true, kT0 + 40min), reading("pump", true, kT0 + 55min),
                         reading("pump", std::monostate{}, kT0 + 60min, Quality::comm_fail),
                         reading("pump", true, kT0 + 120min)})
    edge.process(in, out);
  EXPECT_EQ(out.size(), 8u) << "the raw readings are still sent";
  out.clear();
  edge.tick(kT0 + 121min, out);  // the first tick schedules the next report
  EXPECT_TRUE(out.empty());
  edge.tick(kT0 + 122min, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].point, "pump.changes");
  EXPECT_EQ(std::get<std::uint64_t>(out[0].value), 3u);
  EXPECT_EQ(out[1].point, "pump.cycles");
  EXPECT_EQ(std::get<std::uint64_t>(out[1].value), 2u);
  EXPECT_EQ(out[2].point, "pump.run_hours");
  EXPECT_DOUBLE_EQ(std::get<double>(out[2].value), 45.0 / 60.0);
  EXPECT_EQ(out[2].unit, "h");

  // The counters survive a restart through the saved state.
  const auto state = edge.take_state_changes();
  ASSERT_EQ(state.size(), 1u);
  EdgeProcessor restarted(std::vector{r}, state);
  out.clear();
  restarted.process(reading("pump", false, kT0 + 130min), out);
  restarted.process(reading("pump", true, kT0 + 131min), out);
  out.clear();
  restarted.tick(kT0 + 131min, out);
  restarted.tick(kT0 + 132min, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(std::get<std::uint64_t>(out[1].value), 3u);
}

TEST(EdgeProcessor, ANumericPointIsOnAboveItsThreshold) {
  auto r = rule_for("current");
  r.counters = config::Counters{{CounterKind::cycles}, 1min, 0.5};
  EdgeProcessor edge(std::vector{r});
  std::vector<Reading> out;
  for (double amps : {0.1, 0.2, 3.0, 2.9, 0.3, 4.0})
    edge.process(reading("current", amps, kT0), out);
  out.clear();
  edge.tick(kT0, out);
  edge.tick(kT0 + 1min, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<std::uint64_t>(out[0].value), 2u);
}

}  // namespace
}  // namespace guardian::gateway

// Trace captures driven with explicit source timestamps and an explicit clock: when a capture
// opens and closes, where each reading lands on the sample grid, what the summary holds, what
// telemetry keeps, and how a capture is cut into messages below the bound.
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "guardian/gateway/trace_capture.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
using config::TraceCondition;
using nlohmann::json;

const Timestamp kT0{std::chrono::milliseconds{1'795'680'000'000}};

Reading reading(const std::string& point, Value value, Timestamp ts,
                Quality quality = Quality::good) {
  return Reading{"espresso", point, std::move(value), point == "pressure" ? "bar" : "",
                 quality,    ts,    quality == Quality::good ? "" : "timeout"};
}

config::TraceConfig shot() {
  config::TraceConfig t;
  t.name = "shot";
  t.source = "espresso";
  t.points = {"pressure", "flow"};
  t.start = TraceCondition{"state", TraceCondition::Test::equals, "brewing", 0};
  t.sample_interval = 100ms;
  t.max_duration = 60s;
  return t;
}

// Feeds one batch; returns what telemetry keeps.
std::vector<Reading> feed(TraceCapture& capture, std::vector<Reading> batch,
                          std::vector<CapturedTrace>& done) {
  capture.on_batch("espresso", batch, done);
  return batch;
}

std::vector<double> values(const CapturedTrace& t, std::size_t series) {
  return t.series.at(series).values;
}

TEST(TraceCapture, SamplesBetweenTheStartAndTheEndOfTheConditionOnItsGrid) {
  const std::vector cfg{shot()};
  TraceCapture capture(cfg);
  std::vector<CapturedTrace> done;
  feed(capture, {reading("state", std::string("ready"), kT0), reading("pressure", 0.0, kT0)}, done);
  EXPECT_EQ(capture.open(), 0u);
  // The poll that says "brewing" brings the first samples; the device pushes every 100 ms with
  // up to 40 ms of jitter either way.
  const Timestamp start = kT0 + 1s;
  const std::vector<int> jitter{0, 40, -30, 35, 0, -40, 20};
  for (std::size_t k = 0; k < jitter.size(); ++k) {
    const auto ts = start + 100ms * static_cast<int>(k) + std::chrono::milliseconds{jitter[k]};
    std::vector<Reading> batch{reading("pressure", 1.5 * static_cast<double>(k), ts),
                               reading("flow", static_cast<std::int64_t>(k), ts)};
    if (k == 0) batch.insert(batch.begin() + 1, reading("state", std::string("brewing"), ts));
    feed(capture, batch, done);
    EXPECT_EQ(capture.open(), 1u);
  }
  // The end: the state moves on; the samples of that poll are not the shot's.
  feed(capture,
       {reading("pressure", 99.0, start + 700ms), reading("state", std::string("ready"), start + 700ms)},
       done);
  ASSERT_EQ(done.size(), 1u);
  const auto& t = done[0];
  EXPECT_EQ(t.type, "shot");
  EXPECT_EQ(t.source, "espresso");
  EXPECT_EQ(t.start, start);
  EXPECT_EQ(t.end, start + 700ms);
  EXPECT_EQ(t.end_reason, TraceEnd::condition);
  EXPECT_EQ(values(t, 0), (std::vector<double>{0, 1.5, 3, 4.5, 6, 7.5, 9}));
  EXPECT_EQ(values(t, 1), (std::vector<double>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(t.series[0].unit, "bar");
  EXPECT_EQ(capture.counters().captured, 1u);
  EXPECT_EQ(capture.counters().missing, 0u);
}

TEST(TraceCapture, AGapAndReadingsThatAreNotGoodLeaveNullSamples) {
  const std::vector cfg{shot()};
  TraceCapture capture(cfg);
  std::vector<CapturedTrace> done;
  feed(capture, {reading("state", std::string("brewing"), kT0), reading("pressure", 1.0, kT0)},
       done);
  feed(capture, {reading("pressure", 2.0, kT0 + 100ms, Quality::bad)}, done);
  feed(capture, {reading("pressure", 4.0, kT0 + 300ms)}, done);  // 200 ms never came
  feed(capture, {reading("state", std::string("ready"), kT0 + 400ms)}, done);
  ASSERT_EQ(done.size(), 1u);
  const auto p = values(done[0], 0);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0], 1.0);
  EXPECT_TRUE(std::isnan(p[1]));
  EXPECT_TRUE(std::isnan(p[2]));
  EXPECT_EQ(p[3], 4.0);
  // flow never came: a whole column of nulls, as long as the others.
  EXPECT_EQ(values(done[0], 1).size(), 4u);
  EXPECT_EQ(capture.counters().missing, 2u + 4u);
}

TEST(TraceCapture, ReadingsFasterThanTheIntervalKeepTheOneNearestEachSlot) {
  const std::vector cfg{shot()};
  TraceCapture capture(cfg);
  std::vector<CapturedTrace> done;
  feed(capture, {reading("state", std::string("brewing"), kT0)}, done);
  for (int ms = 0; ms <= 300; ms += 10)  // 100 Hz into a 10 Hz grid; value = its time
    feed(capture, {reading("pressure", static_cast<double>(ms), kT0 + std::chrono::milliseconds{ms})},
         done);
  feed(capture, {reading("state", std::string("ready"), kT0 + 310ms)}, done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(values(done[0], 0), (std::vector<double>{0, 100, 200, 300}));
  EXPECT_GT(capture.counters().replaced, 0u);
}

TEST(TraceCapture, MaxDurationEndsACaptureAndAStartThatStillHoldsDoesNotReopenIt) {
  auto cfg = std::vector{shot()};
  cfg[0].max_duration = 1s;  // 11 samples
  TraceCapture capture(cfg);
  std::vector<CapturedTrace> done;
  for (int k = 0; k <= 15; ++k) {
    const auto ts = kT0 + 100ms * k;
    feed(capture, {reading("state", std::string("brewing"), ts), reading("pressure", 1.0 * k, ts)},
         done);
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].end_reason, TraceEnd::max_duration);
  EXPECT_EQ(done[0].end, kT0 + 1s);
  EXPECT_EQ(done[0].samples(), 11u);
  EXPECT_EQ(capture.open(), 0u);
  // Only a new edge starts the next one.
  feed(capture, {reading("state", std::string("ready"), kT0 + 2s)}, done);
  feed(capture, {reading("state", std::string("brewing"), kT0 + 3s)}, done);
  EXPECT_EQ(capture.open(), 1u);
  // A silent source is closed by the clock at max_duration too.
  capture.tick(kT0 + 3s + 999ms, done);
  EXPECT_EQ(done.size(), 1u);
  capture.tick(kT0 + 4s, done);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[1].end_reason, TraceEnd::max_duration);
}

TEST(TraceCapture, AnEndConditionAndAConditionPointThatStopsAnsweringEndCaptures) {
  auto cfg = std::vector{shot()};
  cfg[0].start = TraceCondition{"pressure", TraceCondition::Test::above, "", 2.0};
  cfg[0].end = TraceCondition{"pressure", TraceCondition::Test::below, "", 0.5};
  TraceCapture capture(cfg);
  std::vector<CapturedTrace> done;
  feed(capture, {reading("pressure", 3.0, kT0)}, done);
  feed(capture, {reading("pressure", 1.0, kT0 + 100ms)}, done);  // below the start, above the end
  EXPECT_EQ(capture.open(), 1u);
  feed(capture, {reading("pressure", 0.2, kT0 + 200ms)}, done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].end_reason, TraceEnd::condition);
  EXPECT_EQ(values(done[0], 0), (std::vector<double>{3.0, 1.0}));

  feed(capture, {reading("pressure", 5.0, kT0 + 1s)}, done);
  feed(capture, {reading("pressure", {}, kT0 + 1100ms, Quality::comm_fail)}, done);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[1].end_reason, TraceEnd::source_lost);
  EXPECT_EQ(done[1].end, kT0 + 1100ms);
}

TEST(TraceCapture, TheSummaryHoldsTheSummaryPointsAndTheRecordThatFollowsTheEnd) {
  auto cfg = std::vector{shot()};
  cfg[0].summary = {"count"};
  cfg[0].summary_record = "shot_summary";
  cfg[0].summary_wait = 5s;
  TraceCapture capture(cfg);
  std::vector<CapturedTrace> done;
  feed(capture, {reading("state", std::string("brewing"), kT0), reading("count", std::int64_t{41}, kT0)},
       done);
  feed(capture, {reading("state", std::string("ready"), kT0 + 1s), reading("count", std::int64_t{42}, kT0 + 1s)},
       done);
  EXPECT_TRUE(done.empty());  // waits for the record
  Record summary{"espresso", "shot_summary", kT0 + 2s, {reading("volume", 36.5, kT0 + 2s)}};
  capture.on_record(Record{"espresso", "other", kT0 + 2s, {}}, done);
  EXPECT_TRUE(done.empty());
  capture.on_record(summary, done);
  ASSERT_EQ(done.size(), 1u);
  ASSERT_EQ(done[0].summary.size(), 2u);
  EXPECT_EQ(done[0].summary[0].point, "count");
  EXPECT_EQ(done[0].summary[0].value, Value{std::int64_t{42}});
  EXPECT_EQ(done[0].summary[1].point, "volume");

  // No record within summary_wait: handed over without it, and counted.
  feed(capture, {reading("state", std::string("brewing"), kT0 + 10s)}, done);
  feed(capture, {reading("state", std::string("ready"), kT0 + 11s)}, done);
  capture.tick(kT0 + 15s, done);
  EXPECT_EQ(done.size(), 1u);
  capture.tick(kT0 + 16s, done);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[1].summary.size(), 1u);
  EXPECT_EQ(capture.counters().unsummarised, 1u);
}

TEST(TraceCapture, TelemetryKeepsTheSampledPointsAsConfigured) {
  for (const auto mode :
       {config::TraceTelemetry::all, config::TraceTelemetry::outside, config::TraceTelemetry::none}) {
    auto cfg = std::vector{shot()};
    cfg[0].telemetry = mode;
    TraceCapture capture(cfg);
    std::vector<CapturedTrace> done;
    const auto idle = feed(capture, {reading("state", std::string("ready"), kT0),
                                     reading("pressure", 0.0, kT0), reading("temp", 93.0, kT0)},
                           done);
    const auto during =
        feed(capture, {reading("state", std::string("brewing"), kT0 + 1s),
                       reading("pressure", 9.0, kT0 + 1s), reading("temp", 93.0, kT0 + 1s)},
             done);
    const std::size_t sampled_idle = mode == config::TraceTelemetry::none ? 0 : 1;
    const std::size_t sampled_during = mode == config::TraceTelemetry::all ? 1 : 0;
    EXPECT_EQ(idle.size(), 2 + sampled_idle) << static_cast<int>(mode);
    EXPECT_EQ(during.size(), 2 + sampled_during) << static_cast<int>(mode);
    // The trace has the sample whatever telemetry keeps.
    capture.stop(kT0 + 2s, done);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].end_reason, TraceEnd::stopped);
    EXPECT_EQ(values(done[0], 0), (std::vector<double>{9.0}));
  }
}

// ── payload ──

CapturedTrace long_trace(std::size_t samples) {
  CapturedTrace t;
  t.source = "espresso";
  t.type = "shot";
  t.start = kT0;
  t.interval = 10ms;
  t.end = kT0 + 10ms * static_cast<int>(samples);
  t.series = {{"pressure", "bar", {}}, {"flow", "ml/s", {}}};
  for (std::size_t k = 0; k < samples; ++k) {
    t.series[0].values.push_back(9.0 + static_cast<double>(k % 97) / 100.0);
    t.series[1].values.push_back(k % 11 == 0 ? std::nan("") : 1.25 * static_cast<double>(k % 8));
  }
  t.summary = {reading("volume", 36.5, t.end)};
  return t;
}

TEST(TracePayload, ALongTraceIsCutIntoChunksBelowTheBoundThatReassembleExactly) {
  const auto trace = long_trace(3000);
  const std::size_t bound = 2048;
  const auto chunks = encode_trace(trace, bound);
  ASSERT_GT(chunks.size(), 10u);
  std::vector<json> p(2, json::array());
  std::size_t expect_first = 0;
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    const auto& m = chunks[c];
    EXPECT_LE(m.body.size(), bound);
    EXPECT_EQ(m.kind, MessageKind::trace);
    EXPECT_EQ(m.priority, Priority::record);
    const auto doc = json::parse("{" + m.body);
    EXPECT_EQ(doc.at("chunk"), c + 1);
    EXPECT_EQ(doc.at("chunks"), chunks.size());
    EXPECT_EQ(doc.at("first"), expect_first);
    EXPECT_EQ(doc.at("samples"), 3000);
    EXPECT_EQ(doc.at("interval_ms"), 10);
    EXPECT_EQ(doc.at("start"), "2026-11-26T08:00:00.000Z");
    EXPECT_EQ(doc.contains("summary"), c == 0);
    const auto n = doc.at("points").at(0).at("values").size();
    EXPECT_EQ(doc.at("points").at(1).at("values").size(), n);
    EXPECT_EQ(m.count, 2 * n);
    for (std::size_t s = 0; s < 2; ++s)
      for (const auto& v : doc.at("points").at(s).at("values")) p[s].push_back(v);
    expect_first += n;
  }
  ASSERT_EQ(p[0].size(), 3000u);
  for (std::size_t k = 0; k < 3000; ++k) {
    EXPECT_EQ(p[0][k].get<double>(), trace.series[0].values[k]);
    if (std::isnan(trace.series[1].values[k]))
      EXPECT_TRUE(p[1][k].is_null());
    else
      EXPECT_EQ(p[1][k].get<double>(), trace.series[1].values[k]);
  }
  EXPECT_EQ(json::parse("{" + chunks[0].body).at("summary").at(0).at("name"), "volume");
}

TEST(TracePayload, AShortTraceIsOneMessageAndAnEmptyOneStillReportsItsSummary) {
  const auto one = encode_trace(long_trace(50), 128 * 1024);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(json::parse("{" + one[0].body).at("chunks"), 1);
  const auto empty = encode_trace(long_trace(0), 128 * 1024);
  ASSERT_EQ(empty.size(), 1u);
  const auto doc = json::parse("{" + empty[0].body);
  EXPECT_EQ(doc.at("samples"), 0);
  EXPECT_TRUE(doc.at("points").at(0).at("values").empty());
}

}  // namespace
}  // namespace guardian::gateway

#include <gtest/gtest.h>

#include <map>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "guardian/common/time_format.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/gateway/payload.hpp"
#include "guardian/gateway/pipeline.hpp"
#include "guardian/testing/environment.hpp"
#include "queue_test_support.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;

struct PipelineFixture : ::testing::Test {
  testing::TempDir dir;
  boost::asio::io_context io;
  config::SiteConfig site;
  std::unique_ptr<Outbox> outbox;

  void open(std::uint64_t max_pending_bytes = 8u << 20, int per_message = 500) {
    site.device_id = "pipe-01";
    site.queue.path = dir / "queue.db";
    site.queue.max_pending_bytes = max_pending_bytes;
    site.uplink.max_readings_per_message = per_message;
    auto store = OutboxStore::open(site.queue);
    ASSERT_TRUE(store) << store.error().describe();
    outbox = std::make_unique<Outbox>(io, std::move(store).value(), site.queue);
  }

  std::vector<StoredMessage> committed() {
    outbox->flush();
    std::vector<StoredMessage> out;
    bool done = false;
    outbox->async_fetch(0, 100000, [&](result<std::vector<StoredMessage>> r) {
      EXPECT_TRUE(r);
      if (r) out = std::move(r).value();
      done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      io.restart();  // run_for stops the context when it runs out of work before the worker posts
      io.run_for(10ms);
    }
    EXPECT_TRUE(done);
    return out;
  }

  static ReadingBatch batch(const std::string& source, int n, Timestamp t0 = now_ms()) {
    ReadingBatch b{source, {}};
    for (int i = 0; i < n; ++i)
      b.readings.push_back(Reading{source, "p" + std::to_string(i), std::int64_t{i}, "u",
                                   Quality::good, t0 + std::chrono::milliseconds{i}, {}});
    return b;
  }
};

TEST_F(PipelineFixture, KeepsTheLastValueOfEveryPoint) {
  open();
  Pipeline p(io, site, *outbox);
  p.on_batch(batch("a", 3));
  auto second = batch("a", 1);
  second.readings[0].value = std::int64_t{42};
  p.on_batch(std::move(second));
  ASSERT_EQ(p.last_values().at("a").size(), 3u);
  EXPECT_EQ(std::get<std::int64_t>(p.last_values().at("a").at("p0").value), 42);
  EXPECT_EQ(std::get<std::int64_t>(p.last_values().at("a").at("p2").value), 2);
}

TEST_F(PipelineFixture, SplitsABatchIntoMessagesOfAtMostTheConfiguredSize) {
  open(8u << 20, /*per_message=*/4);
  Pipeline p(io, site, *outbox);
  p.on_batch(batch("a", 10));
  const auto msgs = committed();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].count, 4u);
  EXPECT_EQ(msgs[1].count, 4u);
  EXPECT_EQ(msgs[2].count, 2u);
  std::size_t total = 0;
  for (const auto& m : msgs) {
    const auto j = nlohmann::json::parse(envelope("pipe-01", m.seq, m.body));
    total += j.at("readings").size();
    EXPECT_EQ(j.at("source"), "a");
  }
  EXPECT_EQ(total, 10u);
  EXPECT_EQ(p.counters().messages, 3u);
}

TEST_F(PipelineFixture, NoMessageIsLargerThanMaxMessageBytesNorThanTheBrokerTakes) {
  site.uplink.max_message_bytes = 4096;
  open();
  Pipeline p(io, site, *outbox);
  p.on_batch(batch("a", 300));  // ~20 KB of readings
  p.set_max_message_bytes(1 << 20);  // a broker limit above the configured bound: no effect
  p.on_batch(batch("b", 300));
  p.set_max_message_bytes(1500);  // a broker that takes less
  p.on_batch(batch("c", 300));
  std::map<std::string, std::size_t> readings;
  for (const auto& m : committed()) {
    const auto document = envelope("pipe-01", m.seq, m.body);
    EXPECT_LE(document.size(), m.source == "c" ? 1500u : 4096u) << m.source;
    readings[m.source] += nlohmann::json::parse(document).at("readings").size();
  }
  EXPECT_EQ(readings["a"], 300u);
  EXPECT_EQ(readings["b"], 300u);
  EXPECT_EQ(readings["c"], 300u);
}

TEST_F(PipelineFixture, CompactPayloadQueuesEachSourcesSchemaBeforeTheDataThatUsesIt) {
  site.uplink.payload = config::PayloadFormat::v2;
  open();
  Pipeline p(io, site, *outbox);
  p.on_batch(batch("a", 5));
  p.on_batch(batch("a", 5));  // the same points: no new schema
  p.on_batch(batch("b", 2));
  p.on_batch(batch("a", 6));  // a new point p5: the schema grows
  const auto msgs = committed();
  std::vector<std::pair<MessageKind, std::string>> order;
  for (const auto& m : msgs) order.emplace_back(m.kind, m.source);
  const std::vector<std::pair<MessageKind, std::string>> expected{
      {MessageKind::schema, "a"},    {MessageKind::telemetry, "a"}, {MessageKind::telemetry, "a"},
      {MessageKind::schema, "b"},    {MessageKind::telemetry, "b"}, {MessageKind::schema, "a"},
      {MessageKind::telemetry, "a"}};
  EXPECT_EQ(order, expected);
  EXPECT_EQ(msgs[0].priority, Priority::gap) << "a schema outlives the data that needs it";
  const auto first = nlohmann::json::parse("{" + msgs[0].body);
  const auto grown = nlohmann::json::parse("{" + msgs[5].body);
  EXPECT_EQ(first.at("points").size(), 5u);
  EXPECT_EQ(grown.at("points").size(), 6u);
  EXPECT_NE(first.at("schema"), grown.at("schema"));
  EXPECT_EQ(nlohmann::json::parse("{" + msgs[6].body).at("schema"), grown.at("schema"));
  EXPECT_EQ(nlohmann::json::parse("{" + msgs[1].body).at("d").size(), 5u);
}

TEST_F(PipelineFixture, RefusedReadingsBecomeAGapMessageOnceTheQueueAcceptsAgain) {
  // A pending bound smaller than two messages: the second submit in the same commit window is
  // refused by back-pressure.
  open(/*max_pending_bytes=*/600);
  Pipeline p(io, site, *outbox);
  const auto t0 = now_ms();
  p.on_batch(batch("a", 5, t0));
  p.on_batch(batch("a", 5, t0 + 1s));
  EXPECT_EQ(p.counters().readings_refused, 5u);
  EXPECT_EQ(p.counters().refused_by_source.at("a"), 5u);
  outbox->flush();  // the refusal goes to the queue's gap ledger with this commit
  EXPECT_EQ(outbox->stats().gaps_pending, 1u);
  outbox->housekeeping_now();
  ASSERT_TRUE(test::run_io_until(
      io, [&] { return outbox->counters().gaps_reported == 1; }, 10s));

  const auto msgs = committed();
  std::vector<nlohmann::json> gaps;
  for (const auto& m : msgs)
    if (m.kind == MessageKind::gap) gaps.push_back(nlohmann::json::parse(envelope("pipe-01", m.seq, m.body)));
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].at("source"), "a");
  EXPECT_EQ(gaps[0].at("count"), 5);
  EXPECT_EQ(gaps[0].at("messages"), 0);
  EXPECT_EQ(gaps[0].at("reason"), "backpressure");
  EXPECT_EQ(gaps[0].at("points").size(), 5u);
  EXPECT_EQ(parse_rfc3339(gaps[0].at("from").get<std::string>()), t0 + 1s);
  EXPECT_EQ(parse_rfc3339(gaps[0].at("to").get<std::string>()), t0 + 1s + 4ms);
}

TEST_F(PipelineFixture, AlarmPointsTravelInTheirOwnMessagesAtAlarmPriority) {
  config::PointProcessing rule;
  rule.source = "a";
  rule.point = "p1";
  rule.priority = config::PointPriority::alarm;
  site.processing = {rule};
  open();
  Pipeline p(io, site, *outbox);
  p.on_batch(batch("a", 3));
  const auto msgs = committed();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].priority, Priority::routine);
  EXPECT_EQ(msgs[0].count, 2u);
  EXPECT_EQ(msgs[1].priority, Priority::alarm);
  EXPECT_EQ(msgs[1].count, 1u);
  const auto j = nlohmann::json::parse(envelope("pipe-01", msgs[1].seq, msgs[1].body));
  EXPECT_EQ(j.at("readings").at(0).at("name"), "p1");
}

TEST_F(PipelineFixture, AggregatesOfAWindowAreSubmittedWhenTheClockClosesIt) {
  config::PointProcessing rule;
  rule.source = "a";
  rule.point = "p0";
  rule.aggregate = config::Aggregate{
      std::chrono::minutes{1}, {config::AggregateFunction::mean, config::AggregateFunction::count}};
  site.processing = {rule};
  open();
  Pipeline p(io, site, *outbox);
  const Timestamp minute{std::chrono::milliseconds{1'795'680'000'000}};  // a whole minute
  for (int i = 0; i < 6; ++i) {
    auto b = batch("a", 1, minute + std::chrono::seconds{10 * i});
    b.readings[0].value = std::int64_t{i};
    p.on_batch(std::move(b));
  }
  EXPECT_TRUE(committed().empty()) << "the raw readings of an aggregated point are not sent";
  p.tick(minute + 1min + EdgeProcessor::kWindowGrace);
  const auto msgs = committed();
  ASSERT_EQ(msgs.size(), 1u);
  const auto j = nlohmann::json::parse(envelope("pipe-01", msgs[0].seq, msgs[0].body));
  ASSERT_EQ(j.at("readings").size(), 2u);
  EXPECT_EQ(j.at("readings").at(0).at("name"), "p0.mean");
  EXPECT_DOUBLE_EQ(j.at("readings").at(0).at("value").get<double>(), 2.5);
  EXPECT_EQ(j.at("readings").at(0).at("ts"), format_rfc3339(minute));
  EXPECT_EQ(j.at("readings").at(1).at("name"), "p0.count");
  EXPECT_EQ(j.at("readings").at(1).at("value"), 6);
}

}  // namespace
}  // namespace guardian::gateway

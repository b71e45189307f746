// The delivery contract against a real mosquitto with real limits: a broker's maximum packet size
// (MQTT 5 and 3.1.1), a topic its ACL denies, a broker that speaks only 3.1.1. Every message has
// an outcome — delivered, or refused, taken out and reported on `gaps` — and a refused message
// never blocks the ones behind it.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "guardian/gateway/mqtt_uplink.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/mqtt_collector.hpp"
#include "guardian/testing/process.hpp"
#include "queue_test_support.hpp"
#include "uplink_rig.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
using test::run_io_until;
using test::telemetry_message;
using test::UplinkRig;
using testing::MosquittoBroker;
using testing::MqttCollector;
using testing::ReceivedMessage;

const std::string kFilter = "guardian/v1/store-042/#";
constexpr std::size_t kBrokerMaxPacket = 4000;

// What arrived on `suffix`, by seq: every document (a split message has several, by part).
std::map<std::uint64_t, std::map<int, nlohmann::json>> documents_on(const MqttCollector& c,
                                                                    const std::string& suffix) {
  std::map<std::uint64_t, std::map<int, nlohmann::json>> out;
  for (const auto& m : c.messages_on(suffix)) {
    auto j = nlohmann::json::parse(m.payload);
    const int part = j.value("part", 1);
    const auto seq = j.at("seq").get<std::uint64_t>();
    out[seq][part] = std::move(j);
  }
  return out;
}

// Readings of every seq whose parts all arrived, reassembled in part order.
std::map<std::uint64_t, std::size_t> readings_by_seq(const MqttCollector& c) {
  std::map<std::uint64_t, std::size_t> out;
  for (const auto& [seq, parts] : documents_on(c, "/telemetry")) {
    const int expected = parts.begin()->second.value("parts", 1);
    if (static_cast<int>(parts.size()) != expected) continue;
    std::size_t n = 0;
    for (const auto& [part, j] : parts) n += j.at("readings").size();
    out[seq] = n;
  }
  return out;
}

std::size_t largest_payload(const MqttCollector& c) {
  std::size_t most = 0;
  for (const auto& m : c.messages()) most = std::max(most, m.payload.size());
  return most;
}

// The gap messages received with `reason`: their total count of readings.
std::uint64_t gap_count(const MqttCollector& c, const std::string& reason) {
  std::uint64_t n = 0;
  for (const auto& m : c.messages_on("/gaps")) {
    const auto j = nlohmann::json::parse(m.payload);
    if (j.value("reason", "") == reason) n += j.at("count").get<std::uint64_t>();
  }
  return n;
}

// Queues `n` small telemetry messages, `odd`, and `n` more: `odd` is seq n + 1.
bool submit_around(UplinkRig& rig, int n, PendingMessage odd) {
  bool ok = true;
  for (int i = 0; i < n; ++i) ok = rig.outbox->submit(telemetry_message("meter-1", 10)) && ok;
  ok = rig.outbox->submit(std::move(odd)) && ok;
  for (int i = 0; i < n; ++i) ok = rig.outbox->submit(telemetry_message("meter-1", 10)) && ok;
  return ok;
}

// Waits until `delivered` messages are acknowledged (a gap message may be one more) and one was
// refused.
bool delivered_all_but_one(UplinkRig& rig, std::uint64_t delivered,
                           std::chrono::milliseconds deadline) {
  return run_io_until(
      rig.io,
      [&] {
        return rig.outbox->counters().acknowledged >= delivered &&
               rig.outbox->counters().refused == 1;
      },
      deadline);
}

std::string outcome(UplinkRig& rig) {
  return rig.uplink->counters().last_error + "; acknowledged " +
         std::to_string(rig.outbox->counters().acknowledged) + ", refused " +
         std::to_string(rig.outbox->counters().refused) + ", state " +
         to_string(rig.uplink->state()) + ", depth " + std::to_string(rig.outbox->stats().depth);
}

TEST(UplinkDelivery, UnderMqtt5TheBrokersMaximumPacketSizeSplitsMessagesAndEverythingArrives) {
  MosquittoBroker broker("max_packet_size " + std::to_string(kBrokerMaxPacket) + "\n");
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(broker.uri());  // the default: MQTT 5, max_message_bytes 128 KiB
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 100)));  // ~8 KB each
  std::uint64_t limit_told = 0;
  rig.uplink->on_message_limit([&](std::uint64_t bytes) { limit_told = bytes; });
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(rig.io, [&] { return rig.outbox->counters().acknowledged == 20; }, 60s))
      << rig.uplink->counters().last_error;
  ASSERT_TRUE(run_io_until(rig.io, [&] { return readings_by_seq(collector).size() == 20; }, 20s));
  for (const auto& [seq, n] : readings_by_seq(collector)) EXPECT_EQ(n, 100u) << "seq " << seq;
  const auto& c = rig.uplink->counters();
  EXPECT_EQ(c.mqtt_version, 5);
  EXPECT_EQ(c.broker_max_packet, kBrokerMaxPacket);
  EXPECT_EQ(c.split, 20u);
  EXPECT_EQ(c.refused, 0u);
  EXPECT_EQ(c.connection_losses, 0u) << c.last_error;
  EXPECT_LT(largest_payload(collector), kBrokerMaxPacket);
  // The pipeline is told to encode messages that fit from now on.
  EXPECT_GT(limit_told, 0u);
  EXPECT_LT(limit_told, kBrokerMaxPacket);
  // A live message (health) larger than the broker takes is not sent: it would drop the link.
  rig.uplink->publish_live("health", "{\"pad\":\"" + std::string(5000, 'x') + "\"}", true);
  rig.uplink->publish_live("health", "{\"small\":true}", true);
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return collector.messages_on("/health").size() == 1; }, 20s));
  EXPECT_EQ(collector.messages_on("/health")[0].payload, "{\"small\":true}");
  EXPECT_EQ(rig.uplink->counters().live_dropped, 1u);
  EXPECT_EQ(rig.uplink->counters().connection_losses, 0u);
}

TEST(UplinkDelivery, UnderMqtt311MaxMessageBytesBoundsEveryMessageAndEverythingArrives) {
  MosquittoBroker broker("max_packet_size " + std::to_string(kBrokerMaxPacket) + "\n");
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(broker.uri(), [](config::SiteConfig& s) {
    s.uplink.mqtt_version = config::MqttVersion::v3_1_1;
    s.uplink.max_message_bytes = 3500;
  });
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 100)));
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(rig.io, [&] { return rig.outbox->counters().acknowledged == 10; }, 60s))
      << rig.uplink->counters().last_error;
  ASSERT_TRUE(run_io_until(rig.io, [&] { return readings_by_seq(collector).size() == 10; }, 20s));
  for (const auto& [seq, n] : readings_by_seq(collector)) EXPECT_EQ(n, 100u) << "seq " << seq;
  EXPECT_EQ(rig.uplink->counters().mqtt_version, 4);  // 3.1.1
  EXPECT_EQ(rig.uplink->counters().connection_losses, 0u);
  EXPECT_LE(largest_payload(collector), 3500u);
}

TEST(UplinkDelivery, UnderMqtt311AMessageTheBrokerDropsTheLinkForIsRefusedAndTheRestFlow) {
  // Without max_message_bytes set low, a 3.1.1 client cannot know the broker's limit: the broker
  // closes the connection on the large message. It is sent alone until that is certain.
  MosquittoBroker broker("max_packet_size " + std::to_string(kBrokerMaxPacket) + "\n");
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(broker.uri(), [](config::SiteConfig& s) {
    s.uplink.mqtt_version = config::MqttVersion::v3_1_1;
    s.queue.gap_interval = 100ms;
  });
  // Many messages in flight around it when the broker drops the link.
  ASSERT_TRUE(submit_around(rig, 30, telemetry_message("meter-2", 100)));  // seq 31: ~8 KB
  rig.uplink->start();
  ASSERT_TRUE(delivered_all_but_one(rig, 60, 60s)) << outcome(rig);
  const auto& c = rig.uplink->counters();
  EXPECT_EQ(c.refused, 1u);
  // Once in the burst, then the refuse_after_disconnects (3) times it was sent alone: no more.
  EXPECT_EQ(c.connection_losses, 4u);
  EXPECT_NE(c.last_error.find("seq 31"), std::string::npos) << c.last_error;
  // Reported on gaps with its readings; the queue is empty.
  rig.outbox->housekeeping_now();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return gap_count(collector, "refused_by_broker") == 100; }, 20s));
  ASSERT_TRUE(run_io_until(rig.io, [&] { return rig.outbox->stats().depth == 0; }, 20s));
  const auto delivered = readings_by_seq(collector);
  EXPECT_EQ(delivered.size(), 60u);
  EXPECT_FALSE(delivered.contains(31));
  // No flapping afterwards: the link stays up.
  EXPECT_EQ(rig.uplink->state(), LinkState::connected);
  EXPECT_EQ(rig.uplink->counters().connection_losses, 4u);
}

TEST(UplinkDelivery, UnderMqtt5AMessageOnATopicTheAclDeniesIsRefusedByReasonCodeWithoutFlapping) {
  testing::TempDir dir;
  testing::write_file(dir / "acl",
                      "pattern readwrite guardian/v1/store-042/telemetry\n"
                      "pattern readwrite guardian/v1/store-042/gaps\n"
                      "pattern readwrite guardian/v1/store-042/status\n"
                      "pattern readwrite guardian/v1/store-042/health\n"
                      "pattern read guardian/v1/store-042/#\n");
  MosquittoBroker broker("allow_anonymous true\nacl_file " + (dir / "acl").string() + "\n");
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(broker.uri(), [](config::SiteConfig& s) { s.queue.gap_interval = 100ms; });
  Record shot{"espresso-1", "shot", Timestamp{std::chrono::milliseconds{1'795'680'000'000}}, {}};
  shot.fields.push_back(
      Reading{"espresso-1", "shot_duration", 27.5, "s", Quality::good, shot.source_ts, {}});
  ASSERT_TRUE(submit_around(rig, 4, encode_record(shot)));  // seq 5: records are denied
  rig.uplink->start();
  ASSERT_TRUE(delivered_all_but_one(rig, 8, 30s)) << outcome(rig);
  const auto& c = rig.uplink->counters();
  EXPECT_EQ(c.connection_losses, 0u);
  EXPECT_EQ(c.refused, 1u);
  EXPECT_NE(c.last_error.find("seq 5"), std::string::npos) << c.last_error;
  EXPECT_NE(c.last_error.find("0x87"), std::string::npos) << c.last_error;  // Not authorized
  rig.outbox->housekeeping_now();
  ASSERT_TRUE(
      run_io_until(rig.io, [&] { return gap_count(collector, "refused_by_broker") == 1; }, 20s));
  // The gap names the refused message.
  for (const auto& m : collector.messages_on("/gaps"))
    EXPECT_EQ(nlohmann::json::parse(m.payload).at("seqs"), nlohmann::json::array({5}));
  EXPECT_EQ(readings_by_seq(collector).size(), 8u);
  EXPECT_TRUE(collector.messages_on("/records").empty());
}

TEST(UplinkDelivery, ABrokerThatSpeaksOnlyMqtt311IsReachedBy311AfterItRefusesMqtt5) {
  MosquittoBroker broker;
  const auto front_port = testing::free_tcp_port();
  testing::TempDir dir;
  testing::Process front({{"/usr/bin/python3", testing::source_path("tests/support/mqtt311_front.py").string(),
                           std::to_string(front_port), std::to_string(broker.port())},
                          {},
                          dir / "front.log",
                          {}});
  ASSERT_TRUE(testing::wait_for_tcp_port(front_port, 10s)) << front.log();
  const std::string uri = "tcp://127.0.0.1:" + std::to_string(front_port);
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(uri);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 10)));
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(rig.io, [&] { return rig.outbox->counters().acknowledged == 5; }, 30s))
      << rig.uplink->counters().last_error;
  EXPECT_EQ(rig.uplink->counters().mqtt_version, 4);  // 3.1.1
  EXPECT_EQ(rig.uplink->counters().connect_failures, 1u);
  EXPECT_NE(front.log().find("refused v5"), std::string::npos);
  EXPECT_EQ(readings_by_seq(collector).size(), 5u);
}

}  // namespace
}  // namespace guardian::gateway

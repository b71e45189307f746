// MqttUplink against a real mosquitto, with a real SQLite queue and real MQTT subscribers.
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <map>
#include <thread>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "guardian/gateway/mqtt_uplink.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/secure_link/link.hpp"
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
using testing::Process;
using testing::ReceivedMessage;
using testing::TempDir;

const std::string kFilter = "guardian/v1/store-042/#";

PendingMessage record_message(int i) {
  Record r{"espresso-1", "shot", Timestamp{std::chrono::milliseconds{1'795'680'000'000 + i}}, {}};
  r.fields.push_back(
      Reading{"espresso-1", "shot_duration", 27.5, "s", Quality::good, r.source_ts, {}});
  return encode_record(r);
}

PendingMessage gap_message(int i) {
  PendingMessage m;
  m.kind = MessageKind::gap;
  m.priority = Priority::alarm;
  m.source = "meter-1";
  m.count = static_cast<std::uint32_t>(i);
  m.body = "\"source\":\"meter-1\",\"dropped\":" + std::to_string(i) + "}";
  return m;
}

// Runs the rig until `count` messages are acknowledged and deleted; returns the most messages seen
// in flight meanwhile, or nullopt on timeout.
std::optional<std::uint64_t> drain_watching_in_flight(UplinkRig& rig, std::uint64_t count) {
  std::uint64_t most = 0;
  const bool drained = run_io_until(
      rig.io,
      [&] {
        most = std::max(most, rig.uplink->in_flight());
        return rig.outbox->counters().acknowledged == count;
      },
      60s);
  return drained ? std::optional<std::uint64_t>(most) : std::nullopt;
}

nlohmann::json last_status(const MqttCollector& collector) {
  auto status = collector.messages_on("/status");
  return status.empty() ? nlohmann::json::object() : nlohmann::json::parse(status.back().payload);
}

TEST(MqttUplink, DeliversEveryCommittedMessageExactlyOnceOnItsTopicAndEmptiesTheQueue) {
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(broker.uri(), [](config::SiteConfig& s) { s.uplink.max_inflight = 20; });

  // seq = submission order: kinds interleaved.
  std::map<std::uint64_t, MessageKind> kind_of;
  for (int i = 0; i < 325; ++i) {
    PendingMessage m = i % 13 == 0  ? gap_message(i)
                       : i % 5 == 0 ? record_message(i)
                                    : telemetry_message("meter-1", 50);
    kind_of[static_cast<std::uint64_t>(i + 1)] = m.kind;
    ASSERT_TRUE(rig.outbox->submit(std::move(m)));
  }
  rig.uplink->start();
  const auto max_in_flight = drain_watching_in_flight(rig, 325);
  ASSERT_TRUE(max_in_flight) << rig.uplink->counters().last_error;
  EXPECT_EQ(rig.outbox->stats().depth, 0u);
  EXPECT_LE(*max_in_flight, 20u);

  // A marker published after the queue emptied arrives after anything sent before it (one client,
  // one subscriber: in order), so any duplicate would already be here.
  rig.uplink->publish_live("health", "{\"marker\":true}", false);
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return collector.messages_on("/health").size() == 1; }, 20s));

  std::map<std::uint64_t, int> times_seen;
  for (const auto& m : collector.messages()) {
    if (m.topic.ends_with("/status") || m.topic.ends_with("/health")) continue;
    const auto j = nlohmann::json::parse(m.payload);
    const auto seq = j.at("seq").get<std::uint64_t>();
    ++times_seen[seq];
    EXPECT_EQ(j.at("v"), 1);
    EXPECT_EQ(j.at("device"), "store-042");
    ASSERT_TRUE(kind_of.contains(seq)) << seq;
    EXPECT_EQ(m.topic, std::string("guardian/v1/store-042/") + topic_suffix(kind_of[seq]));
    EXPECT_EQ(m.qos, 1);
    EXPECT_FALSE(m.retained);
    if (kind_of[seq] == MessageKind::telemetry) {
      EXPECT_EQ(j.at("readings").size(), 50u);
    } else if (kind_of[seq] == MessageKind::record) {
      EXPECT_EQ(j.at("type"), "shot");
    }
  }
  EXPECT_EQ(times_seen.size(), 325u);
  for (const auto& [seq, n] : times_seen) EXPECT_EQ(n, 1) << "seq " << seq;
  EXPECT_EQ(rig.uplink->counters().published, 325u);
  EXPECT_EQ(rig.uplink->counters().acknowledged, 325u);
  EXPECT_EQ(rig.uplink->counters().connects, 1u);
  EXPECT_EQ(rig.uplink->state(), LinkState::connected);
  EXPECT_EQ(rig.uplink->link_info().kind, "plain");
}

TEST(MqttUplink, KeepsMoreThanAHundredPublishesInFlightWithoutPahoRefusingThem) {
  // Paho's default buffer of 100 commands refuses further publishes even while connected.
  MosquittoBroker broker;
  UplinkRig rig(broker.uri(), [](config::SiteConfig& s) { s.uplink.max_inflight = 300; });
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 2)));
  rig.uplink->start();
  const auto max_in_flight = drain_watching_in_flight(rig, 1000);
  ASSERT_TRUE(max_in_flight) << rig.uplink->counters().last_error;
  EXPECT_GT(*max_in_flight, 100u);
  EXPECT_LE(*max_in_flight, 300u);
  EXPECT_EQ(rig.uplink->counters().published, 1000u);
  EXPECT_EQ(rig.uplink->counters().last_error, "");
}

TEST(MqttUplink, DrainsMessagesCommittedWhileConnected) {
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(broker.uri());
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->state() == LinkState::connected; }, 20s));
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 5)));
    const std::size_t expected = static_cast<std::size_t>(20 * (round + 1));
    ASSERT_TRUE(run_io_until(
        rig.io, [&] { return collector.messages_on("/telemetry").size() >= expected; }, 20s));
  }
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.outbox->stats().depth == 0; }, 20s));
}

TEST(MqttUplink, DeliversEverythingWhenTheBrokerIsStoppedForAWhileDuringPublishing) {
  // The broker keeps sessions across its restart so that the subscriber's persistent session
  // receives what the gateway sends before the subscriber itself has reconnected.
  TempDir persistence("guardian-mosquitto-db");
  MosquittoBroker broker("persistence true\npersistence_location " + persistence.path().string() +
                         "/\n");
  TempDir sub_dir("guardian-sub");
  const auto sub_log = sub_dir / "sub.log";
  Process subscriber({{"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()),
                       "-c", "-i", "guardian-test-sub", "-q", "1", "-v", "-t", kFilter},
                      {},
                      sub_log,
                      {}});
  ASSERT_TRUE(testing::wait_until(
      [&] {
        testing::run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p",
                              std::to_string(broker.port()), "-q", "1", "-t",
                              "guardian/v1/store-042/probe", "-m", "probe"});
        return testing::read_file(sub_log).find("probe") != std::string::npos;
      },
      20s));
  auto received_seqs = [&] {
    std::set<std::uint64_t> seqs;
    std::istringstream lines(testing::read_file(sub_log));
    for (std::string line; std::getline(lines, line);) {
      const auto space = line.find(' ');
      if (!line.starts_with("guardian/v1/store-042/telemetry ")) continue;
      const auto j = nlohmann::json::parse(line.substr(space + 1), nullptr, false);
      if (!j.is_discarded()) seqs.insert(j.at("seq").get<std::uint64_t>());
    }
    return seqs;
  };

  UplinkRig rig(broker.uri(), [](config::SiteConfig& s) { s.uplink.max_inflight = 10; });
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 20)));
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return received_seqs().size() >= 30; }, 30s));

  broker.stop();
  // Keep producing while the broker is away, and let the uplink fail to reconnect a few times.
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 20)));
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->counters().connect_failures >= 3; }, 30s));
  EXPECT_NE(rig.uplink->state(), LinkState::connected);
  EXPECT_EQ(rig.uplink->counters().connection_losses, 1u);
  EXPECT_GT(rig.outbox->stats().depth, 0u);

  broker.start();
  std::set<std::uint64_t> expected;
  for (std::uint64_t s = 1; s <= 600; ++s) expected.insert(s);
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return received_seqs() == expected && rig.outbox->stats().depth == 0; }, 60s))
      << "received " << received_seqs().size()
      << " of 600; last error: " << rig.uplink->counters().last_error;
  EXPECT_EQ(rig.uplink->counters().connects, 2u);
  EXPECT_GE(rig.uplink->counters().published, 600u);
  subscriber.stop();
}

TEST(MqttUplink, PublishesARetainedOnlineStatusAndARetainedOfflineStatusWhenStopped) {
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(broker.uri());
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return last_status(collector).value("state", "") == "online"; }, 20s));
  const auto online = last_status(collector);
  EXPECT_EQ(online.at("v"), 1);
  EXPECT_EQ(online.at("device"), "store-042");
  EXPECT_TRUE(online.at("ts").is_string());

  {
    MqttCollector late(broker.uri(), "guardian/v1/store-042/status");
    ASSERT_TRUE(late.wait_for_count("/status", 1, 10s));
    EXPECT_TRUE(late.messages().at(0).retained);
    EXPECT_EQ(nlohmann::json::parse(late.messages().at(0).payload).at("state"), "online");
  }

  rig.uplink->stop();
  EXPECT_EQ(rig.uplink->state(), LinkState::stopped);
  ASSERT_TRUE(collector.wait_for(
      [](const std::vector<ReceivedMessage>& all) {
        return !all.empty() && all.back().topic.ends_with("/status") &&
               all.back().payload.find("\"offline\"") != std::string::npos;
      },
      10s));
  MqttCollector late(broker.uri(), "guardian/v1/store-042/status");
  ASSERT_TRUE(late.wait_for_count("/status", 1, 10s));
  EXPECT_TRUE(late.messages().at(0).retained);
  EXPECT_EQ(nlohmann::json::parse(late.messages().at(0).payload).at("state"), "offline");
  rig.uplink->stop();  // idempotent
}

TEST(MqttUplink, ConnectsAgainWhenStartedAfterAStop) {
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(broker.uri());
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->state() == LinkState::connected; }, 20s));
  rig.uplink->stop();
  ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 2)));
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.outbox->counters().acknowledged == 1; }, 20s))
      << rig.uplink->counters().last_error;
  EXPECT_EQ(rig.uplink->counters().connects, 2u);
  EXPECT_EQ(collector.messages_on("/telemetry").size(), 1u);
}

TEST(MqttUplink, TheBrokerPublishesTheOfflineLastWillWhenTheGatewayProcessIsKilled) {
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/store-042/status");
  TempDir dir;
  Process child({{GUARDIAN_UPLINK_CHILD, broker.uri(), "store-042", (dir / "queue.db").string()},
                 {},
                 dir / "child.log",
                 {}});
  ASSERT_TRUE(collector.wait_for_count("/status", 1, 20s)) << child.log();
  EXPECT_EQ(last_status(collector).at("state"), "online");

  child.kill_now();  // SIGKILL: no DISCONNECT, the socket just closes
  ASSERT_TRUE(collector.wait_for_count("/status", 2, 20s)) << broker.log();
  const auto will = last_status(collector);
  EXPECT_EQ(will, nlohmann::json::parse(R"({"v":1,"device":"store-042","state":"offline"})"));
  MqttCollector late(broker.uri(), "guardian/v1/store-042/status");
  ASSERT_TRUE(late.wait_for_count("/status", 1, 10s));
  EXPECT_TRUE(late.messages().at(0).retained);
  EXPECT_EQ(nlohmann::json::parse(late.messages().at(0).payload).at("state"), "offline");
}

TEST(MqttUplink, PublishesHealthLiveWhileConnectedAndCountsWhatItDropsOtherwise) {
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), kFilter);
  UplinkRig rig(broker.uri());
  rig.uplink->publish_live("health", "{\"early\":true}", true);
  EXPECT_EQ(rig.uplink->counters().live_dropped, 1u);

  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->state() == LinkState::connected; }, 20s));
  rig.uplink->publish_live("health", "{\"queue_depth\":0}", true);
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return !collector.messages_on("/health").empty(); }, 20s))
      << rig.uplink->counters().last_error;
  EXPECT_EQ(collector.messages_on("/health").at(0).topic, "guardian/v1/store-042/health");
  EXPECT_EQ(collector.messages_on("/health").at(0).payload, "{\"queue_depth\":0}");
  EXPECT_EQ(rig.uplink->counters().live_dropped, 1u);
  EXPECT_GE(rig.uplink->counters().live_published, 2u);  // online status + health

  MqttCollector late(broker.uri(), "guardian/v1/store-042/health");
  ASSERT_TRUE(late.wait_for_count("/health", 1, 10s));
  EXPECT_TRUE(late.messages().at(0).retained);
}

TEST(MqttUplink, BacksOffWhileTheBrokerIsUnreachableAndConnectsOnceItAppears) {
  const std::uint16_t port = testing::free_tcp_port();
  const std::string uri = "tcp://127.0.0.1:" + std::to_string(port);
  UplinkRig rig(uri);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 3)));
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->counters().connect_failures >= 3; }, 20s));
  EXPECT_NE(rig.uplink->counters().last_error.find(uri), std::string::npos)
      << rig.uplink->counters().last_error;
  EXPECT_EQ(rig.uplink->counters().published, 0u);
  EXPECT_TRUE(rig.uplink->state() == LinkState::backoff ||
              rig.uplink->state() == LinkState::connecting);

  MosquittoBroker broker({}, port);
  MqttCollector collector(broker.uri(), kFilter);
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.outbox->counters().acknowledged == 10; }, 30s))
      << rig.uplink->counters().last_error;
  EXPECT_EQ(rig.outbox->stats().depth, 0u);
  EXPECT_EQ(collector.messages_on("/telemetry").size(), 10u);
  EXPECT_EQ(rig.uplink->counters().connects, 1u);
}

TEST(MqttUplink, AuthenticatesWithAPasswordFileAndNeverReportsThePassword) {
  TempDir dir;
  const auto passwords = dir / "mosquitto.passwd";
  testing::write_file(passwords, "");
  auto made =
      testing::run_command({"mosquitto_passwd", "-b", passwords.string(), "gateway", "s3cret-pw"});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  // Later lines of mosquitto.conf override the anonymous access the test broker allows by default.
  MosquittoBroker broker("allow_anonymous false\npassword_file " + passwords.string() + "\n");

  {
    testing::write_file(dir / "wrong", "not-the-s3cret\n");
    UplinkRig rig(broker.uri(), [&](config::SiteConfig& s) {
      s.uplink.username = "gateway";
      s.uplink.password_file = dir / "wrong";
    });
    rig.uplink->start();
    ASSERT_TRUE(run_io_until(
        rig.io, [&] { return rig.uplink->counters().connect_failures >= 1; }, 20s));
    EXPECT_EQ(rig.uplink->counters().connects, 0u);
    EXPECT_EQ(rig.uplink->counters().last_error.find("s3cret"), std::string::npos);
  }
  {
    UplinkRig rig(broker.uri(), [&](config::SiteConfig& s) {
      s.uplink.username = "gateway";
      s.uplink.password_file = dir / "missing";
    });
    rig.uplink->start();
    ASSERT_TRUE(run_io_until(
        rig.io, [&] { return rig.uplink->counters().connect_failures >= 1; }, 20s));
    EXPECT_NE(rig.uplink->counters().last_error.find("uplink.password_file"), std::string::npos);
  }
  testing::write_file(dir / "right", "s3cret-pw\n");
  UplinkRig rig(broker.uri(), [&](config::SiteConfig& s) {
    s.uplink.username = "gateway";
    s.uplink.password_file = dir / "right";
  });
  ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 1)));
  rig.uplink->start();
  // Acknowledged by the broker, so accepted there under the gateway's identity.
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.outbox->counters().acknowledged == 1; }, 20s))
      << rig.uplink->counters().last_error;
  EXPECT_EQ(rig.uplink->counters().connects, 1u);
}

// A link whose open() waits until it is interrupted, as a tunnel does for a trust service or a
// broker that accepted the connection and never answers (TunnelLink's own test shows that its
// open() returns when interrupted; this one, that stop() interrupts it).
class OpenUntilInterrupted final : public secure_link::Link {
 public:
  result<secure_link::MqttEndpoint> open() override {
    std::unique_lock lock(mutex_);
    ++opens_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return interrupted_; });
    return make_errno_error(ECANCELED, "interrupted");
  }
  void close() override {}
  void interrupt() noexcept override {
    std::lock_guard lock(mutex_);
    interrupted_ = true;
    changed_.notify_all();
  }
  void resume() noexcept override {
    std::lock_guard lock(mutex_);
    interrupted_ = false;
  }
  [[nodiscard]] secure_link::LinkInfo info() const override { return {}; }
  bool wait_for_open(std::chrono::milliseconds deadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, deadline, [&] { return opens_ > 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int opens_ = 0;
  bool interrupted_ = false;
};

TEST(MqttUplink, StopInterruptsALinkThatIsStillOpening) {
  TempDir dir("guardian-uplink-stop");
  boost::asio::io_context io;
  const auto site = test::site_config(dir, "tcp://127.0.0.1:1");
  auto store = OutboxStore::open(site.queue);
  ASSERT_TRUE(store) << store.error().describe();
  Outbox outbox(io, std::move(store).value(), site.queue);
  OpenUntilInterrupted link;
  auto uplink = std::make_unique<MqttUplink>(io, site, link, outbox);
  uplink->start();
  ASSERT_TRUE(link.wait_for_open(10s));
  auto stopped = std::async(std::launch::async, [&] { uplink->stop(); });
  EXPECT_EQ(stopped.wait_for(30s), std::future_status::ready) << "stop() waits for the open()";
  if (stopped.wait_for(0s) != std::future_status::ready) link.interrupt();  // let the test end
  stopped.get();
  EXPECT_EQ(uplink->state(), LinkState::stopped);
}

}  // namespace
}  // namespace guardian::gateway

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
using test::run_io_until;
using test::UplinkRig;
using testing::MosquittoBroker;

// Publishes `payload` on `topic` until `received()` holds: a subscription made at connect is
// in place only once the broker has processed it.
bool publish_until(const MosquittoBroker& broker, const std::string& topic,
                   const std::string& payload, UplinkRig& rig,
                   const std::function<bool()>& received) {
  return testing::wait_until(
      [&] {
        testing::run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p",
                              std::to_string(broker.port()), "-q", "1", "-t", topic, "-m",
                              payload});
        return run_io_until(rig.io, received, 300ms);
      },
      20s);
}

TEST(MqttUplink, DeliversSubscribedMessagesOnTheIoContextAndSubscribesAgainAfterAReconnect) {
  MosquittoBroker broker;
  UplinkRig rig(broker.uri());
  std::vector<std::pair<std::string, std::string>> got;
  const auto io_thread = std::this_thread::get_id();
  bool on_io_thread = true;
  rig.uplink->subscribe("commands", [&](const std::string& suffix, std::string payload) {
    on_io_thread = on_io_thread && std::this_thread::get_id() == io_thread;
    got.emplace_back(suffix, std::move(payload));
  });
  rig.uplink->start();
  ASSERT_TRUE(publish_until(broker, "guardian/v1/store-042/commands", "one", rig,
                            [&] { return !got.empty(); }));
  EXPECT_EQ(got.front(), (std::pair<std::string, std::string>{"commands", "one"}));
  EXPECT_TRUE(on_io_thread);
  // Nothing else under the prefix reaches the handler: not the results, not other topics.
  testing::run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()),
                        "-q", "1", "-t", "guardian/v1/store-042/commands/result", "-m", "x"});

  // A clean session forgets subscriptions: after the broker restarts they are made again.
  broker.stop();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->state() != LinkState::connected; }, 20s));
  broker.start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->state() == LinkState::connected; }, 20s));
  const auto before = got.size();
  ASSERT_TRUE(publish_until(broker, "guardian/v1/store-042/commands", "two", rig,
                            [&] { return got.size() > before; }))
      << rig.uplink->counters().last_error;
  EXPECT_EQ(got.back().second, "two");
  for (const auto& [suffix, payload] : got) EXPECT_EQ(suffix, "commands");
  EXPECT_EQ(rig.uplink->counters().received, got.size());
}

}  // namespace
}  // namespace guardian::gateway

// Store-and-forward end to end (docs/store-and-forward.md): the real gateway behind a
// fault-injecting proxy (cuts, black holes, a slow link, half-closed sockets) and a broker that
// restarts; on a file system that fills up; and starting on a corrupt queue file. Every check is
// by seq at a real subscriber, and every loss must be named by a gap message.
#include <gtest/gtest.h>

#include <numeric>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/testing/fault_proxy.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/pymodbus.hpp"
#include "guardian/testing/small_file_system.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::uint64_t number(const json& status, const char* section, const char* key) {
  return status.at(section).at(key).get<std::uint64_t>();
}

std::vector<json> gaps_received(const MqttCollector& collector) {
  std::vector<json> out;
  for (const auto& m : collector.messages_on("/gaps")) out.push_back(json::parse(m.payload));
  return out;
}

TEST(StoreForwardE2E, NothingIsLostThroughCutsBlackHolesASlowLinkHalfClosesAndBrokerRestarts) {
  TempDir dir("guardian-e2e");
  MosquittoBroker broker({}, 0, /*persistent=*/true);
  MqttCollector collector(broker.uri(), "guardian/v1/faults-01/#", "ledger-faults",
                          /*persistent_session=*/true);
  FaultProxy proxy(broker.port());
  PymodbusServer modbus(counter_registers());
  constexpr std::uint64_t kInflight = 20;
  GatewayProcess gw(dir, "faults-01", proxy.uri(), fast_adapter(modbus.port(), "20ms"),
                    "  keepalive: 1s\n  max_inflight: " + std::to_string(kInflight) + "\n");
  gw.start();
  ASSERT_TRUE(collector.wait_for_count("/telemetry", 5, 20s)) << gw.log();

  const auto link = [&](const char* key) { return number(gw.status(), "link", key); };
  const auto connected = [&] { return gw.status().at("link").at("state") == "connected"; };
  const auto reconnects_after = [&](const std::function<void()>& fault, const char* what) {
    const auto before = link("connects");
    fault();
    EXPECT_TRUE(wait_until([&] { return link("connects") > before && connected(); }, 60s))
        << what << ": no reconnection\n"
        << gw.status().dump(2);
  };

  reconnects_after([&] { proxy.cut(); }, "cut");
  reconnects_after(
      [&] {
        // A dead path: only the keep-alive notices (1.5 × 1 s), then attempts stall too.
        const auto losses = link("connection_losses");
        proxy.black_hole();
        EXPECT_TRUE(wait_until([&] { return link("connection_losses") > losses; }, 30s))
            << "a black hole went unnoticed";
        proxy.pass();
      },
      "black hole");
  {
    proxy.slow(30'000, 20ms);
    const auto published = link("published");
    EXPECT_TRUE(wait_until([&] { return link("published") > published + 20; }, 30s))
        << "nothing got through the slow link";
    proxy.pass();
  }
  reconnects_after([&] { proxy.half_close(FaultProxy::Side::client); }, "half-close (client)");
  reconnects_after([&] { proxy.half_close(FaultProxy::Side::server); }, "half-close (broker)");
  reconnects_after(
      [&] {
        broker.stop();
        EXPECT_TRUE(wait_until([&] { return !connected(); }, 30s));
        broker.start();
      },
      "broker restart");

  // Stop producing; everything accepted must arrive.
  modbus.kill();
  ASSERT_TRUE(wait_until([&] { return number(gw.status(), "queue", "depth") == 0; }, 60s))
      << gw.status().dump(2);
  const auto status = gw.status();
  const auto target = number(status, "queue", "last_seq");
  ASSERT_TRUE(
      collector.wait_for([&](const auto& all) { return SeqLedger(all).has_all(target); }, 60s))
      << "missing " << SeqLedger(collector.messages()).missing(target).size() << " of " << target;
  const SeqLedger ledger(collector.messages());
  EXPECT_TRUE(ledger.missing(target).empty());
  EXPECT_TRUE(ledger.mismatched.empty()) << "a duplicate differs from its first delivery";
  // Only what was in flight when a connection went can come twice.
  const auto losses = number(status, "link", "connection_losses");
  EXPECT_GE(losses, 5u) << "cut, black hole, two half-closes, broker restart";
  EXPECT_LE(ledger.duplicated().size(), kInflight * losses);
  EXPECT_TRUE(gaps_received(collector).empty()) << "nothing was dropped, so no gap";
  const auto valid = validate_against_schema(collector.messages(), dir);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_EQ(gw.stop(), 0) << gw.log();
}

TEST(StoreForwardE2E, OnAFullDiskTheOldestDataGoesAndEveryMissingSeqIsNamedByAGap) {
  TempDir dir("guardian-e2e");
  SmallFileSystem disk(dir / "disk", "1m");
  if (!disk.mounted()) GTEST_SKIP() << disk.why_not();
  // The subscriber's session outlives the broker's absence (persistence), so that it misses
  // nothing the gateway sends as soon as the broker is back.
  MosquittoBroker broker({}, 0, /*persistent=*/true);
  MqttCollector collector(broker.uri(), "guardian/v1/diskfull-01/#", "ledger-disk",
                          /*persistent_session=*/true);
  broker.stop();  // away while the disk fills: the backlog stays on the disk
  PymodbusServer modbus(counter_registers());
  GatewayProcess gw(dir, "diskfull-01", broker.uri(), fast_adapter(modbus.port(), "10ms"), {},
                    "  gap_interval: 1s\n", {}, disk.path() / "queue.db");
  gw.start();
  ASSERT_TRUE(
      wait_until([&] { return gw.status().at("queue").at("dropped").at("disk_full") > 0; }, 60s))
      << gw.status().dump(2);
  // Degraded, not stopped: new data is still accepted, the oldest goes.
  const auto at_full = number(gw.status(), "queue", "last_seq");
  ASSERT_TRUE(
      wait_until([&] { return number(gw.status(), "queue", "last_seq") > at_full + 50; }, 30s));

  broker.start();
  modbus.kill();
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = gw.status();
        return number(s, "queue", "depth") == 0 && number(s, "queue", "gaps_pending") == 0;
      },
      60s))
      << gw.status().dump(2);
  // Everything up to `target` has been acknowledged by the broker (the queue is empty), so the
  // subscriber gets it all; wait until each seq up to there has arrived or a gap names it. (The
  // adapter may still send comm_fail readings with higher seqs meanwhile.)
  const auto target = number(gw.status(), "queue", "last_seq");
  const auto named_by_gaps = [](const std::vector<ReceivedMessage>& all) {
    std::uint64_t named = 0;
    for (const auto& m : all) {
      if (!m.topic.ends_with("/gaps")) continue;
      const auto gap = json::parse(m.payload);
      if (gap.at("reason") == "disk_full") named += gap.at("messages").get<std::uint64_t>();
    }
    return named;
  };
  const bool settled = collector.wait_for(
      [&](const auto& all) { return SeqLedger(all).missing(target).size() <= named_by_gaps(all); },
      30s);
  const auto all = collector.messages();
  const SeqLedger ledger(all);
  const auto named = named_by_gaps(all);
  EXPECT_TRUE(settled) << ledger.missing(target).size() << " of " << target
                       << " seqs never arrived, and gaps name " << named << "\n"
                       << gw.status().dump(2);
  for (const auto& gap : gaps_received(collector)) {
    EXPECT_EQ(gap.at("source"), "meter-1");
    EXPECT_TRUE(gap.at("reason") == "disk_full" || gap.at("reason") == "backpressure") << gap;
  }
  EXPECT_GT(named, 0u);
  // Exactly: a gap never counts a message that arrived (send_claims.hpp), and every message that
  // never arrives is one a gap counts.
  EXPECT_EQ(ledger.missing(target).size(), named)
      << "every seq that never arrives must be one a gap message counted";
  const auto valid = validate_against_schema(collector.messages(), dir);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
}

TEST(StoreForwardE2E, RejectNewOnAFullDiskRefusesReportsAndRecoversWhenSpaceReturns) {
  TempDir dir("guardian-e2e");
  SmallFileSystem disk(dir / "disk", "2m");
  if (!disk.mounted()) GTEST_SKIP() << disk.why_not();
  disk.fill("ballast", 1536 * 1024);
  MosquittoBroker broker({}, 0, /*persistent=*/true);
  MqttCollector collector(broker.uri(), "guardian/v1/diskfull-02/#", "ledger-disk2",
                          /*persistent_session=*/true);
  broker.stop();
  PymodbusServer modbus(counter_registers());
  GatewayProcess gw(dir, "diskfull-02", broker.uri(), fast_adapter(modbus.port(), "10ms"), {},
                    "  when_full: reject_new\n  max_pending_bytes: 128KiB\n  gap_interval: 1s\n",
                    {}, disk.path() / "queue.db");
  gw.start();
  ASSERT_TRUE(wait_until(
      [&] {
        const auto q = gw.status().at("queue");
        return q.at("disk_full") == true && q.at("dropped").at("disk_full") > 0;
      },
      60s))
      << gw.status().dump(2);
  // Refusing, not failing: the queue stays writable on the full disk.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = gw.status();
        return number(s, "queue", "last_seq") ==
               number(s, "queue", "depth") + number(s, "queue", "gaps_reported");
      },
      10s));
  const auto stuck_at = number(gw.status(), "queue", "last_seq");

  std::filesystem::remove(disk.path() / "ballast");
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = gw.status();
        return s.at("queue").at("disk_full") == false &&
               number(s, "queue", "last_seq") > stuck_at + 20;
      },
      30s))
      << gw.status().dump(2);
  ASSERT_TRUE(wait_until([&] { return number(gw.status(), "queue", "gaps_pending") == 0; }, 30s));

  broker.start();
  modbus.kill();
  ASSERT_TRUE(wait_until([&] { return number(gw.status(), "queue", "depth") == 0; }, 60s));
  const auto target = number(gw.status(), "queue", "last_seq");
  ASSERT_TRUE(
      collector.wait_for([&](const auto& all) { return SeqLedger(all).has_all(target); }, 60s))
      << "reject_new never drops what it accepted";
  std::uint64_t refused_on_full_disk = 0;
  std::uint64_t refused = 0;
  for (const auto& gap : gaps_received(collector)) {
    EXPECT_EQ(gap.at("messages"), 0) << "reject_new drops nothing it accepted: " << gap;
    refused += gap.at("count").get<std::uint64_t>();
    if (gap.at("reason") == "disk_full")
      refused_on_full_disk += gap.at("count").get<std::uint64_t>();
  }
  EXPECT_GT(refused_on_full_disk, 0u) << "what the full disk refused must be named on gaps";
  const auto final_status = gw.status();
  std::uint64_t counted = 0;
  for (const auto& [reason, n] : final_status.at("queue").at("dropped").items())
    counted += n.get<std::uint64_t>();
  EXPECT_EQ(refused, counted) << "every refused reading is named in a gap message";
}

TEST(StoreForwardE2E, ACorruptQueueIsMovedAsideReportedAndReplacedWithoutACrashLoop) {
  TempDir dir("guardian-e2e");
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/corrupt-01/#", "ledger-corrupt");
  PymodbusServer modbus(counter_registers());
  GatewayProcess gw(dir, "corrupt-01", broker.uri(), fast_adapter(modbus.port(), "100ms"), {},
                    "  gap_interval: 1s\n");
  std::filesystem::copy_file(source_path("tests/gateway/fixtures/queue-garbage.db"),
                             gw.queue_path());
  const std::string evidence = read_file(gw.queue_path());
  gw.start();
  const auto q = gw.status().at("queue");
  ASSERT_TRUE(q.contains("quarantine")) << q.dump(2);
  const std::filesystem::path moved = q.at("quarantine").at("moved_to").get<std::string>();
  EXPECT_TRUE(read_file(moved) == evidence) << "kept byte for byte for analysis";
  EXPECT_NE(q.at("quarantine").at("reason").get<std::string>().find("not a database"),
            std::string::npos);
  EXPECT_NE(gw.log().find("was corrupt"), std::string::npos) << gw.log();
  ASSERT_TRUE(collector.wait_for(
      [&](const auto& all) {
        for (const auto& m : on_topic(all, "/gaps"))
          if (json::parse(m.payload).at("reason") == "corrupt_queue") return true;
        return false;
      },
      20s));
  ASSERT_TRUE(collector.wait_for_count("/telemetry", 3, 20s)) << "a fresh queue is working";
  // A restart finds a healthy queue: no second quarantine.
  EXPECT_EQ(gw.stop(), 0) << gw.log();
  gw.start();
  EXPECT_FALSE(gw.status().at("queue").contains("quarantine"));
  const auto valid = validate_against_schema(collector.messages(), dir);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_EQ(gw.stop(), 0) << gw.log();
}

TEST(StoreForwardE2E, EdgeProcessingDeclaredInTheFileShapesWhatIsSent) {
  TempDir dir("guardian-e2e");
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/edge-01/telemetry", "ledger-edge");
  PymodbusServer modbus(counter_registers());  // values that never change
  GatewayProcess gw(dir, "edge-01", broker.uri(), fast_adapter(modbus.port(), "100ms"),
                    "  max_readings_per_message: 1000\n", {},
                    "processing:\n"
                    "  - {source: meter-1, point: r0, aggregate: {interval: 1s, functions: [mean, "
                    "count]}}\n"
                    "  - {source: meter-1, point: r1, deadband: 5, heartbeat: 1h}\n"
                    "  - {source: meter-1, point: r2, counters: [changes], counter_interval: 1s}\n");
  gw.start();
  // Wait for two aggregate windows to close (each a second, closed a second after its end).
  const auto readings_named = [](const std::vector<ReceivedMessage>& all, const std::string& name) {
    std::vector<json> out;
    for (const auto& m : all) {
      // The parsed document must outlive the loop over its readings.
      const auto payload = json::parse(m.payload);
      for (const auto& r : payload.at("readings"))
        if (r.at("name") == name) out.push_back(r);
    }
    return out;
  };
  ASSERT_TRUE(collector.wait_for(
      [&](const auto& all) {
        return readings_named(all, "r0.mean").size() >= 2 &&
               !readings_named(all, "r2.changes").empty();
      },
      30s))
      << gw.log();
  const auto all = collector.messages();
  const auto means = readings_named(all, "r0.mean");
  EXPECT_DOUBLE_EQ(means[0].at("value").get<double>(), 1000.0);
  // The first window may have started before the gateway did; the second is whole.
  EXPECT_GE(readings_named(all, "r0.count").at(1).at("value").get<int>(), 5)
      << "about ten polls a second";
  EXPECT_TRUE(readings_named(all, "r0").empty()) << "an aggregated point's raw readings stay home";
  EXPECT_EQ(readings_named(all, "r1").size(), 1u) << "an unchanging value within the deadband";
  EXPECT_EQ(readings_named(all, "r2.changes").at(0).at("value"), 0);
  EXPECT_GT(readings_named(all, "r3").size(), 5u) << "points without a rule are sent as read";
  const auto health = gw.status().at("edge");
  EXPECT_GT(health.at("suppressed").get<int>(), 0);
  EXPECT_GT(health.at("windows").get<int>(), 1);
  const auto valid = validate_against_schema(all, dir);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_EQ(gw.stop(), 0) << gw.log();
}

}  // namespace
}  // namespace guardian::testing

// Nothing accepted is ever lost: the broker goes away during polling, the gateway is killed with
// SIGKILL while publishing — every committed message still arrives (checked by seq), and the
// only duplicates are of messages that were not yet acknowledged.
#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/pymodbus.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::uint64_t last_seq(const GatewayProcess& gw) {
  return gw.status().at("queue").at("last_seq").get<std::uint64_t>();
}

// Seqs still in the queue file (not acknowledged by the broker), read with the sqlite3 CLI.
std::set<std::uint64_t> queued_seqs(const std::filesystem::path& db) {
  const auto r = run_command({"sqlite3", db.string(), "SELECT seq FROM outbox ORDER BY seq;"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::set<std::uint64_t> out;
  std::istringstream in(r.output);
  for (std::uint64_t s; in >> s;) out.insert(s);
  return out;
}

TEST(ResilienceE2E, BrokerStoppedDuringPollingLosesNothing) {
  TempDir dir("guardian-e2e");
  MosquittoBroker broker({}, 0, /*persistent=*/true);
  MqttCollector collector(broker.uri(), "guardian/v1/+/telemetry", "ledger-outage",
                          /*persistent_session=*/true);
  PymodbusServer modbus(counter_registers());
  GatewayProcess gw(dir, "outage-01", broker.uri(), fast_adapter(modbus.port(), "50ms"));
  gw.start();
  ASSERT_TRUE(collector.wait_for_count("/telemetry", 5, 20s)) << gw.log();

  broker.stop();
  // Polling continues while the broker is away; the backlog grows in the queue.
  const auto before = last_seq(gw);
  ASSERT_TRUE(wait_until(
      [&] {
        const auto st = gw.status();
        return st.at("queue").at("depth").get<std::uint64_t>() >= 40 &&
               st.at("link").at("state") != "connected";
      },
      30s))
      << gw.status().dump(2);
  EXPECT_GT(last_seq(gw), before + 30);

  broker.start();
  ASSERT_TRUE(wait_until([&] { return gw.status().at("link").at("state") == "connected"; }, 30s))
      << gw.log();
  // Stop producing, then everything committed must arrive.
  modbus.kill();
  const auto target = last_seq(gw);
  ASSERT_TRUE(collector.wait_for([&](const auto& all) { return SeqLedger(all).has_all(target); },
                                 60s))
      << "missing: " << SeqLedger(collector.messages()).missing(target).size();
  const SeqLedger ledger(collector.messages());
  EXPECT_TRUE(ledger.missing(target).empty());
  EXPECT_TRUE(ledger.mismatched.empty());
  ASSERT_TRUE(wait_until([&] { return gw.status().at("queue").at("depth") == 0; }, 30s));
}

TEST(ResilienceE2E, SigkillWhilePublishingLosesNothingAndDuplicatesOnlyUnacknowledged) {
  TempDir dir("guardian-e2e");
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/#", "ledger-kill");
  PymodbusServer modbus(counter_registers());
  GatewayProcess gw(dir, "kill-01", broker.uri(), fast_adapter(modbus.port(), "10ms"),
                    "  max_inflight: 50\n");
  gw.start();

  std::set<std::uint64_t> unacknowledged;
  std::uint64_t accepted_before_kill = 0;
  // Kill at a moment when messages are committed but not yet acknowledged.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto st = gw.status();
        return st.at("queue").at("last_seq").get<std::uint64_t>() > 100 &&
               st.at("link").at("in_flight").get<std::uint64_t>() > 0;
      },
      30s, 1ms))
      << gw.log();
  gw.kill();
  unacknowledged = queued_seqs(gw.queue_path());
  {
    const auto r = run_command({"sqlite3", gw.queue_path().string(),
                                "SELECT seq FROM sqlite_sequence WHERE name='outbox';"});
    accepted_before_kill = std::stoull(r.output);
  }
  ASSERT_GT(accepted_before_kill, 100u);

  // The broker announces the gateway's death with the retained last will.
  ASSERT_TRUE(collector.wait_for(
      [&](const auto& all) {
        const auto s = on_topic(all, "/status");
        return !s.empty() && json::parse(s.back().payload).at("state") == "offline";
      },
      30s));

  gw.start();
  ASSERT_TRUE(collector.wait_for(
      [&](const auto& all) { return SeqLedger(all).has_all(accepted_before_kill); }, 60s))
      << "missing " << SeqLedger(collector.messages()).missing(accepted_before_kill).size()
      << " of " << accepted_before_kill;
  // After the restart the seq continues above everything accepted before the kill.
  EXPECT_TRUE(wait_until([&] { return last_seq(gw) > accepted_before_kill; }, 10s));

  const SeqLedger ledger(collector.messages());
  EXPECT_TRUE(ledger.mismatched.empty()) << "a duplicate differs from its first delivery";
  for (auto seq : ledger.duplicated()) {
    if (seq > accepted_before_kill) continue;  // a PUBACK lost after the restart: also allowed
    EXPECT_TRUE(unacknowledged.contains(seq))
        << "seq " << seq << " arrived twice but was acknowledged before the kill";
  }
  EXPECT_EQ(gw.stop(), 0);
}

}  // namespace
}  // namespace guardian::testing

// The serial espresso machine end to end: guardian-sim prints its line protocol on one end of a
// pty pair, the real guardian binary reads the other end with the demo's `espresso-serial`
// adapter, and a subscriber receives status telemetry and one `records` message per shot, valid
// against the published schema; pulling the "cable" turns the points comm_fail on the wire.
#include <gtest/gtest.h>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/serial_pair.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

/// The demo's serial adapter, exactly as config/examples/guardian.yaml writes it, on `port`.
std::string demo_serial_adapter(const std::filesystem::path& port) {
  std::string text = read_file(source_path("config/examples/guardian.yaml"));
  text = text.substr(text.find("  - name: espresso-serial"));
  const std::string old_port = "./guardian-demo/espresso-serial";
  text.replace(text.find(old_port), old_port.size(), port.string());
  // Its codec comes from the shipped profile guardian-espresso-serial@1.
  return text + "profiles_path: [" + source_path("config/profiles").string() + "]\n";
}

TEST(StreamE2E, SerialShotsArriveAsRecordsAndAPulledCableAsCommFail) {
  TempDir dir("guardian-e2e-serial");
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/#");
  SerialPair pty;
  Process sim({{binary_path("guardian-sim").string(), "serial", "--device",
                pty.device_end().string(), "--speed", "40", "--status-interval", "0.1"},
               {},
               dir / "sim.log",
               {}});
  GatewayProcess gw(dir, "e2e-serial", broker.uri(), demo_serial_adapter(pty.gateway_end()));
  gw.start();

  ASSERT_TRUE(
      collector.wait_for([](const auto& all) { return !on_topic(all, "/records").empty(); }, 60s))
      << gw.log() << sim.log();
  const json record = json::parse(on_topic(collector.messages(), "/records").front().payload);
  EXPECT_EQ(record.at("source"), "espresso-2");
  EXPECT_EQ(record.at("type"), "shot");
  ASSERT_EQ(record.at("fields").size(), 12u);
  for (const auto& f : record.at("fields")) EXPECT_EQ(f.at("quality"), "good") << f.dump();
  EXPECT_EQ(record.at("fields").at(1).at("name"), "duration");
  EXPECT_EQ(record.at("fields").at(1).at("unit"), "s");

  // The human status shows what matters for a device that pushes data: messages and their age,
  // not Modbus poll counters.
  const auto human = run_command(
      {binary_path("guardian").string(), "status", "--socket", gw.socket_path().string()});
  ASSERT_EQ(human.exit_code, 0) << human.output;
  const auto line_start = human.output.find("    espresso-2");
  ASSERT_NE(line_start, std::string::npos) << human.output;
  const auto line = human.output.substr(line_start, human.output.find('\n', line_start) - line_start);
  EXPECT_NE(line.find(" messages "), std::string::npos) << line;
  EXPECT_NE(line.find(" ago"), std::string::npos) << line;
  EXPECT_EQ(line.find("polls"), std::string::npos) << line;
  EXPECT_EQ(line.find("rtt"), std::string::npos) << line;

  pty.kill();  // the cable is pulled
  ASSERT_TRUE(collector.wait_for(
      [](const auto& all) {
        for (const auto& m : on_topic(all, "/telemetry")) {
          const auto j = json::parse(m.payload);
          if (j.at("source") == "espresso-2" && j.at("readings").at(0).at("quality") == "comm_fail")
            return true;
        }
        return false;
      },
      20s))
      << gw.log();
  const auto status = gw.status();
  EXPECT_EQ(gw.stop(), 0);
  const auto validation = validate_against_schema(collector.messages(), dir);
  EXPECT_EQ(validation.exit_code, 0) << validation.output;
  EXPECT_NE(validation.output.find("records="), std::string::npos) << validation.output;
  bool found = false;
  for (const auto& a : status.at("adapters"))
    if (a.at("name") == "espresso-serial") {
      found = true;
      EXPECT_EQ(a.at("type"), "serial/lines");
      EXPECT_GE(a.at("sources").at(0).at("counters").at("messages").get<int>(), 10);
    }
  EXPECT_TRUE(found) << status.dump();
}

}  // namespace
}  // namespace guardian::testing

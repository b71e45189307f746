// An RS-485 bus end to end: guardian-sim serves the espresso machine and an Eastron meter as
// RTU units on one end of a pty pair, the real guardian binary reads them through the shipped
// profiles on the other end, and a cloud command sets the machine's set-point over the bus.
// The pty cannot do RS-485 mode: `guardian status` shows the warning.
#include <gtest/gtest.h>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/serial_pair.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(RtuE2E, ReadsTwoProfiledUnitsOnOneSerialBusAndWritesOverIt) {
  TempDir dir("guardian-rtu-e2e");
  SerialPair line;
  Process sim({{binary_path("guardian-sim").string(), "modbus-rtu", "--serial",
                line.device_end().string(), "--units", "1,2", "--model", "espresso,sdm120"},
               {},
               dir / "sim.log",
               {}});
  ASSERT_TRUE(wait_until([&] { return sim.log().find("READY") != std::string::npos; }, 10s))
      << sim.log();
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/#");
  GatewayProcess gw(dir, "rtu-01", broker.uri(),
                    "  - name: shop-bus\n    type: modbus\n    transport: rtu\n"
                    "    serial: {port: " + line.gateway_end().string() + ", baud: 19200, rs485: true}\n"
                    "    devices:\n"
                    "      - {name: espresso-1, profile: guardian-espresso@1, unit_id: 1,\n"
                    "         poll_interval: 200ms}\n"
                    "      - {name: shop-meter, profile: eastron-sdm120, unit_id: 2,\n"
                    "         poll_interval: 200ms}\n"
                    "profiles_path: [" + source_path("config/profiles").string() + "]\n");
  gw.start();

  const auto good_from = [](const std::vector<ReceivedMessage>& all, const std::string& source) {
    for (const auto& m : on_topic(all, "/telemetry")) {
      const auto j = json::parse(m.payload);
      if (j.at("source") != source) continue;
      bool all_good = true;
      for (const auto& r : j.at("readings")) all_good = all_good && r.at("quality") == "good";
      if (all_good) return true;
    }
    return false;
  };
  ASSERT_TRUE(collector.wait_for(
      [&](const auto& all) { return good_from(all, "espresso-1") && good_from(all, "shop-meter"); },
      30s))
      << gw.log() << sim.log();
  const auto status = gw.status();
  EXPECT_EQ(status.at("adapters").at(0).at("type"), "modbus-rtu");
  // A pty cannot switch to RS-485 mode: the bus works, and status says so.
  const auto text = run_command({binary_path("guardian").string(), "status", "--socket",
                                 gw.socket_path().string()});
  EXPECT_NE(text.output.find("warning: serial.rs485 is set but " + line.gateway_end().string() +
                             " cannot switch to RS-485 mode"),
            std::string::npos)
      << text.output;

  // A set-point command travels over the same bus, between the polls.
  const std::string command =
      R"({"id":"rtu-1","source":"espresso-1","point":"boiler_setpoint","value":91.5})";
  ASSERT_TRUE(wait_until(
      [&] {
        run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-q",
                     "1", "-t", "guardian/v1/rtu-01/commands", "-m", command});
        return collector.wait_for(
            [](const auto& all) { return !on_topic(all, "/commands/result").empty(); }, 500ms);
      },
      20s));
  const auto result = json::parse(on_topic(collector.messages(), "/commands/result").at(0).payload);
  EXPECT_EQ(result.at("ok"), true) << result.dump();
  EXPECT_DOUBLE_EQ(result.at("readback").get<double>(), 91.5);

  const auto valid = validate_against_schema(collector.messages(), dir);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_EQ(gw.stop(), 0);
}

}  // namespace
}  // namespace guardian::testing

// Commands from the cloud and from the command line, end to end: the real guardian binary with
// mosquitto and pymodbus. A command published on {prefix}commands changes the register on the
// Modbus peer and its result, with the command's id, arrives on {prefix}commands/result;
// garbage gets ok:false with the reason; `guardian write -c` does the same through the daemon.
#include <gtest/gtest.h>

#include <array>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/adapters/modbus/modbus_client.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/pymodbus.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kDevice = "cmd-01";
constexpr const char* kPrefix = "guardian/v1/cmd-01/";

std::string adapters_yaml(std::uint16_t port) {
  return R"(  - name: espresso-bus
    type: modbus
    host: 127.0.0.1
    port: )" + std::to_string(port) + R"(
    devices:
      - name: espresso-1
        unit_id: 1
        poll_interval: 200ms
        points:
          - {name: boiler_setpoint, table: holding, address: 14, type: uint16, scale: 0.1,
             unit: degC, writable: true, readback: true, write_min: 85, write_max: 96}
          - {name: steam_target, table: holding, address: 20, type: float32, order: CDAB,
             writable: true}
          - {name: standby, table: coil, address: 2, type: bool, writable: true}
          - {name: mode, table: holding, address: 31, type: uint16, writable: true,
             enum: {0: off, 1: eco, 2: on}}
          - {name: serial_no, table: holding, address: 50, type: uint16}
)";
}

// Holding register `address` of unit 1 as pymodbus holds it.
std::uint16_t register_on_peer(const PymodbusServer& peer, std::uint16_t address) {
  namespace mb = adapters::modbus;
  auto client =
      mb::ModbusClient::open(mb::parse_endpoint("tcp://127.0.0.1:" + std::to_string(peer.port()))
                                 .value(),
                             2s);
  if (!client) throw std::runtime_error(client.error().message);
  std::array<std::uint16_t, 1> r{};
  auto done =
      client.value()->transact({1, mb::FunctionCode::read_holding_registers, address, 1, {}, {}},
                               {r, {}}, 1s);
  if (!done) throw std::runtime_error(done.error().message);
  return r[0];
}

// The result with `id` among those received, if any; for a null id, the one whose error
// mentions `reason`.
std::optional<json> result_for(const std::vector<ReceivedMessage>& all, const json& id,
                               const std::string& reason = {}) {
  for (const auto& m : on_topic(all, "/commands/result")) {
    auto j = json::parse(m.payload);
    if (j.at("id") != id) continue;
    if (id.is_null() && j.value("error", std::string()).find(reason) == std::string::npos)
      continue;
    return j;
  }
  return std::nullopt;
}

struct CommandRig {
  CommandRig()
      : peer(json::parse(R"({"units": {"1": {"hr": {"14": 900, "50": 4711}}}})")),
        gw(dir, kDevice, broker.uri(), adapters_yaml(peer.port())) {
    gw.start();
  }

  // Publishes `payload` on the commands topic until a result for `id` arrives: the gateway
  // subscribes when it connects, and a command published before the broker has registered the
  // subscription is not delivered (the repeats are harmless: a repeated id is not written again).
  std::optional<json> command(const std::string& payload, const json& id,
                              const std::string& reason = {}) {
    std::optional<json> result;
    wait_until(
        [&] {
          run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()),
                       "-q", "1", "-t", std::string(kPrefix) + "commands", "-m", payload});
          collector.wait_for(
              [&](const auto& all) { return result_for(all, id, reason).has_value(); }, 500ms);
          result = result_for(collector.messages(), id, reason);
          return result.has_value();
        },
        20s);
    return result;
  }

  TempDir dir{"guardian-cmd"};
  MosquittoBroker broker;
  MqttCollector collector{broker.uri(), "guardian/v1/#"};
  PymodbusServer peer;
  GatewayProcess gw;
};

TEST(CommandE2E, ACloudCommandChangesTheRegisterAndItsResultCarriesTheId) {
  CommandRig rig;
  const auto result = rig.command(
      R"({"id":"c-1","source":"espresso-1","point":"boiler_setpoint","value":92.5})", "c-1");
  ASSERT_TRUE(result.has_value()) << rig.gw.log();
  EXPECT_EQ(result->at("ok"), true) << result->dump();
  EXPECT_EQ(result->at("device"), kDevice);
  EXPECT_EQ(result->at("source"), "espresso-1");
  EXPECT_EQ(result->at("point"), "boiler_setpoint");
  EXPECT_DOUBLE_EQ(result->at("readback").get<double>(), 92.5);
  EXPECT_EQ(register_on_peer(rig.peer, 14), 925);

  // A float with its word order, an enum label and a coil, each asked to be read back.
  for (const auto& [payload, id] : std::vector<std::pair<std::string, std::string>>{
           {R"({"id":"c-2","source":"espresso-1","point":"steam_target","value":1.25,)"
            R"("readback":true})",
            "c-2"},
           {R"({"v":1,"id":"c-3","source":"espresso-1","point":"mode","value":"eco",)"
            R"("readback":true})",
            "c-3"},
           {R"({"id":"c-4","source":"espresso-1","point":"standby","value":true})", "c-4"}}) {
    const auto r = rig.command(payload, id);
    ASSERT_TRUE(r.has_value()) << id;
    EXPECT_EQ(r->at("ok"), true) << r->dump();
  }
  EXPECT_DOUBLE_EQ(result_for(rig.collector.messages(), "c-2")->at("readback").get<double>(), 1.25);
  EXPECT_EQ(result_for(rig.collector.messages(), "c-3")->at("readback"), "eco");
  EXPECT_EQ(register_on_peer(rig.peer, 31), 1);

  // The new set-point arrives in telemetry like any reading.
  ASSERT_TRUE(rig.collector.wait_for(
      [](const auto& all) {
        for (const auto& m : on_topic(all, "/telemetry"))
          if (m.payload.find("\"name\":\"boiler_setpoint\",\"value\":92.5") != std::string::npos)
            return true;
        return false;
      },
      10s));
}

TEST(CommandE2E, GarbageAndRefusedCommandsGetOkFalseWithTheReason) {
  CommandRig rig;
  // Make sure the subscription is in place before sending what yields no id to wait for.
  ASSERT_TRUE(rig.command(R"({"id":"warm-up","source":"espresso-1","point":"standby","value":false})",
                          "warm-up")
                  .has_value());
  const auto expect_refused = [&](const std::string& payload, const json& id,
                                  const std::string& reason) {
    const auto r = rig.command(payload, id, reason);
    ASSERT_TRUE(r.has_value()) << payload;
    EXPECT_EQ(r->at("ok"), false) << r->dump();
    EXPECT_NE(r->at("error").get<std::string>().find(reason), std::string::npos) << r->dump();
  };
  expect_refused("this is not json", nullptr, "command is not valid JSON");
  expect_refused(R"({"id":"c-10","source":"espresso-1","point":"boiler_setpoint","valeu":90})",
                 "c-10", "unknown key 'valeu'");
  expect_refused(R"({"id":"c-11","source":"espresso-1","point":"serial_no","value":1})", "c-11",
                 "point 'serial_no' of 'espresso-1' is not writable");
  expect_refused(R"({"id":"c-12","source":"espresso-1","point":"boiler_setpoint","value":120})",
                 "c-12", "outside the allowed range 85 to 96");
  expect_refused(R"({"id":"c-13","source":"fridge-9","point":"t","value":1})", "c-13",
                 "no source 'fridge-9' on this gateway (its sources: 'espresso-1')");
  expect_refused(R"({"id":"c-14","source":"espresso-1","point":"mode","value":[1]})", "c-14",
                 "'value' must be a number, true/false or a string");
  expect_refused(R"({"source":"espresso-1","point":"mode","value":1})", nullptr,
                 "'id' must be a string");
  EXPECT_EQ(register_on_peer(rig.peer, 14), 900);  // nothing refused reached the device
  EXPECT_EQ(register_on_peer(rig.peer, 50), 4711);
  EXPECT_TRUE(rig.gw.running());

  // Everything the gateway published is valid against the schema, results included.
  std::vector<ReceivedMessage> published;
  for (const auto& m : rig.collector.messages())
    if (!m.topic.ends_with("/commands")) published.push_back(m);
  const auto valid = validate_against_schema(published, rig.dir);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_NE(valid.output.find("commands_result="), std::string::npos) << valid.output;
}

TEST(CommandE2E, ARepeatedCommandIsAnsweredAgainWithoutWritingAgain) {
  CommandRig rig;
  const std::string payload =
      R"({"id":"c-20","source":"espresso-1","point":"boiler_setpoint","value":91})";
  ASSERT_TRUE(rig.command(payload, "c-20").has_value());
  ASSERT_EQ(register_on_peer(rig.peer, 14), 910);
  // The register changes under the gateway's feet (someone at the machine's panel).
  {
    namespace mb = adapters::modbus;
    auto client = mb::ModbusClient::open(
        mb::parse_endpoint("tcp://127.0.0.1:" + std::to_string(rig.peer.port())).value(), 2s);
    const std::array<std::uint16_t, 1> panel{880};
    ASSERT_TRUE(client.value()->transact(
        {1, mb::FunctionCode::write_single_register, 14, 1, panel, {}}, {}, 1s));
  }
  const auto before = on_topic(rig.collector.messages(), "/commands/result").size();
  run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(rig.broker.port()), "-q",
               "1", "-t", std::string(kPrefix) + "commands", "-m", payload});
  ASSERT_TRUE(rig.collector.wait_for(
      [&](const auto& all) { return on_topic(all, "/commands/result").size() > before; }, 10s));
  EXPECT_EQ(register_on_peer(rig.peer, 14), 880);  // not written a second time
}

TEST(CommandE2E, GuardianWriteGoesThroughTheRunningDaemon) {
  CommandRig rig;
  const auto guardian = binary_path("guardian").string();
  const auto config = rig.gw.config_path().string();
  auto r = run_command({guardian, "write", "-c", config, "espresso-1", "boiler_setpoint", "93.5"});
  EXPECT_EQ(r.exit_code, 0) << r.output << rig.gw.log();
  EXPECT_NE(r.output.find("espresso-1/boiler_setpoint: wrote 93.5, read back 93.5"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(register_on_peer(rig.peer, 14), 935);

  r = run_command({guardian, "write", "-c", config, "espresso-1", "serial_no", "1"});
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("is not writable"), std::string::npos) << r.output;

  // Without the daemon: the same register, written directly, is spelled out.
  EXPECT_EQ(rig.gw.stop(), 0);
  r = run_command({guardian, "write", "-c", config, "espresso-1", "boiler_setpoint", "93.5"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  const std::string direct = "guardian write modbus tcp://127.0.0.1:" +
                             std::to_string(rig.peer.port()) +
                             " --unit 1 --table holding --address 14 --type uint16 --scale 0.1 "
                             "--value 93.5";
  EXPECT_NE(r.output.find(direct), std::string::npos) << r.output;
  // … and that command works.
  auto words = std::vector<std::string>{guardian};
  std::istringstream in(direct.substr(std::string("guardian ").size()));
  for (std::string w; in >> w;) words.push_back(w);
  r = run_command(words);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("read back 93.5"), std::string::npos) << r.output;
}

TEST(CommandE2E, ProbeScanAndWriteRunFromTheGuardianBinary) {
  PymodbusServer peer(json::parse(R"({"units": {"1": {"hr": {"0": 17142, "1": 59769}}}})"));
  const auto guardian = binary_path("guardian").string();
  const auto endpoint = "tcp://127.0.0.1:" + std::to_string(peer.port());
  auto r = run_command({guardian, "probe", "modbus", endpoint, "--read", "holding:0:2"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("123.456"), std::string::npos) << r.output;
  r = run_command({guardian, "scan", "modbus", endpoint, "--units", "1-3"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("found 1 unit"), std::string::npos) << r.output;
  r = run_command({guardian, "write", "modbus", endpoint, "--address", "5", "--value", "7"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("read back 7"), std::string::npos) << r.output;
  r = run_command({guardian, "probe", "modbus", endpoint, "--unit", "9", "--timeout", "200ms"});
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("no answer from unit 9"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace guardian::testing

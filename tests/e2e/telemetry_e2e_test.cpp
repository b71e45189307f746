// Equipment to broker: the real guardian binary polls a Modbus peer and a subscriber checks what
// arrives — decoded values, units, quality, and payloads valid against the published schema.
#include <gtest/gtest.h>

#include <sstream>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/pymodbus.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Registers of unit 1, encoded by hand from the IEEE/two's-complement definitions.
//   hr0-1 float32 ABCD 93.25 = 0x42BA8000      hr2-3 float32 CDAB 1.5 = 0x3FC00000 → 0000 3FC0
//   hr4 int16 -125 (×0.1 → -12.5)             hr5 uint16 900 (×0.01 → 9)
//   hr6-7 uint32 ABCD 123456 = 0x0001E240      hr8 uint16 3 (enum → "brewing")
//   hr10-11 int32 CDAB -2 = 0xFFFFFFFE         ir0 int16 215 (×0.1 → 21.5)
json espresso_registers() {
  return json::parse(R"({"units": {"1": {
      "hr": {"0": 17082, "1": 32768, "2": 0, "3": 16320, "4": 65411, "5": 900,
             "6": 1, "7": 57920, "8": 3, "10": 65534, "11": 65535},
      "ir": {"0": 215}}}})");
}

std::string adapters_yaml(std::uint16_t port, const std::string& poll = "200ms") {
  return R"(  - name: espresso-bus
    type: modbus
    transport: tcp
    host: 127.0.0.1
    port: )" + std::to_string(port) + R"(
    backoff: {min: 100ms, max: 500ms}
    devices:
      - name: espresso-1
        unit_id: 1
        poll_interval: )" + poll + R"(
        timeout: 300ms
        points:
          - {name: boiler_temp, table: holding, address: 0, type: float32, order: ABCD, unit: degC}
          - {name: steam_pressure, table: holding, address: 2, type: float32, order: CDAB, unit: bar}
          - {name: group_head_temp, table: holding, address: 4, type: int16, scale: 0.1, unit: degC}
          - {name: pump_pressure, table: holding, address: 5, type: uint16, scale: 0.01, unit: bar}
          - {name: shot_count, table: holding, address: 6, type: uint32, order: ABCD}
          - {name: state, table: holding, address: 8, type: uint16, enum: {0: idle, 3: brewing}}
          - {name: trim, table: holding, address: 10, type: int32, order: CDAB}
          - {name: ambient_temp, table: input, address: 0, type: int16, scale: 0.1, unit: degC}
      - name: ghost
        unit_id: 2
        poll_interval: )" + poll + R"(
        timeout: 200ms
        retries: 0
        points:
          - {name: level, table: holding, address: 0, type: uint16, unit: "%"}
)";
}

// The latest reading of `point` from `source` among v1 telemetry documents.
std::optional<json> latest_in(const std::vector<json>& documents, const std::string& source,
                              const std::string& point) {
  std::optional<json> found;
  for (const auto& j : documents) {
    if (j.at("source") != source) continue;
    for (const auto& r : j.at("readings"))
      if (r.at("name") == point) found = r;
  }
  return found;
}

// The same among the telemetry received.
std::optional<json> latest(const std::vector<ReceivedMessage>& all, const std::string& source,
                           const std::string& point) {
  std::vector<json> documents;
  for (const auto& m : on_topic(all, "/telemetry")) documents.push_back(json::parse(m.payload));
  return latest_in(documents, source, point);
}

TEST(TelemetryE2E, PymodbusRegistersArriveDecodedWithUnitsAndQuality) {
  TempDir dir("guardian-e2e");
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/#");
  PymodbusServer modbus(espresso_registers());
  GatewayProcess gw(dir, "e2e-dev-01", broker.uri(), adapters_yaml(modbus.port()),
                    "  health_interval: 1s\n");
  gw.start();

  ASSERT_TRUE(collector.wait_for(
      [&](const auto& all) {
        return latest(all, "espresso-1", "ambient_temp") && latest(all, "ghost", "level") &&
               !on_topic(all, "/health").empty();
      },
      20s))
      << gw.log();

  const auto expect_good = [&](const char* point, const json& value, const char* unit) {
    const auto r = latest(collector.messages(), "espresso-1", point);
    ASSERT_TRUE(r) << point;
    EXPECT_EQ(r->at("quality"), "good") << *r;
    if (value.is_number_float())
      EXPECT_NEAR(r->at("value").get<double>(), value.get<double>(), 1e-9) << *r;
    else
      EXPECT_EQ(r->at("value"), value) << *r;
    if (unit != nullptr) EXPECT_EQ(r->at("unit"), unit) << *r;
    else EXPECT_FALSE(r->contains("unit")) << *r;
  };
  expect_good("boiler_temp", 93.25, "degC");
  expect_good("steam_pressure", 1.5, "bar");
  expect_good("group_head_temp", -12.5, "degC");
  expect_good("pump_pressure", 9.0, "bar");
  expect_good("shot_count", 123456, nullptr);
  expect_good("state", "brewing", nullptr);
  expect_good("trim", -2, nullptr);
  expect_good("ambient_temp", 21.5, "degC");

  // Unit 2 does not exist on the peer: its point is comm_fail, with no value and a reason.
  const auto ghost = latest(collector.messages(), "ghost", "level");
  EXPECT_EQ(ghost->at("quality"), "comm_fail");
  EXPECT_TRUE(ghost->at("value").is_null());
  EXPECT_FALSE(ghost->at("error").get<std::string>().empty());
  // And the technician reading journald sees it once, with the reason.
  ASSERT_TRUE(wait_until(
      [&] { return gw.log().find("/ghost: comm_fail: ") != std::string::npos; }, 10s))
      << gw.log();
  EXPECT_EQ(gw.log().find("/ghost: comm_fail: "), gw.log().rfind("/ghost: comm_fail: "));

  // Retained online status, then health; all of it valid against the published schema.
  const auto status = collector.messages_on("/status");
  ASSERT_FALSE(status.empty());
  EXPECT_EQ(json::parse(status.front().payload).at("state"), "online");
  EXPECT_EQ(status.front().topic, "guardian/v1/e2e-dev-01/status");

  EXPECT_EQ(gw.stop(), 0);
  ASSERT_TRUE(collector.wait_for(
      [&](const auto& all) {
        const auto s = on_topic(all, "/status");
        return !s.empty() && json::parse(s.back().payload).at("state") == "offline";
      },
      10s));
  const auto validation = validate_against_schema(collector.messages(), dir);
  EXPECT_EQ(validation.exit_code, 0) << validation.output;
  EXPECT_NE(validation.output.find("health="), std::string::npos) << validation.output;
  EXPECT_NE(validation.output.find("telemetry="), std::string::npos) << validation.output;
  EXPECT_NE(validation.output.find("status="), std::string::npos) << validation.output;
}

// The payloads of `messages` on schema/ and telemetry topics, hex-encoded one per line (what
// `mosquitto_sub -F %x` prints), in arrival order.
std::string hex_lines(const std::vector<ReceivedMessage>& messages) {
  std::string out;
  for (const auto& m : messages)
    if (m.topic.ends_with("/telemetry") || m.topic.find("/schema/") != std::string::npos)
      out += to_hex(m.payload) + "\n";
  return out;
}

// The same among JSON lines of decoded messages.
std::optional<json> latest_decoded(const std::string& lines, const std::string& source,
                                   const std::string& point) {
  std::vector<json> documents;
  std::istringstream in(lines);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.front() == '{') documents.push_back(json::parse(line));
  return latest_in(documents, source, point);
}

TEST(TelemetryE2E, CompactDeflatedTelemetryDecodesFromTheDocsAloneToWhatThePeerHolds) {
  TempDir dir("guardian-e2e-v2");
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/#");
  PymodbusServer modbus(espresso_registers());
  GatewayProcess gw(dir, "e2e-v2-01", broker.uri(), adapters_yaml(modbus.port()),
                    "  payload: v2\n  compression: deflate\n");
  gw.start();
  ASSERT_TRUE(collector.wait_for(
      [&](const auto& all) {
        std::size_t telemetry = 0;
        for (const auto& m : all) telemetry += m.topic.ends_with("/telemetry") ? 1u : 0u;
        return telemetry >= 4 && !on_topic(all, "/schema/espresso-1").empty() &&
               !on_topic(all, "/schema/ghost").empty();
      },
      20s))
      << gw.log();
  EXPECT_EQ(gw.stop(), 0);
  // A consumer that starts later still learns the names: the schemas are retained.
  MqttCollector late(broker.uri(), "guardian/v1/+/schema/#");
  EXPECT_TRUE(late.wait_for_count("/schema/espresso-1", 1, 10s));
  EXPECT_TRUE(late.wait_for_count("/schema/ghost", 1, 10s));
  const auto messages = collector.messages();
  for (const auto& m : on_topic(messages, "/telemetry"))
    EXPECT_EQ(static_cast<unsigned char>(m.payload.at(0)), 0x78) << "deflated (zlib)";
  // Valid against the published JSON Schema once inflated (an independent validator).
  const auto validation = validate_against_schema(messages, dir);
  EXPECT_EQ(validation.exit_code, 0) << validation.output;
  EXPECT_NE(validation.output.find("telemetry_v2="), std::string::npos) << validation.output;
  EXPECT_NE(validation.output.find("schema="), std::string::npos) << validation.output;
  write_file(dir / "payloads.hex", hex_lines(messages));

  // A consumer written from docs/telemetry.md alone, and the reference decoder, agree with the
  // registers the peer holds.
  const auto python = run_command(
      {"/bin/sh", "-c",
       "/usr/bin/python3 " + source_path("tests/support/decode_v2.py").string() + " < " +
           (dir / "payloads.hex").string()});
  ASSERT_EQ(python.exit_code, 0) << python.output;
  const auto reference = run_command(
      {"/bin/sh", "-c",
       binary_path("guardian").string() + " decode --hex-lines < " + (dir / "payloads.hex").string()});
  ASSERT_EQ(reference.exit_code, 0) << reference.output;
  for (const auto* decoded : {&python.output, &reference.output}) {
    const auto boiler = latest_decoded(*decoded, "espresso-1", "boiler_temp");
    ASSERT_TRUE(boiler) << *decoded;
    EXPECT_EQ(boiler->at("value"), 93.25);
    EXPECT_EQ(boiler->at("unit"), "degC");
    EXPECT_EQ(boiler->at("quality"), "good");
    const auto pump = latest_decoded(*decoded, "espresso-1", "pump_pressure");
    ASSERT_TRUE(pump);
    EXPECT_EQ(pump->at("value"), 9.0);
    EXPECT_EQ(latest_decoded(*decoded, "espresso-1", "state")->at("value"), "brewing");
    EXPECT_EQ(latest_decoded(*decoded, "espresso-1", "shot_count")->at("value"), 123456);
    const auto ghost = latest_decoded(*decoded, "ghost", "level");
    ASSERT_TRUE(ghost);
    EXPECT_EQ(ghost->at("quality"), "comm_fail");
    EXPECT_TRUE(ghost->at("value").is_null());
    EXPECT_FALSE(ghost->at("error").get<std::string>().empty());
  }
}

TEST(TelemetryE2E, SimulatedEspressoMachineTelemetryEvolves) {
  TempDir dir("guardian-e2e");
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/#");
  const auto sim_port = free_tcp_port();
  Process sim({{binary_path("guardian-sim").string(), "modbus-tcp", "--port",
                std::to_string(sim_port), "--model", "espresso"},
               {},
               dir / "sim.log",
               {}});
  ASSERT_TRUE(wait_for_tcp_port(sim_port, 10s)) << read_file(dir / "sim.log");
  GatewayProcess gw(dir, "e2e-sim-01", broker.uri(),
                    "  - name: espresso-bus\n    type: modbus\n    host: 127.0.0.1\n    port: " +
                        std::to_string(sim_port) + R"(
    devices:
      - name: espresso-1
        unit_id: 1
        poll_interval: 100ms
        points:
          - {name: boiler_temp, table: holding, address: 0, type: float32, order: ABCD, unit: degC}
          - {name: power, table: holding, address: 10, type: float32, order: ABCD, unit: W}
          - {name: energy, table: holding, address: 12, type: uint32, order: CDAB, unit: Wh}
          - {name: ambient_temp, table: input, address: 0, type: int16, scale: 0.1, unit: degC}
)");
  gw.start();
  // The simulator's boiler heats up over time: two distinct plausible temperatures arrive.
  std::set<double> temps;
  ASSERT_TRUE(collector.wait_for(
      [&](const auto& all) {
        temps.clear();
        for (const auto& m : all) {
          if (!m.topic.ends_with("/telemetry")) continue;
          const auto j = json::parse(m.payload);  // named: a range-for over a member of a
          for (const auto& r : j.at("readings"))   // temporary would dangle before C++23 P2718
            if (r.at("name") == "boiler_temp" && r.at("quality") == "good")
              temps.insert(r.at("value").template get<double>());
        }
        return temps.size() >= 2;
      },
      30s))
      << collector.messages().size() << " messages received\n" << gw.log();
  for (double t : temps) {
    EXPECT_GT(t, 0.0);
    EXPECT_LT(t, 150.0);
  }
  const auto ambient = latest(collector.messages(), "espresso-1", "ambient_temp");
  ASSERT_TRUE(ambient);
  EXPECT_GT(ambient->at("value").get<double>(), -20.0);
  EXPECT_LT(ambient->at("value").get<double>(), 50.0);
}

}  // namespace
}  // namespace guardian::testing

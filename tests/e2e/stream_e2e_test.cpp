// The serial espresso machine end to end: guardian-sim prints its line protocol on one end of a
// pty pair, the real guardian binary reads the other end with the demo's `espresso-serial`
// adapter, and a subscriber receives status telemetry, one `records` message per shot and one
// `traces` message per shot (the demo's capture: samples on a grid, the shot record as summary),
// valid against the published schema; pulling the "cable" turns the points comm_fail on the wire.
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/serial_pair.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

/// The demo's serial adapter and its trace capture, exactly as config/examples/guardian.yaml
/// writes them (the adapter is the file's last one, the traces follow it), on `port`.
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
  // A technician follows the machine's state and its shot records live.
  Process tail({{binary_path("guardian").string(), "tail", "--socket", gw.socket_path().string(),
                 "--source", "espresso-2", "--point", "state", "--point", "shot"},
                {},
                dir / "tail.log",
                {}});

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
  // … which guardian tail showed as it happened, and nothing it was not asked for.
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto text = tail.log();
        return text.find("  espresso-2  state  brewing") != std::string::npos &&
               text.find("  espresso-2  record shot:  shot=") != std::string::npos;
      },
      20s))
      << tail.log();
  EXPECT_EQ(tail.log().find("boiler_temp"), std::string::npos) << tail.log();
  EXPECT_NE(tail.log().find("duration=" ), std::string::npos) << tail.log();

  // The shot's trace: pressure, flow and temperature between the state's change to brewing and
  // its change back, the shot record as its summary.
  ASSERT_TRUE(
      collector.wait_for([](const auto& all) { return !on_topic(all, "/traces").empty(); }, 30s))
      << gw.log() << sim.log();
  const json trace = json::parse(on_topic(collector.messages(), "/traces").front().payload);
  EXPECT_EQ(trace.at("source"), "espresso-2");
  EXPECT_EQ(trace.at("type"), "shot");
  EXPECT_EQ(trace.at("end_reason"), "condition");
  EXPECT_EQ(trace.at("interval_ms"), 100);
  EXPECT_EQ(trace.at("chunks"), 1);
  ASSERT_EQ(trace.at("points").size(), 3u);
  EXPECT_EQ(trace.at("points").at(0).at("name"), "shot_pressure");
  EXPECT_EQ(trace.at("points").at(0).at("unit"), "bar");
  const auto& pressure = trace.at("points").at(0).at("values");
  EXPECT_GE(pressure.size(), 3u) << trace.dump();
  EXPECT_EQ(trace.at("samples"), pressure.size());
  double peak = 0;
  for (const auto& v : pressure)
    if (v.is_number()) peak = std::max(peak, v.get<double>());
  EXPECT_GT(peak, 5.0) << "a shot is brewed at ~9 bar: " << trace.dump();
  ASSERT_EQ(trace.at("summary").size(), 12u) << trace.dump();
  EXPECT_EQ(trace.at("summary").at(0).at("name"), "shot");
  // telemetry: none — the trace points are not telemetry.
  for (const auto& m : on_topic(collector.messages(), "/telemetry"))
    EXPECT_EQ(m.payload.find("shot_pressure"), std::string::npos) << m.payload;

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
  // The daemon stopped: tail says so and ends.
  const auto tail_exit = tail.wait_for_exit(10s);
  ASSERT_TRUE(tail_exit) << tail.log();
  EXPECT_EQ(*tail_exit, 0) << tail.log();
  EXPECT_NE(tail.log().find("guardian tail: the daemon stopped"), std::string::npos) << tail.log();
  const auto validation = validate_against_schema(collector.messages(), dir);
  EXPECT_EQ(validation.exit_code, 0) << validation.output;
  EXPECT_NE(validation.output.find("records="), std::string::npos) << validation.output;
  EXPECT_NE(validation.output.find("traces="), std::string::npos) << validation.output;
  bool found = false;
  for (const auto& a : status.at("adapters"))
    if (a.at("name") == "espresso-serial") {
      found = true;
      EXPECT_EQ(a.at("type"), "serial/lines");
      EXPECT_GE(a.at("sources").at(0).at("counters").at("messages").get<int>(), 10);
    }
  EXPECT_TRUE(found) << status.dump();
}

// A shot as a device pushes it — its state, then three values every 100 ms, then its summary
// record — comes out of `guardian decode` as the very samples sent, from chunks cut below a 1 KiB
// message bound, valid against the published schema.
TEST(StreamE2E, AShotTraceIsDecodedBackToTheSamplesSentFromChunksBelowTheBound) {
  TempDir dir("guardian-e2e-trace");
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "guardian/v1/#");
  SerialPair pty;
  const std::string adapters = "  - name: machine\n"
                               "    type: serial\n"
                               "    source: espresso\n"
                               "    serial: {port: " + pty.gateway_end().string() + ", baud: 9600}\n"
                               "    codec:\n"
                               "      type: lines\n"
                               "      messages:\n"
                               "        - {name: status, regex: 'S=(?<state>\\d)', fields: [{name: state, type: int}]}\n"
                               "        - {name: sample, regex: 'P=(?<p>[0-9.]+),F=(?<f>[0-9.]+),T=(?<t>[0-9.]+)',"
                               " fields: [{name: p, type: float, unit: bar}, {name: f, type: float}, {name: t, type: float}]}\n"
                               "        - {name: done, record: true, regex: 'SHOT=(?<n>\\d+)', fields: [{name: n, type: int}]}\n"
                               "traces:\n"
                               "  - name: shot\n"
                               "    source: espresso\n"
                               "    points: [p, f, t]\n"
                               "    start: {point: state, equals: 3}\n"
                               "    sample_interval: 100ms\n"
                               "    summary_record: done\n"
                               "    telemetry: none\n";
  GatewayProcess gw(dir, "e2e-trace", broker.uri(), adapters, "  max_message_bytes: 1KiB\n");
  gw.start();

  std::ofstream device(pty.device_end(), std::ios::binary);
  ASSERT_TRUE(device) << pty.device_end();
  constexpr std::size_t kSamples = 50;
  std::vector<std::array<std::string, 3>> sent;
  const auto text = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return std::string(buf);
  };
  // The device's own pace: one line every 100 ms on its clock (not a wait for the gateway).
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < kSamples; ++k) {
    const auto x = static_cast<double>(k);
    sent.push_back({text(9 + 0.0137 * static_cast<double>(k % 17)), text(0.25 * x + 0.0001),
                    text(92.5 + 0.0011 * x)});
    std::this_thread::sleep_until(t0 + 100ms * static_cast<int>(k));
    if (k == 0) device << "S=3\r\n";
    device << "P=" << sent[k][0] << ",F=" << sent[k][1] << ",T=" << sent[k][2] << "\r\n" << std::flush;
  }
  std::this_thread::sleep_until(t0 + 100ms * static_cast<int>(kSamples));
  device << "S=2\r\nSHOT=41\r\n" << std::flush;

  // Every chunk of the capture arrives.
  ASSERT_TRUE(collector.wait_for(
      [](const std::vector<ReceivedMessage>& all) {
        const auto chunks = on_topic(all, "/traces");
        return !chunks.empty() &&
               chunks.size() == json::parse(chunks.front().payload).at("chunks").get<std::size_t>();
      },
      30s))
      << gw.log();
  const auto chunks = on_topic(collector.messages(), "/traces");
  EXPECT_GE(chunks.size(), 2u) << "a 1 KiB bound cuts 150 values into chunks";
  std::vector<std::string> argv{binary_path("guardian").string(), "decode"};
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_LE(chunks[i].payload.size(), 1024u);
    const auto file = dir / ("chunk-" + std::to_string(i) + ".json");
    write_file(file, chunks[i].payload);
    argv.push_back(file.string());
  }
  const auto decoded = run_command(argv);
  ASSERT_EQ(decoded.exit_code, 0) << decoded.output;
  const json trace = json::parse(decoded.output);
  EXPECT_EQ(trace.at("type"), "shot");
  EXPECT_EQ(trace.at("source"), "espresso");
  EXPECT_EQ(trace.at("end_reason"), "condition");
  EXPECT_EQ(trace.at("samples"), kSamples);
  ASSERT_EQ(trace.at("points").size(), 3u);
  for (std::size_t p = 0; p < 3; ++p) {
    const auto& values = trace.at("points").at(p).at("values");
    ASSERT_EQ(values.size(), kSamples) << trace.dump();
    for (std::size_t k = 0; k < kSamples; ++k)
      EXPECT_EQ(values.at(k), std::stod(sent[k][p])) << "point " << p << " sample " << k;
  }
  EXPECT_EQ(trace.at("points").at(0).at("unit"), "bar");
  ASSERT_EQ(trace.at("summary").size(), 1u);
  EXPECT_EQ(trace.at("summary").at(0).at("value"), 41);
  for (const auto& m : on_topic(collector.messages(), "/telemetry"))
    EXPECT_EQ(m.payload.find("\"name\":\"p\""), std::string::npos) << m.payload;

  const auto status = gw.status();
  EXPECT_EQ(status.at("traces").at("captured"), 1);
  EXPECT_EQ(status.at("traces").at("missing"), 0);
  EXPECT_EQ(gw.stop(), 0);
  const auto validation = validate_against_schema(collector.messages(), dir);
  EXPECT_EQ(validation.exit_code, 0) << validation.output;
}

}  // namespace
}  // namespace guardian::testing

// The field-technician CLI: config check, status, and the control socket's permissions.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/pymodbus.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;

TEST(CliE2E, ConfigCheckReportsFiveMistakesWithTheirLocations) {
  TempDir dir("guardian-cli");
  const auto file = dir / "broken.yaml";
  write_file(file, R"(device:
  id: "demo 01"
queue:
  comit_window: 10ms
uplink:
  broker: tcp://127.0.0.1:99999
adapters:
  - name: bus
    type: modbus
    host: 127.0.0.1
    devices:
      - name: d1
        unit_id: 300
        points:
          - name: p
            table: holding
            address: 0
            type: float33
)");
  const auto r = run_command({binary_path("guardian").string(), "config", "check", file.string()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  // One located error per mistake, in file order.
  const std::regex located(file.string() + R"(:(\d+):(\d+): error: [^\n]+)");
  std::vector<int> lines;
  for (std::sregex_iterator it(r.output.begin(), r.output.end(), located), end; it != end; ++it) {
    lines.push_back(std::stoi((*it)[1]));
    EXPECT_GT(std::stoi((*it)[2]), 0) << it->str();
  }
  EXPECT_EQ(lines, (std::vector<int>{2, 4, 6, 13, 18})) << r.output;
  EXPECT_NE(r.output.find("commit_window"), std::string::npos) << "did-you-mean missing:\n" << r.output;
  EXPECT_NE(r.output.find("5 errors"), std::string::npos) << r.output;
}

TEST(CliE2E, ConfigCheckAcceptsTheShippedExample) {
  const auto r = run_command({binary_path("guardian").string(), "config", "check",
                              source_path("config/examples/guardian.yaml").string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("OK"), std::string::npos) << r.output;
  // The serial espresso machine's codec comes from a profile, listed like a Modbus one.
  EXPECT_NE(r.output.find("profiles guardian-espresso-serial@1"), std::string::npos) << r.output;
}

TEST(CliE2E, ConfigCheckWarnsOfAnAddressThatLooksLikeModiconNumberingAndSaysOk) {
  TempDir dir("guardian-cli");
  const auto file = dir / "meter.yaml";
  write_file(file, R"(device: {id: meter-gw}
uplink: {broker: tcp://127.0.0.1:1883}
adapters:
  - name: bus
    type: modbus
    host: 127.0.0.1
    devices:
      - name: meter
        points:
          - {name: energy, table: holding, address: 40001, type: uint32}
)");
  const auto r = run_command({binary_path("guardian").string(), "config", "check", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(file.string() + ":10:53: warning: adapters[0].devices[0].points[0].address: "
                          "40001 looks like Modicon numbering"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(": OK — device meter-gw"), std::string::npos) << r.output;
}

TEST(CliE2E, StatusShowsAdaptersValuesQueueAndLinkOverAnOwnerOnlySocket) {
  TempDir dir("guardian-cli");
  MosquittoBroker broker;
  PymodbusServer modbus(nlohmann::json::parse(R"({"units":{"1":{"hr":{"0":4321}}}})"));
  GatewayProcess gw(dir, "status-01", broker.uri(),
                    "  - name: bus\n    type: modbus\n    host: 127.0.0.1\n    port: " +
                        std::to_string(modbus.port()) +
                        "\n    devices:\n      - name: tank-1\n        unit_id: 1\n"
                        "        poll_interval: 100ms\n        points:\n"
                        "          - {name: level, table: holding, address: 0, type: uint16, "
                        "scale: 0.1, unit: cm}\n");
  gw.start();

  struct stat st {};
  ASSERT_EQ(::stat(gw.socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  CommandResult r;
  ASSERT_TRUE(wait_until(
      [&] {
        r = run_command({binary_path("guardian").string(), "status", "-c", gw.config_path().string()});
        return r.exit_code == 0 && r.output.find("432.1") != std::string::npos &&
               r.output.find("connected") != std::string::npos;
      },
      20s))
      << r.output << gw.log();
  for (const char* expected : {"status-01", "tank-1", "level", "cm", "good", "queue:", "bus"})
    EXPECT_NE(r.output.find(expected), std::string::npos) << expected << " in:\n" << r.output;

  const auto js = run_command(
      {binary_path("guardian").string(), "status", "--json", "--socket", gw.socket_path().string()});
  ASSERT_EQ(js.exit_code, 0) << js.output;
  const auto j = nlohmann::json::parse(js.output);
  EXPECT_EQ(j.at("values").at("tank-1").at(0).at("quality"), "good");

  // guardian tail --json: the live readings, each a JSON line with its quality.
  Process tail({{binary_path("guardian").string(), "tail", "--json", "-c",
                 gw.config_path().string(), "--point", "level"},
                {},
                gw.config_path().parent_path() / "tail.log",
                {}});
  std::string first;
  ASSERT_TRUE(wait_until(
      [&] {
        const auto text = tail.log();
        const auto start = text.find("{\"source\"");
        if (start == std::string::npos || text.find('\n', start) == std::string::npos) return false;
        first = text.substr(start, text.find('\n', start) - start);
        return true;
      },
      20s))
      << tail.log();
  const auto live = nlohmann::json::parse(first);
  EXPECT_EQ(live.at("source"), "tank-1");
  EXPECT_EQ(live.at("point"), "level");
  EXPECT_EQ(live.at("value"), 432.1);
  EXPECT_EQ(live.at("unit"), "cm");
  EXPECT_EQ(live.at("quality"), "good");

  EXPECT_EQ(gw.stop(), 0);
  ASSERT_TRUE(tail.wait_for_exit(10s)) << tail.log();
  const auto down = run_command({binary_path("guardian").string(), "status", "--socket",
                                 gw.socket_path().string()});
  EXPECT_EQ(down.exit_code, 3);
  EXPECT_NE(down.output.find("not running"), std::string::npos) << down.output;
  const auto no_tail = run_command({binary_path("guardian").string(), "tail", "--socket",
                                    gw.socket_path().string()});
  EXPECT_EQ(no_tail.exit_code, 3);
  EXPECT_NE(no_tail.output.find("guardian tail: guardian is not running"), std::string::npos)
      << no_tail.output;
}

}  // namespace
}  // namespace guardian::testing

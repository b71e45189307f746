// The test harness itself: real mosquitto and pymodbus processes start, serve and stop by PID.
#include <gtest/gtest.h>
#include <signal.h>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/mqtt_collector.hpp"
#include "guardian/testing/process.hpp"
#include "guardian/testing/pymodbus.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;

TEST(TestSupport, MosquittoDeliversToTheCollectorAndSurvivesARestart) {
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), "t/#");
  auto pub = run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()),
                          "-q", "1", "-t", "t/a", "-m", "hello"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_TRUE(collector.wait_for_count("t/a", 1, 10s));
  EXPECT_EQ(collector.messages_on("t/a").at(0).payload, "hello");

  broker.stop();
  EXPECT_FALSE(broker.running());
  broker.start();
  ASSERT_TRUE(wait_until([&] { return collector.connected(); }, 10s));
  ASSERT_TRUE(wait_until(
      [&] {
        run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-q",
                     "1", "-t", "t/b", "-m", "again"});
        return collector.wait_for_count("t/b", 1, 200ms);
      },
      10s));
}

TEST(TestSupport, PymodbusServesDeclaredRegisters) {
  PymodbusServer server(nlohmann::json::parse(R"({"units":{"3":{"hr":{"10":4242}}}})"));
  EXPECT_TRUE(server.running());
  EXPECT_TRUE(wait_for_tcp_port(server.port(), 1s));
  server.kill();
  EXPECT_FALSE(server.running());
}

TEST(TestSupport, ProcessIsStoppedByPidAndReportsItsExit) {
  Process p({{"sleep", "30"}, {}, {}, {}});
  EXPECT_TRUE(p.running());
  const int status = p.stop(2s);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_FALSE(p.running());
}

TEST(TestSupport, RunCommandCapturesOutputAndExitCode) {
  auto r = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.output.find("out"), std::string::npos);
  EXPECT_NE(r.output.find("err"), std::string::npos);
}

}  // namespace
}  // namespace guardian::testing

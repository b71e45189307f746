// The demo's serial espresso machine end to end: guardian-sim speaking its line protocol on one
// end of a pty pair (and on a TCP port), the adapter of config/examples/guardian.yaml on the
// other. The same codec works over both transports.

#include <gtest/gtest.h>

#include "guardian/adapters/stream/stream_adapter.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"
#include "guardian/testing/serial_pair.hpp"
#include "stream_test_support.hpp"

namespace guardian::adapters::stream {
namespace {

using guardian::testing::binary_path;
using guardian::testing::Process;
using guardian::testing::SerialPair;
using guardian::testing::source_path;
using guardian::testing::TempDir;
using namespace testing;

config::StreamAdapterConfig demo_adapter() {
  const auto loaded = config::load_site_config(source_path("config/examples/guardian.yaml"));
  if (!loaded.ok()) {
    std::string errors;
    for (const auto& e : loaded.errors) errors += e.to_string() + "\n";
    ADD_FAILURE() << "config/examples/guardian.yaml does not load:\n" << errors;
    return {};
  }
  for (const auto& a : loaded.config->adapters)
    if (const auto* s = std::get_if<config::StreamAdapterConfig>(&a);
        s && s->name == "espresso-serial")
      return *s;
  ADD_FAILURE() << "config/examples/guardian.yaml has no adapter 'espresso-serial'";
  return {};
}

std::unique_ptr<Process> start_sim(const TempDir& dir, std::vector<std::string> where) {
  std::vector<std::string> argv{
      binary_path("guardian-sim").string(), "serial", "--speed", "40", "--status-interval", "0.1"};
  argv.insert(argv.end(), where.begin(), where.end());
  auto sim = std::make_unique<Process>(Process::Options{argv, {}, dir / "sim.log", {}});
  EXPECT_TRUE(guardian::testing::wait_until(
      [&] { return sim->log().find("READY") != std::string::npos; }, 10s))
      << sim->log();
  return sim;
}

/// Runs `adapter` until a status batch and a shot record have arrived; checks both.
void expect_status_and_shot(config::StreamAdapterConfig adapter) {
  IoDriver driver;
  Received rx;
  StreamAdapter running(std::move(adapter), driver.io(), rx.reading_sink(), rx.record_sink());
  running.start();
  // At 40× a shot is brewed within ~10 s of simulated heat-up and waiting.
  ASSERT_TRUE(driver.run_until([&] { return !rx.records.empty() && !rx.batches.empty(); }, 30s))
      << rx.batches.size() << " batches, " << rx.records.size() << " records";
  const auto& status = rx.batches.front();
  EXPECT_EQ(status.source, "espresso-2");
  ASSERT_EQ(status.readings.size(), 6u);
  for (const auto& r : status.readings) EXPECT_EQ(r.quality, Quality::good) << r.point << r.error;
  const Record& shot = rx.records.front();
  EXPECT_EQ(shot.type, "shot");
  ASSERT_EQ(shot.fields.size(), 12u);
  for (const auto& f : shot.fields) EXPECT_EQ(f.quality, Quality::good) << f.point << f.error;
  const double duration = std::get<double>(reading(shot.fields, "duration")->value);
  EXPECT_GT(duration, 15.0);
  EXPECT_LT(duration, 40.0);
  const auto h = running.health();
  EXPECT_EQ(source_counter(h, "espresso-2", "bad_checksum"), 0u);
  EXPECT_EQ(source_counter(h, "espresso-2", "unmatched_lines"), 0u);
}

TEST(GuardianSimSerial, TheDemoAdapterDecodesStatusLinesAndShotRecordsFromAPty) {
  SerialPair pty;
  TempDir dir("guardian-sim-serial");
  const auto sim = start_sim(dir, {"--device", pty.device_end().string()});
  auto adapter = demo_adapter();
  ASSERT_FALSE(adapter.name.empty());
  adapter.serial.port = pty.gateway_end().string();
  expect_status_and_shot(std::move(adapter));
}

TEST(GuardianSimSerial, TheSameCodecDecodesTheSameProtocolOverTcp) {
  TempDir dir("guardian-sim-tcp");
  const auto sim = start_sim(dir, {"--tcp-port", "0"});
  const std::string log = sim->log();
  const auto at = log.find("READY port=");
  ASSERT_NE(at, std::string::npos) << log;
  auto adapter = demo_adapter();
  ASSERT_FALSE(adapter.name.empty());
  adapter.transport = config::StreamTransport::tcp_client;
  adapter.host = "127.0.0.1";
  adapter.port = static_cast<std::uint16_t>(std::stoi(log.substr(at + 11)));
  expect_status_and_shot(std::move(adapter));
}

}  // namespace
}  // namespace guardian::adapters::stream

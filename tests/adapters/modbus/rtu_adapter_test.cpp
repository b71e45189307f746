// The Modbus adapter on RTU: pymodbus serving an RS-485 bus on one end of a socat pty pair, the
// adapter on the other; and RTU frames over TCP to pymodbus's TCP server with the RTU framer (a
// transparent serial server). Several units on one bus with one absent, a slow unit, refused
// addresses, the serial device pulled and plugged back, writes, the inter-frame silence, a CRC
// error, RS-485 mode on a port that cannot do it, and stop() during a request.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "adapter_harness.hpp"
#include "guardian/adapters/modbus/modbus_adapter.hpp"
#include "guardian/adapters/modbus/rtu_frame.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/pymodbus.hpp"
#include "guardian/testing/serial_pair.hpp"

namespace guardian::adapters::modbus {
namespace {

using namespace testing;
using guardian::testing::PymodbusServer;
using guardian::testing::PymodbusTransports;
using guardian::testing::SerialPair;

constexpr auto kHr = RegisterTable::holding_register;

config::ModbusDevice one_point_device(std::string name, int unit_id,
                                      std::chrono::milliseconds poll = 50ms,
                                      std::chrono::milliseconds timeout = 300ms) {
  auto d = device(std::move(name), unit_id, poll, timeout);
  d.points.push_back(point("value", kHr, 0, DataType::uint16));
  return d;
}

// pymodbus on the device end of a serial pair, the adapter on the gateway end.
struct SerialRig : AdapterUnderTest {
  SerialRig(const std::string& spec, std::vector<config::ModbusDevice> devices,
            const std::function<void(config::ModbusAdapterConfig&)>& adjust = {})
      : server(nlohmann::json::parse(spec), PymodbusTransports{false, false, line.device_end()}) {
    start(rtu_connection(line.gateway_end().string()), std::move(devices), adjust);
  }

  SerialPair line;
  PymodbusServer server;
};

TEST(ModbusRtu, ServesSeveralUnitsOnOneBusWhileAnAbsentUnitBacksOff) {
  SerialRig rig(R"({"units": {"1": {"hr": {"0": 11}}, "2": {"hr": {"0": 22}}}})",
                {one_point_device("meter-1", 1), one_point_device("meter-2", 2),
                 one_point_device("absent", 7, 50ms, 500ms)},
                [](auto& c) { c.backoff_min = c.backoff_max = 3000ms; });
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return rec.count("absent", Quality::comm_fail) >= 2; },
                                   30s))
      << rig.server.log();
  EXPECT_EQ(rec.latest("meter-1", "value")->value, Value{std::uint64_t{11}});
  EXPECT_EQ(rec.latest("meter-2", "value")->value, Value{std::uint64_t{22}});
  const auto absent = rec.latest("absent", "value");
  EXPECT_NE(absent->error.find("timeout after 500 ms"), std::string::npos) << absent->error;
  EXPECT_NE(absent->error.find("unit 7 did not answer reading holding register 0"),
            std::string::npos)
      << absent->error;
  // Between the absent unit's two attempts (3 s apart) the others kept their 50 ms rhythm.
  std::size_t first = 0, second = 0, seen = 0;
  for (std::size_t i = 0; i < rec.batches.size() && seen < 2; ++i)
    if (rec.batches[i].source == "absent") (seen++ == 0 ? first : second) = i;
  EXPECT_GE(rec.count("meter-2", Quality::good, first) - rec.count("meter-2", Quality::good, second),
            15U);
  EXPECT_EQ(rig.adapter->health().type, "modbus-rtu");
  EXPECT_EQ(rig.health("absent").state, "comm_fail");
  EXPECT_GE(rig.health("absent").timeouts, 2U);
  EXPECT_EQ(rig.health("meter-1").timeouts, 0U);
  EXPECT_GT(rig.health("meter-1").rtt_ms_avg, 0.0);
}

TEST(ModbusRtu, ASlowUnitIsReadWithinItsTimeoutAndTimesOutBeyondIt) {
  auto patient = one_point_device("patient", 2, 100ms, 2000ms);
  auto hasty = one_point_device("hasty", 3, 100ms, 100ms);
  hasty.retries = 1;
  SerialRig rig(R"({"units": {"2": {"hr": {"0": 5}}, "3": {"hr": {"0": 6}}},
                    "delay_ms": {"2": 300, "3": 300}})",
                {patient, hasty});
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until(
      [&] {
        return rec.count("patient", Quality::good) >= 2 && rec.count("hasty", Quality::comm_fail) >= 1;
      },
      30s))
      << rig.server.log();
  EXPECT_GE(rig.health("patient").rtt_ms_avg, 250.0);
  EXPECT_NE(rec.latest("hasty", "value")->error.find("timeout after 100 ms (2 attempts)"),
            std::string::npos);
}

TEST(ModbusRtu, LearnsTheAddressesAUnitRefusesAndReadsTheRestOverRtu) {
  auto d = device("meter", 1, 50ms);
  d.points.push_back(point("a", kHr, 0, DataType::uint16));
  d.points.push_back(point("b", kHr, 6, DataType::uint16));
  d.points.push_back(point("gone", kHr, 3, DataType::uint16));
  SerialRig rig(R"({"units": {"1": {"hr": {"0": 1, "6": 6}}}, "forbidden": {"1": {"hr": [[3, 3]]}}})",
                {d});
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return !rec.batches.empty(); }, 20s)) << rig.server.log();
  EXPECT_EQ(rec.latest("meter", "a")->value, Value{std::uint64_t{1}});
  EXPECT_EQ(rec.latest("meter", "b")->value, Value{std::uint64_t{6}});
  EXPECT_NE(rec.latest("meter", "gone")->error.find("exception 02 illegal data address"),
            std::string::npos);
  EXPECT_EQ(rig.health("meter").counters.at("refused_ranges"), 1U);
}

TEST(ModbusRtu, ResumesByItselfAfterTheSerialDeviceDisappearsAndComesBack) {
  SerialRig rig(R"({"units": {"1": {"hr": {"0": 1234}}}})", {one_point_device("fridge", 1)});
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return rec.count("fridge", Quality::good) >= 1; }, 20s))
      << rig.server.log();

  // The USB adapter is pulled: the port hangs up and its device node disappears.
  rig.server.kill();
  rig.line.kill();
  const auto outage = rec.batches.size();
  ASSERT_TRUE(rig.driver.run_until(
      [&] {
        const auto r = rec.latest("fridge", "value", outage);
        return r && r->error.find("No such file or directory") != std::string::npos;
      },
      20s))
      << describe(rec.latest("fridge", "value"));
  const auto gone = rec.latest("fridge", "value");
  EXPECT_EQ(gone->quality, Quality::comm_fail);
  EXPECT_NE(gone->error.find("cannot open serial port " + rig.config.serial.port),
            std::string::npos)
      << gone->error;
  EXPECT_EQ(rig.adapter->health().state, "backoff");

  // Plugged back in (a new pty behind the same name) with the device powered again.
  rig.line.start();
  rig.server.start();
  expect_resumes(rig, "fridge", "value", Value{std::uint64_t{1234}});
}

TEST(ModbusRtu, WritesAndReadsBackCoilsScaledAndWordSwappedValues) {
  auto d = device("espresso-1", 1, 100ms);
  auto standby = point("standby", RegisterTable::coil, 3, DataType::boolean);
  auto setpoint = point("boiler_setpoint", kHr, 14, DataType::uint16);
  setpoint.scale = 0.1;
  auto target = point("steam_target", kHr, 20, DataType::float32, WordOrder::CDAB);
  for (auto* p : {&standby, &setpoint, &target}) {
    p->writable = true;
    p->readback = true;
    d.points.push_back(*p);
  }
  SerialRig rig(R"({"units": {"1": {"hr": {"14": 900}}}})", {d});
  for (const auto& [name, value] : std::vector<std::pair<std::string, Value>>{
           {"standby", Value{true}}, {"boiler_setpoint", Value{93.5}}, {"steam_target", Value{1.5}}}) {
    const auto done =
        write_and_wait(rig.driver, *rig.adapter, WriteCommand{name, "espresso-1", name, value, false});
    ASSERT_TRUE(done.has_value()) << name;
    EXPECT_TRUE(done->ok) << name << ": " << done->error;
    EXPECT_EQ(done->readback, value) << name;
  }
  const auto from = rig.rec.batches.size() + 1;
  ASSERT_TRUE(rig.driver.run_until([&] { return rig.rec.batches.size() > from; }, 10s));
  EXPECT_EQ(rig.rec.latest("espresso-1", "boiler_setpoint", from)->value, Value{93.5});
}

TEST(ModbusRtu, KeepsThreeAndAHalfCharactersOfSilenceBetweenFrames) {
  // At 1200 baud 8N1 the silence is 3.5 × 10 / 1200 s ≈ 29 ms, so a unit polled as fast as it
  // answers gets at most ~34 requests a second. A pty ignores the baud rate and answers in about
  // a millisecond: without the silence the same poll runs hundreds of times a second.
  SerialRig rig(R"({"units": {"1": {"hr": {"0": 1}}}})", {one_point_device("fast", 1, 0ms)},
                [](auto& c) { c.serial.baud = 1200; });
  ASSERT_TRUE(rig.driver.run_until([&] { return rig.health("fast").polls >= 3; }, 20s));
  const auto start = std::chrono::steady_clock::now();
  const auto polls = rig.health("fast").polls;
  rig.driver.run_until([] { return false; }, 1000ms);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = static_cast<double>(rig.health("fast").polls - polls) / seconds;
  EXPECT_LE(rate, 36.0);
  EXPECT_GE(rate, 5.0);
}

TEST(ModbusRtu, Rs485ModeOnAPortThatCannotDoItIsAWarningNotAFailure) {
  SerialRig rig(R"({"units": {"1": {"hr": {"0": 3}}}})", {one_point_device("meter", 1)},
                [](auto& c) { c.serial.rs485 = true; });
  ASSERT_TRUE(rig.driver.run_until([&] { return rig.rec.count("meter", Quality::good) >= 1; }, 20s));
  const auto h = rig.adapter->health();
  ASSERT_EQ(h.warnings.size(), 1U);
  EXPECT_NE(h.warnings[0].find("serial.rs485 is set but " + rig.config.serial.port +
                               " cannot switch to RS-485 mode (Inappropriate ioctl for device)"),
            std::string::npos)
      << h.warnings[0];
}

TEST(ModbusRtu, StopInterruptsASerialRequestInFlightPromptly) {
  SerialRig rig(R"({"units": {"1": {"hr": {"0": 5}}}, "delay_ms": {"1": 3000}})",
                {one_point_device("slow", 1, 100ms, 10000ms)});
  expect_stops_promptly(rig, "slow");
}

// A device on a noisy line: the first answer to each request arrives with one bit flipped.
// pymodbus cannot send a corrupted frame, so this peer is a few lines of RTU on the pty itself.
TEST(ModbusRtu, CountsACrcErrorAndAsksAgainAtOnce) {
  SerialPair line;
  const int fd = ::open(line.device_end().c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  termios tio{};
  ::tcgetattr(fd, &tio);
  ::cfmakeraw(&tio);
  ::tcsetattr(fd, TCSANOW, &tio);
  std::atomic<bool> done{false};
  std::atomic<int> answered{0};
  std::thread noisy([&] {
    std::array<std::uint8_t, 8> request{};
    while (!done) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      std::size_t got = 0;
      while (got < request.size()) {
        const auto n = ::read(fd, request.data() + got, request.size() - got);
        if (n <= 0) return;
        got += static_cast<std::size_t>(n);
      }
      // unit 1, FC03, 2 bytes: 0x0102, CRC; every other answer corrupted.
      std::vector<std::uint8_t> answer{1, 3, 2, 0x01, 0x02};
      const auto crc = rtu::crc16(answer);
      answer.push_back(static_cast<std::uint8_t>(crc & 0xFF));
      answer.push_back(static_cast<std::uint8_t>(crc >> 8));
      if (answered++ % 2 == 0) answer[4] ^= 0x40;
      [[maybe_unused]] const auto n = ::write(fd, answer.data(), answer.size());
    }
  });
  IoDriver driver;
  BatchRecorder rec;
  auto config = rtu_connection(line.gateway_end().string());
  config.devices = {one_point_device("meter", 1, 100ms)};
  {
    ModbusAdapter adapter(config, driver.io(), rec.sink());
    adapter.start();
    EXPECT_TRUE(driver.run_until([&] { return rec.count("meter", Quality::good) >= 2; }, 20s));
    EXPECT_EQ(rec.latest("meter", "value")->value, Value{std::uint64_t{0x0102}});
    const auto h = source_health(adapter, "meter");
    EXPECT_GE(h.counters.at("crc_errors"), 2U);
    EXPECT_EQ(h.timeouts, 0U);
    EXPECT_EQ(rec.count("meter", Quality::comm_fail), 0U);
  }
  done = true;
  noisy.join();
  ::close(fd);
}

// RTU frames over TCP: pymodbus's TCP server with the RTU framer plays the serial server.
TEST(ModbusRtuOverTcp, ReadsWritesAndResumesAfterTheServerRestarts) {
  PymodbusServer server(nlohmann::json::parse(R"({"units": {"1": {"hr": {"0": 4321}}, "2": {}}})"),
                        PymodbusTransports{true, true, {}});
  IoDriver driver;
  BatchRecorder rec;
  auto config = rtu_over_tcp_connection(server.port());
  auto machine = one_point_device("machine", 2, 100ms);
  machine.points[0].writable = true;
  machine.points[0].readback = true;
  config.devices = {one_point_device("meter", 1, 100ms), machine};
  ModbusAdapter adapter(config, driver.io(), rec.sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return rec.count("meter", Quality::good) >= 1; }, 20s))
      << server.log();
  EXPECT_EQ(rec.latest("meter", "value")->value, Value{std::uint64_t{4321}});
  EXPECT_EQ(adapter.health().type, "modbus-rtu-over-tcp");
  const auto written = write_and_wait(
      driver, adapter, WriteCommand{"w", "machine", "value", Value{std::int64_t{77}}, false});
  ASSERT_TRUE(written.has_value());
  EXPECT_TRUE(written->ok) << written->error;
  EXPECT_EQ(written->readback, Value{std::uint64_t{77}});

  server.kill();
  const auto outage = rec.batches.size();
  ASSERT_TRUE(
      driver.run_until([&] { return rec.count("meter", Quality::comm_fail, outage) >= 1; }, 20s));
  server.start();
  const auto back = rec.batches.size();
  ASSERT_TRUE(driver.run_until([&] { return rec.count("meter", Quality::good, back) >= 2; }, 30s))
      << describe(rec.latest("meter", "value"));
}

}  // namespace
}  // namespace guardian::adapters::modbus

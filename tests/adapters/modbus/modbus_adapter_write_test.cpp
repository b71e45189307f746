// Writes through the adapter against pymodbus over Modbus TCP: coils, 16-bit, scaled, enum,
// float32 with a word order and a bit in a register, each read back and seen by the next poll;
// refusals before the bus (not writable, out of limits, unknown point) and by the device
// (exception), and FC16 forced for a device without FC06.
#include <gtest/gtest.h>

#include <array>
#include <memory>

#include <nlohmann/json.hpp>

#include "adapter_harness.hpp"
#include "guardian/adapters/modbus/modbus_adapter.hpp"
#include "guardian/adapters/modbus/modbus_client.hpp"
#include "guardian/testing/pymodbus.hpp"

namespace guardian::adapters::modbus {
namespace {

using namespace testing;
using guardian::testing::PymodbusServer;

constexpr auto kHr = RegisterTable::holding_register;

config::ModbusPoint writable(config::ModbusPoint p, bool readback = true) {
  p.writable = true;
  p.readback = readback;
  return p;
}

// The espresso machine's writable points on unit 1.
config::ModbusDevice machine() {
  auto d = device("espresso-1", 1, 100ms);
  d.points.push_back(writable(point("standby", RegisterTable::coil, 3, DataType::boolean)));
  d.points.push_back(writable(point("offset", kHr, 10, DataType::int16)));
  auto setpoint = writable(point("boiler_setpoint", kHr, 14, DataType::uint16));
  setpoint.scale = 0.1;
  setpoint.write_min = 80.0;
  setpoint.write_max = 96.0;
  d.points.push_back(setpoint);
  d.points.push_back(
      writable(point("steam_target", kHr, 20, DataType::float32, WordOrder::CDAB)));
  auto mode = writable(point("mode", kHr, 31, DataType::uint16));
  mode.enum_map = {{0, "off"}, {1, "eco"}, {2, "on"}};
  d.points.push_back(mode);
  auto flag = writable(point("descale_flag", kHr, 32, DataType::bit));
  flag.bit = 3;
  d.points.push_back(flag);
  d.points.push_back(writable(point("locked", kHr, 40, DataType::uint16)));
  d.points.push_back(point("serial_no", kHr, 50, DataType::uint16));  // read-only
  return d;
}

constexpr const char* kMachineSpec = R"({
  "units": {"1": {"hr": {"14": 900, "32": 240, "50": 4711}, "co": {"3": 0}}},
  "forbidden": {"1": {"hr": [[40, 40]]}}})";

struct WriteRig : AdapterUnderTest {
  explicit WriteRig(const char* spec, config::ModbusDevice d = machine())
      : server(nlohmann::json::parse(spec)) {
    start(tcp_connection(server.port()), {std::move(d)});
  }
  std::optional<WriteResult> write(const std::string& point, Value value) {
    return write_and_wait(driver, *adapter,
                          WriteCommand{"cmd-" + point, config.devices[0].name, point,
                                       std::move(value), false});
  }
  // The registers as an independent client sees them.
  std::array<std::uint16_t, 2> registers(std::uint16_t address) {
    std::array<std::uint16_t, 2> out{};
    auto client = ModbusClient::open(
        parse_endpoint("tcp://127.0.0.1:" + std::to_string(server.port())).value(), 2s);
    EXPECT_TRUE(client) << client.error().message;
    auto done = client.value()->transact({1, FunctionCode::read_holding_registers, address, 2, {}, {}},
                                         {out, {}}, 1s);
    EXPECT_TRUE(done) << done.error().message;
    return out;
  }
  // Waits for a poll that started after now and returns the point's reading from it.
  std::optional<Reading> next_poll(const std::string& point) {
    const auto from = rec.batches.size() + 1;  // the poll in flight may predate the write
    driver.run_until([&] { return rec.batches.size() > from; }, 10s);
    return rec.latest(config.devices[0].name, point, from);
  }

  PymodbusServer server;
};

TEST(ModbusAdapterWrites, WritesEachKindOfPointReadsItBackAndTheNextPollSeesIt) {
  WriteRig rig(kMachineSpec);
  struct Case {
    std::string point;
    Value value;
  };
  const std::vector<Case> cases{{"standby", Value{true}},
                                {"offset", Value{std::int64_t{-5}}},
                                {"boiler_setpoint", Value{92.5}},
                                {"steam_target", Value{1.25}},
                                {"mode", Value{std::string("eco")}},
                                {"descale_flag", Value{true}}};
  for (const auto& c : cases) {
    const auto result = rig.write(c.point, c.value);
    ASSERT_TRUE(result.has_value()) << c.point;
    EXPECT_TRUE(result->ok) << c.point << ": " << result->error;
    EXPECT_EQ(result->id, "cmd-" + c.point);
    EXPECT_EQ(result->source, "espresso-1");
    EXPECT_EQ(result->readback, c.value) << c.point;
    const auto polled = rig.next_poll(c.point);
    ASSERT_TRUE(polled.has_value()) << c.point;
    EXPECT_EQ(polled->value, c.value) << c.point;
  }
  // The raw registers, as pymodbus holds them: scaled, word-swapped, bit set among the others.
  EXPECT_EQ(rig.registers(14)[0], 925);
  EXPECT_EQ(rig.registers(20), (std::array<std::uint16_t, 2>{0x0000, 0x3FA0}));  // 1.25f CDAB
  EXPECT_EQ(rig.registers(31)[0], 1);
  EXPECT_EQ(rig.registers(32)[0], 248);  // 240 | 1 << 3
  const auto h = source_health(*rig.adapter, "espresso-1");
  EXPECT_EQ(h.counters.at("writes"), cases.size());
  EXPECT_EQ(h.counters.count("write_failures"), 0U);
}

TEST(ModbusAdapterWrites, RefusesBeforeTheBusWhatTheConfigurationDoesNotAllow) {
  WriteRig rig(kMachineSpec);
  const auto not_writable = rig.write("serial_no", Value{std::int64_t{1}});
  ASSERT_TRUE(not_writable.has_value());
  EXPECT_FALSE(not_writable->ok);
  EXPECT_EQ(not_writable->error,
            "point 'serial_no' of 'espresso-1' is not writable: declare it with 'writable: true' "
            "in the configuration");
  const auto too_hot = rig.write("boiler_setpoint", Value{120.0});
  EXPECT_FALSE(too_hot->ok);
  EXPECT_NE(too_hot->error.find("outside the allowed range 80 to 96"), std::string::npos)
      << too_hot->error;
  const auto unknown = rig.write("nope", Value{true});
  EXPECT_EQ(unknown->error, "source 'espresso-1' has no point 'nope'");
  const auto wrong_kind = rig.write("mode", Value{std::string("turbo")});
  EXPECT_NE(wrong_kind->error.find("'turbo' is not a label of enum_map"), std::string::npos);
  const auto other_source = write_and_wait(rig.driver, *rig.adapter,
                                           WriteCommand{"x", "fridge-9", "t", Value{1.0}, false});
  EXPECT_EQ(other_source->error, "no source 'fridge-9' on Modbus adapter 'plc'");
  EXPECT_EQ(rig.registers(14)[0], 900);  // nothing reached the device
}

TEST(ModbusAdapterWrites, ReportsTheExceptionADeviceRefusesAWriteWith) {
  WriteRig rig(kMachineSpec);
  const auto refused = rig.write("locked", Value{std::int64_t{1}});
  ASSERT_TRUE(refused.has_value());
  EXPECT_FALSE(refused->ok);
  EXPECT_EQ(refused->error,
            "exception 02 illegal data address: unit 1 refused writing holding register 40 (point "
            "'locked') with FC06 write single register");
  EXPECT_EQ(source_health(*rig.adapter, "espresso-1").counters.at("write_failures"), 1U);
}

TEST(ModbusAdapterWrites, ForcesWriteMultipleRegistersForADeviceWithoutFc06) {
  constexpr const char* kNoFc06 = R"({"units": {"1": {"hr": {"14": 900}}}, "no_functions": [6]})";
  {
    WriteRig rig(kNoFc06);
    const auto refused = rig.write("boiler_setpoint", Value{91.0});
    EXPECT_FALSE(refused->ok);
    EXPECT_NE(refused->error.find("exception 01 illegal function: unit 1 refused writing holding "
                                  "register 14 (point 'boiler_setpoint') with FC06 write single "
                                  "register; if the device only takes FC15/FC16, set "
                                  "write_multiple: true"),
              std::string::npos)
        << refused->error;
  }
  auto d = machine();
  d.write_multiple = true;
  WriteRig rig(kNoFc06, d);
  const auto done = rig.write("boiler_setpoint", Value{91.0});
  EXPECT_TRUE(done->ok) << done->error;
  EXPECT_EQ(rig.registers(14)[0], 910);
}

TEST(ModbusAdapterWrites, AWriteDoesNotWaitForTheNextPoll) {
  // Polled once a minute: the write goes out at once, ahead of the schedule.
  auto d = machine();
  d.poll_interval = 60s;
  WriteRig rig(kMachineSpec, d);
  ASSERT_TRUE(rig.driver.run_until([&] { return !rig.rec.batches.empty(); }, 20s));
  const auto start = std::chrono::steady_clock::now();
  const auto done = rig.write("offset", Value{std::int64_t{3}});
  EXPECT_TRUE(done->ok) << done->error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace guardian::adapters::modbus

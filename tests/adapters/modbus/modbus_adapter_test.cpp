// The Modbus adapter against pymodbus (an independent Modbus TCP implementation) over real TCP:
// decoding of every type and order, dead and slow units, exception responses, a server restart,
// pacing, and stop().
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "adapter_harness.hpp"
#include "guardian/adapters/modbus/modbus_adapter.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/pymodbus.hpp"

namespace guardian::adapters::modbus {
namespace {

using namespace testing;  // the harness, with the config vocabulary it re-exports
using guardian::testing::PymodbusServer;
using guardian::testing::wait_until;

constexpr auto kHr = RegisterTable::holding_register;

// A pymodbus server serving `spec` and a started adapter polling `devices` on it.
struct Rig : AdapterUnderTest {
  Rig(const std::string& spec, std::vector<config::ModbusDevice> devices,
      const std::function<void(config::ModbusAdapterConfig&)>& adjust = {})
      : server(nlohmann::json::parse(spec)) {
    start(tcp_connection(server.port()), std::move(devices), adjust);
  }

  PymodbusServer server;
};

// A device with one uint16 point "value" at holding register 0.
config::ModbusDevice one_point_device(std::string name, int unit_id, std::chrono::milliseconds poll,
                                      std::chrono::milliseconds timeout = 500ms) {
  auto d = device(std::move(name), unit_id, poll, timeout);
  d.points.push_back(point("value", kHr, 0, DataType::uint16));
  return d;
}

// 123.456f = 0x42F6E979, 1234.5678 = 0x40934A456D5CFAAD, written in each order.
constexpr const char* kEveryTypeSpec = R"({
  "units": {"1": {
    "hr": {"0": 17142, "1": 59769,
           "2": 59769, "3": 17142,
           "4": 63042, "5": 31209,
           "6": 31209, "7": 63042,
           "8": 16531, "9": 19013, "10": 27996, "11": 64173,
           "12": 64173, "13": 27996, "14": 19013, "15": 16531,
           "16": 37696, "17": 17738, "18": 23661, "19": 44538,
           "20": 44538, "21": 23661, "22": 17738, "23": 37696,
           "24": 65413, "25": 900, "26": 65534, "27": 7616,
           "28": 4464, "29": 1,
           "30": 13819, "31": 1166, "32": 57598, "33": 65535,
           "34": 513, "35": 1027, "36": 1541, "37": 2055,
           "38": 8, "39": 3, "40": 18259, "41": 13056, "42": 0},
    "ir": {"0": 225},
    "co": {"0": 1, "1": 0},
    "di": {"0": 1}}}})";

config::ModbusDevice every_type_device() {
  auto d = device("espresso-1", 1, 60s);
  auto& p = d.points;
  p.push_back(point("f32_abcd", kHr, 0, DataType::float32, WordOrder::ABCD, "degC"));
  p.push_back(point("f32_cdab", kHr, 2, DataType::float32, WordOrder::CDAB));
  p.push_back(point("f32_badc", kHr, 4, DataType::float32, WordOrder::BADC));
  p.push_back(point("f32_dcba", kHr, 6, DataType::float32, WordOrder::DCBA));
  p.push_back(point("f64_abcd", kHr, 8, DataType::float64, WordOrder::ABCD));
  p.push_back(point("f64_cdab", kHr, 12, DataType::float64, WordOrder::CDAB));
  p.push_back(point("f64_badc", kHr, 16, DataType::float64, WordOrder::BADC));
  p.push_back(point("f64_dcba", kHr, 20, DataType::float64, WordOrder::DCBA));
  p.push_back(point("i16", kHr, 24, DataType::int16));
  auto pump = point("pump_pressure", kHr, 25, DataType::uint16, WordOrder::ABCD, "bar");
  pump.scale = 0.01;
  p.push_back(pump);
  p.push_back(point("i32", kHr, 26, DataType::int32));
  p.push_back(point("u32_cdab", kHr, 28, DataType::uint32, WordOrder::CDAB));
  p.push_back(point("i64_dcba", kHr, 30, DataType::int64, WordOrder::DCBA));
  p.push_back(point("u64_badc", kHr, 34, DataType::uint64, WordOrder::BADC));
  auto bit = point("bit3", kHr, 38, DataType::bit);
  bit.bit = 3;
  p.push_back(bit);
  p.push_back(point("nonzero", kHr, 38, DataType::boolean));
  auto state = point("state", kHr, 39, DataType::uint16);
  state.enum_map = {{0, "idle"}, {3, "brewing"}};
  p.push_back(state);
  auto model = point("model", kHr, 40, DataType::string);
  model.length = 3;
  p.push_back(model);
  auto ambient = point("ambient_temp", RegisterTable::input_register, 0, DataType::int16,
                       WordOrder::ABCD, "degC");
  ambient.scale = 0.1;
  p.push_back(ambient);
  p.push_back(point("heater_on", RegisterTable::coil, 0, DataType::boolean));
  p.push_back(point("pump_on", RegisterTable::coil, 1, DataType::boolean));
  p.push_back(point("water_low", RegisterTable::discrete_input, 0, DataType::boolean));
  return d;
}

TEST(ModbusAdapter, DecodesEveryTypeAndWordOrderFromARealServer) {
  const auto before = now_ms();
  Rig rig(kEveryTypeSpec, {every_type_device()});
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return !rec.batches.empty(); }, 20s)) << rig.server.log();

  const auto& batch = rec.batches.front();
  EXPECT_EQ(batch.source, "espresso-1");
  ASSERT_EQ(batch.readings.size(), rig.config.devices[0].points.size());
  for (const auto& r : batch.readings) {
    EXPECT_EQ(r.quality, Quality::good) << r.point << ": " << r.error;
    EXPECT_EQ(r.source, "espresso-1");
    EXPECT_GE(r.source_ts, before);
    EXPECT_LE(r.source_ts, now_ms());
  }
  const auto value = [&](const std::string& name) { return rec.latest("espresso-1", name)->value; };
  const Value f32{123.456};  // the float32 published as its shortest decimal
  EXPECT_EQ(value("f32_abcd"), f32);
  EXPECT_EQ(value("f32_cdab"), f32);
  EXPECT_EQ(value("f32_badc"), f32);
  EXPECT_EQ(value("f32_dcba"), f32);
  EXPECT_EQ(rec.latest("espresso-1", "f32_abcd")->unit, "degC");
  for (const auto* name : {"f64_abcd", "f64_cdab", "f64_badc", "f64_dcba"})
    EXPECT_EQ(value(name), Value{1234.5678}) << name;
  EXPECT_EQ(value("i16"), Value{std::int64_t{-123}});
  EXPECT_DOUBLE_EQ(std::get<double>(value("pump_pressure")), 9.0);
  EXPECT_EQ(rec.latest("espresso-1", "pump_pressure")->unit, "bar");
  EXPECT_EQ(value("i32"), Value{std::int64_t{-123456}});
  EXPECT_EQ(value("u32_cdab"), Value{std::uint64_t{70000}});
  EXPECT_EQ(value("i64_dcba"), Value{std::int64_t{-1234567890123}});
  EXPECT_EQ(value("u64_badc"), Value{std::uint64_t{0x0102030405060708}});
  EXPECT_EQ(value("bit3"), Value{true});
  EXPECT_EQ(value("nonzero"), Value{true});
  EXPECT_EQ(value("state"), Value{std::string("brewing")});
  EXPECT_EQ(value("model"), Value{std::string("GS3")});
  EXPECT_DOUBLE_EQ(std::get<double>(value("ambient_temp")), 22.5);
  EXPECT_EQ(value("heater_on"), Value{true});
  EXPECT_EQ(value("pump_on"), Value{false});
  EXPECT_EQ(value("water_low"), Value{true});

  // 43 holding registers, 1 input register, 2 coils, 1 discrete input: one request per table.
  const auto h = rig.health("espresso-1");
  EXPECT_EQ(h.polls, 1U);
  EXPECT_EQ(h.requests, 4U);
  EXPECT_EQ(h.responses, 4U);
  EXPECT_EQ(h.state, "ok");
  EXPECT_GT(h.rtt_ms_last, 0.0);
  EXPECT_GE(h.last_ok, before);
  EXPECT_EQ(rig.adapter->health().state, "running");
  EXPECT_EQ(rig.adapter->health().type, "modbus-tcp");
}

TEST(ModbusAdapter, AnIoContextThatFallsBehindSlowsPollingInsteadOfGrowingMemory) {
  // 100 registers polled as fast as the peer answers, while the io_context (the gateway's
  // pipeline and uplink) does not run at all, as when it is overloaded.
  auto d = device("meter-1", 1, 0ms);
  for (std::uint16_t i = 0; i < 100; ++i)
    d.points.push_back(point("r" + std::to_string(i), kHr, i, DataType::uint16));
  Rig rig(R"({"units": {"1": {"hr": {"0": 1}}}})", {d});
  const auto waits = [&] {
    const auto h = rig.adapter->health();
    const auto it = h.counters.find("delivery_waits");
    return it == h.counters.end() ? std::uint64_t{0} : it->second;
  };
  // The bus worker stops posting and waits: what it has handed over is bounded.
  ASSERT_TRUE(wait_until([&] { return waits() > 0; }, 20s)) << rig.server.log();
  rig.driver.io().poll();
  std::size_t readings = 0;
  for (const auto& b : rig.rec.batches) readings += b.readings.size();
  EXPECT_GT(readings, 0u);
  EXPECT_LE(readings, 2u * 2048u) << "readings queued for the io_context while it was busy";
  // Once the io_context runs again, polling goes on.
  const auto before = rig.rec.batches.size();
  ASSERT_TRUE(rig.driver.run_until([&] { return rig.rec.batches.size() > before + 50; }, 20s));
}

TEST(ModbusAdapter, AnAbsentUnitIsCommFailWhileAnotherUnitKeepsDelivering) {
  auto dead = one_point_device("dead", 7, 50ms, 1000ms);
  dead.points.push_back(point("other", kHr, 1, DataType::uint16));
  // Back-off pinned to 1.5–3 s so that the window between two attempts on the dead unit is known.
  Rig rig(R"({"units": {"1": {"hr": {"0": 42}}}})", {one_point_device("alive", 1, 50ms), dead},
          [](auto& c) { c.backoff_min = c.backoff_max = 3000ms; });
  auto& rec = rig.rec;
  ASSERT_TRUE(
      rig.driver.run_until([&] { return rec.count("dead", Quality::comm_fail) >= 2; }, 30s));
  const auto failure = rec.latest("dead", "other");
  ASSERT_TRUE(failure.has_value());
  EXPECT_TRUE(std::holds_alternative<std::monostate>(failure->value));
  EXPECT_NE(failure->error.find("timeout after 1000 ms"), std::string::npos) << failure->error;
  EXPECT_NE(failure->error.find("unit 7"), std::string::npos) << failure->error;

  // Between the dead unit's first and second attempt the live unit kept its 50 ms rhythm
  // (a scheduler retrying the dead unit at its poll interval would leave it ~1 poll a second).
  std::size_t first = 0, second = 0, seen = 0;
  for (std::size_t i = 0; i < rec.batches.size() && seen < 2; ++i)
    if (rec.batches[i].source == "dead") (seen++ == 0 ? first : second) = i;
  EXPECT_GE(rec.count("alive", Quality::good, first) - rec.count("alive", Quality::good, second),
            10U);
  EXPECT_EQ(rec.latest("alive", "value")->value, Value{std::uint64_t{42}});

  const auto dead_health = rig.health("dead");
  EXPECT_EQ(dead_health.state, "comm_fail");
  EXPECT_GE(dead_health.timeouts, 2U);
  EXPECT_EQ(dead_health.responses, 0U);
  EXPECT_NE(dead_health.last_error.find("timeout after 1000 ms"), std::string::npos);
  const auto alive_health = rig.health("alive");
  EXPECT_EQ(alive_health.state, "ok");
  EXPECT_EQ(alive_health.timeouts, 0U);
}

TEST(ModbusAdapter, AGatewaysTargetDidNotRespondIsCommFailLikeATimeout) {
  // Exception 0B comes from a Modbus TCP-to-RTU gateway whose serial unit did not answer: the
  // unit is down, not refusing an address.
  Rig rig(R"({"units": {"1": {"hr": {"0": 42}}}, "gateway_no_response": [9]})",
          {one_point_device("alive", 1, 50ms), one_point_device("behind", 9, 50ms, 300ms)},
          [](auto& c) { c.backoff_min = c.backoff_max = 3000ms; });
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return rec.count("behind", Quality::comm_fail) >= 1; }, 20s))
      << rig.server.log();
  const auto failure = rec.latest("behind", "value");
  ASSERT_TRUE(failure.has_value());
  EXPECT_NE(failure->error.find("exception 0B"), std::string::npos) << failure->error;
  const auto h = rig.health("behind");
  EXPECT_EQ(h.state, "comm_fail");
  EXPECT_GE(h.counters.at("exception_0B"), 1U);
  EXPECT_GE(h.timeouts, 1U);
  EXPECT_EQ(rig.health("alive").state, "ok");
}

TEST(ModbusAdapter, AnExceptionResponseMarksItsPointsBadAndNamesTheException) {
  auto d = device("meter", 1, 100ms);
  d.points.push_back(point("ok", kHr, 0, DataType::uint16));
  d.points.push_back(point("refused", kHr, 100, DataType::float32));
  // A refused point is asked again every backoff.max (400 ms here), not at every poll.
  Rig rig(R"({"units": {"1": {"hr": {"0": 7}}}, "forbidden": {"1": {"hr": [[100, 109]]}}})", {d});
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return rec.batches.size() >= 2; }, 20s))
      << rig.server.log();

  const auto refused = rec.latest("meter", "refused");
  EXPECT_EQ(refused->quality, Quality::bad);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(refused->value));
  EXPECT_NE(refused->error.find("exception 02 illegal data address"), std::string::npos)
      << refused->error;
  EXPECT_NE(refused->error.find("holding registers 100-101"), std::string::npos) << refused->error;
  const auto ok = rec.latest("meter", "ok");
  EXPECT_EQ(ok->quality, Quality::good);
  EXPECT_EQ(ok->value, Value{std::uint64_t{7}});

  const auto h = rig.health("meter");
  EXPECT_GE(h.counters.at("exception_02"), 1U);
  EXPECT_GE(h.errors, 1U);
  EXPECT_EQ(h.timeouts, 0U);
  EXPECT_EQ(h.state, "ok");  // the unit answers; only some addresses are refused
  EXPECT_GE(h.polls, 2U);

  // Asked again after backoff.max: still refused, still named.
  ASSERT_TRUE(rig.driver.run_until(
      [&] { return rig.health("meter").counters.at("exception_02") >= 2; }, 20s));
  EXPECT_EQ(rec.latest("meter", "refused")->quality, Quality::bad);
}

TEST(ModbusAdapter, LearnsTheAddressesAUnitRefusesInsideACoalescedRequestAndReadsTheRest) {
  // Points at 0, 2, 4-5 and 10 are one request (the holes are within the 8-register gap), but
  // the unit has no registers 6-7; 98 and 100 are one request but 100-101 do not exist.
  auto d = device("meter", 1, 50ms);
  d.points.push_back(point("a", kHr, 0, DataType::uint16));
  d.points.push_back(point("b", kHr, 2, DataType::uint16));
  d.points.push_back(point("c", kHr, 4, DataType::float32));
  d.points.push_back(point("d", kHr, 10, DataType::uint16));
  d.points.push_back(point("e", kHr, 98, DataType::uint16));
  d.points.push_back(point("missing", kHr, 100, DataType::float32));
  Rig rig(R"({"units": {"1": {"hr": {"0": 1, "2": 2, "4": 16968, "5": 0, "10": 10, "98": 98}}},
              "forbidden": {"1": {"hr": [[6, 7], [100, 101]]}}})",
          {d}, [](auto& c) { c.backoff_max = 60s; });
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return !rec.batches.empty(); }, 20s)) << rig.server.log();

  // The very first poll already delivers every readable point.
  const auto& first = rec.batches.front();
  for (const auto& r : first.readings) {
    if (r.point == "missing") continue;
    EXPECT_EQ(r.quality, Quality::good) << r.point << ": " << r.error;
  }
  EXPECT_EQ(rec.latest("meter", "c")->value, Value{50.0});  // 0x42480000
  EXPECT_EQ(rec.latest("meter", "d")->value, Value{std::uint64_t{10}});
  EXPECT_EQ(rec.latest("meter", "e")->value, Value{std::uint64_t{98}});
  const auto missing = rec.latest("meter", "missing");
  EXPECT_EQ(missing->quality, Quality::bad);
  EXPECT_NE(missing->error.find("exception 02 illegal data address: unit 1 refused reading "
                                "holding registers 100-101"),
            std::string::npos)
      << missing->error;

  // From then on three requests per poll (0-5, 10, 98), none of them refused.
  const auto h1 = rig.health("meter");
  EXPECT_GE(h1.counters.at("refused_splits"), 2U);
  EXPECT_EQ(h1.counters.at("refused_ranges"), 2U);  // 6-9 (the hole) and 100-101
  ASSERT_TRUE(
      rig.driver.run_until([&] { return rig.health("meter").polls >= h1.polls + 5; }, 20s));
  const auto h2 = rig.health("meter");
  EXPECT_EQ(h2.counters.at("exception_02"), h1.counters.at("exception_02"));
  const auto polls = h2.polls - h1.polls;
  EXPECT_GE(h2.requests - h1.requests, 3 * polls);
  EXPECT_LE(h2.requests - h1.requests, 3 * polls + 3);  // one poll may be in flight
  EXPECT_EQ(rec.latest("meter", "missing")->quality, Quality::bad);
  EXPECT_EQ(rec.latest("meter", "a")->quality, Quality::good);
}

TEST(ModbusAdapter, APointThatIsAnsweredAgainIsReadWithItsNeighboursAgain) {
  auto d = device("meter", 1, 50ms);
  d.points.push_back(point("a", kHr, 0, DataType::uint16));
  d.points.push_back(point("extra", kHr, 2, DataType::uint16));
  // backoff.max (400 ms here) is how often a refused point is asked again.
  Rig rig(R"({"units": {"1": {"hr": {"0": 1, "2": 2}}}, "forbidden": {"1": {"hr": [[2, 2]]}}})",
          {d});
  ASSERT_TRUE(rig.driver.run_until(
      [&] { return rig.health("meter").counters.contains("refused_ranges"); }, 20s));
  EXPECT_EQ(rig.rec.latest("meter", "extra")->quality, Quality::bad);

  // The device gets the register (a module fitted, new firmware) and comes back.
  rig.server.kill();
  rig.server.set_spec(nlohmann::json::parse(R"({"units": {"1": {"hr": {"0": 1, "2": 2}}}})"));
  rig.server.start();
  ASSERT_TRUE(rig.driver.run_until(
      [&] {
        const auto r = rig.rec.latest("meter", "extra");
        return r && r->quality == Quality::good;
      },
      30s));
  EXPECT_EQ(rig.rec.latest("meter", "extra")->value, Value{std::uint64_t{2}});
  ASSERT_TRUE(rig.driver.run_until(
      [&] { return rig.health("meter").counters.at("refused_ranges") == 0; }, 10s));
  // One request per poll again: 0-2 together.
  const auto h1 = rig.health("meter");
  ASSERT_TRUE(rig.driver.run_until([&] { return rig.health("meter").polls >= h1.polls + 4; }, 20s));
  const auto h2 = rig.health("meter");
  EXPECT_LE(h2.requests - h1.requests, h2.polls - h1.polls + 1);
}

TEST(ModbusAdapter, LearnsThatAUnitRefusesLongRequestsAndReadsInShorterOnes) {
  // 20 contiguous registers are one request, but this unit answers 02 to more than 8 at once.
  auto d = device("plc", 1, 50ms);
  std::string values;
  for (std::uint16_t a = 0; a < 20; ++a) {
    d.points.push_back(point("r" + std::to_string(a), kHr, a, DataType::uint16));
    values += (a == 0 ? "" : ", ") + ("\"" + std::to_string(a) + "\": " + std::to_string(a));
  }
  Rig rig(R"({"units": {"1": {"hr": {)" + values + R"(}}}, "max_count": {"1": 8}})", {d});
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return !rec.batches.empty(); }, 20s)) << rig.server.log();
  for (const auto& r : rec.batches.front().readings)
    EXPECT_EQ(r.quality, Quality::good) << r.point << ": " << r.error;
  EXPECT_EQ(rec.latest("plc", "r19")->value, Value{std::uint64_t{19}});
  const auto h1 = rig.health("plc");
  EXPECT_EQ(h1.counters.at("max_request_learned"), 5U);  // halves of 10 answered: 5 at a time
  ASSERT_TRUE(rig.driver.run_until([&] { return rig.health("plc").polls >= h1.polls + 4; }, 20s));
  const auto h2 = rig.health("plc");
  EXPECT_EQ(h2.counters.at("exception_02"), h1.counters.at("exception_02"));
  EXPECT_LE(h2.requests - h1.requests, 4 * (h2.polls - h1.polls) + 4);
}

TEST(ModbusAdapter, ValuesThatCannotBeDecodedOrReadAreBadWhileTheOthersAreGood) {
  auto d = device("meter", 1, 100ms);
  d.points.push_back(point("nan", kHr, 0, DataType::float32));
  auto state = point("state", kHr, 2, DataType::uint16);
  state.enum_map = {{0, "off"}};
  d.points.push_back(state);
  d.points.push_back(point("fine", kHr, 3, DataType::int16));
  auto huge = point("serial", kHr, 10, DataType::string);
  huge.length = 200;
  d.points.push_back(huge);
  Rig rig(R"({"units": {"1": {"hr": {"0": 32704, "1": 0, "2": 7, "3": 65535}}}})", {d});
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return !rec.batches.empty(); }, 20s)) << rig.server.log();
  const auto nan = rec.latest("meter", "nan");
  EXPECT_EQ(nan->quality, Quality::bad);
  EXPECT_NE(nan->error.find("NaN (raw 0x7FC00000)"), std::string::npos) << nan->error;
  const auto unmapped = rec.latest("meter", "state");
  EXPECT_EQ(unmapped->quality, Quality::bad);
  EXPECT_NE(unmapped->error.find("raw value 7"), std::string::npos) << unmapped->error;
  const auto serial = rec.latest("meter", "serial");
  EXPECT_EQ(serial->quality, Quality::bad);
  EXPECT_NE(serial->error.find("spans 200 registers, one request reads at most 125"),
            std::string::npos)
      << serial->error;
  const auto fine = rec.latest("meter", "fine");
  EXPECT_EQ(fine->quality, Quality::good);
  EXPECT_EQ(fine->value, Value{std::int64_t{-1}});
  const auto h = rig.health("meter");
  EXPECT_GE(h.counters.at("decode_errors"), 2U);
  // One request per poll (the next one may be in flight); the unreadable point asks nothing.
  EXPECT_GE(h.requests, h.polls);
  EXPECT_LE(h.requests, h.polls + 1);
}

TEST(ModbusAdapter, ResumesGoodValuesByItselfAfterTheServerIsKilledAndRestarted) {
  Rig rig(R"({"units": {"1": {"hr": {"0": 1234}}}})",
          {one_point_device("fridge", 1, 100ms, 300ms)});
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return rec.count("fridge", Quality::good) >= 1; }, 20s));

  rig.server.kill();
  const auto outage = rec.batches.size();
  ASSERT_TRUE(rig.driver.run_until(
      [&] { return rec.count("fridge", Quality::comm_fail, outage) >= 2; }, 20s));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(rec.latest("fridge", "value")->value));
  EXPECT_NE(rig.adapter->health().state, "running");
  EXPECT_EQ(rig.health("fridge").state, "connecting");

  rig.server.start();  // same port
  expect_resumes(rig, "fridge", "value", Value{std::uint64_t{1234}});
}

TEST(ModbusAdapter, ABatchIsNotHeldBackWhileAnotherUnitTimesOut) {
  // The live unit is polled first; the dead one then blocks the connection for 5 s. Batches are
  // handed to the io_context in bunches, but never kept waiting behind a request that may be slow.
  const auto start = std::chrono::steady_clock::now();
  Rig rig(R"({"units": {"1": {"hr": {"0": 42}}}})",
          {one_point_device("alive", 1, 10s), one_point_device("dead", 7, 10s, 5000ms)});
  ASSERT_TRUE(
      rig.driver.run_until([&] { return rig.rec.count("alive", Quality::good) >= 1; }, 20s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4000ms);  // includes starting pymodbus
  EXPECT_EQ(rig.rec.count("dead", Quality::comm_fail), 0U);     // still waiting for its answer
}

TEST(ModbusAdapter, ASlowUnitTimesOutWhenItsTimeoutIsShorterThanItsDelay) {
  auto d = one_point_device("slow", 1, 100ms, 100ms);
  d.retries = 1;
  Rig rig(R"({"units": {"1": {"hr": {"0": 5}}}, "delay_ms": {"1": 400}})", {d});
  auto& rec = rig.rec;
  ASSERT_TRUE(
      rig.driver.run_until([&] { return rec.count("slow", Quality::comm_fail) >= 1; }, 20s));
  const auto r = rec.latest("slow", "value");
  EXPECT_NE(r->error.find("timeout after 100 ms"), std::string::npos) << r->error;
  EXPECT_NE(r->error.find("(2 attempts)"), std::string::npos) << r->error;
  const auto h = rig.health("slow");
  EXPECT_GE(h.timeouts, 2U);
  EXPECT_EQ(h.state, "comm_fail");
}

TEST(ModbusAdapter, ASlowUnitIsReadWhenItsTimeoutCoversItsDelay) {
  Rig rig(R"({"units": {"1": {"hr": {"0": 5}}}, "delay_ms": {"1": 300}})",
          {one_point_device("slow", 1, 100ms, 2000ms)});
  auto& rec = rig.rec;
  ASSERT_TRUE(rig.driver.run_until([&] { return rec.count("slow", Quality::good) >= 2; }, 20s))
      << describe(rec.latest("slow", "value"));
  const auto h = rig.health("slow");
  EXPECT_EQ(h.timeouts, 0U);
  EXPECT_GE(h.rtt_ms_last, 250.0);
  EXPECT_GE(h.rtt_ms_avg, 250.0);
}

TEST(ModbusAdapter, PacingKeepsSilentTimeBetweenRequests) {
  auto d = one_point_device("paced", 1, 0ms);
  d.points.push_back(point("far", kHr, 200, DataType::uint16));  // a second request per poll
  Rig rig(R"({"units": {"1": {"hr": {"0": 1}}}})", {d}, [](auto& c) { c.pacing = 100ms; });
  const auto requests = [&] { return rig.health("paced").requests; };
  ASSERT_TRUE(rig.driver.run_until([&] { return requests() >= 2; }, 20s));
  const auto start = std::chrono::steady_clock::now();
  const auto first = requests();
  ASSERT_TRUE(rig.driver.run_until([&] { return requests() >= first + 5; }, 20s));
  // Five more requests need at least four full pacing intervals (unpaced: a few milliseconds).
  EXPECT_GE(std::chrono::steady_clock::now() - start, 400ms);
}

TEST(ModbusAdapter, StopInterruptsARequestInFlightPromptly) {
  Rig rig(R"({"units": {"1": {"hr": {"0": 5}}}, "delay_ms": {"1": 3000}})",
          {one_point_device("slow", 1, 100ms, 10000ms)});
  expect_stops_promptly(rig, "slow");
  rig.adapter->stop();  // idempotent
  rig.driver.run_until([] { return false; }, 50ms);
  EXPECT_TRUE(rig.rec.batches.empty());
}

TEST(ModbusAdapter, NoBatchReachesTheSinkAfterStopReturns) {
  Rig rig(R"({"units": {"1": {"hr": {"0": 5}}}})", {one_point_device("fast", 1, 0ms)});
  // The io_context does not run yet: every batch of these polls is posted and waiting.
  ASSERT_TRUE(wait_until([&] { return rig.health("fast").polls >= 5; }, 20s));
  rig.adapter->stop();
  rig.driver.run_until([] { return false; }, 100ms);
  EXPECT_TRUE(rig.rec.batches.empty())
      << rig.rec.batches.size() << " batches delivered after stop()";
}

TEST(ModbusAdapter, ReportsConnectionFailuresAsCommFailWithThePeer) {
  const auto port = guardian::testing::free_tcp_port();  // nobody listens here
  IoDriver driver;
  BatchRecorder rec;
  auto config = tcp_connection(port);
  config.devices = {one_point_device("nowhere", 1, 100ms)};
  ModbusAdapter adapter(config, driver.io(), rec.sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return rec.count("nowhere", Quality::comm_fail) >= 2; }, 20s));
  const auto r = rec.latest("nowhere", "value");
  EXPECT_NE(r->error.find("cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r->error;
  EXPECT_NE(r->error.find("refused"), std::string::npos) << r->error;
  EXPECT_EQ(adapter.health().state, "backoff");
  EXPECT_EQ(source_health(adapter, "nowhere").state, "connecting");
}

TEST(ModbusAdapter, MakeAdapterBuildsItFromTheSiteConfig) {
  IoDriver driver;
  BatchRecorder rec;
  auto config = tcp_connection(502, "line-1");
  auto adapter = make_adapter(config::AdapterConfig{config}, driver.io(), rec.sink(), {});
  ASSERT_NE(adapter, nullptr);
  EXPECT_EQ(adapter->name(), "line-1");
  EXPECT_EQ(adapter->health().type, "modbus-tcp");
  EXPECT_EQ(adapter->health().state, "stopped");
}

TEST(ModbusAdapter, RefusesAConfigurationItCannotRun) {
  IoDriver driver;
  auto config = tcp_connection(502, "bus");
  config.transport = config::ModbusTransport::rtu;
  config.serial.baud = 14400;
  auto d = device("x", 300);
  d.where = {"/etc/guardian/guardian.yaml", 12, 7};
  config.devices = {d, d};
  try {
    ModbusAdapter adapter(config, driver.io(), {});
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("modbus adapter 'bus'"), std::string::npos) << what;
    EXPECT_NE(what.find("serial.port is empty"), std::string::npos) << what;
    EXPECT_NE(what.find("serial.baud 14400 is not a standard rate"), std::string::npos) << what;
    EXPECT_NE(what.find("/etc/guardian/guardian.yaml:12:7: device 'x': unit_id 300 is outside"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("device 'x': the name is used twice"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace guardian::adapters::modbus

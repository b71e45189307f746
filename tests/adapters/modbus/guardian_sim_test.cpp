// The Modbus adapter against guardian-sim: the espresso register map as docs/simulator.md
// documents it (defined here independently of the simulator's own table), values that are
// plausible and evolve, the gateway exception for unknown units, many clients, clean exit;
// writes that change the machine; the meters and the shipped profiles that read them; RTU on a
// serial device; the bulk model.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "adapter_harness.hpp"
#include "energy_meter_model.hpp"
#include "espresso_model.hpp"
#include "guardian/adapters/modbus/modbus_adapter.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"
#include "guardian/testing/serial_pair.hpp"

namespace guardian::adapters::modbus {
namespace {

using namespace testing;  // the harness, with the config vocabulary it re-exports
using guardian::testing::Process;
using guardian::testing::TempDir;

// guardian-sim on a port of its own choosing (--port 0), read back from its READY line; or,
// with a serial device, `modbus-rtu` on it.
class Simulator {
 public:
  explicit Simulator(std::vector<std::string> extra_args = {}, std::string serial = {}) {
    std::vector<std::string> argv{guardian::testing::binary_path("guardian-sim").string()};
    if (serial.empty())
      argv.insert(argv.end(), {"modbus-tcp", "--port", "0"});
    else
      argv.insert(argv.end(), {"modbus-rtu", "--serial", serial});
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<Process>(Process::Options{argv, {}, dir_ / "sim.log", {}});
    const bool ready = guardian::testing::wait_until(
        [&] { return log().find("READY") != std::string::npos; }, 10s);
    if (!ready) throw std::runtime_error("guardian-sim did not start: " + log());
    const auto text = log();
    if (serial.empty())
      port_ = static_cast<std::uint16_t>(std::stoi(text.substr(text.find("READY port=") + 11)));
  }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string log() const { return process_->log(); }
  [[nodiscard]] Process& process() { return *process_; }

 private:
  TempDir dir_{"guardian-sim-test"};
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

// The espresso map of docs/simulator.md, written out from the document.
config::ModbusDevice espresso(std::string name, int unit_id) {
  constexpr auto hr = RegisterTable::holding_register;
  auto d = device(std::move(name), unit_id, 100ms);
  auto scaled = [](config::ModbusPoint p, double scale) {
    p.scale = scale;
    return p;
  };
  d.points = {
      point("boiler_temp", hr, 0, DataType::float32, WordOrder::ABCD, "degC"),
      point("steam_pressure", hr, 2, DataType::float32, WordOrder::CDAB, "bar"),
      scaled(point("group_head_temp", hr, 4, DataType::int16, WordOrder::ABCD, "degC"), 0.1),
      scaled(point("pump_pressure", hr, 5, DataType::uint16, WordOrder::ABCD, "bar"), 0.01),
      point("shot_count", hr, 6, DataType::uint32, WordOrder::ABCD),
      point("state", hr, 8, DataType::uint16),
      scaled(point("water_flow", hr, 9, DataType::uint16, WordOrder::ABCD, "ml/s"), 0.1),
      point("power", hr, 10, DataType::float32, WordOrder::ABCD, "W"),
      point("energy", hr, 12, DataType::uint32, WordOrder::CDAB, "Wh"),
      scaled(point("ambient_temp", RegisterTable::input_register, 0, DataType::int16,
                   WordOrder::ABCD, "degC"),
             0.1),
      point("heater_on", RegisterTable::coil, 0, DataType::boolean),
      point("pump_on", RegisterTable::coil, 1, DataType::boolean),
      point("water_low", RegisterTable::discrete_input, 0, DataType::boolean),
  };
  d.points[5].enum_map = {{0, "idle"},    {1, "heating"},  {2, "ready"},
                          {3, "brewing"}, {4, "steaming"}, {5, "fault"}};
  return d;
}

double number(const Reading& r) {
  if (const auto* d = std::get_if<double>(&r.value)) return *d;
  if (const auto* u = std::get_if<std::uint64_t>(&r.value)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<std::int64_t>(&r.value)) return static_cast<double>(*i);
  ADD_FAILURE() << r.point << " is not a number";
  return 0.0;
}

TEST(GuardianSim, EspressoValuesArePlausibleAndTheMachineGoesThroughItsCycle) {
  Simulator sim({"--units", "2", "--speed", "20"});
  IoDriver driver;
  BatchRecorder rec;
  auto config = tcp_connection(sim.port(), "espresso-bar");
  config.devices = {espresso("espresso-1", 1), espresso("espresso-2", 2)};
  ModbusAdapter adapter(config, driver.io(), rec.sink());
  adapter.start();

  std::set<std::string> states;
  std::uint64_t first_shots = 0;
  std::uint64_t last_shots = 0;
  bool saw_brewing_pressure = false;
  std::size_t checked = 0;
  const auto scan = [&] {
    for (; checked < rec.batches.size(); ++checked) {
      const auto& b = rec.batches[checked];
      ASSERT_EQ(b.readings.size(), 13U);
      std::map<std::string, const Reading*> by_name;
      for (const auto& r : b.readings) {
        ASSERT_EQ(r.quality, Quality::good) << b.source << "/" << r.point << ": " << r.error;
        by_name[r.point] = &r;
      }
      EXPECT_GE(number(*by_name["boiler_temp"]), 15.0);
      EXPECT_LE(number(*by_name["boiler_temp"]), 100.0);
      EXPECT_GE(number(*by_name["steam_pressure"]), 0.0);
      EXPECT_LE(number(*by_name["steam_pressure"]), 1.6);
      EXPECT_GE(number(*by_name["group_head_temp"]), 15.0);
      EXPECT_LE(number(*by_name["group_head_temp"]), 100.0);
      EXPECT_GE(number(*by_name["pump_pressure"]), 0.0);
      EXPECT_LE(number(*by_name["pump_pressure"]), 10.0);
      EXPECT_LE(number(*by_name["water_flow"]), 3.0);
      EXPECT_GE(number(*by_name["power"]), 0.0);
      EXPECT_LE(number(*by_name["power"]), 1600.0);
      EXPECT_GT(number(*by_name["energy"]), 1000.0);
      EXPECT_GE(number(*by_name["ambient_temp"]), 20.0);
      EXPECT_LE(number(*by_name["ambient_temp"]), 25.0);
      EXPECT_EQ(by_name["ambient_temp"]->unit, "degC");
      EXPECT_TRUE(std::holds_alternative<bool>(by_name["heater_on"]->value));
      if (b.source != "espresso-1") continue;
      const auto& state = std::get<std::string>(by_name["state"]->value);
      states.insert(state);
      if (state == "brewing" && number(*by_name["pump_pressure"]) > 8.0) {
        saw_brewing_pressure = true;
        EXPECT_EQ(by_name["pump_on"]->value, Value{true});
        EXPECT_GT(number(*by_name["water_flow"]), 1.0);
      }
      last_shots = std::get<std::uint64_t>(by_name["shot_count"]->value);
      if (first_shots == 0) first_shots = last_shots;
    }
  };
  // At 20× a machine heats up in ~4 s and then brews a shot every ~2–3 s.
  ASSERT_TRUE(driver.run_until(
      [&] {
        scan();
        return ::testing::Test::HasFatalFailure() ||
               (last_shots >= first_shots + 2 && states.count("heating") == 1 &&
                states.count("ready") == 1 && states.count("brewing") == 1 && saw_brewing_pressure);
      },
      60s))
      << "shots " << first_shots << " -> " << last_shots << ", states seen: " << states.size()
      << ", brewing at pressure: " << saw_brewing_pressure;
  // Machines differ: their counters started at different values.
  EXPECT_NE(rec.latest("espresso-1", "shot_count")->value,
            rec.latest("espresso-2", "shot_count")->value);
}

TEST(GuardianSim, AnswersAnUnknownUnitWithGatewayTargetException) {
  Simulator sim;
  IoDriver driver;
  BatchRecorder rec;
  auto config = tcp_connection(sim.port());
  config.devices = {espresso("ghost", 9)};
  ModbusAdapter adapter(config, driver.io(), rec.sink());
  adapter.start();
  // Like a TCP-to-RTU gateway with nobody at unit 9: the unit is silent, so comm_fail.
  ASSERT_TRUE(driver.run_until([&] { return rec.count("ghost", Quality::comm_fail) >= 1; }, 20s));
  const auto r = rec.latest("ghost", "boiler_temp");
  EXPECT_NE(r->error.find("exception 0B gateway target device failed to respond"),
            std::string::npos)
      << r->error;
  const auto h = source_health(adapter, "ghost");
  EXPECT_EQ(h.state, "comm_fail");
  EXPECT_GE(h.counters.at("exception_0B"), 1U);
}

TEST(GuardianSim, ServesFiftyConnectionsPollingAsFastAsTheyCan) {
  Simulator sim({"--units", "50"});
  IoDriver driver;
  BatchRecorder rec;
  std::vector<std::unique_ptr<ModbusAdapter>> adapters;
  for (int i = 1; i <= 50; ++i) {
    auto config = tcp_connection(sim.port(), "conn-" + std::to_string(i));
    auto d = espresso("espresso-" + std::to_string(i), i);
    d.poll_interval = 0ms;
    config.devices = {d};
    adapters.push_back(std::make_unique<ModbusAdapter>(config, driver.io(), rec.sink()));
    adapters.back()->start();
  }
  const auto all_polled = [&](std::uint64_t n) {
    for (const auto& a : adapters)
      if (a->health().sources.at(0).polls < n) return false;
    return true;
  };
  ASSERT_TRUE(driver.run_until([&] { return all_polled(20); }, 30s));
  for (const auto& a : adapters) EXPECT_EQ(a->health().sources.at(0).timeouts, 0U) << a->name();
  for (const auto& b : rec.batches)
    for (const auto& r : b.readings)
      ASSERT_EQ(r.quality, Quality::good) << b.source << ": " << r.error;
}

TEST(GuardianSim, ExitsCleanlyOnSigterm) {
  Simulator sim;
  const int status = sim.process().stop(5s);
  ASSERT_TRUE(WIFEXITED(status)) << sim.log();
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(sim.log().find("stopped after answering"), std::string::npos) << sim.log();
}

// The shipped profile `name` as the configuration loader resolves it.
config::ModbusDevice from_profile(const std::string& profile, std::string name, int unit_id) {
  const std::string site = "device: {id: gw}\nprofiles_path: [" +
                           guardian::testing::source_path("config/profiles").string() +
                           "]\nadapters:\n  - name: bus\n    type: modbus\n    host: x\n"
                           "    devices:\n      - {name: " +
                           name + ", unit_id: " + std::to_string(unit_id) + ", profile: " +
                           profile + ", poll_interval: 100ms}\n";
  const auto loaded = config::parse_site_config(site, "test.yaml");
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) ADD_FAILURE() << e.to_string();
    return {};
  }
  return std::get<config::ModbusAdapterConfig>(loaded.config->adapters.at(0)).devices.at(0);
}

TEST(GuardianSim, TheShippedProfilesReadExactlyWhatTheSimulatorServes) {
  const std::vector<std::pair<std::string, std::span<const config::ModbusPoint>>> pairs{
      {"guardian-espresso@1", sim::espresso_register_map()},
      {"eastron-sdm120@1", sim::sdm120_register_map()},
      {"eastron-sdm630@1", sim::sdm630_register_map()}};
  for (const auto& [profile, map] : pairs) {
    const auto device = from_profile(profile, "d", 1);
    ASSERT_EQ(device.points.size(), map.size()) << profile;
    for (std::size_t i = 0; i < map.size(); ++i) {
      const auto& p = device.points[i];
      const auto& s = map[i];
      const auto where = profile + " point " + p.name;
      EXPECT_EQ(p.name, s.name) << where;
      EXPECT_EQ(p.table, s.table) << where;
      EXPECT_EQ(p.address, s.address) << where;
      EXPECT_EQ(p.type, s.type) << where;
      EXPECT_EQ(p.order, s.order) << where;
      EXPECT_EQ(p.scale, s.scale) << where;
      EXPECT_EQ(p.unit, s.unit) << where;
      EXPECT_EQ(p.enum_map, s.enum_map) << where;
      EXPECT_EQ(p.writable, s.writable) << where;
      EXPECT_EQ(p.write_min, s.write_min) << where;
      EXPECT_EQ(p.write_max, s.write_max) << where;
    }
  }
}

TEST(GuardianSim, WritesChangeTheEspressoMachineAndOutOfRangeOnesAreRefused) {
  Simulator sim({"--speed", "20"});
  IoDriver driver;
  BatchRecorder rec;
  auto config = tcp_connection(sim.port());
  config.devices = {from_profile("guardian-espresso@1", "espresso-1", 1)};
  config.devices[0].points.push_back(
      [] {
        auto p = point("boiler_temp_raw", RegisterTable::holding_register, 0, DataType::float32);
        p.writable = true;  // the machine itself does not allow it
        return p;
      }());
  ModbusAdapter adapter(config, driver.io(), rec.sink());
  adapter.start();
  const auto write = [&](const std::string& point, Value value) {
    return write_and_wait(driver, adapter, WriteCommand{point, "espresso-1", point, value, false});
  };
  const auto cooler = write("boiler_setpoint", Value{88.5});
  ASSERT_TRUE(cooler.has_value());
  EXPECT_TRUE(cooler->ok) << cooler->error;
  EXPECT_EQ(cooler->readback, Value{88.5});
  // The thermostat follows: at 20x the boiler settles around the new set-point within seconds.
  ASSERT_TRUE(driver.run_until(
      [&] {
        const auto t = rec.latest("espresso-1", "boiler_temp");
        const auto s = rec.latest("espresso-1", "state");
        return t && s && s->value == Value{std::string("ready")} &&
               std::abs(std::get<double>(t->value) - 88.5) < 1.5;
      },
      40s))
      << describe(rec.latest("espresso-1", "boiler_temp"));

  // The machine refuses what its thermostat cannot do (03) and registers that are measurements.
  const auto too_hot = write("boiler_setpoint", Value{99.0});
  ASSERT_TRUE(too_hot.has_value());
  EXPECT_FALSE(too_hot->ok);
  // The profile's own limit (96) refuses it before the bus; without it the device would say 03.
  EXPECT_NE(too_hot->error.find("outside the allowed range 85 to 96"), std::string::npos)
      << too_hot->error;
  const auto measurement = write("boiler_temp_raw", Value{20.0});
  EXPECT_FALSE(measurement->ok);
  EXPECT_NE(measurement->error.find("exception 02 illegal data address"), std::string::npos)
      << measurement->error;

  const auto standby = write("standby", Value{true});
  EXPECT_TRUE(standby->ok) << standby->error;
  ASSERT_TRUE(driver.run_until(
      [&] {
        const auto s = rec.latest("espresso-1", "state");
        return s && s->value == Value{std::string("idle")};
      },
      20s));
}

TEST(GuardianSim, TheSimulatorItselfRefusesASetpointOutsideItsThermostatsRange) {
  Simulator sim;
  IoDriver driver;
  BatchRecorder rec;
  auto config = tcp_connection(sim.port());
  auto d = from_profile("guardian-espresso@1", "espresso-1", 1);
  for (auto& p : d.points) p.write_max.reset();  // a site that left the limit out
  config.devices = {d};
  ModbusAdapter adapter(config, driver.io(), rec.sink());
  adapter.start();
  const auto refused = write_and_wait(
      driver, adapter,
      WriteCommand{"x", "espresso-1", "boiler_setpoint", Value{99.0}, false});
  ASSERT_TRUE(refused.has_value());
  EXPECT_FALSE(refused->ok);
  EXPECT_NE(refused->error.find("exception 03 illegal data value"), std::string::npos)
      << refused->error;
}

TEST(GuardianSim, ServesEspressoAndMeterUnitsOnOneRtuBus) {
  guardian::testing::SerialPair line;
  Simulator sim({"--units", "1,2,3", "--model", "espresso,sdm120,sdm630"},
                line.device_end().string());
  IoDriver driver;
  BatchRecorder rec;
  auto config = rtu_connection(line.gateway_end().string());
  config.devices = {from_profile("guardian-espresso@1", "espresso-1", 1),
                    from_profile("eastron-sdm120", "meter-1", 2),
                    from_profile("eastron-sdm630", "meter-3", 3)};
  ModbusAdapter adapter(config, driver.io(), rec.sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until(
      [&] {
        return rec.count("espresso-1", Quality::good) >= 2 &&
               rec.count("meter-1", Quality::good) >= 2 && rec.count("meter-3", Quality::good) >= 2;
      },
      30s))
      << sim.log() << describe(rec.latest("meter-3", "voltage_l1"));
  const auto volts = number(*rec.latest("meter-1", "voltage"));
  EXPECT_GT(volts, 220.0);
  EXPECT_LT(volts, 240.0);
  EXPECT_NEAR(number(*rec.latest("meter-1", "frequency")), 50.0, 0.1);
  EXPECT_GT(number(*rec.latest("meter-1", "import_active_energy")), 1000.0);
  EXPECT_NEAR(number(*rec.latest("meter-3", "voltage_l1_l2")), 230.0 * std::sqrt(3.0), 10.0);
  // The profile keeps requests within the meter's 60 registers: no exception at all.
  EXPECT_EQ(source_health(adapter, "meter-3").counters.count("exception_02"), 0U);
  EXPECT_EQ(adapter.health().type, "modbus-rtu");
}

TEST(GuardianSim, AMeterWithoutItsProfileTeachesTheAdapterItsRequestLimit) {
  Simulator sim({"--model", "sdm630"});
  IoDriver driver;
  BatchRecorder rec;
  auto config = tcp_connection(sim.port());
  auto d = from_profile("eastron-sdm630", "meter", 1);
  d.coalescing = {};  // as if written by hand: 125 registers per request
  config.devices = {d};
  ModbusAdapter adapter(config, driver.io(), rec.sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return rec.count("meter", Quality::good) >= 3; }, 20s));
  const auto h = source_health(adapter, "meter");
  EXPECT_GE(h.counters.at("exception_02"), 1U);
  EXPECT_LE(h.counters.at("max_request_learned"), 60U);
}

TEST(GuardianSim, TheBulkModelServesManyRegistersThatAllChange) {
  Simulator sim({"--model", "bulk", "--bulk-registers", "500"});
  IoDriver driver;
  BatchRecorder rec;
  auto config = tcp_connection(sim.port());
  auto d = device("bulk", 1, 200ms);
  for (std::uint16_t a = 0; a < 500; a += 7)
    d.points.push_back(point("r" + std::to_string(a), RegisterTable::holding_register, a,
                             DataType::uint16));
  config.devices = {d};
  ModbusAdapter adapter(config, driver.io(), rec.sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return rec.count("bulk", Quality::good) >= 3; }, 20s));
  EXPECT_NE(rec.batches.front().readings[0].value, rec.batches.back().readings[0].value);
  const auto r7 = std::get<std::uint64_t>(rec.latest("bulk", "r7")->value);
  const auto r0 = std::get<std::uint64_t>(rec.latest("bulk", "r0")->value);
  EXPECT_EQ((r0 + 7) % 65536, r7);
}

}  // namespace
}  // namespace guardian::adapters::modbus

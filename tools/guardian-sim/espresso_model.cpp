#include "espresso_model.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace guardian::sim {
namespace {

using config::DataType;
using config::RegisterTable;
using config::WordOrder;

constexpr double kMaxStep = 0.1;         // s of simulated time per integration step
constexpr double kEcoSetpoint = 85.0;    // °C while idle (standby)
constexpr double kHysteresis = 0.5;      // °C either side of the setpoint
constexpr double kHeaterRate = 0.95;     // K/s the 1400 W element adds to the boiler
constexpr double kLossRate = 0.0025;     // 1/s, Newton cooling towards ambient
constexpr double kBrewCooling = 0.12;    // K per ml of cold water drawn through the boiler
constexpr double kSteamCooling = 0.15;   // K/s while the steam wand is open
constexpr double kHeaterPower = 1400.0;  // W
constexpr double kPumpPower = 48.0;      // W
constexpr double kStandbyPower = 12.0;   // W, electronics
constexpr double kPreinfusion = 3.0;     // s at low pressure at the start of a shot
constexpr double kTankFull = 2000.0;     // ml
constexpr double kTankLow = 250.0;       // ml: the water_low switch closes below this
constexpr std::uint32_t kShotsPerEcoBreak = 8;

// first-order lag of `value` towards `target` with time constant `tau` over `dt`
[[nodiscard]] double approach(double value, double target, double tau, double dt) {
  return value + (target - value) * (1.0 - std::exp(-dt / tau));
}

// The set-point a technician may dial in (the thermostat's range on real machines).
constexpr double kMinSetpoint = 85.0;
constexpr double kMaxSetpoint = 96.0;

// Indices of the writable points in build_map().
constexpr std::size_t kSetpointPoint = 13;
constexpr std::size_t kStandbyPoint = 14;

std::vector<config::ModbusPoint> build_map() {
  constexpr auto hr = RegisterTable::holding_register;
  constexpr auto abcd = WordOrder::ABCD;
  std::vector<config::ModbusPoint> m;
  m.push_back(map_point("boiler_temp", hr, 0, DataType::float32, abcd, 1.0, "degC"));
  m.push_back(map_point("steam_pressure", hr, 2, DataType::float32, WordOrder::CDAB, 1.0, "bar"));
  m.push_back(map_point("group_head_temp", hr, 4, DataType::int16, abcd, 0.1, "degC"));
  m.push_back(map_point("pump_pressure", hr, 5, DataType::uint16, abcd, 0.01, "bar"));
  m.push_back(map_point("shot_count", hr, 6, DataType::uint32, abcd, 1.0, ""));
  auto state = map_point("state", hr, 8, DataType::uint16, abcd, 1.0, "");
  state.enum_map = {{0, "idle"},    {1, "heating"},  {2, "ready"},
                    {3, "brewing"}, {4, "steaming"}, {5, "fault"}};
  m.push_back(state);
  m.push_back(map_point("water_flow", hr, 9, DataType::uint16, abcd, 0.1, "ml/s"));
  m.push_back(map_point("power", hr, 10, DataType::float32, abcd, 1.0, "W"));
  m.push_back(map_point("energy", hr, 12, DataType::uint32, WordOrder::CDAB, 1.0, "Wh"));
  m.push_back(map_point("ambient_temp", RegisterTable::input_register, 0, DataType::int16, abcd,
                        0.1, "degC"));
  m.push_back(map_point("heater_on", RegisterTable::coil, 0, DataType::boolean, abcd, 1.0, ""));
  m.push_back(map_point("pump_on", RegisterTable::coil, 1, DataType::boolean, abcd, 1.0, ""));
  m.push_back(
      map_point("water_low", RegisterTable::discrete_input, 0, DataType::boolean, abcd, 1.0, ""));
  auto setpoint = map_point("boiler_setpoint", hr, 14, DataType::uint16, abcd, 0.1, "degC");
  setpoint.writable = true;
  setpoint.write_min = kMinSetpoint;
  setpoint.write_max = kMaxSetpoint;
  m.push_back(setpoint);
  auto standby = map_point("standby", RegisterTable::coil, 2, DataType::boolean, abcd, 1.0, "");
  standby.writable = true;
  m.push_back(standby);
  return m;
}

}  // namespace

EspressoModel::EspressoModel(std::uint32_t seed) : rng_(seed) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  r_.shot_count = 1000 + static_cast<std::uint32_t>(u(rng_) * 20000.0);
  r_.energy = 100000.0 + u(rng_) * 400000.0;
  tank_ml_ = 1600.0 + u(rng_) * 800.0;
  r_.boiler_temp = 19.0 + u(rng_) * 2.0;
  r_.group_head_temp = r_.boiler_temp;
  enter(MachineState::heating);
  // Machines switched on together still brew out of step.
  next_brew_in_ = 5.0 + u(rng_) * 55.0;
}

double EspressoModel::noise(double sigma) {
  return std::normal_distribution<double>(0.0, sigma)(rng_);
}

void EspressoModel::enter(MachineState s) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  r_.state = s;
  time_in_state_ = 0.0;
  switch (s) {
    case MachineState::brewing:
      ++r_.shot_count;
      state_duration_ = 25.0 + 5.0 * u(rng_);
      break;
    case MachineState::ready:
      next_brew_in_ = 25.0 + 15.0 * u(rng_);
      break;
    case MachineState::steaming:
      state_duration_ = 10.0 + 5.0 * u(rng_);
      break;
    case MachineState::idle:
      state_duration_ = 30.0 + 15.0 * u(rng_);
      break;
    case MachineState::fault:
      state_duration_ = 20.0;
      break;
    case MachineState::heating:
      break;
  }
}

void EspressoModel::advance(double seconds) {
  integrate(seconds, kMaxStep, [this](double dt) { step(dt); });
}

void EspressoModel::step(double dt) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  elapsed_ += dt;
  time_in_state_ += dt;
  const bool brewing = r_.state == MachineState::brewing;
  const bool steaming = r_.state == MachineState::steaming;

  // State machine: heat up, wait, brew, sometimes steam, rest in standby, run out of water.
  if (r_.standby && r_.state != MachineState::idle && r_.state != MachineState::brewing &&
      r_.state != MachineState::fault)
    enter(MachineState::idle);
  switch (r_.state) {
    case MachineState::heating:
      if (r_.boiler_temp >= r_.boiler_setpoint - 1.0) enter(MachineState::ready);
      break;
    case MachineState::ready:
      next_brew_in_ -= dt;
      if (r_.water_low)
        enter(MachineState::fault);
      else if (next_brew_in_ <= 0.0)
        enter(MachineState::brewing);
      break;
    case MachineState::brewing:
      if (time_in_state_ >= state_duration_) {
        if (r_.shot_count % kShotsPerEcoBreak == 0)
          enter(MachineState::idle);
        else if (u(rng_) < 0.3)
          enter(MachineState::steaming);
        else
          enter(MachineState::ready);
      }
      break;
    case MachineState::steaming:
      if (time_in_state_ >= state_duration_) enter(MachineState::ready);
      break;
    case MachineState::idle:
      if (!r_.standby && time_in_state_ >= state_duration_) enter(MachineState::heating);
      break;
    case MachineState::fault:
      if (time_in_state_ >= state_duration_) {
        tank_ml_ = kTankFull;  // somebody refilled the tank
        enter(MachineState::heating);
      }
      break;
  }

  // Water path.
  r_.pump_on = brewing;
  const bool preinfusing = brewing && time_in_state_ < kPreinfusion;
  const double flow_target = !brewing ? 0.0 : preinfusing ? 1.0 : 2.0;
  r_.water_flow =
      std::max(0.0, approach(r_.water_flow, flow_target, 0.5, dt) + (brewing ? noise(0.02) : 0.0));
  const double pump_target = !brewing ? 0.0 : preinfusing ? 3.0 : 9.0;
  r_.pump_pressure =
      std::max(0.0, approach(r_.pump_pressure, pump_target, brewing ? 0.7 : 0.3, dt) +
                        (brewing ? noise(0.03) : 0.0));
  tank_ml_ = std::max(0.0, tank_ml_ - r_.water_flow * dt - (steaming ? 0.5 * dt : 0.0));
  r_.water_low = tank_ml_ < kTankLow;

  // Boiler thermostat with hysteresis; off while faulted.
  const double setpoint =
      r_.state == MachineState::idle ? std::min(kEcoSetpoint, r_.boiler_setpoint) : r_.boiler_setpoint;
  if (r_.state == MachineState::fault || r_.boiler_temp > setpoint + kHysteresis)
    r_.heater_on = false;
  else if (r_.boiler_temp < setpoint - kHysteresis)
    r_.heater_on = true;

  // Thermal model: element, Newton cooling, cold water drawn in, steam taken out.
  r_.ambient_temp = 22.5 + 1.5 * std::sin(2.0 * std::numbers::pi * elapsed_ / 3600.0);
  double dT = (r_.heater_on ? kHeaterRate : 0.0) - kLossRate * (r_.boiler_temp - r_.ambient_temp);
  dT -= kBrewCooling * r_.water_flow + (steaming ? kSteamCooling : 0.0);
  r_.boiler_temp += dT * dt;
  r_.group_head_temp = approach(r_.group_head_temp, r_.boiler_temp - (brewing ? 1.5 : 4.0),
                                brewing ? 8.0 : 40.0, dt);

  // Steam pressure follows the boiler temperature (saturated-steam-like curve, 1.2 bar at 93 °C).
  const double heat = std::clamp((r_.boiler_temp - 20.0) / (93.0 - 20.0), 0.0, 1.1);
  const double steam_target = 1.2 * heat * heat - (steaming ? 0.45 : 0.0);
  r_.steam_pressure =
      std::max(0.0, approach(r_.steam_pressure, steam_target, 4.0, dt) + noise(0.002));

  r_.power = std::max(0.0, (r_.heater_on ? kHeaterPower : 0.0) + (r_.pump_on ? kPumpPower : 0.0) +
                               kStandbyPower + noise(2.0));
  r_.energy += r_.power * dt / 3600.0;
}

std::span<const config::ModbusPoint> espresso_register_map() {
  static const std::vector<config::ModbusPoint> map = build_map();
  return map;
}

std::span<const config::ModbusPoint> EspressoModel::register_map() const {
  return espresso_register_map();
}

std::vector<Value> EspressoModel::values() const {
  // In the order of build_map(); clamped to what each register can hold.
  return {
      Value{r_.boiler_temp},
      Value{r_.steam_pressure},
      Value{std::clamp(r_.group_head_temp, -3000.0, 3000.0)},
      Value{std::clamp(r_.pump_pressure, 0.0, 600.0)},
      Value{std::uint64_t{r_.shot_count}},
      Value{std::uint64_t{static_cast<std::uint16_t>(r_.state)}},
      Value{std::clamp(r_.water_flow, 0.0, 6000.0)},
      Value{r_.power},
      Value{static_cast<std::uint64_t>(std::clamp(r_.energy, 0.0, 4294967295.0))},
      Value{std::clamp(r_.ambient_temp, -3000.0, 3000.0)},
      Value{r_.heater_on},
      Value{r_.pump_on},
      Value{r_.water_low},
      Value{r_.boiler_setpoint},
      Value{r_.standby},
  };
}

void EspressoModel::write(std::size_t point, const Value& value) {
  if (point == kSetpointPoint) {
    if (const auto* d = std::get_if<double>(&value)) r_.boiler_setpoint = *d;
  } else if (point == kStandbyPoint) {
    if (const auto* b = std::get_if<bool>(&value)) {
      r_.standby = *b;
      if (!*b && r_.state == MachineState::idle) enter(MachineState::heating);
    }
  }
}

}  // namespace guardian::sim

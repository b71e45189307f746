#pragma once
/// \file
/// A simulated espresso machine whose values evolve like a real one's: the boiler heats up from
/// room temperature, a thermostat holds it near its set-point (93 °C, writable), a shot is
/// brewed roughly every minute (pump at ~9 bar for 25–30 s), the steam wand is used now and
/// then, the water tank runs low and is refilled; a writable coil puts it in standby. Pure and
/// deterministic for a given seed; time is advanced by the caller.

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "guardian/config/site_config.hpp"
#include "machine_model.hpp"

namespace guardian::sim {

/// Machine states as the "state" register reports them.
enum class MachineState : std::uint16_t {
  idle = 0,
  heating = 1,
  ready = 2,
  brewing = 3,
  steaming = 4,
  fault = 5
};

/// Everything the register map exposes, in engineering units.
struct EspressoReadings {
  double boiler_temp = 20.0;      ///< °C
  double steam_pressure = 0.0;    ///< bar (gauge)
  double group_head_temp = 20.0;  ///< °C
  double pump_pressure = 0.0;     ///< bar
  std::uint32_t shot_count = 0;
  MachineState state = MachineState::heating;
  double water_flow = 0.0;     ///< ml/s
  double power = 0.0;          ///< W
  double energy = 0.0;         ///< Wh since manufacture
  double ambient_temp = 22.5;  ///< °C
  bool heater_on = false;
  bool pump_on = false;
  bool water_low = false;
  double boiler_setpoint = 93.0;  ///< °C, writable
  bool standby = false;           ///< writable: rests in idle at the eco set-point
};

/// One machine. Not thread-safe.
class EspressoModel final : public MachineModel {
 public:
  /// `seed` makes machines differ (phase of their brew cycles, counters, tank level).
  explicit EspressoModel(std::uint32_t seed);

  [[nodiscard]] std::span<const config::ModbusPoint> register_map() const override;
  /// Advances simulated time by `seconds` (any size; integrated in steps of at most 0.1 s).
  void advance(double seconds) override;
  [[nodiscard]] std::vector<Value> values() const override;
  /// boiler_setpoint: the thermostat's new target; standby: rest (true) or heat again (false).
  void write(std::size_t point, const Value& value) override;

  [[nodiscard]] const EspressoReadings& readings() const noexcept { return r_; }

 private:
  void step(double dt);
  void enter(MachineState s);
  [[nodiscard]] double noise(double sigma);

  EspressoReadings r_;
  std::mt19937 rng_;
  double time_in_state_ = 0.0;   // s
  double state_duration_ = 0.0;  // s the current brew/steam/fault lasts
  double next_brew_in_ = 0.0;    // s of ready time until the next shot
  double tank_ml_ = 2000.0;
  double elapsed_ = 0.0;  // s of simulated time since power-on
};

/// The espresso register map (docs/simulator.md) as Modbus points: the single source the
/// simulator encodes with and the documentation describes (config/profiles/guardian-espresso@1
/// is checked against it).
[[nodiscard]] std::span<const config::ModbusPoint> espresso_register_map();

}  // namespace guardian::sim

#pragma once
/// \file
/// Simulated Eastron energy meters with the register maps of their maker's Modbus protocol
/// documents (input registers, IEEE 754 float32 high word first, function code 04): the
/// single-phase SDM120 and the three-phase SDM630. The load cycles like a small shop's (a
/// heater switching on and off over a base load), the mains voltage and frequency wander, and
/// the energy registers integrate the power. The maps match config/profiles/eastron-sdm120@1
/// and eastron-sdm630@1 (a test checks it).

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "machine_model.hpp"

namespace guardian::sim {

enum class MeterKind : std::uint8_t { sdm120, sdm630 };

/// Eastron meters answer at most 30 parameters (60 registers) per request with data and refuse
/// longer reads with an exception (the simulator answers 02).
inline constexpr std::uint16_t kEastronMaxRegistersPerRead = 60;

class EnergyMeterModel final : public MachineModel {
 public:
  EnergyMeterModel(MeterKind kind, std::uint32_t seed);

  [[nodiscard]] std::span<const config::ModbusPoint> register_map() const override;
  void advance(double seconds) override;
  [[nodiscard]] std::vector<Value> values() const override;
  /// Meters have no writable points in these maps.
  void write(std::size_t, const Value&) override {}
  [[nodiscard]] std::uint16_t max_registers_per_read() const override {
    return kEastronMaxRegistersPerRead;
  }

 private:
  struct Phase {
    double voltage = 230.0;  // V
    double current = 0.0;    // A
    double power_factor = 1.0;
    double heater_phase = 0.0;  // s into the heater's cycle
  };

  void step(double dt);

  MeterKind kind_;
  std::mt19937 rng_;
  std::vector<Phase> phases_;
  double frequency_ = 50.0;
  double elapsed_ = 0.0;
  double import_kwh_ = 0.0;
  double import_kvarh_ = 0.0;
};

/// The SDM120 map: voltage, current, powers, power factor, frequency, energies.
[[nodiscard]] std::span<const config::ModbusPoint> sdm120_register_map();
/// The SDM630 map: per-phase and total values, line-to-line voltages, neutral current, energies.
[[nodiscard]] std::span<const config::ModbusPoint> sdm630_register_map();

}  // namespace guardian::sim

#include "energy_meter_model.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace guardian::sim {
namespace {

using config::DataType;
using config::RegisterTable;

constexpr double kMaxStep = 0.5;         // s of simulated time per integration step
constexpr double kBaseLoad = 0.8;        // A: lights, till, fridge
constexpr double kHeaterLoad = 6.1;      // A: a 1.4 kW element
constexpr double kHeaterPeriod = 40.0;   // s
constexpr double kHeaterDuty = 0.3;
constexpr double kSecondsPerHour = 3600.0;

config::ModbusPoint meter_point(std::string name, std::uint16_t address, std::string unit) {
  return map_point(std::move(name), RegisterTable::input_register, address, DataType::float32,
                   config::WordOrder::ABCD, 1.0, std::move(unit));
}

// Input register addresses of the Eastron protocol documents (30001 = 0x0000, two registers per
// parameter): the same offsets for both meters where both have the parameter.
std::vector<config::ModbusPoint> build_sdm120() {
  return {meter_point("voltage", 0x00, "V"),
          meter_point("current", 0x06, "A"),
          meter_point("active_power", 0x0C, "W"),
          meter_point("apparent_power", 0x12, "VA"),
          meter_point("reactive_power", 0x18, "var"),
          meter_point("power_factor", 0x1E, ""),
          meter_point("frequency", 0x46, "Hz"),
          meter_point("import_active_energy", 0x48, "kWh"),
          meter_point("export_active_energy", 0x4A, "kWh"),
          meter_point("import_reactive_energy", 0x4C, "kvarh"),
          meter_point("export_reactive_energy", 0x4E, "kvarh"),
          meter_point("total_active_energy", 0x156, "kWh"),
          meter_point("total_reactive_energy", 0x158, "kvarh")};
}

std::vector<config::ModbusPoint> build_sdm630() {
  std::vector<config::ModbusPoint> m;
  const auto per_phase = [&](const std::string& name, std::uint16_t first, const char* unit) {
    for (std::uint16_t l = 0; l < 3; ++l)
      m.push_back(meter_point(name + "_l" + std::to_string(l + 1),
                              static_cast<std::uint16_t>(first + 2 * l), unit));
  };
  per_phase("voltage", 0x00, "V");
  per_phase("current", 0x06, "A");
  per_phase("active_power", 0x0C, "W");
  per_phase("apparent_power", 0x12, "VA");
  per_phase("reactive_power", 0x18, "var");
  per_phase("power_factor", 0x1E, "");
  m.push_back(meter_point("voltage_ln_average", 0x2A, "V"));
  m.push_back(meter_point("current_average", 0x2E, "A"));
  m.push_back(meter_point("current_sum", 0x30, "A"));
  m.push_back(meter_point("total_active_power", 0x34, "W"));
  m.push_back(meter_point("total_apparent_power", 0x38, "VA"));
  m.push_back(meter_point("total_reactive_power", 0x3C, "var"));
  m.push_back(meter_point("total_power_factor", 0x3E, ""));
  m.push_back(meter_point("frequency", 0x46, "Hz"));
  m.push_back(meter_point("import_active_energy", 0x48, "kWh"));
  m.push_back(meter_point("export_active_energy", 0x4A, "kWh"));
  m.push_back(meter_point("import_reactive_energy", 0x4C, "kvarh"));
  m.push_back(meter_point("export_reactive_energy", 0x4E, "kvarh"));
  m.push_back(meter_point("voltage_l1_l2", 0xC8, "V"));
  m.push_back(meter_point("voltage_l2_l3", 0xCA, "V"));
  m.push_back(meter_point("voltage_l3_l1", 0xCC, "V"));
  m.push_back(meter_point("neutral_current", 0xE0, "A"));
  m.push_back(meter_point("total_active_energy", 0x156, "kWh"));
  m.push_back(meter_point("total_reactive_energy", 0x158, "kvarh"));
  return m;
}

}  // namespace

std::span<const config::ModbusPoint> sdm120_register_map() {
  static const auto map = build_sdm120();
  return map;
}

std::span<const config::ModbusPoint> sdm630_register_map() {
  static const auto map = build_sdm630();
  return map;
}

EnergyMeterModel::EnergyMeterModel(MeterKind kind, std::uint32_t seed)
    : kind_(kind), rng_(seed), phases_(kind == MeterKind::sdm120 ? 1 : 3) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  // A meter that has been in service for a while, each phase's heater at its own point.
  import_kwh_ = 1000.0 + 20000.0 * u(rng_);
  import_kvarh_ = import_kwh_ * 0.2;
  for (auto& p : phases_) p.heater_phase = kHeaterPeriod * u(rng_);
  step(0.0);
}

std::span<const config::ModbusPoint> EnergyMeterModel::register_map() const {
  return kind_ == MeterKind::sdm120 ? sdm120_register_map() : sdm630_register_map();
}

void EnergyMeterModel::advance(double seconds) {
  integrate(seconds, kMaxStep, [this](double dt) { step(dt); });
}

void EnergyMeterModel::step(double dt) {
  std::normal_distribution<double> noise(0.0, 1.0);
  elapsed_ += dt;
  frequency_ = 50.0 + 0.02 * std::sin(2.0 * std::numbers::pi * elapsed_ / 300.0) +
               0.003 * noise(rng_);
  double active = 0.0;
  double reactive = 0.0;
  for (auto& p : phases_) {
    p.heater_phase = std::fmod(p.heater_phase + dt, kHeaterPeriod);
    const bool heater = p.heater_phase < kHeaterDuty * kHeaterPeriod;
    p.voltage = 230.0 + 2.0 * std::sin(2.0 * std::numbers::pi * elapsed_ / 600.0) +
                0.3 * noise(rng_);
    p.current = std::max(0.0, kBaseLoad + (heater ? kHeaterLoad : 0.0) + 0.05 * noise(rng_));
    // A resistive element pulls the power factor of the motor-heavy base load up.
    p.power_factor = heater ? 0.98 : 0.82;
    const double apparent = p.voltage * p.current;
    active += apparent * p.power_factor;
    reactive += apparent * std::sqrt(1.0 - p.power_factor * p.power_factor);
  }
  import_kwh_ += active * dt / kSecondsPerHour / 1000.0;
  import_kvarh_ += reactive * dt / kSecondsPerHour / 1000.0;
}

std::vector<Value> EnergyMeterModel::values() const {
  struct Derived {
    double apparent, active, reactive;
  };
  std::vector<Derived> d;
  double total_p = 0.0, total_s = 0.0, total_q = 0.0, sum_i = 0.0, sum_v = 0.0;
  for (const auto& p : phases_) {
    const double s = p.voltage * p.current;
    const double a = s * p.power_factor;
    const double q = s * std::sqrt(1.0 - p.power_factor * p.power_factor);
    d.push_back({s, a, q});
    total_p += a;
    total_s += s;
    total_q += q;
    sum_i += p.current;
    sum_v += p.voltage;
  }
  const auto f = [](double v) { return Value{v}; };
  std::vector<Value> v;
  if (kind_ == MeterKind::sdm120) {
    const auto& p = phases_[0];
    return {f(p.voltage),     f(p.current),     f(d[0].active), f(d[0].apparent),
            f(d[0].reactive), f(p.power_factor), f(frequency_), f(import_kwh_),
            f(0.0),           f(import_kvarh_), f(0.0),         f(import_kwh_),
            f(import_kvarh_)};
  }
  for (const auto& p : phases_) v.push_back(f(p.voltage));
  for (const auto& p : phases_) v.push_back(f(p.current));
  for (const auto& x : d) v.push_back(f(x.active));
  for (const auto& x : d) v.push_back(f(x.apparent));
  for (const auto& x : d) v.push_back(f(x.reactive));
  for (const auto& p : phases_) v.push_back(f(p.power_factor));
  const double line = std::sqrt(3.0);
  v.insert(v.end(), {f(sum_v / 3.0), f(sum_i / 3.0), f(sum_i), f(total_p), f(total_s), f(total_q),
                     f(total_s > 0.0 ? total_p / total_s : 1.0), f(frequency_), f(import_kwh_),
                     f(0.0), f(import_kvarh_), f(0.0), f(phases_[0].voltage * line),
                     f(phases_[1].voltage * line), f(phases_[2].voltage * line),
                     // Unbalanced phases leave a current in the neutral.
                     f(std::abs(phases_[0].current - 0.5 * (phases_[1].current + phases_[2].current))),
                     f(import_kwh_), f(import_kvarh_)});
  return v;
}

}  // namespace guardian::sim

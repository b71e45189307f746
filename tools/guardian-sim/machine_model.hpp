#pragma once
/// \file
/// What every simulated machine is to the Modbus servers: a register map (the points it
/// exposes, the writable ones with their limits), values that evolve with simulated time, and
/// what it does when a master writes one of its writable points. The servers encode and decode
/// with the same register codec the adapter uses, so a map is written once, here.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::sim {

/// The four tables of one unit, as libmodbus's mapping holds them.
struct RegisterTables {
  std::span<std::uint16_t> holding;
  std::span<std::uint16_t> input;
  std::span<std::uint8_t> coils;
  std::span<std::uint8_t> discrete_inputs;
};

/// How many registers or bits each table of a map needs.
struct TableSizes {
  int coils = 0;
  int discrete_inputs = 0;
  int holding = 0;
  int input = 0;
};

/// One simulated machine. Not thread-safe; the server's single thread drives it.
class MachineModel {
 public:
  virtual ~MachineModel() = default;
  MachineModel() = default;
  MachineModel(const MachineModel&) = delete;
  MachineModel& operator=(const MachineModel&) = delete;

  /// The points the machine exposes. Writable points carry their write_min/write_max.
  [[nodiscard]] virtual std::span<const config::ModbusPoint> register_map() const = 0;
  /// Advances simulated time by `seconds`.
  virtual void advance(double seconds) = 0;
  /// The current value of every point of register_map(), in its order.
  [[nodiscard]] virtual std::vector<Value> values() const = 0;
  /// A master wrote `value` to the writable point register_map()[point]; it is within the
  /// point's limits (the server answered exception 03 otherwise).
  virtual void write(std::size_t point, const Value& value) = 0;
  /// Longest register read the machine answers with data (125, the protocol's limit, unless
  /// the device is known to refuse less).
  [[nodiscard]] virtual std::uint16_t max_registers_per_read() const { return 125; }
};

/// The models guardian-sim knows: "espresso", "sdm120", "sdm630", "bulk" (`bulk_registers`
/// holding registers of counters). nullptr for an unknown name.
[[nodiscard]] std::unique_ptr<MachineModel> make_model(std::string_view name, std::uint32_t seed,
                                                       int bulk_registers = 1000);

/// The model names make_model() knows, for usage messages.
[[nodiscard]] std::vector<std::string> model_names();

/// The table sizes `map` needs (highest address + width per table).
[[nodiscard]] TableSizes sizes_of(std::span<const config::ModbusPoint> map);

/// Encodes `values` (one per point of `map`) into `tables`. A value that does not fit its
/// register is skipped: the register keeps its previous content.
void encode_values(std::span<const config::ModbusPoint> map, const std::vector<Value>& values,
                   const RegisterTables& tables);

/// Calls `step(dt)` with steps of at most `max_step` until `seconds` have passed: models
/// integrate any span of simulated time the same way, however long a tick was.
void integrate(double seconds, double max_step, const std::function<void(double)>& step);

/// A point of a register map, for building maps in code.
[[nodiscard]] config::ModbusPoint map_point(std::string name, config::RegisterTable table,
                                            std::uint16_t address, config::DataType type,
                                            config::WordOrder order = config::WordOrder::ABCD,
                                            double scale = 1.0, std::string unit = {});

}  // namespace guardian::sim

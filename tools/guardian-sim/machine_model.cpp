#include "machine_model.hpp"

#include <algorithm>

#include "bulk_model.hpp"
#include "energy_meter_model.hpp"
#include "espresso_model.hpp"
#include "guardian/adapters/modbus/register_codec.hpp"

namespace guardian::sim {

std::unique_ptr<MachineModel> make_model(std::string_view name, std::uint32_t seed,
                                         int bulk_registers) {
  if (name == "espresso") return std::make_unique<EspressoModel>(seed);
  if (name == "sdm120") return std::make_unique<EnergyMeterModel>(MeterKind::sdm120, seed);
  if (name == "sdm630") return std::make_unique<EnergyMeterModel>(MeterKind::sdm630, seed);
  if (name == "bulk") return std::make_unique<BulkModel>(bulk_registers);
  return nullptr;
}

std::vector<std::string> model_names() { return {"espresso", "sdm120", "sdm630", "bulk"}; }

TableSizes sizes_of(std::span<const config::ModbusPoint> map) {
  TableSizes s;
  for (const auto& p : map) {
    const int end = p.address + static_cast<int>(adapters::modbus::is_bit_table(p.table)
                                                      ? 1
                                                      : p.width());
    switch (p.table) {
      case config::RegisterTable::coil:
        s.coils = std::max(s.coils, end);
        break;
      case config::RegisterTable::discrete_input:
        s.discrete_inputs = std::max(s.discrete_inputs, end);
        break;
      case config::RegisterTable::holding_register:
        s.holding = std::max(s.holding, end);
        break;
      case config::RegisterTable::input_register:
        s.input = std::max(s.input, end);
        break;
    }
  }
  return s;
}

void encode_values(std::span<const config::ModbusPoint> map, const std::vector<Value>& values,
                   const RegisterTables& tables) {
  using adapters::modbus::encode_bit;
  using adapters::modbus::encode_registers;
  for (std::size_t i = 0; i < map.size() && i < values.size(); ++i) {
    const auto& p = map[i];
    switch (p.table) {
      case config::RegisterTable::holding_register:
        (void)encode_registers(p, values[i], tables.holding.subspan(p.address, p.width()));
        break;
      case config::RegisterTable::input_register:
        (void)encode_registers(p, values[i], tables.input.subspan(p.address, p.width()));
        break;
      case config::RegisterTable::coil:
        if (auto bit = encode_bit(p, values[i])) tables.coils[p.address] = bit.value() ? 1 : 0;
        break;
      case config::RegisterTable::discrete_input:
        if (auto bit = encode_bit(p, values[i]))
          tables.discrete_inputs[p.address] = bit.value() ? 1 : 0;
        break;
    }
  }
}

void integrate(double seconds, double max_step, const std::function<void(double)>& step) {
  while (seconds > 0.0) {
    const double dt = std::min(seconds, max_step);
    step(dt);
    seconds -= dt;
  }
}

config::ModbusPoint map_point(std::string name, config::RegisterTable table,
                              std::uint16_t address, config::DataType type,
                              config::WordOrder order, double scale, std::string unit) {
  config::ModbusPoint p;
  p.name = std::move(name);
  p.table = table;
  p.address = address;
  p.type = type;
  p.order = order;
  p.scale = scale;
  p.unit = std::move(unit);
  return p;
}

}  // namespace guardian::sim

#include "guardian/adapters/modbus/modbus_request.hpp"

#include <string>

#include "guardian/adapters/modbus/read_planner.hpp"

namespace guardian::adapters::modbus {
namespace {

[[nodiscard]] Error invalid(const ModbusRequest& r, const std::string& why) {
  return make_error(std::string("invalid request to ") + function_name(r.function) + " at " +
                    std::to_string(r.address) + ": " + why);
}

}  // namespace

FunctionCode read_function(config::RegisterTable table) noexcept {
  switch (table) {
    case config::RegisterTable::coil:
      return FunctionCode::read_coils;
    case config::RegisterTable::discrete_input:
      return FunctionCode::read_discrete_inputs;
    case config::RegisterTable::holding_register:
      return FunctionCode::read_holding_registers;
    case config::RegisterTable::input_register:
      return FunctionCode::read_input_registers;
  }
  return FunctionCode::read_holding_registers;
}

const char* function_name(FunctionCode f) noexcept {
  switch (f) {
    case FunctionCode::read_coils:
      return "read coils";
    case FunctionCode::read_discrete_inputs:
      return "read discrete inputs";
    case FunctionCode::read_holding_registers:
      return "read holding registers";
    case FunctionCode::read_input_registers:
      return "read input registers";
    case FunctionCode::write_single_coil:
      return "write single coil";
    case FunctionCode::write_single_register:
      return "write single register";
    case FunctionCode::write_multiple_coils:
      return "write multiple coils";
    case FunctionCode::write_multiple_registers:
      return "write multiple registers";
  }
  return "unknown function";
}

result<void> validate_request(const ModbusRequest& r) {
  std::uint32_t max = 0;
  switch (r.function) {
    case FunctionCode::read_coils:
    case FunctionCode::read_discrete_inputs:
      max = kMaxReadBits;
      break;
    case FunctionCode::read_holding_registers:
    case FunctionCode::read_input_registers:
      max = kMaxReadRegisters;
      break;
    case FunctionCode::write_single_coil:
      if (r.count != 1 || r.bits.size() != 1) return invalid(r, "it writes exactly one bit");
      return outcome::success();
    case FunctionCode::write_single_register:
      if (r.count != 1 || r.registers.size() != 1)
        return invalid(r, "it writes exactly one register");
      return outcome::success();
    case FunctionCode::write_multiple_coils:
      max = kMaxWriteBits;
      if (r.bits.size() != r.count) return invalid(r, "count and the bits to write differ");
      break;
    case FunctionCode::write_multiple_registers:
      max = kMaxWriteRegisters;
      if (r.registers.size() != r.count)
        return invalid(r, "count and the registers to write differ");
      break;
    default:
      return invalid(r, "function code not supported");
  }
  if (r.count == 0 || r.count > max)
    return invalid(r, "count " + std::to_string(r.count) + " is outside 1-" + std::to_string(max));
  if (std::uint32_t{r.address} + r.count > 0x10000U)
    return invalid(r, "the range runs past address 65535");
  return outcome::success();
}

}  // namespace guardian::adapters::modbus

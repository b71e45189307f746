#pragma once
/// \file
/// One Modbus transaction as the bus scheduler and the field tools express it, independent of
/// the framing that carries it (MBAP on Modbus TCP, RTU on a serial line or on a TCP socket).
/// Pure vocabulary, clang-14 clean (the RTU frame codec that uses it is a fuzz target).

#include <cstdint>
#include <span>

#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::adapters::modbus {

/// The public function codes Guardian issues (Modbus Application Protocol V1.1b3 §6).
enum class FunctionCode : std::uint8_t {
  read_coils = 0x01,                ///< §6.1
  read_discrete_inputs = 0x02,      ///< §6.2
  read_holding_registers = 0x03,    ///< §6.3
  read_input_registers = 0x04,      ///< §6.4
  write_single_coil = 0x05,         ///< §6.5
  write_single_register = 0x06,     ///< §6.6
  write_multiple_coils = 0x0F,      ///< §6.11
  write_multiple_registers = 0x10,  ///< §6.12
};

/// Most bits one Write Multiple Coils request may carry (§6.11: quantity 1 to 0x07B0).
inline constexpr std::uint16_t kMaxWriteBits = 1968;
/// Most registers one Write Multiple Registers request may carry (§6.12: quantity 1 to 0x7B).
inline constexpr std::uint16_t kMaxWriteRegisters = 123;

/// A request. Spans are borrowed: they must stay valid for the duration of the transaction.
struct ModbusRequest {
  std::uint8_t unit = 1;  ///< unit identifier (slave address on a serial line)
  FunctionCode function = FunctionCode::read_holding_registers;
  std::uint16_t address = 0;  ///< protocol (0-based) address of the first register or bit
  std::uint16_t count = 1;    ///< registers or bits read or written; 1 for the single writes
  std::span<const std::uint16_t> registers;  ///< values to write: FC06 one, FC16 `count`
  std::span<const std::uint8_t> bits;        ///< values to write, 0 or 1 each: FC05 one, FC15 `count`
};

/// Where the answer to a read goes: `registers` for FC03/FC04, `bits` for FC01/FC02 (one byte,
/// 0 or 1, per bit). Each must hold at least the request's `count` for its kind of read.
struct ModbusReply {
  std::span<std::uint16_t> registers;
  std::span<std::uint8_t> bits;
};

/// True for FC01–FC04.
[[nodiscard]] constexpr bool is_read(FunctionCode f) noexcept {
  return f == FunctionCode::read_coils || f == FunctionCode::read_discrete_inputs ||
         f == FunctionCode::read_holding_registers || f == FunctionCode::read_input_registers;
}

/// True for the functions whose data are bits (FC01, FC02, FC05, FC15).
[[nodiscard]] constexpr bool is_bit_function(FunctionCode f) noexcept {
  return f == FunctionCode::read_coils || f == FunctionCode::read_discrete_inputs ||
         f == FunctionCode::write_single_coil || f == FunctionCode::write_multiple_coils;
}

/// The read function for a table: coil → FC01, discrete input → FC02, holding → FC03,
/// input → FC04.
[[nodiscard]] FunctionCode read_function(config::RegisterTable table) noexcept;

/// "read holding registers", "write single coil" … for messages.
[[nodiscard]] const char* function_name(FunctionCode f) noexcept;

/// Checks `request` against the protocol's quantity limits and its own spans (count 1–125
/// registers or 1–2000 bits for reads, 1–123 registers or 1–1968 bits for multiple writes,
/// exactly one value for the single writes, the range not running past address 65535, write
/// spans as long as `count`). The error message says which rule is broken. Never throws.
[[nodiscard]] result<void> validate_request(const ModbusRequest& request);

}  // namespace guardian::adapters::modbus

#pragma once
/// \file
/// The Modbus register codec: pure functions between the 16-bit registers (or bits) of a point
/// and its engineering Value. No libmodbus types, no allocation beyond the Value and error text,
/// and clang-14 compatible, because the fuzz targets compile it (FIELD-NOTES "Toolchain").
///
/// Decoding order for register points: word order → raw integer/float/string → enum label or
/// scale/offset. Registers are in the order they were read from the wire (lowest address first),
/// each register as libmodbus delivers it (first wire byte in the high half).

#include <cstdint>
#include <span>
#include <string>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::adapters::modbus {

/// Rearranges `in` by `order` into `out` (same size): ABCD copies, CDAB reverses the register
/// order, BADC swaps the two bytes of each register, DCBA does both. The transformation is its
/// own inverse, so it maps wire order to big-endian order and back. Any length works (strings);
/// `out` must not alias `in` unless the order is ABCD or BADC.
void reorder_registers(std::span<const std::uint16_t> in, config::WordOrder order,
                       std::span<std::uint16_t> out) noexcept;

/// Decodes a holding/input register point from the `point.width()` registers starting at its
/// address (`registers` may be longer; the rest is ignored).
///
/// Result types: boolean/bit → bool; intN → int64; uintN → uint64; floatN → double; string →
/// string (cut at the first NUL, trailing spaces trimmed, bytes outside printable ASCII replaced
/// by '?'). A non-identity scale/offset turns a number into a double (raw·scale + offset); a
/// non-empty enum_map turns an integer or bool into its label instead.
///
/// Errors (the caller reports the point with Quality::bad and this text): too few registers, bit
/// outside 0–15, NaN or infinite value, a raw value without a label in enum_map (the raw value
/// is in the message), an enum_map on a float or string point. Never throws.
[[nodiscard]] result<Value> decode_registers(const config::ModbusPoint& point,
                                             std::span<const std::uint16_t> registers);

/// Decodes a coil/discrete-input point from its bit. Only boolean and bit points can live in the
/// bit tables; any other type is an error. enum_map applies as for registers (0/1 → label).
[[nodiscard]] result<Value> decode_bit(const config::ModbusPoint& point, bool bit);

/// Encodes `value` into the `point.width()` registers of a register point, in wire order: the
/// inverse of decode_registers (enum label → raw, (value − offset)/scale rounded to the nearest
/// integer for integer types). For DataType::bit the other 15 bits of registers[0] are kept, so
/// pass the register's current content for a read-modify-write. Errors: value of the wrong kind,
/// out of the type's range, not finite, unknown enum label, string longer than 2·length bytes,
/// fewer than width() registers. Never throws.
[[nodiscard]] result<void> encode_registers(const config::ModbusPoint& point, const Value& value,
                                            std::span<std::uint16_t> registers);

/// Encodes `value` for a coil (boolean/bit point): bool, 0/1, or an enum label.
[[nodiscard]] result<bool> encode_bit(const config::ModbusPoint& point, const Value& value);

/// Human-readable table name, e.g. "holding register", for messages.
[[nodiscard]] const char* table_name(config::RegisterTable table) noexcept;

/// True for the coil and discrete-input tables (one bit per address).
[[nodiscard]] constexpr bool is_bit_table(config::RegisterTable table) noexcept {
  return table == config::RegisterTable::coil || table == config::RegisterTable::discrete_input;
}

}  // namespace guardian::adapters::modbus

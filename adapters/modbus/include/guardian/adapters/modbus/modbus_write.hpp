#pragma once
/// \file
/// Writing one point: the value is encoded with the point's own type, word order, scale, offset
/// and enum labels — exactly the inverse of how it is read — and sent with the function its
/// table and width call for. Shared by the adapter (cloud commands, the daemon's control socket)
/// and `guardian write modbus` (a technician on site), so both write the same registers.
///
///   prepare_write(point, value)            pure: limits, encoding, function choice
///   execute_write(prepared, unit, transact)
///     bit in a register?  read the register (FC03), set the bit in it
///     write                FC05 coil · FC06 one register · FC15/FC16 multiple
///     read back?           read the point again, compare the raw registers, decode

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "guardian/adapters/modbus/modbus_request.hpp"
#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::adapters::modbus {

/// A write ready to be sent: the function, the address and the encoded data.
struct PreparedWrite {
  config::ModbusPoint point;
  FunctionCode function = FunctionCode::write_single_register;
  std::vector<std::uint16_t> registers;  ///< FC06 / FC16 data, wire order
  std::vector<std::uint8_t> bits;        ///< FC05 / FC15 data, 0 or 1
  /// Type `bit`: the other 15 bits of the register must be read first and kept.
  bool read_modify_write = false;
  Value value;  ///< what was asked, for messages

  /// The request for `unit`; borrows this object's data.
  [[nodiscard]] ModbusRequest request(std::uint8_t unit) const;
};

/// Encodes `value` for `point`. FC05 for a coil, FC06 for a one-register point, FC16 for a wider
/// one; `force_multiple` (a device that only implements the multiple-write functions) turns FC05
/// into FC15 and FC06 into FC16. A number outside the point's write_min/write_max is refused
/// before any encoding. Errors name the point and say what is wrong: a read-only table (discrete
/// input, input register), a value out of range for the type or the limits, a label not in the
/// enum map, a value of the wrong kind. Pure, never throws.
[[nodiscard]] result<PreparedWrite> prepare_write(const config::ModbusPoint& point,
                                                  const Value& value, bool force_multiple);

/// What a write came to.
struct WriteOutcome {
  bool ok = false;
  std::string error;  ///< why not ok: the exception named, a timeout, a read-back mismatch
  int error_code = 0; ///< the libmodbus errno value of the failed transaction, 0 when none
  Value readback;     ///< the point's value read back after the write, when asked for
  /// The registers as sent (wire order): for a bit in a register, the whole register after the
  /// read-modify-write, the other 15 bits included. Empty for coils.
  std::vector<std::uint16_t> written;
};

/// Sends one transaction and waits for its answer (a ModbusLink, possibly with retries).
using Transact = std::function<result<void>(const ModbusRequest&, const ModbusReply&)>;

/// Runs `write` against `unit` through `transact`: the read of a bit's register first when
/// needed, the write, then (with `readback`) a read of the point compared register for register
/// with what was written and decoded into WriteOutcome::readback. A device that answers the
/// write but keeps another value (clamped, refused silently) fails with both values named.
/// Never throws.
[[nodiscard]] WriteOutcome execute_write(PreparedWrite write, std::uint8_t unit, bool readback,
                                         const Transact& transact);

/// A number, bool or string value as text for messages ("92.5", "true", "brewing").
[[nodiscard]] std::string value_text(const Value& value);

}  // namespace guardian::adapters::modbus

#pragma once
/// \file
/// The Modbus RTU frame (MODBUS over Serial Line Specification V1.02, "MBSL", §2.5.1): the
/// application data unit `unit address | PDU | CRC-16 (low byte first)`, at most 256 bytes.
/// Pure functions, no I/O and no libmodbus calls, clang-14 clean: the response decoder is a fuzz
/// target, and both the RTU links (serial and RTU over TCP) and guardian-sim's RTU server frame
/// with them.
///
/// Frames are delimited here by their length, which the function code determines, rather than
/// by the 1.5/3.5-character silences of §2.5.1.1: USB serial adapters and serial-to-Ethernet
/// converters deliver bytes in bursts that do not keep those timings. The sender still keeps
/// the 3.5-character silence before each frame (see frame_gap()).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "guardian/adapters/modbus/modbus_request.hpp"
#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::adapters::modbus::rtu {

/// Longest RTU ADU: 1 address + 253 PDU + 2 CRC bytes (MBSL §2.5.1).
inline constexpr std::size_t kMaxAdu = 256;
/// Shortest RTU ADU that can be a response: address, function, exception code, CRC.
inline constexpr std::size_t kMinResponse = 5;

/// CRC-16/MODBUS of `bytes` (MBSL §6.2.2: polynomial 0xA001 reflected, initial value 0xFFFF).
/// On the wire its low byte comes first.
[[nodiscard]] std::uint16_t crc16(std::span<const std::uint8_t> bytes) noexcept;

/// Writes the ADU of `request` into `out` (at least kMaxAdu bytes) and returns its length.
/// Errors: what validate_request() refuses.
[[nodiscard]] result<std::size_t> encode_request(const ModbusRequest& request,
                                                 std::span<std::uint8_t> out);

/// How long the response to a request for `function` is, judging from the first bytes received:
/// 0 while more bytes are needed to tell (fewer than 2, or 3 for a read's byte count). For an
/// exception response it is 5. When the function code answered is neither the one asked nor
/// its exception, the frame cannot be delimited and the number of bytes received is returned,
/// so that decode_response() reports it.
[[nodiscard]] std::size_t response_length(FunctionCode function,
                                          std::span<const std::uint8_t> received) noexcept;

/// Checks a complete response ADU against `request` and stores a read's data in `reply`.
/// Errors carry libmodbus's errno values in their code, so that a caller classifies RTU and
/// Modbus TCP failures alike: EMBBADCRC (CRC mismatch), EMBBADSLAVE (another unit answered:
/// typically the late answer of a unit that had timed out), MODBUS_ENOBASE + n for exception
/// response n (1–11, EMBBADEXC otherwise), EMBBADDATA (wrong function, byte count or echo).
[[nodiscard]] result<void> decode_response(const ModbusRequest& request,
                                           std::span<const std::uint8_t> adu,
                                           const ModbusReply& reply);

/// Server side (guardian-sim): how long the request starting with `received` is; 0 while more
/// bytes are needed to tell, and `received.size()` for a function code this framing does not
/// know (the caller discards the input).
[[nodiscard]] std::size_t request_length(std::span<const std::uint8_t> received) noexcept;

/// The silent interval that must precede a frame on a serial line (MBSL §2.5.1.1): 3.5
/// character times at `baud` with the given character format, or the fixed 1.750 ms the
/// specification recommends above 19200 baud. A character is 1 start bit, the data bits, the
/// parity bit if any, and the stop bits.
[[nodiscard]] std::chrono::microseconds frame_gap(const config::SerialPortSettings& serial) noexcept;

/// Time the line takes to carry `bytes` characters with `serial`'s format (added to a response
/// deadline so that a long request at a low baud rate does not eat the unit's timeout).
[[nodiscard]] std::chrono::microseconds transmission_time(
    const config::SerialPortSettings& serial, std::size_t bytes) noexcept;

}  // namespace guardian::adapters::modbus::rtu

#include "guardian/adapters/modbus/rtu_frame.hpp"

#include <modbus/modbus.h>

#include <array>
#include <string>

#include "modbus_error.hpp"

namespace guardian::adapters::modbus::rtu {
namespace {

// MBSL §2.5.1.1: above 19200 baud the inter-frame delay is a fixed 1.750 ms.
constexpr std::chrono::microseconds kFastLineFrameGap{1750};
constexpr int kFastLineBaud = 19200;
// A function code with this bit set is an exception response (MBAP §7).
constexpr std::uint8_t kExceptionBit = 0x80;
constexpr int kHighestException = MODBUS_EXCEPTION_GATEWAY_TARGET;

[[nodiscard]] std::uint8_t hi(std::uint16_t v) noexcept { return static_cast<std::uint8_t>(v >> 8); }
[[nodiscard]] std::uint8_t lo(std::uint16_t v) noexcept {
  return static_cast<std::uint8_t>(v & 0xFFU);
}
[[nodiscard]] std::uint16_t word(std::uint8_t high, std::uint8_t low) noexcept {
  return static_cast<std::uint16_t>((high << 8) | low);
}

[[nodiscard]] Error failure(int errno_value, const std::string& what) {
  return libmodbus_error(errno_value, what);
}

// Bytes a read response carries for `count` registers or bits.
[[nodiscard]] std::size_t data_bytes(FunctionCode f, std::uint16_t count) noexcept {
  return is_bit_function(f) ? (std::size_t{count} + 7) / 8 : std::size_t{count} * 2;
}

[[nodiscard]] double character_bits(const config::SerialPortSettings& s) noexcept {
  return 1.0 + s.data_bits + (s.parity == config::Parity::none ? 0 : 1) + s.stop_bits;
}

}  // namespace

std::uint16_t crc16(std::span<const std::uint8_t> bytes) noexcept {
  std::uint16_t crc = 0xFFFF;
  for (const std::uint8_t b : bytes) {
    crc ^= b;
    for (int i = 0; i < 8; ++i)
      crc = (crc & 1U) != 0 ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001U)
                            : static_cast<std::uint16_t>(crc >> 1);
  }
  return crc;
}

result<std::size_t> encode_request(const ModbusRequest& r, std::span<std::uint8_t> out) {
  BOOST_OUTCOME_TRY(validate_request(r));
  if (out.size() < kMaxAdu) return make_error("RTU frame buffer shorter than 256 bytes");
  std::size_t n = 0;
  const auto put = [&](std::uint8_t b) { out[n++] = b; };
  const auto put16 = [&](std::uint16_t v) {
    put(hi(v));
    put(lo(v));
  };
  put(r.unit);
  put(static_cast<std::uint8_t>(r.function));
  put16(r.address);
  switch (r.function) {
    case FunctionCode::read_coils:
    case FunctionCode::read_discrete_inputs:
    case FunctionCode::read_holding_registers:
    case FunctionCode::read_input_registers:
      put16(r.count);
      break;
    case FunctionCode::write_single_coil:
      // MBAP §6.5: ON is 0xFF00, OFF is 0x0000.
      put16(r.bits[0] != 0 ? 0xFF00 : 0x0000);
      break;
    case FunctionCode::write_single_register:
      put16(r.registers[0]);
      break;
    case FunctionCode::write_multiple_coils: {
      put16(r.count);
      const auto bytes = data_bytes(r.function, r.count);
      put(static_cast<std::uint8_t>(bytes));
      // §6.11: the first coil is the least significant bit of the first byte.
      for (std::size_t i = 0; i < bytes; ++i) {
        std::uint8_t packed = 0;
        for (std::size_t bit = 0; bit < 8 && i * 8 + bit < r.count; ++bit)
          if (r.bits[i * 8 + bit] != 0) packed = static_cast<std::uint8_t>(packed | (1U << bit));
        put(packed);
      }
      break;
    }
    case FunctionCode::write_multiple_registers:
      put16(r.count);
      put(static_cast<std::uint8_t>(r.count * 2));
      for (std::size_t i = 0; i < r.count; ++i) put16(r.registers[i]);
      break;
  }
  const std::uint16_t crc = crc16(out.first(n));
  put(lo(crc));
  put(hi(crc));
  return n;
}

std::size_t response_length(FunctionCode function, std::span<const std::uint8_t> received) noexcept {
  if (received.size() < 2) return 0;
  const std::uint8_t answered = received[1];
  const auto asked = static_cast<std::uint8_t>(function);
  if (answered == (asked | kExceptionBit)) return kMinResponse;
  if (answered != asked) return received.size();
  if (is_read(function)) {
    if (received.size() < 3) return 0;
    return 3 + std::size_t{received[2]} + 2;
  }
  // Writes echo address and value or quantity (MBAP §6.5, §6.6, §6.11, §6.12).
  return 8;
}

result<void> decode_response(const ModbusRequest& r, std::span<const std::uint8_t> adu,
                             const ModbusReply& reply) {
  if (adu.size() < kMinResponse)
    return failure(EMBBADDATA, "RTU response of " + std::to_string(adu.size()) +
                                   " bytes is too short");
  const std::uint16_t received_crc = word(adu[adu.size() - 1], adu[adu.size() - 2]);
  if (crc16(adu.first(adu.size() - 2)) != received_crc)
    return failure(EMBBADCRC, "CRC error in the response of unit " + std::to_string(adu[0]));
  if (adu[0] != r.unit)
    return failure(EMBBADSLAVE, "unit " + std::to_string(adu[0]) + " answered instead of unit " +
                                    std::to_string(r.unit));
  const auto asked = static_cast<std::uint8_t>(r.function);
  if (adu[1] == (asked | kExceptionBit)) {
    const int code = adu[2];
    if (code < 1 || code > kHighestException)
      return failure(EMBBADEXC, "unknown exception code " + std::to_string(code));
    return failure(MODBUS_ENOBASE + code, describe_exception(code));
  }
  if (adu[1] != asked)
    return failure(EMBBADDATA, "function " + std::to_string(adu[1]) + " answered instead of " +
                                   std::to_string(asked));
  const auto pdu = adu.subspan(2, adu.size() - 4);  // after address and function, before CRC
  if (is_read(r.function)) {
    const std::size_t expected = data_bytes(r.function, r.count);
    if (pdu.empty() || pdu[0] != expected || pdu.size() != expected + 1)
      return failure(EMBBADDATA, "byte count " + std::to_string(pdu.empty() ? 0 : pdu[0]) +
                                     " instead of " + std::to_string(expected));
    const auto data = pdu.subspan(1);
    if (is_bit_function(r.function)) {
      if (reply.bits.size() < r.count) return failure(EINVAL, "reply buffer too small");
      for (std::size_t i = 0; i < r.count; ++i)
        reply.bits[i] = static_cast<std::uint8_t>((static_cast<unsigned>(data[i / 8]) >> (i % 8)) & 1U);
    } else {
      if (reply.registers.size() < r.count) return failure(EINVAL, "reply buffer too small");
      for (std::size_t i = 0; i < r.count; ++i) reply.registers[i] = word(data[2 * i], data[2 * i + 1]);
    }
    return outcome::success();
  }
  // A write's answer echoes its address and its value (single) or quantity (multiple).
  if (pdu.size() != 4) return failure(EMBBADDATA, "write echo of the wrong length");
  std::uint16_t second = r.count;
  if (r.function == FunctionCode::write_single_coil) second = r.bits[0] != 0 ? 0xFF00 : 0x0000;
  if (r.function == FunctionCode::write_single_register) second = r.registers[0];
  if (word(pdu[0], pdu[1]) != r.address || word(pdu[2], pdu[3]) != second)
    return failure(EMBBADDATA, "the write echo does not match the request");
  return outcome::success();
}

std::size_t request_length(std::span<const std::uint8_t> received) noexcept {
  if (received.size() < 2) return 0;
  switch (received[1]) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06:
      return 8;
    case 0x0F:
    case 0x10:
      // address, function, start, quantity, byte count, data, CRC
      if (received.size() < 7) return 0;
      return 7 + std::size_t{received[6]} + 2;
    default:
      return received.size();
  }
}

std::chrono::microseconds frame_gap(const config::SerialPortSettings& serial) noexcept {
  if (serial.baud > kFastLineBaud || serial.baud <= 0) return kFastLineFrameGap;
  const double seconds = 3.5 * character_bits(serial) / serial.baud;
  return std::chrono::microseconds{static_cast<std::int64_t>(seconds * 1e6) + 1};
}

std::chrono::microseconds transmission_time(const config::SerialPortSettings& serial,
                                            std::size_t bytes) noexcept {
  if (serial.baud <= 0) return {};
  const double seconds = static_cast<double>(bytes) * character_bits(serial) / serial.baud;
  return std::chrono::microseconds{static_cast<std::int64_t>(seconds * 1e6) + 1};
}

}  // namespace guardian::adapters::modbus::rtu

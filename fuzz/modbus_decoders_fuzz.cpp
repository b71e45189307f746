// libFuzzer target for the Modbus decoders that read bytes from the wire or the line: the RTU
// frame codec (a response to any request, the server-side request length) and the register
// codec (any point type and order over any registers). Built with clang 14 by scripts/fuzz
// (FIELD-NOTES: g++-only code cannot be fuzzed here), not by CMake.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "guardian/adapters/modbus/register_codec.hpp"
#include "guardian/adapters/modbus/rtu_frame.hpp"

namespace {

using namespace guardian;
using namespace guardian::adapters::modbus;

constexpr std::array kFunctions{
    FunctionCode::read_coils,           FunctionCode::read_discrete_inputs,
    FunctionCode::read_holding_registers, FunctionCode::read_input_registers,
    FunctionCode::write_single_coil,    FunctionCode::write_single_register,
    FunctionCode::write_multiple_coils, FunctionCode::write_multiple_registers};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  // The first 8 bytes choose the request the bytes after them answer, and a point to decode.
  std::array<std::uint16_t, 125> registers{};
  std::array<std::uint8_t, 2000> bits{};
  std::array<std::uint16_t, 1> one_register{static_cast<std::uint16_t>(data[6] << 8 | data[7])};
  std::array<std::uint8_t, 1> one_bit{static_cast<std::uint8_t>(data[7] & 1)};
  ModbusRequest request;
  request.unit = data[0];
  request.function = kFunctions[data[1] % kFunctions.size()];
  request.address = static_cast<std::uint16_t>(data[2] << 8 | data[3]);
  request.count = static_cast<std::uint16_t>((data[4] << 8 | data[5]) % 2001);
  if (request.function == FunctionCode::write_single_register) request.count = 1;
  if (request.function == FunctionCode::write_single_coil) request.count = 1;
  request.registers = std::span<const std::uint16_t>(one_register);
  request.bits = std::span<const std::uint8_t>(one_bit);
  if (request.function == FunctionCode::write_multiple_registers)
    request.registers = std::span<const std::uint16_t>(registers).first(
        std::min<std::size_t>(request.count, registers.size()));
  if (request.function == FunctionCode::write_multiple_coils)
    request.bits =
        std::span<const std::uint8_t>(bits).first(std::min<std::size_t>(request.count, bits.size()));

  const std::span<const std::uint8_t> wire(data + 8, size - 8);
  (void)rtu::response_length(request.function, wire);
  (void)rtu::decode_response(request, wire, ModbusReply{registers, bits});
  (void)rtu::request_length(wire);
  std::array<std::uint8_t, rtu::kMaxAdu> out{};
  (void)rtu::encode_request(request, out);

  // Whatever arrived, decoded as each type in each order (strings up to the data's length).
  config::ModbusPoint point;
  point.name = "p";
  point.type = static_cast<config::DataType>(data[1] % 11);
  point.order = static_cast<config::WordOrder>(data[2] % 4);
  point.bit = data[3] % 17;
  point.length = static_cast<std::uint16_t>(data[4] % 126);
  point.scale = data[5] == 0 ? 1.0 : data[5] / 16.0;
  if (data[0] & 1) point.enum_map = {{0, "off"}, {1, "on"}};
  std::array<std::uint16_t, 125> raw{};
  for (std::size_t i = 0; i < wire.size() / 2 && i < raw.size(); ++i)
    raw[i] = static_cast<std::uint16_t>(wire[2 * i] << 8 | wire[2 * i + 1]);
  const auto n = std::min<std::size_t>(wire.size() / 2, raw.size());
  if (auto value = decode_registers(point, std::span<const std::uint16_t>(raw.data(), n)))
    (void)encode_registers(point, value.value(), std::span<std::uint16_t>(raw.data(), n));
  (void)decode_bit(point, (data[7] & 2) != 0);
  return 0;
}

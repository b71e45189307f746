// The Modbus register codec: registers from a (possibly hostile) device decoded as every point
// type and word order, and the value encoded back.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "guardian/adapters/modbus/register_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace guardian;
  using namespace guardian::config;
  if (size < 4) return 0;
  ModbusPoint p;
  p.name = "p";
  p.table = static_cast<RegisterTable>(data[0] % 4);
  p.type = static_cast<DataType>(data[1] % 11);
  p.order = static_cast<WordOrder>(data[2] % 4);
  p.bit = data[3] % 20;  // includes out-of-range bits on purpose
  p.length = static_cast<std::uint16_t>(data[3] % 9);
  if (data[0] & 0x10) p.scale = 0.1;
  if (data[0] & 0x20) p.offset = -40;
  if (data[0] & 0x40) p.enum_map = {{0, "zero"}, {1, "one"}, {-1, "minus"}};
  std::vector<std::uint16_t> regs;
  for (std::size_t i = 4; i + 1 < size; i += 2)
    regs.push_back(static_cast<std::uint16_t>((data[i] << 8) | data[i + 1]));
  const auto decoded = adapters::modbus::decode_registers(p, regs);
  (void)adapters::modbus::decode_bit(p, (data[1] & 0x80) != 0);
  if (decoded) {
    std::vector<std::uint16_t> back(regs.size());
    (void)adapters::modbus::encode_registers(p, decoded.value(), back);
    (void)adapters::modbus::encode_bit(p, decoded.value());
  }
  return 0;
}

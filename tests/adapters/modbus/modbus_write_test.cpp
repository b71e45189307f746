// Writing a point: encoding with the point's type, order, scale and enum (the inverse of
// reading), the function chosen by table and width, limits, and the read-modify-write and
// read-back steps against a register file standing in for a device's memory.
#include <gtest/gtest.h>
#include <modbus/modbus.h>

#include <map>
#include <vector>

#include "adapter_harness.hpp"
#include "guardian/adapters/modbus/modbus_write.hpp"
#include "guardian/adapters/modbus/register_codec.hpp"

namespace guardian::adapters::modbus {
namespace {

using config::ModbusPoint;
using testing::DataType;
using testing::RegisterTable;
using testing::WordOrder;

ModbusPoint point(RegisterTable table, std::uint16_t address, DataType type,
                  WordOrder order = WordOrder::ABCD) {
  auto p = testing::point("setpoint", table, address, type, order);
  p.writable = true;
  return p;
}

PreparedWrite prepared(const ModbusPoint& p, const Value& v, bool force_multiple = false) {
  auto w = prepare_write(p, v, force_multiple);
  EXPECT_TRUE(w) << w.error().message;
  return w ? std::move(w).value() : PreparedWrite{};
}

std::string error_of(const ModbusPoint& p, const Value& v) {
  auto w = prepare_write(p, v, false);
  return w ? std::string("(no error)") : w.error().message;
}

TEST(PrepareWrite, ChoosesTheFunctionByTableAndWidthAndForcesMultipleOnRequest) {
  const auto coil = point(RegisterTable::coil, 3, DataType::boolean);
  EXPECT_EQ(prepared(coil, Value{true}).function, FunctionCode::write_single_coil);
  EXPECT_EQ(prepared(coil, Value{true}).bits, std::vector<std::uint8_t>{1});
  EXPECT_EQ(prepared(coil, Value{true}, true).function, FunctionCode::write_multiple_coils);
  const auto u16 = point(RegisterTable::holding_register, 10, DataType::uint16);
  EXPECT_EQ(prepared(u16, Value{std::int64_t{7}}).function, FunctionCode::write_single_register);
  EXPECT_EQ(prepared(u16, Value{std::int64_t{7}}, true).function,
            FunctionCode::write_multiple_registers);
  const auto f32 = point(RegisterTable::holding_register, 20, DataType::float32);
  EXPECT_EQ(prepared(f32, Value{1.0}).function, FunctionCode::write_multiple_registers);
  const auto request = prepared(f32, Value{1.0}).request(9);
  EXPECT_EQ(request.unit, 9);
  EXPECT_EQ(request.address, 20);
  EXPECT_EQ(request.count, 2);
}

TEST(PrepareWrite, EncodesWithTheSameScaleOrderAndLabelsAsReading) {
  auto scaled = point(RegisterTable::holding_register, 0, DataType::uint16);
  scaled.scale = 0.1;
  EXPECT_EQ(prepared(scaled, Value{92.5}).registers, std::vector<std::uint16_t>{925});
  auto offset = point(RegisterTable::holding_register, 0, DataType::int16);
  offset.scale = 0.5;
  offset.offset = -40.0;
  EXPECT_EQ(prepared(offset, Value{-41.0}).registers, std::vector<std::uint16_t>{0xFFFE});
  // 92.5f = 0x42B90000; CDAB sends the low word first.
  EXPECT_EQ(prepared(point(RegisterTable::holding_register, 0, DataType::float32, WordOrder::CDAB),
                     Value{92.5})
                .registers,
            (std::vector<std::uint16_t>{0x0000, 0x42B9}));
  EXPECT_EQ(prepared(point(RegisterTable::holding_register, 0, DataType::float64, WordOrder::DCBA),
                     Value{1234.5678})
                .registers,
            (std::vector<std::uint16_t>{0xADFA, 0x5C6D, 0x454A, 0x9340}));
  auto mode = point(RegisterTable::holding_register, 0, DataType::uint16);
  mode.enum_map = {{0, "off"}, {1, "eco"}, {2, "on"}};
  EXPECT_EQ(prepared(mode, Value{std::string("eco")}).registers, std::vector<std::uint16_t>{1});
  EXPECT_NE(error_of(mode, Value{std::string("turbo")}).find("'turbo' is not a label of enum_map"),
            std::string::npos);
  // Every encoding decodes back to the value written.
  for (const double v : {-3.25, 0.0, 92.5}) {
    auto p = point(RegisterTable::holding_register, 0, DataType::float32, WordOrder::BADC);
    EXPECT_EQ(decode_registers(p, prepared(p, Value{v}).registers).value(), Value{v});
  }
}

TEST(PrepareWrite, RefusesReadOnlyTablesValuesOutOfRangeAndOutsideTheLimits) {
  EXPECT_NE(error_of(point(RegisterTable::input_register, 5, DataType::uint16),
                     Value{std::int64_t{1}})
                .find("input registers are read-only in Modbus"),
            std::string::npos);
  EXPECT_NE(error_of(point(RegisterTable::discrete_input, 5, DataType::boolean), Value{true})
                .find("discrete inputs are read-only"),
            std::string::npos);
  EXPECT_NE(error_of(point(RegisterTable::holding_register, 0, DataType::uint16),
                     Value{std::int64_t{70000}})
                .find("out of range for uint16"),
            std::string::npos);
  auto limited = point(RegisterTable::holding_register, 14, DataType::uint16);
  limited.scale = 0.1;
  limited.write_min = 80.0;
  limited.write_max = 96.0;
  EXPECT_EQ(error_of(limited, Value{97.0}),
            "cannot write 97 to holding register 14 (point 'setpoint'): outside the allowed range "
            "80 to 96");
  EXPECT_EQ(error_of(limited, Value{96.0}), "(no error)");
  EXPECT_NE(error_of(point(RegisterTable::coil, 0, DataType::boolean), Value{std::int64_t{2}})
                .find("a bool point takes true/false or 0/1"),
            std::string::npos);
}

/// A device's memory: holding registers and coils, answering like a unit would.
struct RegisterFile {
  std::map<std::uint16_t, std::uint16_t> holding;
  std::map<std::uint16_t, std::uint8_t> coils;
  std::optional<std::uint16_t> clamp_to;   // the device keeps this instead of what is written
  int refuse_with = 0;                     // answer every write with this exception
  std::vector<FunctionCode> seen;

  Transact transact() {
    return [this](const ModbusRequest& r, const ModbusReply& reply) -> result<void> {
      seen.push_back(r.function);
      if (refuse_with != 0 && !is_read(r.function))
        return Error{boost::system::error_code(MODBUS_ENOBASE + refuse_with,
                                               boost::system::generic_category()),
                     "refused"};
      switch (r.function) {
        case FunctionCode::read_holding_registers:
          for (std::uint16_t i = 0; i < r.count; ++i)
            reply.registers[i] = holding[static_cast<std::uint16_t>(r.address + i)];
          break;
        case FunctionCode::read_coils:
          for (std::uint16_t i = 0; i < r.count; ++i)
            reply.bits[i] = coils[static_cast<std::uint16_t>(r.address + i)];
          break;
        case FunctionCode::write_single_coil:
        case FunctionCode::write_multiple_coils:
          for (std::uint16_t i = 0; i < r.count; ++i)
            coils[static_cast<std::uint16_t>(r.address + i)] = r.bits[i];
          break;
        default:
          for (std::uint16_t i = 0; i < r.count; ++i)
            holding[static_cast<std::uint16_t>(r.address + i)] =
                clamp_to ? *clamp_to : r.registers[i];
      }
      return outcome::success();
    };
  }
};

TEST(ExecuteWrite, SetsABitInARegisterAndKeepsTheOtherFifteen) {
  RegisterFile device;
  device.holding[32] = 0x00F0;
  auto flag = point(RegisterTable::holding_register, 32, DataType::bit);
  flag.bit = 3;
  const auto done = execute_write(prepared(flag, Value{true}), 1, true, device.transact());
  EXPECT_TRUE(done.ok) << done.error;
  EXPECT_EQ(device.holding[32], 0x00F8);
  EXPECT_EQ(done.readback, Value{true});
  EXPECT_EQ(device.seen, (std::vector<FunctionCode>{FunctionCode::read_holding_registers,
                                                    FunctionCode::write_single_register,
                                                    FunctionCode::read_holding_registers}));
}

TEST(ExecuteWrite, ReadsBackAndDecodesWhatTheDeviceKept) {
  RegisterFile device;
  auto scaled = point(RegisterTable::holding_register, 14, DataType::uint16);
  scaled.scale = 0.1;
  auto done = execute_write(prepared(scaled, Value{92.5}), 1, true, device.transact());
  EXPECT_TRUE(done.ok) << done.error;
  EXPECT_EQ(device.holding[14], 925);
  EXPECT_EQ(std::get<double>(done.readback), 92.5);

  device.clamp_to = 900;  // a device that clamps to 90.0 and says nothing
  done = execute_write(prepared(scaled, Value{95.0}), 1, true, device.transact());
  EXPECT_FALSE(done.ok);
  EXPECT_EQ(done.error,
            "wrote 95 (0x03B6) to holding register 14 (point 'setpoint') but it reads back 90 "
            "(0x0384): the device kept another value");
  EXPECT_EQ(std::get<double>(done.readback), 90.0);
  // Without read-back the same write counts as done: nothing checks it.
  EXPECT_TRUE(execute_write(prepared(scaled, Value{95.0}), 1, false, device.transact()).ok);
}

TEST(ExecuteWrite, NamesTheExceptionAUnitRefusesAWriteWith) {
  RegisterFile device;
  device.refuse_with = MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
  const auto done = execute_write(
      prepared(point(RegisterTable::coil, 2, DataType::boolean), Value{true}), 4, false,
      device.transact());
  EXPECT_FALSE(done.ok);
  EXPECT_EQ(done.error_code, MODBUS_ENOBASE + MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
  EXPECT_EQ(done.error,
            "exception 03 illegal data value: unit 4 refused writing coil 2 (point 'setpoint') with "
            "FC05 write single coil");
}

}  // namespace
}  // namespace guardian::adapters::modbus

// Known-vector tests of the register codec: every type, every word order, both directions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "guardian/adapters/modbus/register_codec.hpp"

namespace guardian::adapters::modbus {
namespace {

using config::DataType;
using config::ModbusPoint;
using config::RegisterTable;
using config::WordOrder;
using Registers = std::vector<std::uint16_t>;

ModbusPoint point(DataType type, WordOrder order = WordOrder::ABCD) {
  ModbusPoint p;
  p.name = "p";
  p.table = RegisterTable::holding_register;
  p.address = 10;
  p.type = type;
  p.order = order;
  return p;
}

Value decoded(const ModbusPoint& p, const Registers& regs) {
  auto r = decode_registers(p, regs);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? r.value() : Value{};
}

std::string decode_error(const ModbusPoint& p, const Registers& regs) {
  auto r = decode_registers(p, regs);
  EXPECT_FALSE(r);
  return r ? std::string{} : r.error().message;
}

Registers encoded(const ModbusPoint& p, const Value& v, Registers initial = {}) {
  initial.resize(p.width());
  auto r = encode_registers(p, v, initial);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return initial;
}

struct OrderVector {
  WordOrder order;
  Registers wire;
};

// 123.456f = 0x42F6E979: bytes A=42 B=F6 C=E9 D=79.
const std::vector<OrderVector> kFloat32 = {
    {WordOrder::ABCD, {0x42F6, 0xE979}},
    {WordOrder::CDAB, {0xE979, 0x42F6}},
    {WordOrder::BADC, {0xF642, 0x79E9}},
    {WordOrder::DCBA, {0x79E9, 0xF642}},
};

// 1234.5678 = 0x40934A456D5CFAAD: ABCDEFGH = 40 93 4A 45 6D 5C FA AD.
const std::vector<OrderVector> kFloat64 = {
    {WordOrder::ABCD, {0x4093, 0x4A45, 0x6D5C, 0xFAAD}},  // ABCDEFGH
    {WordOrder::CDAB, {0xFAAD, 0x6D5C, 0x4A45, 0x4093}},  // GHEFCDAB
    {WordOrder::BADC, {0x9340, 0x454A, 0x5C6D, 0xADFA}},  // BADCFEHG
    {WordOrder::DCBA, {0xADFA, 0x5C6D, 0x454A, 0x9340}},  // HGFEDCBA
};

// 0x0102030405060708 in each order.
const std::vector<OrderVector> kUint64 = {
    {WordOrder::ABCD, {0x0102, 0x0304, 0x0506, 0x0708}},
    {WordOrder::CDAB, {0x0708, 0x0506, 0x0304, 0x0102}},
    {WordOrder::BADC, {0x0201, 0x0403, 0x0605, 0x0807}},
    {WordOrder::DCBA, {0x0807, 0x0605, 0x0403, 0x0201}},
};

TEST(RegisterCodec, ReorderingIsItsOwnInverseForEveryOrder) {
  const Registers wire{0x0102, 0x0304, 0x0506, 0x0708};
  for (const auto& v : kUint64) {
    Registers big_endian(4), back(4);
    reorder_registers(v.wire, v.order, big_endian);
    EXPECT_EQ(big_endian, wire) << static_cast<int>(v.order);
    reorder_registers(big_endian, v.order, back);
    EXPECT_EQ(back, v.wire) << static_cast<int>(v.order);
  }
}

TEST(RegisterCodec, DecodesTheSameFloat32InEveryWordOrder) {
  for (const auto& v : kFloat32) {
    const auto value = decoded(point(DataType::float32, v.order), v.wire);
    ASSERT_TRUE(std::holds_alternative<double>(value)) << static_cast<int>(v.order);
    EXPECT_EQ(std::get<double>(value), 123.456) << static_cast<int>(v.order);
  }
}

TEST(RegisterCodec, WidensAFloat32ThroughItsShortestDecimalNotBitForBit) {
  // 230.1f is 0x4366199A; bit for bit as a double it is 230.10000610351562.
  const auto value = decoded(point(DataType::float32), {0x4366, 0x199A});
  ASSERT_TRUE(std::holds_alternative<double>(value));
  EXPECT_EQ(std::get<double>(value), 230.1);
  // NaN and infinity still refused; tiny and huge values keep their magnitude.
  EXPECT_EQ(std::get<double>(decoded(point(DataType::float32), {0x0000, 0x0001})), 1e-45);
  EXPECT_EQ(std::get<double>(decoded(point(DataType::float32), {0x7F7F, 0xFFFF})), 3.4028235e38);
}

TEST(RegisterCodec, DecodesTheSameFloat64InEveryWordOrder) {
  for (const auto& v : kFloat64) {
    const auto value = decoded(point(DataType::float64, v.order), v.wire);
    ASSERT_TRUE(std::holds_alternative<double>(value));
    EXPECT_EQ(std::get<double>(value), 1234.5678) << static_cast<int>(v.order);
  }
}

TEST(RegisterCodec, DecodesTheSame64BitIntegersInEveryWordOrder) {
  for (const auto& v : kUint64) {
    EXPECT_EQ(decoded(point(DataType::uint64, v.order), v.wire),
              Value{std::uint64_t{0x0102030405060708}});
    EXPECT_EQ(decoded(point(DataType::int64, v.order), v.wire),
              Value{std::int64_t{0x0102030405060708}});
  }
  // -1234567890123 = 0xFFFFFEE08E04FB35
  EXPECT_EQ(decoded(point(DataType::int64), {0xFFFF, 0xFEE0, 0x8E04, 0xFB35}),
            Value{std::int64_t{-1234567890123}});
  EXPECT_EQ(decoded(point(DataType::int64, WordOrder::CDAB), {0xFB35, 0x8E04, 0xFEE0, 0xFFFF}),
            Value{std::int64_t{-1234567890123}});
  EXPECT_EQ(decoded(point(DataType::uint64), {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}),
            Value{std::numeric_limits<std::uint64_t>::max()});
}

TEST(RegisterCodec, Decodes32BitIntegersInEveryWordOrder) {
  // -123456 = 0xFFFE1DC0
  const std::vector<OrderVector> vectors = {
      {WordOrder::ABCD, {0xFFFE, 0x1DC0}},
      {WordOrder::CDAB, {0x1DC0, 0xFFFE}},
      {WordOrder::BADC, {0xFEFF, 0xC01D}},
      {WordOrder::DCBA, {0xC01D, 0xFEFF}},
  };
  for (const auto& v : vectors) {
    EXPECT_EQ(decoded(point(DataType::int32, v.order), v.wire), Value{std::int64_t{-123456}});
    EXPECT_EQ(decoded(point(DataType::uint32, v.order), v.wire), Value{std::uint64_t{0xFFFE1DC0}});
  }
}

TEST(RegisterCodec, Decodes16BitIntegersWithSignAndByteOrder) {
  EXPECT_EQ(decoded(point(DataType::int16), {0xFF85}), Value{std::int64_t{-123}});
  EXPECT_EQ(decoded(point(DataType::uint16), {0xFF85}), Value{std::uint64_t{0xFF85}});
  EXPECT_EQ(decoded(point(DataType::int16, WordOrder::BADC), {0x85FF}), Value{std::int64_t{-123}});
  EXPECT_EQ(decoded(point(DataType::uint16, WordOrder::DCBA), {0x3412}),
            Value{std::uint64_t{0x1234}});
  EXPECT_EQ(decoded(point(DataType::uint16, WordOrder::CDAB), {0x1234}),
            Value{std::uint64_t{0x1234}});
  EXPECT_EQ(decoded(point(DataType::int16), {0x8000}), Value{std::int64_t{-32768}});
}

TEST(RegisterCodec, BooleanIsTrueForAnyNonZeroRegister) {
  EXPECT_EQ(decoded(point(DataType::boolean), {0}), Value{false});
  EXPECT_EQ(decoded(point(DataType::boolean), {1}), Value{true});
  EXPECT_EQ(decoded(point(DataType::boolean), {0x8000}), Value{true});
}

TEST(RegisterCodec, BitInRegisterReadsTheNamedBit) {
  auto p = point(DataType::bit);
  p.bit = 0;
  EXPECT_EQ(decoded(p, {0x0001}), Value{true});
  EXPECT_EQ(decoded(p, {0xFFFE}), Value{false});
  p.bit = 15;
  EXPECT_EQ(decoded(p, {0x8000}), Value{true});
  EXPECT_EQ(decoded(p, {0x7FFF}), Value{false});
  p.bit = 3;
  EXPECT_EQ(decoded(p, {0x0008}), Value{true});
  p.bit = 16;
  EXPECT_NE(decode_error(p, {0xFFFF}).find("bit 16 is outside 0-15"), std::string::npos);
}

TEST(RegisterCodec, IdentityScaleKeepsTheIntegerType) {
  auto p = point(DataType::uint32);
  EXPECT_TRUE(std::holds_alternative<std::uint64_t>(decoded(p, {0, 7})));
  p.type = DataType::int16;
  EXPECT_TRUE(std::holds_alternative<std::int64_t>(decoded(p, {7})));
}

TEST(RegisterCodec, ScaleAndOffsetTurnNumbersIntoDoubles) {
  auto p = point(DataType::int16);
  p.scale = 0.1;
  EXPECT_DOUBLE_EQ(std::get<double>(decoded(p, {0xFF29})), -21.5);  // -215 × 0.1
  p = point(DataType::uint16);
  p.scale = 0.01;
  p.offset = -1.0;
  EXPECT_DOUBLE_EQ(std::get<double>(decoded(p, {900})), 8.0);
  p = point(DataType::float32);
  p.scale = 2.0;
  p.offset = 1.0;
  EXPECT_DOUBLE_EQ(std::get<double>(decoded(p, {0x3FC0, 0x0000})), 4.0);  // 1.5 × 2 + 1
  p = point(DataType::uint64);
  p.offset = 0.5;
  EXPECT_DOUBLE_EQ(std::get<double>(decoded(p, {0, 0, 0, 2})), 2.5);
}

TEST(RegisterCodec, ScaledValuesAreTheDecimalTheDeviceMeansNotTheirBinaryNeighbour) {
  // In plain double arithmetic 2317 × 0.1 is 231.70000000000002 and 3 × 0.1 is
  // 0.30000000000000004; both must be published as the decimal the register map means.
  auto p = point(DataType::uint16);
  p.scale = 0.1;
  EXPECT_EQ(std::get<double>(decoded(p, {2317})), 231.7);
  EXPECT_EQ(std::get<double>(decoded(p, {3})), 0.3);
  p.scale = 0.01;
  p.offset = -40.0;
  EXPECT_EQ(std::get<double>(decoded(p, {1234})), -27.66);
}

TEST(RegisterCodec, EnumMapTurnsRawValuesIntoLabels) {
  auto p = point(DataType::uint16);
  p.enum_map = {{0, "idle"}, {3, "brewing"}};
  p.scale = 10.0;  // labels apply to the raw value, before any scaling
  EXPECT_EQ(decoded(p, {3}), Value{std::string("brewing")});
  auto b = point(DataType::boolean);
  b.enum_map = {{0, "closed"}, {1, "open"}};
  EXPECT_EQ(decoded(b, {5}), Value{std::string("open")});
  auto s = point(DataType::int16);
  s.enum_map = {{-1, "unknown"}};
  EXPECT_EQ(decoded(s, {0xFFFF}), Value{std::string("unknown")});
}

TEST(RegisterCodec, UnmappedEnumValueIsAnErrorNamingTheRawValue) {
  auto p = point(DataType::uint16);
  p.name = "state";
  p.enum_map = {{0, "idle"}};
  const auto error = decode_error(p, {7});
  EXPECT_NE(error.find("raw value 7"), std::string::npos) << error;
  EXPECT_NE(error.find("holding register 10"), std::string::npos) << error;
  EXPECT_NE(error.find("'state'"), std::string::npos) << error;
}

TEST(RegisterCodec, NanAndInfinityAreErrors) {
  EXPECT_NE(decode_error(point(DataType::float32), {0x7FC0, 0x0000}).find("NaN (raw 0x7FC00000)"),
            std::string::npos);
  EXPECT_NE(
      decode_error(point(DataType::float32, WordOrder::CDAB), {0x0000, 0xFF80}).find("infinite"),
      std::string::npos);
  EXPECT_NE(decode_error(point(DataType::float64), {0x7FF0, 0, 0, 0}).find("infinite"),
            std::string::npos);
  EXPECT_NE(decode_error(point(DataType::float64), {0x7FF8, 0, 0, 1}).find("NaN"),
            std::string::npos);
  auto huge = point(DataType::float32);
  huge.scale = 1e300;
  EXPECT_NE(decode_error(huge, {0x7F7F, 0xFFFF}).find("not finite"), std::string::npos);
}

TEST(RegisterCodec, StringsAreCutAtTheFirstNulAndRightTrimmed) {
  auto p = point(DataType::string);
  p.length = 4;
  // "GS3 " then NUL
  EXPECT_EQ(decoded(p, {0x4753, 0x3320, 0x2000, 0x4142}), Value{std::string("GS3")});
  EXPECT_EQ(decoded(p, {0x4C61, 0x204D, 0x6172, 0x7A6F}), Value{std::string("La Marzo")});
  EXPECT_EQ(decoded(p, {0x41FF, 0x0142, 0, 0}), Value{std::string("A??B")});
}

TEST(RegisterCodec, StringsFollowTheWordOrder) {
  auto p = point(DataType::string, WordOrder::BADC);
  p.length = 2;
  EXPECT_EQ(decoded(p, {0x5347, 0x2033}), Value{std::string("GS3")});
  p.order = WordOrder::CDAB;
  EXPECT_EQ(decoded(p, {0x3320, 0x4753}), Value{std::string("GS3")});
  p.order = WordOrder::DCBA;
  EXPECT_EQ(decoded(p, {0x2033, 0x5347}), Value{std::string("GS3")});
}

TEST(RegisterCodec, TooFewRegistersIsAnError) {
  EXPECT_NE(decode_error(point(DataType::float64), {1, 2, 3}).find("needs 4 registers, got 3"),
            std::string::npos);
  auto s = point(DataType::string);
  s.length = 0;
  EXPECT_NE(decode_error(s, {1}).find("spans no registers"), std::string::npos);
}

TEST(RegisterCodec, ExtraRegistersAfterThePointAreIgnored) {
  EXPECT_EQ(decoded(point(DataType::uint16), {42, 1, 2}), Value{std::uint64_t{42}});
}

TEST(RegisterCodec, DecodesCoilsAndDiscreteInputsAsBool) {
  auto p = point(DataType::boolean);
  p.table = RegisterTable::coil;
  EXPECT_EQ(decode_bit(p, true).value(), Value{true});
  EXPECT_EQ(decode_bit(p, false).value(), Value{false});
  p.enum_map = {{1, "low"}, {0, "ok"}};
  EXPECT_EQ(decode_bit(p, true).value(), Value{std::string("low")});
  p = point(DataType::float32);
  p.table = RegisterTable::discrete_input;
  auto r = decode_bit(p, true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("discrete input 10"), std::string::npos) << r.error().message;
}

TEST(RegisterCodec, EncodesFloatsIntoEveryWordOrder) {
  for (const auto& v : kFloat32)
    EXPECT_EQ(encoded(point(DataType::float32, v.order), Value{static_cast<double>(123.456f)}),
              v.wire);
  for (const auto& v : kFloat64)
    EXPECT_EQ(encoded(point(DataType::float64, v.order), Value{1234.5678}), v.wire);
}

TEST(RegisterCodec, Encodes64BitIntegersExactlyInEveryWordOrder) {
  for (const auto& v : kUint64) {
    EXPECT_EQ(encoded(point(DataType::uint64, v.order), Value{std::uint64_t{0x0102030405060708}}),
              v.wire);
    EXPECT_EQ(encoded(point(DataType::int64, v.order), Value{std::int64_t{0x0102030405060708}}),
              v.wire);
  }
  EXPECT_EQ(encoded(point(DataType::int64), Value{std::numeric_limits<std::int64_t>::min()}),
            (Registers{0x8000, 0, 0, 0}));
}

TEST(RegisterCodec, EncodingThenDecodingGivesTheValueBackForEveryTypeAndOrder) {
  const std::vector<std::pair<DataType, Value>> cases = {
      {DataType::int16, Value{std::int64_t{-1234}}},
      {DataType::uint16, Value{std::uint64_t{65535}}},
      {DataType::int32, Value{std::int64_t{-2000000000}}},
      {DataType::uint32, Value{std::uint64_t{4000000000}}},
      {DataType::int64, Value{std::int64_t{-9000000000000000000}}},
      {DataType::uint64, Value{std::uint64_t{18000000000000000000ULL}}},
      {DataType::float32, Value{-0.5}},
      {DataType::float64, Value{-0.1}},
      {DataType::boolean, Value{true}},
  };
  for (const auto order : {WordOrder::ABCD, WordOrder::CDAB, WordOrder::BADC, WordOrder::DCBA}) {
    for (const auto& [type, value] : cases) {
      const auto p = point(type, order);
      EXPECT_EQ(decoded(p, encoded(p, value)), value)
          << "type " << static_cast<int>(type) << " order " << static_cast<int>(order);
    }
    auto s = point(DataType::string, order);
    s.length = 3;
    EXPECT_EQ(decoded(s, encoded(s, Value{std::string("Linea")})), Value{std::string("Linea")});
  }
}

TEST(RegisterCodec, EncodingUndoesScaleAndOffsetWithRounding) {
  auto p = point(DataType::int16);
  p.scale = 0.1;
  EXPECT_EQ(encoded(p, Value{-21.5}), Registers{0xFF29});
  p = point(DataType::uint16);
  p.scale = 0.01;
  p.offset = -1.0;
  EXPECT_EQ(encoded(p, Value{8.0}), Registers{900});
  EXPECT_EQ(encoded(p, Value{std::int64_t{8}}), Registers{900});
}

TEST(RegisterCodec, EncodingRejectsValuesOutOfTheTypesRange) {
  Registers regs(4);
  EXPECT_FALSE(encode_registers(point(DataType::int16), Value{std::int64_t{40000}}, regs));
  EXPECT_FALSE(encode_registers(point(DataType::int16), Value{std::int64_t{-32769}}, regs));
  EXPECT_TRUE(encode_registers(point(DataType::int16), Value{std::int64_t{-32768}}, regs));
  EXPECT_FALSE(encode_registers(point(DataType::uint16), Value{std::int64_t{-1}}, regs));
  EXPECT_FALSE(encode_registers(point(DataType::uint32), Value{std::uint64_t{1ULL << 32}}, regs));
  EXPECT_FALSE(encode_registers(point(DataType::float32), Value{1e39}, regs));
  EXPECT_FALSE(encode_registers(point(DataType::float64), Value{std::nan("")}, regs));
  EXPECT_FALSE(encode_registers(point(DataType::float64), Value{}, regs));
  auto scaled = point(DataType::uint16);
  scaled.scale = 0.01;
  const auto r = encode_registers(scaled, Value{700.0}, regs);  // raw 70000
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("out of range for uint16"), std::string::npos)
      << r.error().message;
}

TEST(RegisterCodec, EncodingABitKeepsTheOtherBitsOfTheRegister) {
  auto p = point(DataType::bit);
  p.bit = 4;
  EXPECT_EQ(encoded(p, Value{true}, {0x8001}), Registers{0x8011});
  EXPECT_EQ(encoded(p, Value{false}, {0xFFFF}), Registers{0xFFEF});
  EXPECT_EQ(encoded(p, Value{std::int64_t{1}}, {0}), Registers{0x0010});
  Registers regs{0};
  EXPECT_FALSE(encode_registers(p, Value{std::int64_t{2}}, regs));
}

TEST(RegisterCodec, EncodingAnEnumLabelWritesItsRawValue) {
  auto p = point(DataType::uint16);
  p.enum_map = {{0, "idle"}, {3, "brewing"}};
  EXPECT_EQ(encoded(p, Value{std::string("brewing")}), Registers{3});
  Registers regs{0};
  const auto r = encode_registers(p, Value{std::string("dancing")}, regs);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'dancing' is not a label"), std::string::npos);
}

TEST(RegisterCodec, EncodingAStringPadsWithNulAndRefusesOneTooLong) {
  auto p = point(DataType::string);
  p.length = 3;
  EXPECT_EQ(encoded(p, Value{std::string("GS3")}), (Registers{0x4753, 0x3300, 0x0000}));
  Registers regs(3);
  EXPECT_FALSE(encode_registers(p, Value{std::string("GS3-AV-2")}, regs));
  EXPECT_FALSE(encode_registers(p, Value{1.0}, regs));
}

TEST(RegisterCodec, EncodesCoils) {
  auto p = point(DataType::boolean);
  p.table = RegisterTable::coil;
  EXPECT_EQ(encode_bit(p, Value{true}).value(), true);
  EXPECT_EQ(encode_bit(p, Value{std::uint64_t{0}}).value(), false);
  EXPECT_FALSE(encode_bit(p, Value{0.5}));
  p.type = DataType::uint16;
  EXPECT_FALSE(encode_bit(p, Value{true}));
}

}  // namespace
}  // namespace guardian::adapters::modbus

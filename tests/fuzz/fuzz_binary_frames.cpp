// Binary frames: sync, a length field counting the payload, CRC-16/MODBUS, discriminated
// messages with every raw type, bit fields and enums; the second input byte picks a variant
// without sync and with a fixed length and an XOR checksum over a range counted from the end.
#include "fuzz_codec_harness.hpp"

namespace {

using namespace guardian::config;

FieldSpec field(const char* name, std::size_t at, RawType raw, Endian e = Endian::big) {
  FieldSpec f;
  f.name = name;
  f.at = at;
  f.raw = raw;
  f.endian = e;
  f.type = raw == RawType::f32 || raw == RawType::f64 ? FieldType::real
           : raw == RawType::bytes                    ? FieldType::bytes
           : raw == RawType::string                   ? FieldType::string
                                                      : FieldType::integer;
  return f;
}

std::vector<FieldSpec> all_fields() {
  std::vector<FieldSpec> fs{
      field("u8", 4, RawType::u8),    field("i16", 5, RawType::i16, Endian::little),
      field("u32", 7, RawType::u32),  field("i64", 11, RawType::i64),
      field("f32", 19, RawType::f32), field("f64", 23, RawType::f64, Endian::little),
      field("u64", 31, RawType::u64), field("s", 39, RawType::string),
      field("b", 43, RawType::bytes), field("i8", 47, RawType::i8),
      field("u16", 48, RawType::u16), field("i32", 50, RawType::i32)};
  fs[7].length = 4;
  fs[8].length = 4;
  fs[1].scale = 0.1;
  fs[6].scale = 3.0;
  FieldSpec bit = field("bit", 4, RawType::u8);
  bit.bit = 3;
  bit.type = FieldType::boolean;
  FieldSpec mode = field("mode", 7, RawType::u32);
  mode.bit = 30;
  mode.bits = 2;
  mode.type = FieldType::enumeration;
  mode.enum_map = {{0, "off"}, {1, "on"}};
  fs.push_back(bit);
  fs.push_back(mode);
  return fs;
}

CodecConfig variable_length() {
  CodecConfig c;
  c.kind = CodecKind::binary;
  auto& b = c.binary;
  b.sync = {0xAA, 0x55};
  b.length = LengthField{2, 1, Endian::big, LengthCounts::payload, 0, 0};
  b.max_frame = 80;
  b.checksum = BinaryChecksum{ChecksumKind::crc16_modbus, 2, -2, -2, Endian::little};
  MessageSpec m;
  m.name = "all";
  m.when_at = 3;
  m.when_bytes = {0x01};
  m.fields = all_fields();
  MessageSpec rec;
  rec.name = "rec";
  rec.record = true;
  rec.fields = {field("x", 3, RawType::u16)};
  b.messages = {m, rec};
  return c;
}

CodecConfig fixed_length() {
  CodecConfig c;
  c.kind = CodecKind::binary;
  auto& b = c.binary;
  b.frame_length = 60;
  b.max_frame = 60;
  b.checksum = BinaryChecksum{ChecksumKind::xor8, 0, -1, -1, Endian::big};
  MessageSpec m;
  m.name = "all";
  m.fields = all_fields();
  b.messages = {m};
  return c;
}

CodecConfig counted_from() {
  CodecConfig c = variable_length();
  c.binary.length = LengthField{3, 2, Endian::little, LengthCounts::from, 5, -1};
  c.binary.checksum = BinaryChecksum{ChecksumKind::crc8_maxim, 0, -1, -1, Endian::big};
  c.binary.sync = {0x7E};
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const guardian::adapters::stream::CodecFactory variable(variable_length());
  static const guardian::adapters::stream::CodecFactory fixed(fixed_length());
  static const guardian::adapters::stream::CodecFactory from(counted_from());
  if (size < 1) return 0;
  switch (data[0] % 3) {
    case 0:
      guardian::fuzz::exercise(variable, 80, data + 1, size - 1);
      break;
    case 1:
      guardian::fuzz::exercise(fixed, 60, data + 1, size - 1);
      break;
    default:
      guardian::fuzz::exercise(from, 80, data + 1, size - 1);
      break;
  }
  return 0;
}

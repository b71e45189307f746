// Line codec, key=value messages (one with a prefix and a checksum, one catch-all).
#include "fuzz_codec_harness.hpp"

namespace {

using namespace guardian::config;

CodecConfig make_config() {
  CodecConfig c;
  c.kind = CodecKind::lines;
  c.lines.delimiter = "\n";
  c.lines.max_line = 256;
  MessageSpec status;
  status.name = "status";
  status.syntax = LineSyntax::key_value;
  status.prefix = "ST ";
  status.separator = ";";
  status.assign = ":";
  status.checksum = LineChecksum{ChecksumKind::crc16_xmodem, "ST ", "#"};
  FieldSpec t{.name = "t", .type = FieldType::real, .key = "T"};
  FieldSpec mode{.name = "mode", .type = FieldType::enumeration, .key = "M"};
  mode.enum_map = {{1, "a"}, {2, "b"}};
  status.fields = {t, mode};
  MessageSpec any;
  any.name = "any";
  any.syntax = LineSyntax::key_value;
  FieldSpec a{.name = "a", .type = FieldType::integer, .key = "a"};
  FieldSpec b{.name = "b", .type = FieldType::boolean, .key = "b"};
  FieldSpec s{.name = "s", .type = FieldType::string, .key = "s"};
  a.scale = 2.5;
  any.fields = {a, b, s};
  c.lines.messages = {status, any};
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const guardian::adapters::stream::CodecFactory factory(make_config());
  guardian::fuzz::exercise(factory, 256 + 1, data, size);
  return 0;
}

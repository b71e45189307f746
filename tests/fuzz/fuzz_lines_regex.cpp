// Line codec, regex messages with named groups and an NMEA-style checksum (the espresso protocol).
#include "fuzz_codec_harness.hpp"

namespace {

using namespace guardian::config;

CodecConfig make_config() {
  CodecConfig c;
  c.kind = CodecKind::lines;
  c.lines.delimiter = "\r\n";
  c.lines.max_line = 100;
  MessageSpec shot;
  shot.name = "shot";
  shot.record = true;
  shot.regex = R"(^\$SHOT,(?<n>\d+),(?<d>-?[0-9.]+),(?<v>[0-9.]+),(?<s>[A-Z]+)\*[0-9A-F]{2}$)";
  shot.checksum = LineChecksum{};
  FieldSpec n{.name = "n", .type = FieldType::integer, .group = "n"};
  FieldSpec d{.name = "d", .type = FieldType::real, .group = "d"};
  d.scale = 0.1;
  FieldSpec v{.name = "v", .type = FieldType::enumeration, .group = "v"};
  v.enum_map = {{0, "zero"}, {1, "one"}};
  FieldSpec s{.name = "s", .type = FieldType::string, .group = "s"};
  shot.fields = {n, d, v, s};
  MessageSpec status;
  status.name = "status";
  status.regex = R"((?<t>[-+]?[0-9]*\.?[0-9]+)\s*(?<on>on|off|true|false|1|0)?)";
  FieldSpec t{.name = "t", .type = FieldType::real, .group = "t"};
  FieldSpec on{.name = "on", .type = FieldType::boolean, .group = "on"};
  status.fields = {t, on};
  c.lines.messages = {shot, status};
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const guardian::adapters::stream::CodecFactory factory(make_config());
  guardian::fuzz::exercise(factory, 100 + 2, data, size);
  return 0;
}

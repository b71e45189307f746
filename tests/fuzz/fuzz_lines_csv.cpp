// Line codec, CSV messages with a multi-byte delimiter and separator, trimming off.
#include "fuzz_codec_harness.hpp"

namespace {

using namespace guardian::config;

CodecConfig make_config() {
  CodecConfig c;
  c.kind = CodecKind::lines;
  c.lines.delimiter = "\r\n";
  c.lines.max_line = 200;
  c.lines.trim = false;
  MessageSpec temps;
  temps.name = "temps";
  temps.syntax = LineSyntax::csv;
  temps.prefix = "T,";
  FieldSpec a{.name = "a", .type = FieldType::real, .column = 1};
  FieldSpec b{.name = "b", .type = FieldType::integer, .column = 7};
  b.offset = -40;
  temps.fields = {a, b};
  MessageSpec wide;
  wide.name = "wide";
  wide.syntax = LineSyntax::csv;
  wide.separator = "||";
  FieldSpec x{.name = "x", .type = FieldType::string, .column = 0};
  FieldSpec y{.name = "y", .type = FieldType::boolean, .column = 2};
  wide.fields = {x, y};
  c.lines.messages = {temps, wide};
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const guardian::adapters::stream::CodecFactory factory(make_config());
  guardian::fuzz::exercise(factory, 200 + 2, data, size);
  return 0;
}

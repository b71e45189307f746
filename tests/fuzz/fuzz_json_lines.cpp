// JSON lines: pointers into objects and arrays, a discriminator, every field type.
#include "fuzz_codec_harness.hpp"

namespace {

using namespace guardian::config;

FieldSpec field(const char* name, std::vector<std::string> tokens, FieldType type) {
  FieldSpec f;
  f.name = name;
  f.type = type;
  f.pointer = name;
  f.pointer_tokens = std::move(tokens);
  return f;
}

CodecConfig make_config() {
  CodecConfig c;
  c.kind = CodecKind::json_lines;
  c.json.max_line = 1024;
  MessageSpec shot;
  shot.name = "shot";
  shot.record = true;
  shot.when_tokens = {"type"};
  shot.when_equals = "shot";
  shot.fields = {field("d", {"shot", "d"}, FieldType::real),
                 field("ok", {"shot", "ok"}, FieldType::boolean)};
  MessageSpec t;
  t.name = "t";
  auto e = field("e", {"e"}, FieldType::enumeration);
  e.enum_map = {{1, "one"}};
  auto i = field("i", {"v", "0"}, FieldType::integer);
  i.scale = 0.5;
  t.fields = {field("id", {"id"}, FieldType::string), field("x", {"a/b", "~"}, FieldType::real), e,
              i, field("deep", {"a", "b", "c", "10"}, FieldType::boolean)};
  c.json.messages = {shot, t};
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const guardian::adapters::stream::CodecFactory factory(make_config());
  guardian::fuzz::exercise(factory, 1024 + 1, data, size);
  return 0;
}

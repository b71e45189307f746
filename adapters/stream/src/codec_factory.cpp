#include <stdexcept>

#include "codecs.hpp"

namespace guardian::adapters::stream {

struct CodecFactory::Compiled {
  config::CodecConfig config;
  std::vector<detail::CompiledLineMessage> lines;
};

CodecFactory::CodecFactory(config::CodecConfig config) : compiled_(std::make_unique<Compiled>()) {
  compiled_->config = std::move(config);
  const auto& c = compiled_->config;
  switch (c.kind) {
    case config::CodecKind::lines:
      compiled_->lines = detail::compile_line_messages(c.lines);
      break;
    case config::CodecKind::binary:
      detail::check_binary_config(c.binary);
      break;
    case config::CodecKind::json_lines:
      if (c.json.delimiter.empty() || c.json.max_line == 0 || c.json.messages.empty())
        throw std::invalid_argument("a JSON-lines codec needs a delimiter, max_line and a message");
      break;
  }
}

CodecFactory::~CodecFactory() = default;

std::unique_ptr<Codec> CodecFactory::make() const {
  const auto& c = compiled_->config;
  switch (c.kind) {
    case config::CodecKind::binary:
      return detail::make_binary_codec(c.binary);
    case config::CodecKind::json_lines:
      return detail::make_json_codec(c.json);
    case config::CodecKind::lines:
      break;
  }
  return detail::make_line_codec(c.lines, compiled_->lines);
}

const config::CodecConfig& CodecFactory::config() const noexcept { return compiled_->config; }

void CodecCounters::add_to(std::map<std::string, std::uint64_t>& out,
                           config::CodecKind kind) const {
  const auto put = [&](const char* name, std::uint64_t v) {
    if (v != 0) out[name] += v;
  };
  put("messages", messages);
  put("bad_checksum", bad_checksum);
  put("overlong", overlong);
  put("garbage_bytes", garbage_bytes);
  put("bad_length", bad_length);
  put("truncated", truncated);
  put(kind == config::CodecKind::binary ? "unmatched_frames" : "unmatched_lines", unmatched);
  put("invalid_json", invalid_json);
  put("decode_errors", decode_errors);
}

CodecCounters& CodecCounters::operator+=(const CodecCounters& o) noexcept {
  messages += o.messages;
  bad_checksum += o.bad_checksum;
  overlong += o.overlong;
  garbage_bytes += o.garbage_bytes;
  bad_length += o.bad_length;
  truncated += o.truncated;
  unmatched += o.unmatched;
  invalid_json += o.invalid_json;
  decode_errors += o.decode_errors;
  return *this;
}

}  // namespace guardian::adapters::stream

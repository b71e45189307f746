// JSON lines: one JSON object per line (nlohmann::json, parsed without exceptions), fields picked
// with RFC 6901 pointers resolved by hand so that no lookup can throw.

#include <nlohmann/json.hpp>

#include "codecs.hpp"
#include "field_value.hpp"
#include "line_splitter.hpp"

namespace guardian::adapters::stream::detail {
namespace {

using config::FieldType;
using nlohmann::json;

/// The value `tokens` points at in `doc` (RFC 6901 §4), or nullptr.
const json* resolve(const json& doc, const std::vector<std::string>& tokens) {
  const json* node = &doc;
  for (const auto& token : tokens) {
    if (node->is_object()) {
      const auto it = node->find(token);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      // RFC 6901 §4: an array index is 0 or digits without a leading zero.
      if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0'))
        return nullptr;
      std::size_t index = 0;
      for (const char c : token) {
        if (c < '0' || c > '9') return nullptr;
        index = index * 10 + static_cast<std::size_t>(c - '0');
      }
      if (index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
  }
  return node;
}

/// A scalar as text, for `when` comparisons: strings as they are, numbers and booleans as JSON.
std::optional<std::string> scalar_text(const json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number_integer())
    return v.is_number_unsigned() ? std::to_string(v.get<std::uint64_t>())
                                  : std::to_string(v.get<std::int64_t>());
  if (v.is_number_float()) return v.dump();
  return std::nullopt;
}

result<Value> decode_json_field(const config::FieldSpec& f, const json* v) {
  const auto error = [&](const std::string& what) {
    return make_error("field '" + f.name + "' (" + f.pointer + "): " + what);
  };
  if (v == nullptr) return error("not in the object");
  switch (f.type) {
    case FieldType::integer:
    case FieldType::enumeration:
      if (v->is_number_unsigned() &&
          v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
        return error("integer out of range");
      if (v->is_number_integer()) return finish_integer(f, v->get<std::int64_t>());
      if (v->is_string()) return decode_text_field(f, v->get_ref<const std::string&>());
      return error("expected an integer");
    case FieldType::real:
      if (v->is_number()) return finish_real(f, v->get<double>());
      if (v->is_string()) return decode_text_field(f, v->get_ref<const std::string&>());
      return error("expected a number");
    case FieldType::boolean:
      if (v->is_boolean()) return Value{v->get<bool>()};
      if (v->is_number_integer()) return Value{v->get<std::int64_t>() != 0};
      if (v->is_string()) return decode_text_field(f, v->get_ref<const std::string&>());
      return error("expected a boolean");
    case FieldType::string:
      if (v->is_string()) return Value{v->get_ref<const std::string&>()};
      if (const auto text = scalar_text(*v)) return Value{*text};
      return error("expected a string");
    case FieldType::bytes:
      break;
  }
  return error("unsupported field type");
}

class JsonCodec final : public SplitLinesCodec {
 public:
  explicit JsonCodec(const config::JsonCodecConfig& config)
      : SplitLinesCodec(config.delimiter, config.max_line), config_(config) {}

 private:
  void decode_line(std::string_view line, Timestamp ts, std::vector<Decoded>& out) override {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    // nlohmann::json is third-party: parse without exceptions, and keep any it might still throw
    // (allocation) at this boundary.
    try {
      const json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded()) {
        ++counters_.invalid_json;
        return;
      }
      for (const auto& m : config_.messages) {
        if (!m.when_tokens.empty()) {
          const json* v = resolve(doc, m.when_tokens);
          const auto text = v != nullptr ? scalar_text(*v) : std::nullopt;
          if (!text || *text != m.when_equals) continue;
        }
        Decoded decoded;
        decoded.message = &m;
        for (const auto& f : m.fields) {
          decoded.fields.push_back(
              make_reading(f, decode_json_field(f, resolve(doc, f.pointer_tokens)), ts));
          counters_.decode_errors += decoded.fields.back().quality == Quality::bad;
        }
        ++counters_.messages;
        out.push_back(std::move(decoded));
        return;
      }
      ++counters_.unmatched;
    } catch (const std::exception&) {
      ++counters_.invalid_json;
    }
  }

  const config::JsonCodecConfig& config_;
};

}  // namespace

std::unique_ptr<Codec> make_json_codec(const config::JsonCodecConfig& config) {
  return std::make_unique<JsonCodec>(config);
}

}  // namespace guardian::adapters::stream::detail

// Reading `type: serial | tcp-client | tcp-server | udp` adapters: a transport, a declarative
// codec (lines, binary frames, JSON lines) and an optional poll. Every rule that can be judged
// from the file is judged here, so a codec never meets a pattern that does not compile, a field
// outside its frame or a checksum over bytes that do not exist.

#include <arpa/inet.h>

#include <array>
#include <regex>

#include "guardian/common/byte_text.hpp"
#include "guardian/common/named_regex.hpp"
#include "profiles.hpp"
#include "sections.hpp"

namespace guardian::config::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxBufferLimit = 65536;  // max_line / max_frame ceiling

constexpr std::array<Choice<StreamTransport>, 4> kTransportKinds{
    {{"serial", StreamTransport::serial},
     {"tcp-client", StreamTransport::tcp_client},
     {"tcp-server", StreamTransport::tcp_server},
     {"udp", StreamTransport::udp}}};


constexpr std::array<Choice<CodecKind>, 3> kCodecKinds{{{"lines", CodecKind::lines},
                                                        {"binary", CodecKind::binary},
                                                        {"json-lines", CodecKind::json_lines}}};

constexpr std::array<Choice<FieldType>, 5> kTextFieldTypes{{{"int", FieldType::integer},
                                                            {"float", FieldType::real},
                                                            {"bool", FieldType::boolean},
                                                            {"string", FieldType::string},
                                                            {"enum", FieldType::enumeration}}};

constexpr std::array<Choice<RawType>, 12> kRawTypes{{{"u8", RawType::u8},
                                                     {"u16", RawType::u16},
                                                     {"u32", RawType::u32},
                                                     {"u64", RawType::u64},
                                                     {"i8", RawType::i8},
                                                     {"i16", RawType::i16},
                                                     {"i32", RawType::i32},
                                                     {"i64", RawType::i64},
                                                     {"f32", RawType::f32},
                                                     {"f64", RawType::f64},
                                                     {"bytes", RawType::bytes},
                                                     {"string", RawType::string}}};

constexpr std::array<Choice<Endian>, 2> kEndians{
    {{"big", Endian::big}, {"little", Endian::little}}};

constexpr std::array<Choice<LengthCounts>, 3> kLengthCounts{{{"frame", LengthCounts::frame},
                                                             {"payload", LengthCounts::payload},
                                                             {"from", LengthCounts::from}}};
constexpr std::array<Choice<std::size_t>, 3> kLengthSizes{{{"1", 1}, {"2", 2}, {"4", 4}}};

constexpr std::array<Choice<ChecksumKind>, 8> kChecksums{
    {{"crc16-modbus", ChecksumKind::crc16_modbus},
     {"crc16-ccitt-false", ChecksumKind::crc16_ccitt_false},
     {"crc16-xmodem", ChecksumKind::crc16_xmodem},
     {"crc16-kermit", ChecksumKind::crc16_kermit},
     {"crc8", ChecksumKind::crc8},
     {"crc8-maxim", ChecksumKind::crc8_maxim},
     {"xor", ChecksumKind::xor8},
     {"sum8", ChecksumKind::sum8}}};

template <class T, std::size_t N>
std::string spelling(const std::array<Choice<T>, N>& choices, T value) {
  for (const auto& c : choices)
    if (c.value == value) return std::string(c.spelling);
  return "?";
}

// ─────────────────────────── value parsers ───────────────────────────

/// Text with C escapes (\r \n \xHH …), turned into bytes.
ScalarParser<std::vector<std::uint8_t>> escaped_bytes() {
  static const std::string kExpected = "text with optional escapes such as \\r \\n \\xHH";
  return {kExpected, [](std::string_view text) -> result<std::vector<std::uint8_t>> {
            auto bytes = unescape_bytes(text);
            if (!bytes) return expected_but_got(kExpected, text, bytes.error().message);
            if (bytes.value().empty()) return expected_but_got(kExpected, text, "it is empty");
            return std::move(bytes).value();
          }};
}

/// Hex bytes ("AA 55"), at least one.
ScalarParser<std::vector<std::uint8_t>> hex_bytes() {
  static const std::string kExpected = "hex bytes such as 'AA 55'";
  return {kExpected, [](std::string_view text) -> result<std::vector<std::uint8_t>> {
            auto bytes = parse_hex_bytes(text);
            if (!bytes) return expected_but_got(kExpected, text, bytes.error().message);
            if (bytes.value().empty()) return expected_but_got(kExpected, text, "no bytes");
            return std::move(bytes).value();
          }};
}

/// An IPv4 or IPv6 address, written as digits (no host names: a peer is identified by the
/// address it connects from).
ScalarParser<std::string> ip_address() {
  static const std::string kExpected = "an IPv4 or IPv6 address such as 192.168.1.20";
  return {kExpected, [](std::string_view text) -> result<std::string> {
            const std::string s(text);
            std::array<unsigned char, 16> buf{};
            if (inet_pton(AF_INET, s.c_str(), buf.data()) == 1 ||
                inet_pton(AF_INET6, s.c_str(), buf.data()) == 1)
              return s;
            return expected_but_got(kExpected, text);
          }};
}

/// A JSON pointer as written and its unescaped reference tokens.
struct JsonPointer {
  std::string text;
  std::vector<std::string> tokens;
};

/// An RFC 6901 JSON pointer ("/boiler/temp", "/readings/0").
ScalarParser<JsonPointer> json_pointer() {
  static const std::string kExpected = "a JSON pointer such as /boiler/temp (RFC 6901)";
  return {kExpected, [](std::string_view text) -> result<JsonPointer> {
            if (!text.starts_with('/'))
              return expected_but_got(kExpected, text, "it must start with '/'");
            JsonPointer pointer{std::string(text), {}};
            std::size_t pos = 1;
            while (true) {
              const auto slash = text.find('/', pos);
              const std::string_view raw = text.substr(pos, slash - pos);
              std::string token;
              for (std::size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] != '~') {
                  token.push_back(raw[i]);
                } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
                  // RFC 6901 §4: ~1 is '/', ~0 is '~'.
                  token.push_back(raw[i + 1] == '0' ? '~' : '/');
                  ++i;
                } else {
                  return expected_but_got(kExpected, text,
                                          "'~' must be followed by 0 (for ~) or 1 (for /)");
                }
              }
              pointer.tokens.push_back(std::move(token));
              if (slash == std::string_view::npos) break;
              pos = slash + 1;
            }
            return pointer;
          }};
}

// ─────────────────────────── fields ───────────────────────────

bool is_integer_raw(RawType t) {
  return t != RawType::f32 && t != RawType::f64 && t != RawType::bytes && t != RawType::string;
}

/// What a binary field decodes to, from its raw type and keys.
FieldType binary_value_type(const FieldSpec& f, bool has_enum) {
  if (has_enum) return FieldType::enumeration;
  switch (f.raw) {
    case RawType::f32:
    case RawType::f64:
      return FieldType::real;
    case RawType::bytes:
      return FieldType::bytes;
    case RawType::string:
      return FieldType::string;
    default:
      break;
  }
  if (f.bit >= 0 && f.bits == 1) return FieldType::boolean;
  return FieldType::integer;
}

/// The keys every codec shares: name, scale, offset, unit, enum and their rules.
void read_value_keys(ObjectReader& r, FieldSpec& f, bool numeric, bool integer) {
  r.read("scale", f.scale, nonzero_real());
  r.read("offset", f.offset, real());
  r.read("unit", f.unit, text());
  if (auto labels = r.dictionary("enum", any_integer(), text())) f.enum_map = std::move(*labels);
  for (const std::string_view key : {"scale", "offset"})
    if (r.has(key) && !numeric)
      r.error(key, "'" + std::string(key) + "' only applies to numeric fields");
  if (r.has("enum") && !integer) r.error("enum", "'enum' only applies to integer fields");
}

/// Where a field is, in a codec of `kind`, for a message of `syntax`.
struct FieldContext {
  CodecKind kind;
  LineSyntax syntax;
  const NamedRegex* regex;  ///< the message's translated regex, if it compiled
  std::size_t frame_limit;  ///< binary: fixed length or max_frame
  bool fixed_length;
  Endian default_endian;
};

FieldSpec read_text_field(ObjectReader& r, const FieldContext& ctx) {
  FieldSpec f;
  if (auto name = r.required("name", identifier())) f.name = std::move(*name);
  const auto type = r.required("type", one_of(kTextFieldTypes));
  if (type) f.type = *type;
  if (ctx.kind == CodecKind::json_lines) {
    if (auto pointer = r.required("pointer", json_pointer())) {
      f.pointer = std::move(pointer->text);
      f.pointer_tokens = std::move(pointer->tokens);
    }
  } else if (ctx.syntax == LineSyntax::regex) {
    f.group = f.name;
    r.read("group", f.group, text());
    if (ctx.regex != nullptr && !f.group.empty() && !ctx.regex->group(f.group)) {
      std::string names;
      for (const auto& n : ctx.regex->group_names)
        if (!n.empty()) names += (names.empty() ? "'" : ", '") + n + "'";
      r.error(
          r.has("group") ? "group" : "name",
          "the regex has no group named '" + f.group + "'" +
              (names.empty() ? std::string("; it has no named groups: write (?<") + f.group + ">…)"
                             : "; its named groups are " + names));
    }
  } else if (ctx.syntax == LineSyntax::csv) {
    if (auto column = r.required("column", integer_in<int>(0, 1023))) f.column = *column;
  } else {
    f.key = f.name;
    r.read("key", f.key, text());
  }
  const bool numeric = !type || *type == FieldType::integer || *type == FieldType::real;
  read_value_keys(r, f, numeric,
                  !type || *type == FieldType::integer || *type == FieldType::enumeration);
  if (type && *type == FieldType::enumeration && f.enum_map.empty() && !r.has("enum"))
    r.error("missing required key 'enum' (type enum needs it: {0: idle, 1: ready, …})");
  if (type && *type == FieldType::integer && !f.enum_map.empty()) f.type = FieldType::enumeration;
  return f;
}

FieldSpec read_binary_field(ObjectReader& r, const FieldContext& ctx) {
  FieldSpec f;
  f.endian = ctx.default_endian;
  if (auto name = r.required("name", identifier())) f.name = std::move(*name);
  const auto at = r.required("at", integer_in<std::size_t>(0, kMaxBufferLimit - 1));
  const auto raw = r.required("type", one_of(kRawTypes));
  r.read("endian", f.endian, one_of(kEndians));
  const auto length = r.optional("length", integer_in<std::size_t>(1, kMaxBufferLimit));
  const auto bit = r.optional("bit", integer_in<int>(0, 63));
  r.read("bits", f.bits, integer_in<int>(1, 64));
  if (at) f.at = *at;
  if (raw) f.raw = *raw;
  if (length) f.length = *length;
  if (bit) f.bit = *bit;
  const bool sized = raw && (*raw == RawType::bytes || *raw == RawType::string);
  if (raw && sized && !r.has("length"))
    r.error("missing required key 'length' (type " + spelling(kRawTypes, *raw) + " needs it)");
  if (raw && !sized && r.has("length"))
    r.error("length", "'length' only applies to types bytes and string");
  if (raw && !is_integer_raw(*raw) && (r.has("bit") || r.has("bits")))
    r.error(r.has("bit") ? "bit" : "bits", "bit fields only apply to integer types (u8 … i64)");
  if (r.has("bits") && !r.has("bit")) r.error("bits", "'bits' needs 'bit' (the lowest bit)");
  if (raw && bit && is_integer_raw(*raw) && f.bit + f.bits > static_cast<int>(8 * f.raw_size()))
    r.error("bit", "bits " + std::to_string(f.bit) + " to " + std::to_string(f.bit + f.bits - 1) +
                       " do not fit in a " + spelling(kRawTypes, *raw) + " (" +
                       std::to_string(8 * f.raw_size()) + " bits)");
  const bool has_enum = r.has("enum");
  f.type = binary_value_type(f, has_enum);
  const bool integer = raw && is_integer_raw(*raw);
  // A 1-bit field reads true or false: a scale or offset would do nothing to it, silently.
  const bool one_bit = f.type == FieldType::boolean;
  for (const std::string_view key : {"scale", "offset"})
    if (one_bit && r.has(key))
      r.error(key, "'" + std::string(key) + "' does not apply to a 1-bit field (it reads true or false); "
                   "to read a number, give 'bits' more than 1 or drop 'bit'");
  // An unknown type was reported already: no second error about what it might have allowed.
  read_value_keys(r, f, !raw || one_bit || integer || *raw == RawType::f32 || *raw == RawType::f64,
                  integer || !raw);
  if (at && raw && (!sized || length)) {
    const std::size_t end = f.at + f.raw_size();
    if (end > ctx.frame_limit)
      r.error("at", "the field spans bytes " + std::to_string(f.at) + " to " +
                        std::to_string(end - 1) + ", past the end of the " +
                        (ctx.fixed_length ? "frame (frame_length " : "longest frame (max_frame ") +
                        std::to_string(ctx.frame_limit) + ")");
  }
  return f;
}

// ─────────────────────────── messages ───────────────────────────

LineChecksum read_line_checksum(ObjectReader& r) {
  LineChecksum c;
  r.read("type", c.kind, one_of(kChecksums));
  r.read("start", c.start, text());
  r.read("end", c.end, text());
  return c;
}

MessageSpec read_message(ObjectReader& r, const FieldContext& base) {
  MessageSpec m;
  if (auto name = r.required("name", identifier())) m.name = std::move(*name);
  r.read("record", m.record, boolean());
  FieldContext ctx = base;
  std::optional<NamedRegex> translated;
  if (base.kind == CodecKind::lines) {
    const int syntaxes =
        (r.has("regex") ? 1 : 0) + (r.has("key_value") ? 1 : 0) + (r.has("csv") ? 1 : 0);
    if (syntaxes != 1)
      r.error(syntaxes == 0 ? "a line message needs exactly one of 'regex', 'key_value', 'csv'"
                            : "a line message takes only one of 'regex', 'key_value', 'csv'");
    r.read("prefix", m.prefix, text());
    if (auto pattern = r.optional("regex", text())) {
      ctx.syntax = m.syntax = LineSyntax::regex;
      m.regex = *pattern;
      auto named = translate_named_groups(m.regex);
      if (!named) {
        r.error("regex", "the regex cannot be used: " + named.error().message);
      } else {
        try {
          const std::regex compiled = compile_line_regex(named.value());
          translated = std::move(named).value();
        } catch (const std::regex_error& e) {
          r.error("regex", std::string("the regex does not compile: ") + e.what());
        }
      }
    }
    ctx.regex = translated ? &*translated : nullptr;
    r.section("key_value", Presence::optional, [&](ObjectReader& s) {
      ctx.syntax = m.syntax = LineSyntax::key_value;
      s.read("separator", m.separator, text());
      s.read("assign", m.assign, text());
    });
    if (r.has("key_value")) ctx.syntax = m.syntax = LineSyntax::key_value;
    r.section("csv", Presence::optional, [&](ObjectReader& s) {
      ctx.syntax = m.syntax = LineSyntax::csv;
      s.read("separator", m.separator, text());
    });
    if (r.has("csv")) ctx.syntax = m.syntax = LineSyntax::csv;
    r.section("checksum", Presence::optional,
              [&](ObjectReader& s) { m.checksum = read_line_checksum(s); });
  } else if (base.kind == CodecKind::binary) {
    r.section("when", Presence::optional, [&](ObjectReader& s) {
      const auto at = s.required("at", integer_in<std::size_t>(0, kMaxBufferLimit - 1));
      const auto bytes = s.required("equals", hex_bytes());
      if (at && bytes) {
        m.when_at = *at;
        m.when_bytes = *bytes;
        if (m.when_at + m.when_bytes.size() > base.frame_limit)
          s.error("at", "the bytes compared end past the longest frame (" +
                            std::to_string(base.frame_limit) + " bytes)");
      }
    });
  } else {
    r.section("when", Presence::optional, [&](ObjectReader& s) {
      if (auto pointer = s.required("pointer", json_pointer())) {
        m.when_pointer = std::move(pointer->text);
        m.when_tokens = std::move(pointer->tokens);
      }
      s.read("equals", m.when_equals, text());
      if (!s.has("equals")) s.error("missing required key 'equals'");
    });
  }
  UniqueNames field_names;
  r.list("fields", Items::at_least_one, [&](ObjectReader& item) {
    FieldSpec f =
        base.kind == CodecKind::binary ? read_binary_field(item, ctx) : read_text_field(item, ctx);
    if (!f.name.empty())
      item.require_unique("name", f.name, field_names, "field name",
                          "field names must be unique within a message");
    m.fields.push_back(std::move(f));
  });
  return m;
}

void read_messages(ObjectReader& r, std::vector<MessageSpec>& out, const FieldContext& ctx) {
  UniqueNames names;
  r.list("messages", Items::at_least_one, [&](ObjectReader& item) {
    MessageSpec m = read_message(item, ctx);
    if (!m.name.empty())
      item.require_unique("name", m.name, names, "message name",
                          "message names must be unique within a codec");
    out.push_back(std::move(m));
  });
}

// ─────────────────────────── codecs ───────────────────────────

void read_length_field(ObjectReader& r, LengthField& l) {
  const auto at = r.required("at", integer_in<std::size_t>(0, kMaxBufferLimit - 1));
  if (at) l.at = *at;
  r.read("size", l.size, one_of(kLengthSizes));
  r.read("endian", l.endian, one_of(kEndians));
  r.read("counts", l.counts, one_of(kLengthCounts));
  const auto from = r.optional("from", integer_in<std::size_t>(0, kMaxBufferLimit - 1));
  if (from) l.from = *from;
  r.read("adjust", l.adjust, integer_in<std::int64_t>(-65535, 65535));
  if (l.counts == LengthCounts::from && !r.has("from"))
    r.error("missing required key 'from' (counts: from needs it)");
  if (l.counts != LengthCounts::from && r.has("from"))
    r.error("from", "'from' only applies to counts: from");
}

/// Resolves a frame position that may count from the end (−n) against a frame of `length`.
std::int64_t resolve(std::int64_t position, std::size_t length) {
  return position < 0 ? static_cast<std::int64_t>(length) + position : position;
}

void read_binary_checksum(ObjectReader& r, BinaryCodecConfig& codec) {
  BinaryChecksum c;
  r.read("type", c.kind, one_of(kChecksums));
  const auto size = static_cast<std::int64_t>(checksum_size(c.kind));
  c.from = static_cast<std::int64_t>(codec.sync.size());
  c.at = -size;
  c.endian = (c.kind == ChecksumKind::crc16_modbus || c.kind == ChecksumKind::crc16_kermit)
                 ? Endian::little
                 : Endian::big;
  const auto position = integer_in<std::int64_t>(-65536, 65535);
  r.read("from", c.from, position);
  r.read("at", c.at, position);
  c.to = c.at;
  r.read("to", c.to, position);
  r.read("endian", c.endian, one_of(kEndians));
  codec.checksum = c;
  // Judged on the shortest and the longest frame the codec can see: negative positions move
  // with the frame end, positive ones do not.
  const std::size_t longest = codec.frame_length.value_or(codec.max_frame);
  if (c.at < 0 && c.at + size > 0)
    r.error("at", "the " + std::to_string(size) + "-byte checksum at " + std::to_string(c.at) +
                      " runs past the end of the frame; use " + std::to_string(-size) +
                      " for the last bytes");
  else if (c.at >= 0 && c.at + size > static_cast<std::int64_t>(longest))
    r.error("at",
            "the checksum ends past the longest frame (" + std::to_string(longest) + " bytes)");
  if (codec.frame_length) {
    const auto from = resolve(c.from, longest), to = resolve(c.to, longest);
    if (from < 0 || to > static_cast<std::int64_t>(longest) || from >= to)
      r.error(r.has("to") ? "to" : "from",
              "the covered range from " + std::to_string(c.from) + " to " + std::to_string(c.to) +
                  " is empty or outside the " + std::to_string(longest) + "-byte frame");
  } else if ((c.from >= 0) == (c.to >= 0) && c.from >= c.to) {
    r.error(r.has("to") ? "to" : "from", "the covered range from " + std::to_string(c.from) +
                                             " to " + std::to_string(c.to) + " is empty");
  }
}

void read_binary_codec(ObjectReader& r, BinaryCodecConfig& codec) {
  r.read("sync", codec.sync, hex_bytes());
  r.read("max_frame", codec.max_frame, integer_in<std::size_t>(1, kMaxBufferLimit));
  const auto fixed = r.optional("frame_length", integer_in<std::size_t>(1, kMaxBufferLimit));
  if (fixed) codec.frame_length = *fixed;
  const bool has_length = r.section("length", Presence::optional, [&](ObjectReader& s) {
    read_length_field(s, codec.length.emplace());
  });
  if (r.has("frame_length") && has_length)
    r.error("frame_length", "give either 'frame_length' or 'length', not both");
  else if (!r.has("frame_length") && !has_length)
    r.error(
        "a binary codec needs 'frame_length' (fixed-size frames) or 'length' (a length "
        "field)");
  if (fixed && r.has("max_frame"))
    r.error("max_frame", "'max_frame' only applies with a length field; frame_length is fixed");
  if (fixed) codec.max_frame = *fixed;
  if (codec.sync.size() >= codec.max_frame) r.error("sync", "the sync bytes fill the whole frame");
  if (codec.length && codec.length->at + codec.length->size > codec.max_frame)
    r.error("length", "the length field ends past the longest frame (max_frame " +
                          std::to_string(codec.max_frame) + ")");
  Endian endian = Endian::big;
  r.read("endian", endian, one_of(kEndians));
  r.section("checksum", Presence::optional,
            [&](ObjectReader& s) { read_binary_checksum(s, codec); });
  read_messages(r, codec.messages,
                {CodecKind::binary, LineSyntax::regex, nullptr, codec.max_frame,
                 codec.frame_length.has_value(), endian});
}

}  // namespace

void read_codec(ObjectReader& r, CodecConfig& codec) {
  const auto kind = r.required("type", one_of(kCodecKinds));
  if (!kind) {
    r.skip_remaining_keys();
    return;
  }
  codec.kind = *kind;
  if (*kind == CodecKind::binary) {
    read_binary_codec(r, codec.binary);
    return;
  }
  const bool json = *kind == CodecKind::json_lines;
  std::vector<std::uint8_t> delimiter(
      json ? codec.json.delimiter.begin() : codec.lines.delimiter.begin(),
      json ? codec.json.delimiter.end() : codec.lines.delimiter.end());
  r.read("delimiter", delimiter, escaped_bytes());
  std::size_t& max_line = json ? codec.json.max_line : codec.lines.max_line;
  r.read("max_line", max_line, integer_in<std::size_t>(16, kMaxBufferLimit));
  (json ? codec.json.delimiter : codec.lines.delimiter).assign(delimiter.begin(), delimiter.end());
  if (!json) r.read("trim", codec.lines.trim, boolean());
  read_messages(r, json ? codec.json.messages : codec.lines.messages,
                {*kind, LineSyntax::regex, nullptr, max_line, false, Endian::big});
}

// ─────────────────────────── adapter ───────────────────────────

void read_poll(ObjectReader& r, StreamPoll& poll) {
  const bool text_query = r.read("send", poll.query, escaped_bytes());
  const bool hex_query = r.read("send_hex", poll.query, hex_bytes());
  if (r.has("send") == r.has("send_hex"))
    r.error(r.has("send") ? "give either 'send' (text) or 'send_hex', not both"
                          : "missing required key 'send' (or 'send_hex'): the query to send");
  (void)text_query;
  (void)hex_query;
  r.read("interval", poll.interval, duration_in(10ms, std::chrono::days{1}));
  r.read("timeout", poll.timeout, duration_in(1ms, 60s));
  r.read("reply", poll.reply, identifier());
  if (poll.timeout > poll.interval && r.has("timeout"))
    r.error("timeout", "the reply timeout (" + format_duration(poll.timeout) +
                           ") must not exceed the poll interval (" +
                           format_duration(poll.interval) + ")");
}

namespace {

/// The keys that belong to some transports only, and those each transport requires.
void check_transport_keys(ObjectReader& r, StreamTransport t) {
  const std::string name = spelling(kTransportKinds, t);
  const auto refuse = [&](std::string_view key, std::string_view who) {
    if (r.has(key))
      r.error(key, "'" + std::string(key) + "' only applies to " + std::string(who) +
                       ", not type " + name);
  };
  const auto need = [&](std::string_view key) {
    if (!r.has(key))
      r.error("missing required key '" + std::string(key) + "' (type " + name + " needs it)");
  };
  const bool serial = t == StreamTransport::serial, client = t == StreamTransport::tcp_client;
  const bool server = t == StreamTransport::tcp_server, udp = t == StreamTransport::udp;
  if (serial)
    need("serial");
  else
    refuse("serial", "type serial");
  if (client)
    need("host");
  else
    refuse("host", "type tcp-client (servers use 'bind')");
  if (!serial)
    need("port");
  else
    refuse("port", "the network types (serial uses 'serial.port')");
  if (!client) refuse("connect_timeout", "type tcp-client");
  if (server || udp) refuse("source", "serial and tcp-client (here: 'peers' or 'source_field')");
  if (!(server || udp)) {
    for (const std::string_view key : {"bind", "peers", "source_field", "max_sources"})
      refuse(key, "types tcp-server and udp");
  }
  if (!server) refuse("max_connections", "type tcp-server");
  if (udp && r.has("poll"))
    r.error("poll", "a udp receiver does not poll: it takes the datagrams the equipment sends");
  if ((server || udp) && !r.has("peers") && !r.has("source_field"))
    r.error("type " + name +
            " needs 'peers' (address → source) or 'source_field' to know whose data arrives");
}

void check_source_field(ObjectReader& r, const StreamAdapterConfig& a) {
  if (a.source_field.empty()) return;
  for (const auto& m : messages_of(a.codec))
    for (const auto& f : m.fields)
      if (f.name == a.source_field) {
        if (f.type != FieldType::string)
          r.error("source_field", "field '" + a.source_field + "' of message '" + m.name +
                                      "' must be of type string to name a source");
        return;
      }
  r.error("source_field", "no message of the codec has a field named '" + a.source_field + "'");
}

void check_poll_reply(ObjectReader& r, const StreamAdapterConfig& a) {
  if (!a.poll || a.poll->reply.empty()) return;
  for (const auto& m : messages_of(a.codec))
    if (m.name == a.poll->reply) return;
  r.error("poll", "poll.reply names message '" + a.poll->reply +
                      "', which the codec does not "
                      "declare");
}

/// The stream profile `profile` names, or nullptr (absent, not found, or a Modbus register map:
/// each reported at `profile`).
const DeviceProfile* read_stream_profile(ObjectReader& r, StreamTransport transport,
                                         SiteNames& names) {
  const auto reference = r.optional("profile", profile_reference());
  if (!reference || names.profiles == nullptr) return nullptr;
  std::string problem;
  const DeviceProfile* profile = names.profiles->resolve(*reference, problem);
  if (!problem.empty()) r.error("profile", problem);
  if (profile != nullptr && !profile->codec) {
    r.error("profile", "profile '" + *reference + "' is a Modbus register map (it has points, " +
                           "no codec); a " + spelling(kTransportKinds, transport) +
                           " adapter needs a profile that declares a codec");
    return nullptr;
  }
  return profile;
}

}  // namespace

AdapterConfig read_stream_adapter(ObjectReader& r, std::string name, SiteNames& names,
                                  StreamTransport transport) {
  using std::chrono::days;
  StreamAdapterConfig a;
  a.name = std::move(name);
  a.transport = transport;
  const SourceLocation where = r.location();
  a.file = where.file;
  a.line = where.line;
  a.column = where.column;
  r.section("serial", Presence::optional,
            [&](ObjectReader& s) { read_serial_port(s, a.serial, SerialLineUse::stream); });
  r.read("host", a.host, text());
  if (transport == StreamTransport::tcp_server || transport == StreamTransport::udp) {
    a.host = "0.0.0.0";
    r.read("bind", a.host, ip_address());
  }
  r.read("port", a.port, integer_in<std::uint16_t>(1, 65535));
  r.read("connect_timeout", a.connect_timeout, duration_in(100ms, 60s));
  read_delay_range(r, "backoff", a.backoff_min, a.backoff_max, 100ms, days{1});
  r.read("max_connections", a.max_connections, integer_in<std::size_t>(1, 256));
  if (transport == StreamTransport::serial || transport == StreamTransport::tcp_client) {
    a.source = a.name;
    r.read("source", a.source, identifier());
    if (!a.source.empty())
      r.require_unique(r.has("source") ? "source" : "name", a.source, names.sources, "source name",
                       "source names must be unique across the site");
  }
  r.list("peers", Items::may_be_empty, [&](ObjectReader& item) {
    StreamPeer peer;
    if (auto address = item.required("address", ip_address())) peer.address = std::move(*address);
    if (auto source = item.required("source", identifier())) {
      peer.source = std::move(*source);
      item.require_unique("source", peer.source, names.sources, "source name",
                          "source names must be unique across the site");
    }
    a.peers.push_back(std::move(peer));
  });
  r.read("source_field", a.source_field, identifier());
  r.read("max_sources", a.max_sources, integer_in<std::size_t>(1, 1024));
  r.read("silence_timeout", a.silence_timeout, duration_in(0ms, days{1}));
  r.section("poll", Presence::optional, [&](ObjectReader& s) { read_poll(s, a.poll.emplace()); });
  // The protocol is declared here (`codec`) or taken from a device profile (`profile`); a
  // profile reference that failed leaves `codec` required neither: its error says what to fix.
  const DeviceProfile* profile = read_stream_profile(r, transport, names);
  if (r.has("profile") && r.has("codec"))
    r.error("codec", "give either 'codec' or 'profile' (whose codec is used), not both");
  r.section("codec", r.has("profile") ? Presence::optional : Presence::required,
            [&](ObjectReader& s) { read_codec(s, a.codec); });
  if (profile != nullptr) {
    a.profile = profile->reference();
    a.codec = *profile->codec;
    if (!a.poll && profile->poll) a.poll = profile->poll;
  }
  check_transport_keys(r, transport);
  check_source_field(r, a);
  check_poll_reply(r, a);
  return a;
}

AdapterConfig read_serial_adapter(ObjectReader& r, std::string name, SiteNames& names) {
  return read_stream_adapter(r, std::move(name), names, StreamTransport::serial);
}
AdapterConfig read_tcp_client_adapter(ObjectReader& r, std::string name, SiteNames& names) {
  return read_stream_adapter(r, std::move(name), names, StreamTransport::tcp_client);
}
AdapterConfig read_tcp_server_adapter(ObjectReader& r, std::string name, SiteNames& names) {
  return read_stream_adapter(r, std::move(name), names, StreamTransport::tcp_server);
}
AdapterConfig read_udp_adapter(ObjectReader& r, std::string name, SiteNames& names) {
  return read_stream_adapter(r, std::move(name), names, StreamTransport::udp);
}

}  // namespace guardian::config::detail

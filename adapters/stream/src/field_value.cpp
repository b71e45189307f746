#include "field_value.hpp"

#include <bit>
#include <charconv>
#include <cmath>

#include "guardian/common/byte_text.hpp"
#include "guardian/common/decimal.hpp"

namespace guardian::adapters::stream::detail {
namespace {

using config::FieldSpec;
using config::FieldType;
using config::RawType;

constexpr std::size_t kQuoteLimit = 32;

Error field_error(const FieldSpec& f, const std::string& what) {
  return make_error("field '" + f.name + "': " + what);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::int64_t> parse_integer(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int base = 10;
  bool negative = false;
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '-') {
    negative = true;
    digits.remove_prefix(1);
  }
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  std::uint64_t magnitude = 0;
  const auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size())
    return std::nullopt;
  constexpr auto kMax = static_cast<std::uint64_t>(INT64_MAX);
  if (magnitude > kMax + (negative ? 1U : 0U)) return std::nullopt;
  if (negative) return static_cast<std::int64_t>(0 - magnitude);
  return static_cast<std::int64_t>(magnitude);
}

std::optional<double> parse_real(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  for (const std::string_view t : {"true", "1", "on", "yes"})
    if (equals_ignoring_case(s, t)) return true;
  for (const std::string_view f : {"false", "0", "off", "no"})
    if (equals_ignoring_case(s, f)) return false;
  return std::nullopt;
}

bool is_identity(const FieldSpec& f) { return f.scale == 1.0 && f.offset == 0.0; }

std::uint64_t read_unsigned(std::span<const std::uint8_t> bytes, config::Endian endian) {
  std::uint64_t v = 0;
  const std::size_t n = bytes.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t b = endian == config::Endian::big ? bytes[i] : bytes[n - 1 - i];
    v = (v << 8) | b;
  }
  return v;
}

std::int64_t sign_extend(std::uint64_t v, std::size_t bytes) {
  if (bytes >= 8) return static_cast<std::int64_t>(v);
  const unsigned bits = static_cast<unsigned>(bytes * 8);
  const std::uint64_t sign = 1ULL << (bits - 1);
  return static_cast<std::int64_t>((v ^ sign) - sign);
}

bool is_signed(RawType t) {
  return t == RawType::i8 || t == RawType::i16 || t == RawType::i32 || t == RawType::i64;
}

std::string printable(std::span<const std::uint8_t> bytes) {
  std::string text;
  text.reserve(bytes.size());
  for (const std::uint8_t b : bytes) {
    if (b == 0) break;  // a C string: the first NUL ends it
    text.push_back(b >= 0x20 && b < 0x7F ? static_cast<char>(b) : '?');
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace

std::string quote(std::string_view text) {
  const std::string_view head = text.substr(0, kQuoteLimit);
  std::string out = "'" + to_escaped_text(std::span<const std::uint8_t>(
                              reinterpret_cast<const std::uint8_t*>(head.data()), head.size()));
  out += text.size() > kQuoteLimit ? "…'" : "'";
  return out;
}

result<Value> finish_integer(const FieldSpec& f, std::int64_t raw) {
  if (f.type == FieldType::enumeration) {
    const auto it = f.enum_map.find(raw);
    if (it == f.enum_map.end())
      return field_error(f, "raw value " + std::to_string(raw) + " has no label in enum");
    return Value{it->second};
  }
  if (is_identity(f)) return Value{raw};
  return finish_real(f, static_cast<double>(raw));
}

result<Value> finish_real(const FieldSpec& f, double raw) {
  const double v = scaled_decimal(raw, f.scale, f.offset);
  if (!std::isfinite(v)) return field_error(f, "the value is not finite");
  return Value{v};
}

result<Value> decode_text_field(const FieldSpec& f, std::string_view text) {
  const std::string_view t = trim(text);
  switch (f.type) {
    case FieldType::integer:
    case FieldType::enumeration:
      if (const auto v = parse_integer(t)) return finish_integer(f, *v);
      return field_error(f, "expected an integer, got " + quote(t));
    case FieldType::real:
      if (const auto v = parse_real(t)) return finish_real(f, *v);
      return field_error(f, "expected a number, got " + quote(t));
    case FieldType::boolean:
      if (const auto v = parse_bool(t)) return Value{*v};
      return field_error(f, "expected true/false, 1/0, on/off or yes/no, got " + quote(t));
    case FieldType::string:
      return Value{std::string(t)};
    case FieldType::bytes:
      return Value{to_hex(std::span<const std::uint8_t>(
          reinterpret_cast<const std::uint8_t*>(t.data()), t.size()))};
  }
  return field_error(f, "unknown field type");
}

result<Value> decode_binary_field(const FieldSpec& f, std::span<const std::uint8_t> frame) {
  const std::size_t size = f.raw_size();
  if (f.at > frame.size() || size > frame.size() - f.at)
    return field_error(f, "bytes " + std::to_string(f.at) + "+" + std::to_string(size) +
                              " are past the end of this " + std::to_string(frame.size()) +
                              "-byte frame");
  const auto bytes = frame.subspan(f.at, size);
  switch (f.raw) {
    case RawType::f32: {
      const auto raw = static_cast<std::uint32_t>(read_unsigned(bytes, f.endian));
      return finish_real(f, static_cast<double>(std::bit_cast<float>(raw)));
    }
    case RawType::f64:
      return finish_real(f, std::bit_cast<double>(read_unsigned(bytes, f.endian)));
    case RawType::string:
      return Value{printable(bytes)};
    case RawType::bytes:
      return Value{to_hex(bytes)};
    default:
      break;
  }
  std::uint64_t raw = read_unsigned(bytes, f.endian);
  if (f.bit >= 0) {
    raw >>= static_cast<unsigned>(f.bit);
    if (f.bits < 64) raw &= (1ULL << static_cast<unsigned>(f.bits)) - 1;
    if (f.type == FieldType::boolean) return Value{raw != 0};
    if (raw > static_cast<std::uint64_t>(INT64_MAX)) return Value{raw};
    return finish_integer(f, static_cast<std::int64_t>(raw));
  }
  if (f.type == FieldType::boolean) return Value{raw != 0};
  if (is_signed(f.raw)) return finish_integer(f, sign_extend(raw, size));
  if (raw > static_cast<std::uint64_t>(INT64_MAX)) {
    // Only a u64 gets here: keep it exact unless it must be scaled or labelled.
    if (f.type == FieldType::enumeration)
      return field_error(f, "raw value " + std::to_string(raw) + " has no label in enum");
    if (is_identity(f)) return Value{raw};
    return finish_real(f, static_cast<double>(raw));
  }
  return finish_integer(f, static_cast<std::int64_t>(raw));
}

Reading make_reading(const FieldSpec& f, result<Value> value, Timestamp ts) {
  Reading r;
  r.point = f.name;
  r.unit = f.unit;
  r.source_ts = ts;
  if (value) {
    r.value = std::move(value).value();
  } else {
    r.quality = Quality::bad;
    r.error = std::move(value).error().message;
  }
  return r;
}

}  // namespace guardian::adapters::stream::detail

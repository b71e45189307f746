#include "guardian/adapters/modbus/register_codec.hpp"

#include <array>
#include <bit>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string_view>

#include "guardian/common/decimal.hpp"

namespace guardian::adapters::modbus {
namespace {

using config::DataType;
using config::ModbusPoint;
using config::WordOrder;

// Widest numeric point: 64 bits = 4 registers.
constexpr std::size_t kMaxNumericRegisters = 4;

[[nodiscard]] constexpr std::uint16_t swap_bytes(std::uint16_t r) noexcept {
  return static_cast<std::uint16_t>((r << 8) | (r >> 8));
}

[[nodiscard]] constexpr bool reverses_registers(WordOrder o) noexcept {
  return o == WordOrder::CDAB || o == WordOrder::DCBA;
}

[[nodiscard]] constexpr bool swaps_bytes(WordOrder o) noexcept {
  return o == WordOrder::BADC || o == WordOrder::DCBA;
}

[[nodiscard]] bool is_identity_scale(const ModbusPoint& p) noexcept {
  return p.scale == 1.0 && p.offset == 0.0;
}

// "holding register 12" — where the problem is, for the technician reading the error.
[[nodiscard]] std::string where(const ModbusPoint& p) {
  return std::string(table_name(p.table)) + " " + std::to_string(p.address);
}

[[nodiscard]] Error point_error(const ModbusPoint& p, const std::string& what) {
  return make_error(what + " at " + where(p) + " (point '" + p.name + "')");
}

[[nodiscard]] const char* type_name(DataType t) noexcept {
  switch (t) {
    case DataType::boolean:
      return "bool";
    case DataType::bit:
      return "bit";
    case DataType::int16:
      return "int16";
    case DataType::uint16:
      return "uint16";
    case DataType::int32:
      return "int32";
    case DataType::uint32:
      return "uint32";
    case DataType::int64:
      return "int64";
    case DataType::uint64:
      return "uint64";
    case DataType::float32:
      return "float32";
    case DataType::float64:
      return "float64";
    case DataType::string:
      return "string";
  }
  return "?";
}

[[nodiscard]] std::string hex(std::uint64_t raw, std::size_t registers) {
  std::array<char, 24> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%0*" PRIX64, static_cast<int>(registers * 4), raw);
  return buf.data();
}

// Why `available` registers cannot hold the point, if they cannot.
[[nodiscard]] std::optional<Error> width_problem(const ModbusPoint& p, std::size_t available) {
  const std::size_t width = p.width();
  if (width == 0) return point_error(p, "point spans no registers");
  if (available < width)
    return point_error(p, std::string(type_name(p.type)) + " needs " + std::to_string(width) +
                              " registers, got " + std::to_string(available));
  return std::nullopt;
}

// Registers → one big-endian integer (up to 4 registers), after word order.
[[nodiscard]] std::uint64_t fold(std::span<const std::uint16_t> wire, WordOrder order) noexcept {
  std::array<std::uint16_t, kMaxNumericRegisters> be{};
  const auto n = wire.size();
  reorder_registers(wire, order, std::span<std::uint16_t>(be.data(), n));
  std::uint64_t raw = 0;
  for (std::size_t i = 0; i < n; ++i) raw = (raw << 16) | be[i];
  return raw;
}

// One big-endian integer → registers in wire order.
void unfold(std::uint64_t raw, WordOrder order, std::span<std::uint16_t> wire) noexcept {
  std::array<std::uint16_t, kMaxNumericRegisters> be{};
  const auto n = wire.size();
  for (std::size_t i = 0; i < n; ++i) be[n - 1 - i] = static_cast<std::uint16_t>(raw >> (16 * i));
  reorder_registers(std::span<const std::uint16_t>(be.data(), n), order, wire);
}

[[nodiscard]] result<Value> label_for(const ModbusPoint& p, std::int64_t raw, bool raw_fits) {
  if (raw_fits) {
    const auto it = p.enum_map.find(raw);
    if (it != p.enum_map.end()) return Value{it->second};
  }
  return point_error(p, "raw value " + std::to_string(raw) + " has no label in enum_map");
}

[[nodiscard]] result<Value> finish_scaled(const ModbusPoint& p, double raw) {
  const double v = scaled_decimal(raw, p.scale, p.offset);
  if (!std::isfinite(v)) return point_error(p, "scaled value is not finite");
  return Value{v};
}

[[nodiscard]] result<Value> finish_signed(const ModbusPoint& p, std::int64_t raw) {
  if (!p.enum_map.empty()) return label_for(p, raw, true);
  if (is_identity_scale(p)) return Value{raw};
  return finish_scaled(p, static_cast<double>(raw));
}

[[nodiscard]] result<Value> finish_unsigned(const ModbusPoint& p, std::uint64_t raw) {
  if (!p.enum_map.empty()) {
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (raw > kMax)
      return point_error(p, "raw value " + std::to_string(raw) + " has no label in enum_map");
    return label_for(p, static_cast<std::int64_t>(raw), true);
  }
  if (is_identity_scale(p)) return Value{raw};
  return finish_scaled(p, static_cast<double>(raw));
}

[[nodiscard]] result<Value> finish_bool(const ModbusPoint& p, bool b) {
  if (!p.enum_map.empty()) return label_for(p, b ? 1 : 0, true);
  return Value{b};
}

// A float32 holds about 7 significant digits. Widened bit for bit, 230.1f becomes
// 230.10000610351562 on the wire; widened through its shortest decimal form (the shortest string
// that reads back as the same float) it is published as 230.1, what the device meant.
[[nodiscard]] double widen_float(float f) {
  std::array<char, 32> text{};
  const auto written = std::to_chars(text.data(), text.data() + text.size(), f);
  double d = static_cast<double>(f);
  std::from_chars(text.data(), written.ptr, d);
  return d;
}

[[nodiscard]] result<Value> finish_float(const ModbusPoint& p, double v, std::uint64_t raw,
                                         std::size_t registers) {
  if (!p.enum_map.empty()) return point_error(p, "enum_map needs an integer point, not a float");
  if (!std::isfinite(v))
    return point_error(p, std::string(type_name(p.type)) + " is " +
                              (std::isnan(v) ? "NaN" : "infinite") + " (raw " +
                              hex(raw, registers) + ")");
  if (is_identity_scale(p)) return Value{v};
  return finish_scaled(p, v);
}

[[nodiscard]] result<Value> decode_string(const ModbusPoint& p,
                                          std::span<const std::uint16_t> wire) {
  if (!p.enum_map.empty()) return point_error(p, "enum_map needs an integer point, not a string");
  std::string text;
  text.reserve(wire.size() * 2);
  bool ended = false;  // a C string: the first NUL ends it
  for (std::size_t i = 0; i < wire.size() && !ended; ++i) {
    // The word order applies to strings as to numbers: logical register i sits at wire index
    // n-1-i when registers are reversed.
    std::uint16_t r = reverses_registers(p.order) ? wire[wire.size() - 1 - i] : wire[i];
    if (swaps_bytes(p.order)) r = swap_bytes(r);
    const std::array<unsigned char, 2> bytes{static_cast<unsigned char>(r >> 8),
                                             static_cast<unsigned char>(r & 0xFF)};
    for (const unsigned char c : bytes) {
      ended = ended || c == 0;
      if (!ended) text.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
    }
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return Value{std::move(text)};
}

// The numeric content of a Value for encoding. Integers stay exact where possible.
struct Numeric {
  bool is_integer = false;
  bool negative = false;
  std::uint64_t magnitude = 0;  // |value| when is_integer
  double real = 0.0;
};

[[nodiscard]] result<Numeric> numeric_of(const ModbusPoint& p, const Value& value) {
  Numeric n;
  if (const auto* s = std::get_if<std::string>(&value)) {
    for (const auto& [raw, label] : p.enum_map) {
      if (label == *s) {
        n.is_integer = true;
        n.negative = raw < 0;
        n.magnitude =
            raw < 0 ? 0 - static_cast<std::uint64_t>(raw) : static_cast<std::uint64_t>(raw);
        n.real = static_cast<double>(raw);
        return n;
      }
    }
    return point_error(p, "'" + *s + "' is not a label of enum_map");
  }
  if (const auto* b = std::get_if<bool>(&value)) {
    n.is_integer = true;
    n.magnitude = *b ? 1 : 0;
    n.real = *b ? 1.0 : 0.0;
  } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
    n.is_integer = true;
    n.negative = *i < 0;
    n.magnitude = *i < 0 ? 0 - static_cast<std::uint64_t>(*i) : static_cast<std::uint64_t>(*i);
    n.real = static_cast<double>(*i);
  } else if (const auto* u = std::get_if<std::uint64_t>(&value)) {
    n.is_integer = true;
    n.magnitude = *u;
    n.real = static_cast<double>(*u);
  } else if (const auto* d = std::get_if<double>(&value)) {
    if (!std::isfinite(*d)) return point_error(p, "cannot write a value that is not finite");
    n.real = *d;
  } else {
    return point_error(p, "no value to write");
  }
  return n;
}

// Integer raw value for an integer point: exact for integers without scaling, rounded otherwise.
[[nodiscard]] result<std::uint64_t> integer_raw(const ModbusPoint& p, const Numeric& n,
                                                std::size_t registers, bool is_signed) {
  const unsigned bits = static_cast<unsigned>(registers * 16);
  const std::uint64_t mask = bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
  // Representable range as (max positive magnitude, max negative magnitude).
  const std::uint64_t max_pos = is_signed ? mask >> 1 : mask;
  const std::uint64_t max_neg = is_signed ? (mask >> 1) + 1 : 0;
  bool negative = false;
  std::uint64_t magnitude = 0;
  if (n.is_integer && is_identity_scale(p)) {
    negative = n.negative;
    magnitude = n.magnitude;
  } else {
    const double raw = std::nearbyint((n.real - p.offset) / p.scale);
    if (!std::isfinite(raw)) return point_error(p, "value does not scale to a finite raw value");
    negative = raw < 0;
    const double abs = std::fabs(raw);
    // 2^64 as a double; anything at or beyond it cannot be represented.
    if (abs >= 18446744073709551616.0)
      return point_error(p, "value is out of range for " + std::string(type_name(p.type)));
    magnitude = static_cast<std::uint64_t>(abs);
  }
  if ((negative && magnitude > max_neg) || (!negative && magnitude > max_pos))
    return point_error(p, "value is out of range for " + std::string(type_name(p.type)));
  const std::uint64_t raw = negative ? (0 - magnitude) : magnitude;
  return raw & mask;
}

[[nodiscard]] result<bool> bool_of(const ModbusPoint& p, const Value& value) {
  BOOST_OUTCOME_TRY(n, numeric_of(p, value));
  if (!n.is_integer || n.negative || n.magnitude > 1)
    return point_error(p, "a bool point takes true/false or 0/1");
  return n.magnitude == 1;
}

[[nodiscard]] result<void> encode_string(const ModbusPoint& p, const Value& value,
                                         std::span<std::uint16_t> wire) {
  const auto* s = std::get_if<std::string>(&value);
  if (s == nullptr) return point_error(p, "a string point takes a string");
  if (s->size() > wire.size() * 2)
    return point_error(p, "string of " + std::to_string(s->size()) + " bytes does not fit in " +
                              std::to_string(wire.size()) + " registers");
  for (std::size_t i = 0; i < wire.size(); ++i) {
    const auto byte_at = [&](std::size_t k) -> std::uint16_t {
      return k < s->size() ? static_cast<std::uint16_t>(static_cast<unsigned char>((*s)[k])) : 0;
    };
    std::uint16_t r = static_cast<std::uint16_t>((byte_at(2 * i) << 8) | byte_at(2 * i + 1));
    if (swaps_bytes(p.order)) r = swap_bytes(r);
    wire[reverses_registers(p.order) ? wire.size() - 1 - i : i] = r;
  }
  return outcome::success();
}

}  // namespace

const char* table_name(config::RegisterTable table) noexcept {
  switch (table) {
    case config::RegisterTable::coil:
      return "coil";
    case config::RegisterTable::discrete_input:
      return "discrete input";
    case config::RegisterTable::holding_register:
      return "holding register";
    case config::RegisterTable::input_register:
      return "input register";
  }
  return "register";
}

void reorder_registers(std::span<const std::uint16_t> in, WordOrder order,
                       std::span<std::uint16_t> out) noexcept {
  const auto n = in.size() < out.size() ? in.size() : out.size();
  const bool reverse = reverses_registers(order);
  const bool swap = swaps_bytes(order);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t r = reverse ? in[n - 1 - i] : in[i];
    out[i] = swap ? swap_bytes(r) : r;
  }
}

result<Value> decode_registers(const ModbusPoint& p, std::span<const std::uint16_t> registers) {
  const std::size_t width = p.width();
  if (auto problem = width_problem(p, registers.size())) return std::move(*problem);
  const auto wire = registers.first(width);
  switch (p.type) {
    case DataType::boolean:
      return finish_bool(p, wire[0] != 0);
    case DataType::bit: {
      if (p.bit < 0 || p.bit > 15)
        return point_error(p, "bit " + std::to_string(p.bit) + " is outside 0-15");
      const auto r = static_cast<std::uint16_t>(fold(wire, p.order));
      return finish_bool(p, ((r >> p.bit) & 1U) != 0);
    }
    case DataType::int16:
      return finish_signed(
          p, static_cast<std::int16_t>(static_cast<std::uint16_t>(fold(wire, p.order))));
    case DataType::uint16:
      return finish_unsigned(p, fold(wire, p.order));
    case DataType::int32:
      return finish_signed(
          p, static_cast<std::int32_t>(static_cast<std::uint32_t>(fold(wire, p.order))));
    case DataType::uint32:
      return finish_unsigned(p, fold(wire, p.order));
    case DataType::int64:
      return finish_signed(p, static_cast<std::int64_t>(fold(wire, p.order)));
    case DataType::uint64:
      return finish_unsigned(p, fold(wire, p.order));
    case DataType::float32: {
      const auto raw = static_cast<std::uint32_t>(fold(wire, p.order));
      return finish_float(p, widen_float(std::bit_cast<float>(raw)), raw, 2);
    }
    case DataType::float64: {
      const auto raw = fold(wire, p.order);
      return finish_float(p, std::bit_cast<double>(raw), raw, 4);
    }
    case DataType::string:
      return decode_string(p, wire);
  }
  return point_error(p, "unknown data type");
}

result<Value> decode_bit(const ModbusPoint& p, bool bit) {
  if (p.type != DataType::boolean && p.type != DataType::bit)
    return point_error(
        p, std::string("a ") + type_name(p.type) + " point cannot be read from a single bit");
  return finish_bool(p, bit);
}

result<void> encode_registers(const ModbusPoint& p, const Value& value,
                              std::span<std::uint16_t> registers) {
  const std::size_t width = p.width();
  if (auto problem = width_problem(p, registers.size())) return std::move(*problem);
  const auto wire = registers.first(width);
  switch (p.type) {
    case DataType::boolean: {
      BOOST_OUTCOME_TRY(b, bool_of(p, value));
      wire[0] = b ? 1 : 0;
      return outcome::success();
    }
    case DataType::bit: {
      if (p.bit < 0 || p.bit > 15)
        return point_error(p, "bit " + std::to_string(p.bit) + " is outside 0-15");
      BOOST_OUTCOME_TRY(b, bool_of(p, value));
      const auto mask = static_cast<std::uint16_t>(1U << p.bit);
      auto r = static_cast<std::uint16_t>(fold(wire, p.order));
      r = static_cast<std::uint16_t>(b ? (r | mask) : (r & ~mask));
      unfold(r, p.order, wire);
      return outcome::success();
    }
    case DataType::int16:
    case DataType::int32:
    case DataType::int64:
    case DataType::uint16:
    case DataType::uint32:
    case DataType::uint64: {
      const bool is_signed =
          p.type == DataType::int16 || p.type == DataType::int32 || p.type == DataType::int64;
      BOOST_OUTCOME_TRY(n, numeric_of(p, value));
      BOOST_OUTCOME_TRY(raw, integer_raw(p, n, width, is_signed));
      unfold(raw, p.order, wire);
      return outcome::success();
    }
    case DataType::float32:
    case DataType::float64: {
      if (std::holds_alternative<std::string>(value))
        return point_error(p, "a float point takes a number");
      BOOST_OUTCOME_TRY(n, numeric_of(p, value));
      const double v = (n.real - p.offset) / p.scale;
      if (!std::isfinite(v)) return point_error(p, "value does not scale to a finite raw value");
      if (p.type == DataType::float64) {
        unfold(std::bit_cast<std::uint64_t>(v), p.order, wire);
      } else {
        if (std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max()))
          return point_error(p, "value is out of range for float32");
        unfold(std::bit_cast<std::uint32_t>(static_cast<float>(v)), p.order, wire);
      }
      return outcome::success();
    }
    case DataType::string:
      return encode_string(p, value, wire);
  }
  return point_error(p, "unknown data type");
}

result<bool> encode_bit(const ModbusPoint& p, const Value& value) {
  if (p.type != DataType::boolean && p.type != DataType::bit)
    return point_error(
        p, std::string("a ") + type_name(p.type) + " point cannot be written to a single bit");
  return bool_of(p, value);
}

}  // namespace guardian::adapters::modbus

#include "guardian/adapters/modbus/modbus_write.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>

#include "guardian/adapters/modbus/modbus_client.hpp"
#include "guardian/adapters/modbus/register_codec.hpp"
#include "modbus_error.hpp"

namespace guardian::adapters::modbus {
namespace {

using config::DataType;
using config::RegisterTable;

[[nodiscard]] std::string where(const config::ModbusPoint& p) {
  std::string text = std::string(table_name(p.table)) + " " + std::to_string(p.address);
  if (!p.name.empty()) text += " (point '" + p.name + "')";  // a configured point, not a command line's
  return text;
}

// The value as a number in engineering units, when it is one.
[[nodiscard]] std::optional<double> number_of(const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
  return std::nullopt;
}

[[nodiscard]] std::string registers_text(std::span<const std::uint16_t> r) {
  std::string text;
  for (const auto v : r) {
    std::array<char, 8> buf{};
    std::snprintf(buf.data(), buf.size(), "%s%04X", text.empty() ? "0x" : " 0x", v);
    text += buf.data();
  }
  return text;
}

// Runs `request`, turning a failure into the sentence a technician reads.
[[nodiscard]] result<void> run(const Transact& transact, const ModbusRequest& request,
                               const ModbusReply& reply, const std::string& what) {
  auto done = transact(request, reply);
  if (done) return done;
  auto error = std::move(done).error();
  const int code = exception_code(error.code.value());
  if (error.code.value() == ETIMEDOUT)  // not "Connection timed out": the link is fine, the unit is silent
    return Error{error.code, "no answer from unit " + std::to_string(request.unit) + " (" + what + ")"};
  if (is_gateway_silence(code))
    return Error{error.code, "no answer from unit " + std::to_string(request.unit) + " behind the Modbus gateway (" +
                                 describe_exception(code) + "; " + what + ")"};
  std::string text = code != 0 ? describe_exception(code) : error.message;
  text += code != 0 ? ": unit " + std::to_string(request.unit) + " refused " + what
                    : " (unit " + std::to_string(request.unit) + ", " + what + ")";
  return Error{error.code, std::move(text)};
}

// The point's bit in one register as it came off the wire.
[[nodiscard]] bool bit_of(const config::ModbusPoint& p, std::uint16_t wire) {
  std::array<std::uint16_t, 1> big_endian{};
  reorder_registers(std::span<const std::uint16_t>(&wire, 1), p.order, big_endian);
  return ((static_cast<unsigned>(big_endian[0]) >> p.bit) & 1U) != 0;
}

}  // namespace

ModbusRequest PreparedWrite::request(std::uint8_t unit) const {
  ModbusRequest r;
  r.unit = unit;
  r.function = function;
  r.address = point.address;
  if (is_bit_function(function)) {
    r.bits = bits;
    r.count = static_cast<std::uint16_t>(bits.size());
  } else {
    r.registers = registers;
    r.count = static_cast<std::uint16_t>(registers.size());
  }
  return r;
}

std::string value_text(const Value& value) {
  struct Text {
    std::string operator()(std::monostate) const { return "nothing"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(std::uint64_t u) const { return std::to_string(u); }
    std::string operator()(double d) const {
      std::array<char, 32> buf{};
      std::snprintf(buf.data(), buf.size(), "%.10g", d);
      return buf.data();
    }
    std::string operator()(const std::string& s) const { return "'" + s + "'"; }
  };
  return std::visit(Text{}, value);
}

result<PreparedWrite> prepare_write(const config::ModbusPoint& point, const Value& value,
                                    bool force_multiple) {
  if (point.table == RegisterTable::discrete_input || point.table == RegisterTable::input_register)
    return make_error("cannot write " + where(point) + ": " + table_name(point.table) +
                      "s are read-only in Modbus");
  if (const auto number = number_of(value)) {
    if ((point.write_min && *number < *point.write_min) ||
        (point.write_max && *number > *point.write_max))
      return make_error("cannot write " + value_text(value) + " to " + where(point) +
                        ": outside the allowed range " +
                        (point.write_min ? value_text(*point.write_min) : "-inf") + " to " +
                        (point.write_max ? value_text(*point.write_max) : "inf"));
  }
  PreparedWrite w;
  w.point = point;
  w.value = value;
  if (point.table == RegisterTable::coil) {
    BOOST_OUTCOME_TRY(bit, encode_bit(point, value));
    w.bits = {static_cast<std::uint8_t>(bit ? 1 : 0)};
    w.function = force_multiple ? FunctionCode::write_multiple_coils
                                : FunctionCode::write_single_coil;
    return w;
  }
  w.registers.assign(point.width(), 0);
  if (w.registers.size() > kMaxWriteRegisters)
    return make_error("cannot write " + where(point) + ": it spans " +
                      std::to_string(w.registers.size()) + " registers, one write carries at most " +
                      std::to_string(kMaxWriteRegisters));
  // A bit point is encoded again over the register's current content before it is sent; this
  // first encoding only checks the value.
  BOOST_OUTCOME_TRY(encode_registers(point, value, w.registers));
  w.read_modify_write = point.type == DataType::bit;
  w.function = w.registers.size() == 1 && !force_multiple ? FunctionCode::write_single_register
                                                          : FunctionCode::write_multiple_registers;
  return w;
}

WriteOutcome execute_write(PreparedWrite w, std::uint8_t unit, bool readback,
                           const Transact& transact) {
  WriteOutcome out;
  const auto& p = w.point;
  const auto fail = [&](Error error) {
    out.ok = false;
    out.error_code = error.code.value();
    out.error = std::move(error.message);
    return out;
  };
  std::array<std::uint16_t, 125> registers{};
  std::array<std::uint8_t, 1> bits{};
  const ModbusReply reply{registers, bits};
  const ModbusRequest read{unit, read_function(p.table), p.address,
                           is_bit_table(p.table) ? std::uint16_t{1} : p.width(), {}, {}};

  if (w.read_modify_write) {
    // The other bits of the register belong to other points: keep them. Another master writing
    // the register between this read and the write would lose its change (FC22 Mask Write
    // Register would avoid that, but few devices implement it).
    if (auto r = run(transact, read, reply,
                     "reading " + where(p) + " before setting bit " + std::to_string(p.bit));
        !r)
      return fail(std::move(r).error());
    w.registers[0] = registers[0];
    if (auto r = encode_registers(p, w.value, w.registers); !r) return fail(std::move(r).error());
  }
  const auto request = w.request(unit);
  std::array<char, 8> code{};
  std::snprintf(code.data(), code.size(), "FC%02u", static_cast<unsigned>(w.function));
  if (auto r = run(transact, request, {},
                   "writing " + where(p) + " with " + code.data() + " " +
                       function_name(w.function));
      !r) {
    auto error = std::move(r).error();
    // MBAP §7 exception 01: the device does not implement the function; many that lack the
    // single writes take the multiple ones.
    if (exception_code(error.code.value()) == 1 &&
        (w.function == FunctionCode::write_single_register ||
         w.function == FunctionCode::write_single_coil))
      error.message += "; if the device only takes FC15/FC16, set write_multiple: true";
    return fail(std::move(error));
  }
  out.ok = true;
  out.written = w.registers;
  if (!readback) return out;

  if (auto r = run(transact, read, reply, "reading " + where(p) + " back"); !r)
    return fail(std::move(r).error());
  if (is_bit_table(p.table)) {
    auto v = decode_bit(p, bits[0] != 0);
    if (v) out.readback = std::move(v).value();
    if (bits[0] != w.bits[0])
      return fail(make_error("wrote " + value_text(w.value) + " to " + where(p) +
                             " but it reads back " + value_text(out.readback)));
    return out;
  }
  const std::span<const std::uint16_t> got(registers.data(), p.width());
  auto decoded = decode_registers(p, got);
  if (decoded) out.readback = std::move(decoded).value();
  // Compared raw: a float that round-trips through the device is still the same bits, and a
  // device that clamps or ignores a value shows it here. A bit point is compared on its bit
  // alone: the rest of its register belongs to other points and may change meanwhile.
  const bool same = p.type == DataType::bit
                        ? bit_of(p, got[0]) == bit_of(p, w.registers[0])
                        : std::equal(got.begin(), got.end(), w.registers.begin());
  if (!same)
    return fail(make_error("wrote " + value_text(w.value) + " (" + registers_text(w.registers) +
                           ") to " + where(p) + " but it reads back " + value_text(out.readback) +
                           " (" + registers_text(got) + "): the device kept another value"));
  return out;
}

}  // namespace guardian::adapters::modbus

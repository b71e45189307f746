#include "modbus_probe.hpp"

#include <array>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

#include "guardian/adapters/modbus/register_codec.hpp"
#include "guardian/config/modbus_words.hpp"

namespace guardian::tools {
namespace {

using config::DataType;
using config::WordOrder;

constexpr std::array kOrders{WordOrder::ABCD, WordOrder::CDAB, WordOrder::BADC, WordOrder::DCBA};

[[nodiscard]] std::string format(const char* pattern, auto... args) {
  std::array<char, 160> line{};
  std::snprintf(line.data(), line.size(), pattern, args...);
  return line.data();
}

// One decoding of the registers at `at`, as text ("-" when it does not decode: NaN, infinity).
[[nodiscard]] std::string decoded(std::span<const std::uint16_t> registers, DataType type,
                                  WordOrder order) {
  config::ModbusPoint p;
  p.type = type;
  p.order = order;
  auto value = adapters::modbus::decode_registers(p, registers);
  if (!value) {
    const auto& why = value.error().message;
    return why.find("NaN") != std::string::npos        ? "NaN"
           : why.find("infinite") != std::string::npos ? "inf"
                                                       : "-";
  }
  if (const auto* d = std::get_if<double>(&value.value())) {
    // A float that looks like a measurement is marked: the wrong order gives 1e-38 or 3e+27.
    const double a = std::fabs(*d);
    const bool plausible = a == 0 || (a >= 1e-3 && a <= 1e7);
    return format(type == DataType::float32 ? "%.7g%s" : "%.15g%s", *d, plausible ? "*" : "");
  }
  if (const auto* i = std::get_if<std::int64_t>(&value.value())) return std::to_string(*i);
  if (const auto* u = std::get_if<std::uint64_t>(&value.value())) return std::to_string(*u);
  return "-";
}

[[nodiscard]] std::string bits_of(std::uint16_t r) {
  std::string bits;
  for (int b = 15; b >= 0; --b) {
    bits.push_back(((static_cast<unsigned>(r) >> b) & 1U) != 0 ? '1' : '0');
    if (b % 4 == 0 && b != 0) bits.push_back(' ');
  }
  return bits;
}

// Every byte as a character: printable ASCII as itself, anything else as '.'.
[[nodiscard]] std::string text_of(std::span<const std::uint16_t> registers, bool swap_bytes) {
  std::string text;
  for (const auto r : registers) {
    const std::array<unsigned, 2> bytes{swap_bytes ? r & 0xFFU : r >> 8U,
                                        swap_bytes ? r >> 8U : r & 0xFFU};
    for (const auto b : bytes) text.push_back(b >= 0x20 && b < 0x7F ? static_cast<char>(b) : '.');
  }
  return text;
}

void print_registers(std::ostream& out, std::span<const std::uint16_t> r, std::uint16_t first,
                     int base) {
  out << " address    hex  unsigned  signed  bits (15 … 0)\n";
  for (std::size_t i = 0; i < r.size(); ++i)
    out << format("%8u  0x%04X  %8u  %6d  %s\n", static_cast<unsigned>(first + i) + static_cast<unsigned>(base),
                  static_cast<unsigned>(r[i]), static_cast<unsigned>(r[i]),
                  static_cast<int>(static_cast<std::int16_t>(r[i])), bits_of(r[i]).c_str());
}

// What --type and --order leave to show.
struct Shown {
  std::optional<DataType> type;
  std::optional<WordOrder> order;
  [[nodiscard]] bool column(DataType t) const { return !type || *type == t; }
  [[nodiscard]] bool width(std::size_t registers) const {
    return !type || (*type != DataType::string && config::ModbusPoint{.type = *type}.width() == registers);
  }
};

void print_wide(std::ostream& out, std::span<const std::uint16_t> r, std::uint16_t first, int base,
                std::size_t width, const Shown& shown) {
  const bool wide = width == 4;
  const std::array columns{wide ? DataType::float64 : DataType::float32,
                           wide ? DataType::uint64 : DataType::uint32,
                           wide ? DataType::int64 : DataType::int32};
  const std::array<const char*, 3> names{wide ? "float64" : "float32", wide ? "uint64" : "uint32",
                                         wide ? "int64" : "int32"};
  const auto line = [&out](std::string row) {
    row.erase(row.find_last_not_of(' ') + 1);
    out << row << '\n';
  };
  out << "\n" << (wide ? "64" : "32") << "-bit values from each address:\n";
  std::string header = " address  order ";
  for (std::size_t c = 0; c < columns.size(); ++c)
    if (shown.column(columns[c])) header += format(" %-24s", names[c]);
  line(header);
  for (std::size_t i = 0; i + width <= r.size(); ++i)
    for (const auto order : kOrders) {
      if (shown.order && *shown.order != order) continue;
      const auto regs = r.subspan(i, width);
      std::string row = format("%8u  %s  ", static_cast<unsigned>(first + i) + static_cast<unsigned>(base),
                               config::to_string(order).data());
      for (const auto type : columns)
        if (shown.column(type)) row += format(" %-24s", decoded(regs, type, order).c_str());
      line(row);
    }
}

}  // namespace

void add_probe_options(CLI::App& command, ProbeOptions& options) {
  options.connection.add_to(command);
  add_unit_option(command, options.unit);
  command
      .add_option("--read", options.read,
                  "TABLE:ADDRESS:COUNT with TABLE holding, input, coil or discrete, e.g. "
                  "holding:0:10 or input:0x48:4")
      ->capture_default_str();
  add_address_base_option(command, options.address_base);
  command.add_option("--type", options.type, "Show only this decoding")
      ->check(CLI::IsMember({"int16", "uint16", "int32", "uint32", "float32", "int64", "uint64",
                             "float64", "string"}));
  command.add_option("--order", options.order, "Show only this word order")
      ->check(CLI::IsMember({"ABCD", "CDAB", "BADC", "DCBA"}));
}

int run_modbus_probe(const ProbeOptions& options, std::ostream& out, std::ostream& err) {
  auto spec = parse_read_spec(options.read, options.address_base);
  auto timeout = options.connection.request_timeout();
  auto endpoint = options.connection.client_endpoint();
  for (const Error* e : {spec ? nullptr : &spec.error(), timeout ? nullptr : &timeout.error(),
                         endpoint ? nullptr : &endpoint.error()})
    if (e != nullptr) {
      err << "guardian probe: " << e->message << '\n';
      return kExitUsage;
    }
  auto client = open_client(options.connection, err);
  if (!client) return kExitCannotConnect;

  const auto& s = spec.value();
  const bool bits = adapters::modbus::is_bit_table(s.table);
  std::vector<std::uint16_t> registers(bits ? 0 : s.count);
  std::vector<std::uint8_t> flags(bits ? s.count : 0);
  const adapters::modbus::ModbusRequest request{static_cast<std::uint8_t>(options.unit),
                                                adapters::modbus::read_function(s.table),
                                                s.address, s.count, {}, {}};
  const auto what = range_text(s.table, s.address, s.count, options.address_base);
  const auto started = std::chrono::steady_clock::now();
  auto done = client->transact(request, {registers, flags}, timeout.value());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (!done) {
    err << "guardian probe: "
        << explain_failure(done.error(), options.unit, "reading " + what, endpoint.value())
        << '\n';
    return kExitDeviceError;
  }
  out << adapters::modbus::describe_endpoint(endpoint.value()) << ", unit " << options.unit
      << ": " << what << format(" answered in %.1f ms", ms);
  if (options.address_base != 0)
    out << " (as the manual counts; protocol address " << s.address << ")";
  out << "\n\n";
  if (bits) {
    out << " address  value\n";
    for (std::size_t i = 0; i < flags.size(); ++i)
      out << format("%8u  %u\n", static_cast<unsigned>(s.address + i) + static_cast<unsigned>(options.address_base),
                    static_cast<unsigned>(flags[i]));
    return kExitOk;
  }
  Shown shown;
  for (const auto order : kOrders)
    if (config::to_string(order) == options.order) shown.order = order;
  for (const auto type : {DataType::int16, DataType::uint16, DataType::int32, DataType::uint32,
                          DataType::float32, DataType::int64, DataType::uint64, DataType::float64,
                          DataType::string})
    if (config::to_string(type) == options.type) shown.type = type;
  if (shown.width(1)) print_registers(out, registers, s.address, options.address_base);
  for (const std::size_t width : {std::size_t{2}, std::size_t{4}})
    if (registers.size() >= width && shown.width(width))
      print_wide(out, registers, s.address, options.address_base, width, shown);
  if (!shown.type || *shown.type == DataType::string)
    out << "\ntext, 2 characters per register (other bytes as '.'):\n"
        << "  as sent      \"" << text_of(registers, false) << "\"\n"
        << "  bytes swapped \"" << text_of(registers, true) << "\"\n";
  out << "\nOrders: ABCD high word and byte first (the Modbus norm) · CDAB low word first · BADC "
         "bytes swapped · DCBA both. Configure the one whose numbers make sense: floats marked * "
         "look like a measurement (0, or between 0.001 and 10 000 000 in size). --type and "
         "--order show one of them.\n";
  return kExitOk;
}

}  // namespace guardian::tools

#include "modbus_write_command.hpp"

#include <array>
#include <cstdio>

#include "guardian/adapters/modbus/modbus_write.hpp"
#include "guardian/adapters/modbus/register_codec.hpp"
#include "guardian/config/modbus_words.hpp"

namespace guardian::tools {

void add_write_modbus_options(CLI::App& command, WriteModbusOptions& options) {
  options.connection.add_to(command);
  add_unit_option(command, options.unit);
  command.add_option("--table", options.table, "holding or coil")->capture_default_str();
  command.add_option("--address", options.address, "Address of the register or coil")->required();
  command
      .add_option("--type", options.type,
                  "bool, bit, int16, uint16, int32, uint32, int64, uint64, float32, float64, "
                  "string (default: bool for a coil, uint16 for a register)");
  command.add_option("--order", options.order, "Word order: ABCD, CDAB, BADC or DCBA")
      ->capture_default_str();
  command.add_option("--scale", options.scale, "raw = (value - offset) / scale")
      ->capture_default_str();
  command.add_option("--offset", options.offset, "raw = (value - offset) / scale")
      ->capture_default_str();
  command.add_option("--bit", options.bit, "For --type bit: which bit, 0 (LSB) to 15")
      ->check(CLI::Range(0, 15));
  command.add_option("--length", options.length, "For --type string: registers")
      ->check(CLI::Range(1, 123));
  command.add_option("--value", options.value, "The value: a number, true/false, or text")
      ->required();
  add_address_base_option(command, options.address_base);
  command.add_flag("--write-multiple", options.write_multiple,
                   "Use FC15/FC16 even for one coil or register (devices without FC05/FC06)");
  command.add_flag("--no-readback", options.no_readback, "Do not read the value back");
}

int run_modbus_write(const WriteModbusOptions& options, std::ostream& out, std::ostream& err) {
  const auto usage = [&](const std::string& message) {
    err << "guardian write: " << message << '\n';
    return kExitUsage;
  };
  config::ModbusPoint point;  // unnamed: messages name the register, not a point
  auto table = config::parse_register_table(options.table);
  if (!table) return usage("--table: " + table.error().message);
  const bool coil = table && adapters::modbus::is_bit_table(table.value());
  auto type = config::parse_data_type(options.type.empty() ? (coil ? "bool" : "uint16") : options.type);
  if (!type) return usage("--type: " + type.error().message);
  auto order = config::parse_word_order(options.order);
  if (!order) return usage("--order: " + order.error().message);
  if (options.scale == 0.0) return usage("--scale must not be 0");
  if (options.address < options.address_base || options.address - options.address_base > 65535)
    return usage("--address must be " + std::to_string(options.address_base) + " to " +
                 std::to_string(65535 + options.address_base));
  if (type.value() == config::DataType::string && options.length == 0)
    return usage("--type string needs --length (registers)");
  point.table = table.value();
  point.type = type.value();
  point.order = order.value();
  point.scale = options.scale;
  point.offset = options.offset;
  point.bit = options.bit;
  point.length = static_cast<std::uint16_t>(options.length);
  point.address = static_cast<std::uint16_t>(options.address - options.address_base);
  auto timeout = options.connection.request_timeout();
  if (!timeout) return usage(timeout.error().message);
  auto endpoint = options.connection.client_endpoint();
  if (!endpoint) return usage(endpoint.error().message);

  auto prepared =
      adapters::modbus::prepare_write(point, parse_value(options.value), options.write_multiple);
  if (!prepared) return usage(prepared.error().message);
  const auto function = prepared.value().function;
  auto client = open_client(options.connection, err);
  if (!client) return kExitCannotConnect;
  const auto transact = [&](const adapters::modbus::ModbusRequest& request,
                            const adapters::modbus::ModbusReply& reply) {
    return client->transact(request, reply, timeout.value());
  };
  const auto outcome = adapters::modbus::execute_write(
      std::move(prepared).value(), static_cast<std::uint8_t>(options.unit), !options.no_readback,
      transact);
  const auto what = range_text(point.table, point.address,
                               adapters::modbus::is_bit_table(point.table) ? 1 : point.width(),
                               options.address_base);
  if (!outcome.ok) {
    err << "guardian write: " << outcome.error << '\n';
    return kExitDeviceError;
  }
  out << "unit " << options.unit << ", " << what << " (" << config::to_string(point.type);
  if (!adapters::modbus::is_bit_table(point.table) && point.width() > 1)
    out << " " << config::to_string(point.order);
  out << "): wrote " << adapters::modbus::value_text(parse_value(options.value)) << " with "
      << adapters::modbus::function_name(function);
  for (const auto r : outcome.written) {  // what went on the wire, after a read-modify-write
    std::array<char, 8> hex{};
    std::snprintf(hex.data(), hex.size(), " 0x%04X", static_cast<unsigned>(r));
    out << hex.data();
  }
  out << '\n';
  if (!options.no_readback)
    out << "read back " << adapters::modbus::value_text(outcome.readback) << '\n';
  return kExitOk;
}

}  // namespace guardian::tools

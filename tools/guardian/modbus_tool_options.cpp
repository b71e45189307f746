#include "modbus_tool_options.hpp"

#include <charconv>

#include "guardian/adapters/modbus/register_codec.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/config/modbus_words.hpp"

namespace guardian::tools {
namespace {

[[nodiscard]] result<int> whole_number(std::string_view text, std::string_view what) {
  int value = 0;
  int base = 10;
  std::string_view digits = text;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    base = 16;
    digits.remove_prefix(2);
  }
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size())
    return make_error("'" + std::string(text) + "' is not a whole number (" + std::string(what) +
                      ")");
  return value;
}

}  // namespace

void ModbusConnectionOptions::add_to(CLI::App& command, bool with_serial) {
  command
      .add_option("endpoint", endpoint,
                  "tcp://host[:port] (Modbus TCP), rtu+tcp://host:port (RTU through a serial "
                  "server) or a serial device such as /dev/ttyUSB0")
      ->required();
  if (with_serial) {
    command.add_option("--baud", baud, "Serial: baud rate")->capture_default_str();
    command.add_option("--parity", parity, "Serial: none, even or odd")
        ->check(CLI::IsMember({"none", "even", "odd"}))
        ->capture_default_str();
    command.add_option("--stop-bits", stop_bits, "Serial: 1 or 2")
        ->check(CLI::IsMember({1, 2}))
        ->capture_default_str();
  }
  command.add_option("--data-bits", data_bits, "Serial: 7 or 8")
      ->check(CLI::IsMember({7, 8}))
      ->capture_default_str();
  command.add_flag("--rs485", rs485, "Serial: switch the port to the kernel's RS-485 mode");
  command.add_option("--timeout", timeout, "Time to wait for each answer, e.g. 500ms")
      ->capture_default_str();
  command.add_option("--connect-timeout", connect_timeout, "Time to wait for a TCP connection")
      ->capture_default_str();
}

void add_unit_option(CLI::App& command, int& unit) {
  command.add_option("--unit", unit, "Unit id (slave address)")
      ->check(CLI::Range(0, 255))
      ->capture_default_str();
}

void add_address_base_option(CLI::App& command, int& address_base) {
  command
      .add_option("--address-base", address_base,
                  "1 when the manual counts registers from 1 (40001 = holding 1)")
      ->check(CLI::IsMember({0, 1}))
      ->capture_default_str();
}

result<adapters::modbus::ClientEndpoint> ModbusConnectionOptions::client_endpoint() const {
  config::SerialPortSettings serial;
  serial.baud = baud;
  serial.parity = parity == "even"  ? config::Parity::even
                  : parity == "odd" ? config::Parity::odd
                                    : config::Parity::none;
  serial.data_bits = data_bits;
  serial.stop_bits = stop_bits;
  serial.rs485 = rs485;
  return adapters::modbus::parse_endpoint(endpoint, serial);
}

result<std::chrono::milliseconds> ModbusConnectionOptions::request_timeout() const {
  auto parsed = config::parse_duration(timeout);
  if (!parsed) return make_error("--timeout: " + parsed.error().message);
  if (parsed.value().count() == 0) return make_error("--timeout must be more than 0ms");
  return parsed.value();
}

result<ReadSpec> parse_read_spec(std::string_view text, int address_base) {
  const auto first = text.find(':');
  const auto second = first == std::string_view::npos ? first : text.find(':', first + 1);
  if (second == std::string_view::npos)
    return make_error("--read '" + std::string(text) +
                      "': expected TABLE:ADDRESS:COUNT, e.g. holding:0:10 or input:0x0048:4");
  auto table = config::parse_register_table(text.substr(0, first));
  if (!table) return make_error("--read '" + std::string(text) + "': " + table.error().message);
  BOOST_OUTCOME_TRY(address, whole_number(text.substr(first + 1, second - first - 1), "address"));
  BOOST_OUTCOME_TRY(count, whole_number(text.substr(second + 1), "count"));
  const bool bits = adapters::modbus::is_bit_table(table.value());
  const int max = bits ? 2000 : 125;
  if (count < 1 || count > max)
    return make_error("--read '" + std::string(text) + "': one request reads 1 to " +
                      std::to_string(max) + (bits ? " bits" : " registers"));
  if (address < address_base || address - address_base + count > 65536)
    return make_error("--read '" + std::string(text) + "': the range must lie within addresses " +
                      std::to_string(address_base) + " to " + std::to_string(65535 + address_base) +
                      (address_base == 1 ? " (--address-base 1: the manual counts from 1)" : ""));
  return ReadSpec{table.value(), static_cast<std::uint16_t>(address - address_base),
                  static_cast<std::uint16_t>(count)};
}

Value parse_value(std::string_view text) {
  if (text == "true") return Value{true};
  if (text == "false") return Value{false};
  std::int64_t integer = 0;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), integer);
      ec == std::errc{} && end == text.data() + text.size() && !text.empty())
    return Value{integer};
  double real = 0.0;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), real);
      ec == std::errc{} && end == text.data() + text.size() && !text.empty())
    return Value{real};
  return Value{std::string(text)};
}

std::unique_ptr<adapters::modbus::ModbusClient> open_client(
    const ModbusConnectionOptions& options, std::ostream& err) {
  auto endpoint = options.client_endpoint();
  if (!endpoint) {
    err << "guardian: " << endpoint.error().message << '\n';
    return nullptr;
  }
  auto connect_timeout = config::parse_duration(options.connect_timeout);
  if (!connect_timeout) {
    err << "guardian: --connect-timeout: " << connect_timeout.error().message << '\n';
    return nullptr;
  }
  auto client = adapters::modbus::ModbusClient::open(endpoint.value(), connect_timeout.value());
  if (!client) {
    std::string hint;
    const int code = client.error().code.value();
    if (code == ECONNREFUSED)
      hint = "; is the device's Modbus TCP server enabled, and is the port right (502 for "
             "Modbus TCP; serial servers often use 4001 or 8899)?";
    else if (code == ETIMEDOUT || code == EHOSTUNREACH || code == ENETUNREACH)
      hint = "; check the IP address, the cable and that this machine is on the device's network";
    err << "guardian: " << client.error().message << hint << '\n';
    return nullptr;
  }
  for (const auto& warning : client.value()->warnings()) err << "warning: " << warning << '\n';
  return std::move(client).value();
}

std::string range_text(config::RegisterTable table, std::uint32_t address, std::uint32_t count,
                       int address_base) {
  std::string text = adapters::modbus::table_name(table);
  text += count == 1 ? " " : "s ";
  const auto first = address + static_cast<std::uint32_t>(address_base);
  text += std::to_string(first);
  if (count > 1) text += "-" + std::to_string(first + count - 1);
  return text;
}

std::string explain_failure(const Error& error, int unit, const std::string& what,
                            const adapters::modbus::ClientEndpoint& endpoint) {
  const bool serial = endpoint.transport == config::ModbusTransport::rtu;
  if (adapters::modbus::is_timeout(error)) {
    std::string text = "no answer from unit " + std::to_string(unit) + " " + what +
                       ": check the unit id";
    text += serial ? ", the baud rate and parity (" + adapters::modbus::describe_endpoint(endpoint) +
                         "), the wiring (A and B swapped?) and the termination; `guardian scan "
                         "modbus` lists the units that answer"
                   : " (a Modbus TCP device often answers only unit 1 or 255) and that the device "
                     "speaks Modbus TCP, not RTU frames (then use rtu+tcp://)";
    return text;
  }
  if (const int code = adapters::modbus::exception_of(error); code != 0) {
    std::string text = "unit " + std::to_string(unit) + " answered " +
                       adapters::modbus::exception_text(code) + " " + what;
    switch (code) {
      case 1:
        text += ": the device does not implement this function (try another table)";
        break;
      case 2:
        text += ": the device has no such address (check the address, --address-base, and "
                "whether the manual counts from 1)";
        break;
      case 3:
        text += ": the device refuses this quantity or value";
        break;
      case 10:
      case 11:
        text += ": the gateway in front of the unit cannot reach it (check the unit id and the "
                "line behind the gateway)";
        break;
      default:
        break;
    }
    return text;
  }
  if (adapters::modbus::is_garbled(error))
    return "garbled answer " + what + " (" + error.message +
           "): something is on the line at other settings, or two devices answer at once; check "
           "the baud rate, parity and unit ids";
  return error.message + " " + what;
}

}  // namespace guardian::tools

#pragma once
/// \file
/// What `guardian probe|scan|write modbus` share: the connection options (an endpoint, the serial
/// line settings, timeouts), the `TABLE:ADDRESS:COUNT` read spec, values as typed, the exit
/// codes, and the sentence that explains a failed request to a technician.

// CLI11 2.1's string splitting trips GCC 12's -Wnull-dereference (a false positive in inlined
// libstdc++ code); see tools/guardian-sim/main.cpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "guardian/adapters/modbus/modbus_client.hpp"
#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::tools {

/// Exit codes of the Modbus field tools.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;          ///< bad arguments (the message says which)
inline constexpr int kExitDeviceError = 4;    ///< no answer, an exception, nothing found
inline constexpr int kExitCannotConnect = 5;  ///< connection refused, port missing or busy

/// The endpoint and line settings every Modbus tool takes.
struct ModbusConnectionOptions {
  std::string endpoint;  ///< tcp://host[:port], rtu+tcp://host:port or /dev/tty…
  int baud = 9600;
  std::string parity = "none";
  int data_bits = 8;
  int stop_bits = 1;
  bool rs485 = false;
  std::string timeout = "1s";  ///< per request, configuration syntax
  std::string connect_timeout = "3s";

  /// Adds the endpoint positional and the options to `command`. `with_serial`: --baud,
  /// --parity, --stop-bits (scan takes lists instead and adds its own).
  void add_to(CLI::App& command, bool with_serial = true);
  /// The endpoint with these line settings. Errors say what is wrong.
  [[nodiscard]] result<adapters::modbus::ClientEndpoint> client_endpoint() const;
  /// The per-request timeout. Errors say what is wrong.
  [[nodiscard]] result<std::chrono::milliseconds> request_timeout() const;
};

/// Adds `--unit` (0–255, default 1) to `command`.
void add_unit_option(CLI::App& command, int& unit);
/// Adds `--address-base` (0 or 1: how the manual counts registers) to `command`.
void add_address_base_option(CLI::App& command, int& address_base);

/// A read spec `TABLE:ADDRESS:COUNT` ("holding:100:4"), the address as the manual prints it.
struct ReadSpec {
  config::RegisterTable table = config::RegisterTable::holding_register;
  std::uint16_t address = 0;  ///< protocol (0-based) address
  std::uint16_t count = 1;
};

/// Parses a read spec; `address_base` 1 subtracts one from the address (manuals counting from
/// 1). Errors say what is wrong and what is expected.
[[nodiscard]] result<ReadSpec> parse_read_spec(std::string_view text, int address_base);

/// A value as typed: true/false, an integer, a decimal number, otherwise text (an enum label or
/// a string).
[[nodiscard]] Value parse_value(std::string_view text);

/// Opens a client, printing why not on `err`; nullptr then (exit with kExitCannotConnect).
[[nodiscard]] std::unique_ptr<adapters::modbus::ModbusClient> open_client(
    const ModbusConnectionOptions& options, std::ostream& err);

/// What to tell a technician about a failed request `what` ("reading holding registers 0-9")
/// to `unit`: the failure and what to check.
[[nodiscard]] std::string explain_failure(const Error& error, int unit, const std::string& what,
                                          const adapters::modbus::ClientEndpoint& endpoint);

/// "holding registers 100-103", "coil 7".
[[nodiscard]] std::string range_text(config::RegisterTable table, std::uint32_t address,
                                     std::uint32_t count, int address_base);

}  // namespace guardian::tools

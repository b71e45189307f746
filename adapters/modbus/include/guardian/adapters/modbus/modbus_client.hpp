#pragma once
/// \file
/// A synchronous Modbus client for the field-technician tools (`guardian probe|scan|write
/// modbus`): one connection over any of the three transports, one transaction at a time, on
/// the caller's thread. The daemon does not use it; it polls through its bus schedulers.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/adapters/modbus/modbus_request.hpp"
#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::adapters::modbus {

/// Where a client connects: a transport and its address.
struct ClientEndpoint {
  config::ModbusTransport transport = config::ModbusTransport::tcp;
  config::ModbusTcpEndpoint tcp;      ///< tcp and rtu_over_tcp
  config::SerialPortSettings serial;  ///< rtu (baud, parity … default to 9600 8N1)
};

/// Parses what a technician types: `tcp://host[:port]` (Modbus TCP, port 502 by default),
/// `rtu+tcp://host:port` (RTU frames through a serial server), or a serial device path starting
/// with `/` (RTU; line settings from `serial`). Errors say which forms are accepted.
[[nodiscard]] result<ClientEndpoint> parse_endpoint(std::string_view text,
                                                    const config::SerialPortSettings& serial = {});

/// "tcp://10.0.0.7:502", "rtu+tcp://…", "/dev/ttyUSB0 9600 8E1".
[[nodiscard]] std::string describe_endpoint(const ClientEndpoint& endpoint);

/// One open connection. Not thread-safe; interrupt() excepted.
class ModbusClient {
 public:
  /// Opens the connection within `connect_timeout`. Errors say what failed: connection refused,
  /// host not found, serial port missing or in use (errno kept in the code).
  [[nodiscard]] static result<std::unique_ptr<ModbusClient>> open(
      const ClientEndpoint& endpoint, std::chrono::milliseconds connect_timeout);

  ~ModbusClient();
  ModbusClient(const ModbusClient&) = delete;
  ModbusClient& operator=(const ModbusClient&) = delete;

  /// One transaction with `timeout` for the answer. Errors carry libmodbus's errno values (see
  /// is_timeout(), exception_of()); after a malformed answer the stream is brought back into
  /// step, and after a lost connection it is reopened by the next call.
  [[nodiscard]] result<void> transact(const ModbusRequest& request, const ModbusReply& reply,
                                      std::chrono::milliseconds timeout);
  /// Standing conditions found while opening (e.g. RS-485 mode not supported by the port).
  [[nodiscard]] std::vector<std::string> warnings() const;
  /// The peer, for messages.
  [[nodiscard]] const std::string& peer() const;
  /// Makes a transaction in progress on another thread return promptly (Ctrl-C).
  void interrupt() noexcept;

 private:
  struct Impl;
  explicit ModbusClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// True when `error` is a timeout (the unit did not answer).
[[nodiscard]] bool is_timeout(const Error& error) noexcept;
/// True when `error` is an answer that did not make sense: a CRC error, another unit answering,
/// a malformed frame (on a serial line: usually the wrong baud rate or parity).
[[nodiscard]] bool is_garbled(const Error& error) noexcept;
/// The Modbus exception code (1–11) `error` reports, or 0 when it is not an exception response.
[[nodiscard]] int exception_of(const Error& error) noexcept;
/// True for exceptions 0A (gateway path unavailable) and 0B (gateway target device failed to
/// respond): a Modbus gateway saying the unit behind it is silent, not the unit refusing.
[[nodiscard]] bool is_gateway_silence(int exception_code) noexcept;
/// "exception 02 illegal data address" for an exception code.
[[nodiscard]] std::string exception_text(int code);

}  // namespace guardian::adapters::modbus

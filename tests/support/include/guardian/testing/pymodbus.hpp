#pragma once
/// \file
/// A pymodbus server (an independent Modbus implementation) serving the registers a test
/// declares, over Modbus TCP on a free loopback port, RTU frames on that TCP port (a
/// transparent serial server), and/or RTU on a serial device.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

/// `spec` is the JSON the helper script tests/support/pymodbus_server.py reads, e.g.
///   {"units": {"1": {"hr": {"0": 1234, "1": 5678}, "ir": {...}, "co": {"0": 1}, "di": {...}},
///              "2": {...}},
///    "delay_ms": {"2": 300}}
/// Addresses are 0-based protocol addresses; values are 16-bit registers or 0/1 for bits.
/// Units absent from the spec get no reply at all (like a dead unit on a bus).
/// How the server is reached.
struct PymodbusTransports {
  bool tcp = true;               ///< listen on a loopback TCP port
  bool rtu_over_tcp = false;     ///< … with RTU framing on it instead of MBAP
  std::filesystem::path serial;  ///< also serve RTU on this serial device (a SerialPair end)
  int baud = 19200;
};

class PymodbusServer {
 public:
  explicit PymodbusServer(nlohmann::json spec, std::uint16_t port = 0);
  PymodbusServer(nlohmann::json spec, PymodbusTransports transports, std::uint16_t port = 0);
  ~PymodbusServer();

  /// (Re)starts on the same port and device and waits until it serves (TCP: accepts
  /// connections; serial only: has said READY).
  void start();
  void stop();
  void kill();
  /// The spec the next start() serves (e.g. a device whose firmware now has more registers).
  void set_spec(nlohmann::json spec) { spec_ = std::move(spec); }
  [[nodiscard]] bool running() const;
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string log() const;

 private:
  TempDir dir_;
  std::uint16_t port_;
  nlohmann::json spec_;
  PymodbusTransports transports_;
  std::unique_ptr<Process> process_;
};

}  // namespace guardian::testing

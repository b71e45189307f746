#pragma once
/// \file
/// The settings of a serial port, the same for every adapter that reads one: a Modbus RTU bus
/// (`type: modbus`, `transport: rtu`) and a stream adapter (`type: serial`). Read by one function
/// (config/src/serial_port_section.cpp), opened by one (adapters/src/serial_port.hpp). Every key
/// is documented in docs/configuration.md ("serial").
///
/// Plain data only: the stream codecs and their fuzz targets (clang 14) include it through
/// stream_config.hpp.

#include <array>
#include <cstdint>
#include <string>

namespace guardian::config {

enum class Parity : std::uint8_t { none, even, odd };

enum class FlowControl : std::uint8_t { none, software, hardware };

/// The baud rates a serial port can be set to: the standard termios rates.
inline constexpr std::array<int, 17> kStandardBaudRates{
    300,    600,    1200,   2400,   4800,   9600,    19200,   38400,  57600,
    115200, 230400, 460800, 500000, 921600, 1000000, 2000000, 4000000};

struct SerialPortSettings {
  std::string port;  ///< e.g. /dev/ttyUSB0
  int baud = 9600;   ///< one of kStandardBaudRates
  Parity parity = Parity::none;
  int data_bits = 8;  ///< 5–8; 7 or 8 on a Modbus bus
  int stop_bits = 1;  ///< 1 or 2
  FlowControl flow_control = FlowControl::none;  ///< software: XON/XOFF; hardware: RTS/CTS
  bool rs485 = false;  ///< Enable the kernel's RS-485 mode (TIOCSRS485) when supported.
};

}  // namespace guardian::config

#pragma once
/// \file
/// The simulator's Modbus RTU server on a serial device (a real RS-485 adapter or one end of a
/// pty pair): every unit of SimulatedUnits on one bus. libmodbus opens and configures the port
/// and formats the answers, but its receive filters on one unit id, so requests are framed
/// here with the RTU frame codec: length from the function code, CRC checked; a request for a
/// unit the bus does not have gets no answer at all, as on a real bus.
///
///   poll(port, timeout = next tick)
///     ├─ readable → append; while a whole frame is there: CRC ok and our unit → answer
///     │             (bad CRC or unknown function: drop what is buffered; a partial frame that
///     │              stays incomplete for 100 ms is dropped too)
///     ├─ hung up  → run() returns false (the other end of the line is gone)
///     └─ tick due → advance every model, re-encode its registers

#include <modbus/modbus.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "guardian/common/result.hpp"
#include "sim_units.hpp"

namespace guardian::sim {

/// The serial line `guardian-sim modbus-rtu` serves on.
struct ModbusRtuSimOptions {
  std::string port;    ///< the serial device, e.g. /dev/ttyUSB0 or /dev/pts/3
  int baud = 19200;
  char parity = 'N';   ///< 'N', 'E' or 'O'
  int data_bits = 8;
  int stop_bits = 1;
};

class ModbusRtuSimServer {
 public:
  /// Serves `units` (kept by reference; they must outlive the server).
  ModbusRtuSimServer(ModbusRtuSimOptions options, SimulatedUnits& units);
  ~ModbusRtuSimServer();
  ModbusRtuSimServer(const ModbusRtuSimServer&) = delete;
  ModbusRtuSimServer& operator=(const ModbusRtuSimServer&) = delete;

  /// Opens and configures the port. Errors name the port and the reason.
  [[nodiscard]] result<void> open();
  /// Serves until `stop` is set (true) or the line hangs up (false).
  [[nodiscard]] bool run(const volatile std::sig_atomic_t& stop);

 private:
  struct ContextDeleter {
    void operator()(modbus_t* ctx) const noexcept {
      modbus_close(ctx);
      modbus_free(ctx);
    }
  };

  // Answers every complete frame at the start of buffer_.
  void serve_frames();

  ModbusRtuSimOptions options_;
  SimulatedUnits& units_;
  std::unique_ptr<modbus_t, ContextDeleter> ctx_;
  std::vector<std::uint8_t> buffer_;
  std::chrono::steady_clock::time_point last_byte_{};
};

}  // namespace guardian::sim

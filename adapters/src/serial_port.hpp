#pragma once
/// \file
/// Opening a serial port, for every adapter that reads one (Modbus RTU, stream `type: serial`):
/// raw mode, the configured baud rate, character format and flow control, exclusive use, and
/// the kernel's RS-485 mode when asked for. Private to adapters/.

#include <string>
#include <vector>

#include "guardian/common/result.hpp"
#include "guardian/common/unique_fd.hpp"
#include "guardian/config/serial_port_config.hpp"

namespace guardian::adapters {

/// Opens `settings.port` non-blocking, takes an exclusive flock on it (so that a field tool
/// cannot talk over the daemon on the same port), and sets raw framing and flow control from
/// `settings`. Reads return at once with what is there (VMIN = VTIME = 0): the caller waits for
/// readiness (poll, or Boost.Asio after assigning the descriptor to a serial_port).
/// With `settings.rs485`, switches the port into RS-485 mode (TIOCSRS485, RTS driving the
/// transmitter; what libmodbus's modbus_rtu_set_serial_mode does). A port that cannot do it — a
/// pty or a USB adapter that switches its transmitter itself answers ENOTTY or EINVAL — is
/// still used, and a sentence saying so is appended to `warnings`.
/// Errors: the port cannot be opened (errno kept; ENOENT says it is not plugged in), is in use
/// by another process, is not a terminal, or refuses the baud rate.
[[nodiscard]] result<UniqueFd> open_serial_port(const config::SerialPortSettings& settings,
                                                std::vector<std::string>& warnings);

}  // namespace guardian::adapters

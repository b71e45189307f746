#pragma once
/// \file
/// `guardian-sim serial`: one espresso machine speaking espresso_serial_protocol.hpp on a serial
/// device (one end of a pty pair, or a real port) or to every client of a TCP port. One thread,
/// one poll() loop, a 100 ms model tick.
///
///   poll(device | listen socket + clients, timeout = next tick)
///     ├─ readable   → collect bytes; a "STAT?" line → status sentence at once (to that peer)
///     ├─ listen     → accept a client
///     └─ tick due   → advance the model; SHOT sentence when a shot ends; STAT every interval
///                     and when the state changes; TRC every trace interval while brewing

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>

#include "guardian/common/result.hpp"

namespace guardian::sim {

struct SerialSimOptions {
  std::string device;  ///< serial device to open (exclusive with tcp_port)
  int tcp_port = -1;   ///< TCP port to serve instead (0 = any free port)
  std::string bind = "127.0.0.1";
  int baud = 9600;
  double speed = 1.0;          ///< simulated seconds per real second
  double status_interval = 1;  ///< real seconds between two STAT sentences
  double trace_interval = 0.1; ///< real seconds between two TRC sentences while brewing; 0: none
  std::uint32_t seed = 1;
};

/// Serves until `stop` is set. open() first; then run().
class SerialSimServer {
 public:
  explicit SerialSimServer(SerialSimOptions options);
  ~SerialSimServer();
  SerialSimServer(const SerialSimServer&) = delete;
  SerialSimServer& operator=(const SerialSimServer&) = delete;

  /// Opens the device (raw mode, baud) or listens. Returns "device=PATH" or "port=P".
  [[nodiscard]] result<std::string> open();
  /// Returns the number of sentences written.
  std::uint64_t run(const volatile std::sig_atomic_t& stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace guardian::sim

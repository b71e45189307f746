#pragma once
/// \file
/// The simulator's Modbus TCP server: libmodbus's own request parsing (modbus_receive),
/// answered by SimulatedUnits, multiplexed over every client with one poll() loop on a single
/// thread, while the machine models advance on a 100 ms tick.
///
///   poll(listen socket, clients…, timeout = next tick)
///     ├─ listen readable  → accept, TCP_NODELAY, add to the set
///     ├─ client readable  → modbus_receive → unit id → SimulatedUnits::answer
///     │                     (EOF / error → close the client)
///     └─ tick due         → advance every model, re-encode its registers

#include <modbus/modbus.h>
#include <poll.h>

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "guardian/common/result.hpp"
#include "sim_units.hpp"

namespace guardian::sim {

/// Where `guardian-sim modbus-tcp` listens.
struct ModbusTcpSimOptions {
  std::string bind = "127.0.0.1";  ///< IPv4 address to listen on
  std::uint16_t port = 502;        ///< 0 = any free port
};

/// A listening simulator. Single-threaded; run() returns when `stop` becomes non-zero.
class ModbusTcpSimServer {
 public:
  /// Serves `units` (kept by reference; they must outlive the server).
  ModbusTcpSimServer(ModbusTcpSimOptions options, SimulatedUnits& units);
  ~ModbusTcpSimServer();
  ModbusTcpSimServer(const ModbusTcpSimServer&) = delete;
  ModbusTcpSimServer& operator=(const ModbusTcpSimServer&) = delete;

  /// Binds and listens; returns the port actually bound (useful with port 0).
  [[nodiscard]] result<std::uint16_t> listen();

  /// Serves until `stop` is set (by a signal handler). Returns the number of requests answered.
  std::uint64_t run(const volatile std::sig_atomic_t& stop);

 private:
  struct ContextDeleter {
    void operator()(modbus_t* ctx) const noexcept { modbus_free(ctx); }
  };

  void accept_clients();
  // false when the client must be dropped
  [[nodiscard]] bool serve(int fd);
  void close_client(std::size_t index);

  ModbusTcpSimOptions options_;
  SimulatedUnits& units_;
  std::unique_ptr<modbus_t, ContextDeleter> ctx_;
  int listen_fd_ = -1;
  std::vector<pollfd> fds_;  // [0] = listening socket, then clients
  std::vector<std::uint8_t> query_;
};

}  // namespace guardian::sim

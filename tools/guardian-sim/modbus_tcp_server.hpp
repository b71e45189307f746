#pragma once
/// \file
/// The simulator's Modbus TCP server: libmodbus's own request parsing and replies
/// (modbus_receive/modbus_reply on one mapping per unit), multiplexed over every client with one
/// poll() loop on a single thread, while the machine models advance on a 100 ms tick.
///
///   poll(listen socket, clients…, timeout = next tick)
///     ├─ listen readable  → accept, TCP_NODELAY, add to the set
///     ├─ client readable  → modbus_receive → unit id → modbus_reply(mapping of that unit)
///     │                     (EOF / error → close the client)
///     └─ tick due         → advance every model, re-encode its registers

#include <modbus/modbus.h>
#include <poll.h>

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "espresso_model.hpp"
#include "guardian/common/result.hpp"

namespace guardian::sim {

/// What `guardian-sim modbus-tcp` serves.
struct ModbusTcpSimOptions {
  std::string bind = "127.0.0.1";  ///< IPv4 address to listen on
  std::uint16_t port = 502;        ///< 0 = any free port
  int units = 1;                   ///< unit ids 1..units, one machine each
  double speed = 1.0;              ///< simulated seconds per real second
  std::uint32_t seed = 1;          ///< makes runs reproducible
};

/// A listening simulator. Single-threaded; run() returns when `stop` becomes non-zero.
class ModbusTcpSimServer {
 public:
  explicit ModbusTcpSimServer(ModbusTcpSimOptions options);
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
  struct MappingDeleter {
    void operator()(modbus_mapping_t* m) const noexcept { modbus_mapping_free(m); }
  };

  void accept_clients();
  // false when the client must be dropped
  [[nodiscard]] bool serve(int fd);
  void tick(double real_seconds);
  void close_client(std::size_t index);

  ModbusTcpSimOptions options_;
  std::unique_ptr<modbus_t, ContextDeleter> ctx_;
  std::vector<std::unique_ptr<modbus_mapping_t, MappingDeleter>> mappings_;
  std::vector<EspressoModel> models_;
  int listen_fd_ = -1;
  std::vector<pollfd> fds_;  // [0] = listening socket, then clients
  std::vector<std::uint8_t> query_;
  std::uint64_t answered_ = 0;
};

}  // namespace guardian::sim

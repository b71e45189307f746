#pragma once
/// \file
/// A fault-injecting TCP proxy for tests, between a client (the gateway) and a server (the
/// broker), on a free loopback port, run by its own thread:
///
///   client ──▶ FaultProxy(port()) ──▶ 127.0.0.1:upstream
///                 pass        forward both ways
///                 cut()       reset every connection now (RST), accept new ones
///                 black hole  stop reading and forwarding (connections stay open, nothing
///                             moves: a dead path, seen by the peers only through their
///                             keep-alive timers); new connections get no upstream
///                 slow        forward at most N bytes/s per direction, each chunk delayed
///                 half_close  shut down one sending side (that peer reads EOF while the other
///                             direction still flows)
///
/// Every method is thread-safe and returns once the proxy's thread has applied it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace guardian::testing {

class FaultProxy {
 public:
  /// Which peer a half-close is aimed at.
  enum class Side : std::uint8_t {
    client,  ///< the client reads EOF (the proxy stops sending to it)
    server,  ///< the server reads EOF
  };

  explicit FaultProxy(std::uint16_t upstream_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port()); }

  /// Back to normal forwarding (resumes black-holed connections where they stopped).
  void pass();
  /// Resets every open connection (SO_LINGER 0: the peers see ECONNRESET). Mode unchanged.
  void cut();
  /// Stops moving bytes on every connection, open or new, until pass() or cut().
  void black_hole();
  /// Limits every direction of every connection to `bytes_per_second`, each chunk of at most
  /// 4 KiB waiting `latency` first.
  void slow(std::size_t bytes_per_second, std::chrono::milliseconds latency);
  /// Shuts down the proxy's sending side towards `side` on every open connection.
  void half_close(Side side);

  /// Connections currently open (accepted and not yet closed).
  [[nodiscard]] std::size_t open_connections() const;
  /// Connections accepted since construction.
  [[nodiscard]] std::uint64_t accepted() const;
  /// Bytes forwarded from client to server and back, since construction.
  [[nodiscard]] std::uint64_t bytes_up() const;
  [[nodiscard]] std::uint64_t bytes_down() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace guardian::testing

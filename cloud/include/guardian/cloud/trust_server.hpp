#pragma once
/// \file
/// The trust service's TLS transport (JSON lines, docs/secure-link.md "Trust protocol"), built so
/// that hostile clients cannot starve it: one Asio thread accepts and drives every TLS session
/// without blocking, a small pool runs the requests (SQLite, certificate signing), and every
/// resource a client can make the server hold is bounded.
///
///   acceptor ─async_accept─▶ admit? (connections in all, per address, new ones per address/s)
///        │ EMFILE/ENFILE: back off 50 ms … 1 s, then accept again (no spinning)
///        ▼
///   Connection: handshake_step ⇄ async_wait(read|write)    ── deadline: handshake_timeout
///               read a line ≤ max_line                      ── deadline: request_timeout (idle
///               ─post─▶ worker: service.handle(line)           and slow-loris alike)
///               ◀─post── write the response                 ── deadline: request_timeout
///               … at most max_requests, then close_notify
///
/// Thread-safety: start()/stop() from one thread; counters() from any.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "guardian/cloud/trust_service.hpp"
#include "guardian/common/result.hpp"
#include "guardian/secure_link/tls_session.hpp"

namespace guardian::cloud {

/// What one server lets its clients hold.
struct TrustServerLimits {
  std::size_t max_connections = 512;              ///< open at once, all addresses
  std::size_t max_connections_per_address = 32;   ///< open at once, one client address
  double new_connections_per_second = 50;         ///< per address, sustained …
  double new_connections_burst = 100;             ///< … and in a burst
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds request_timeout{10000};  ///< to receive a whole line, or send an answer
  std::size_t max_line = 64 * 1024;               ///< longest request line
  int max_requests = 16;                          ///< per connection
  std::size_t workers = 4;                        ///< threads running requests
};

/// What the server did (for its log, tests and benches). Thread-safe reads.
struct TrustServerCounters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused_busy{0};          ///< max_connections reached
  std::atomic<std::uint64_t> refused_per_address{0};   ///< too many from one address, or too fast
  std::atomic<std::uint64_t> handshake_failures{0};
  std::atomic<std::uint64_t> timeouts{0};              ///< handshake or request deadlines
  std::atomic<std::uint64_t> oversized_lines{0};
  std::atomic<std::uint64_t> accept_backoffs{0};       ///< EMFILE and friends
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> open{0};                  ///< connections open now
};

/// Serves a TrustService over TLS 1.2. stop() before destruction (the destructor does it).
class TrustServer {
 public:
  TrustServer(TrustService& service, const secure_link::TlsServerContext& tls, std::string host,
              std::uint16_t port, TrustServerLimits limits = {});
  ~TrustServer();
  TrustServer(const TrustServer&) = delete;
  TrustServer& operator=(const TrustServer&) = delete;

  /// Binds (port 0 = any free port) and starts serving. Errors keep errno.
  [[nodiscard]] result<void> start();
  /// Stops accepting, closes every connection, lets running requests finish, joins.
  void stop();
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const TrustServerCounters& counters() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_;
};

}  // namespace guardian::cloud

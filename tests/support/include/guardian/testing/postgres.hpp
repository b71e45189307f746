#pragma once
/// \file
/// A real PostgreSQL server (Debian's postgresql package) in a temporary directory: initdb, then
/// the postgres binary itself on a free loopback port, stopped by PID. Trust authentication on
/// 127.0.0.1 only; fsync off (a test server's data is thrown away).
///
/// As root (CI), initdb and postgres run as the `postgres` user (they refuse root), via setpriv.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  /// Starts (or restarts) the server and waits until it accepts connections.
  void start();
  /// Fast shutdown (SIGINT), then SIGKILL after a grace period.
  void stop();

  /// Creates an empty database and returns its URI.
  std::string create_database(const std::string& name);
  /// postgresql://guardian@127.0.0.1:PORT/DATABASE
  [[nodiscard]] std::string uri(const std::string& database) const;
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string log() const;
  [[nodiscard]] bool running() const;
  /// The postmaster's process id (its backends are its children).
  [[nodiscard]] int pid() const { return process_ ? process_->pid() : 0; }

 private:
  TempDir dir_;
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
};

}  // namespace guardian::testing

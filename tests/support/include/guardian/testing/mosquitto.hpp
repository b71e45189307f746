#pragma once
/// \file
/// A real mosquitto broker on a free loopback port, in its own temporary directory.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

class MosquittoBroker {
 public:
  /// Extra lines appended to the generated mosquitto.conf (TLS listeners, ACLs …).
  /// `persistent`: keep sessions and queued messages across stop()/start() (mosquitto
  /// persistence, saved at SIGTERM) — for tests whose subscriber must not miss anything while
  /// the broker restarts.
  explicit MosquittoBroker(std::string extra_config = {}, std::uint16_t port = 0,
                           bool persistent = false);
  ~MosquittoBroker();

  /// Starts (or restarts) the broker on the same port and waits until it accepts connections.
  void start();
  /// Stops it (SIGTERM, then SIGKILL after a grace period).
  void stop();
  /// Kills it with SIGKILL.
  void kill();
  /// SIGHUP: mosquitto reloads its configuration, its certificates and its CRL.
  void reload();
  [[nodiscard]] bool running() const;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }
  [[nodiscard]] std::string log() const;

 private:
  TempDir dir_;
  std::uint16_t port_;
  std::string extra_config_;
  bool persistent_ = false;
  std::unique_ptr<Process> process_;
};

}  // namespace guardian::testing

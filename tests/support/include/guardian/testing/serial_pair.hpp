#pragma once
/// \file
/// A pair of connected pseudo-terminals made by socat, standing in for a serial cable: what is
/// written to one end is read at the other. Each end is reached through a symlink in a
/// temporary directory, so that killing and restarting socat (a USB adapter unplugged and
/// plugged back) gives the same paths, as a /dev/serial/by-id name would.

#include <filesystem>
#include <memory>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

class SerialPair {
 public:
  /// Starts socat and waits until both ends exist. Throws std::runtime_error if they do not
  /// appear within 10 s.
  SerialPair();
  ~SerialPair();
  SerialPair(const SerialPair&) = delete;
  SerialPair& operator=(const SerialPair&) = delete;

  /// The end the gateway opens (like /dev/ttyUSB0).
  [[nodiscard]] const std::filesystem::path& gateway_end() const noexcept { return a_; }
  /// The end the simulated devices open.
  [[nodiscard]] const std::filesystem::path& device_end() const noexcept { return b_; }

  /// (Re)starts socat on the same paths and waits for both ends.
  void start();
  /// Kills socat: both ends hang up and their symlinks disappear, as when a cable or a USB
  /// adapter is pulled.
  void kill();
  [[nodiscard]] bool running() const;

 private:
  TempDir dir_;
  std::filesystem::path a_;
  std::filesystem::path b_;
  std::unique_ptr<Process> socat_;
};

}  // namespace guardian::testing

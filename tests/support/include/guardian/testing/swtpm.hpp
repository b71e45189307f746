#pragma once
/// \file
/// A real software TPM (swtpm, TPM 2.0) on free loopback ports, with its state in its own
/// temporary directory — never a mock of the TPM.

#include <cstdint>
#include <memory>
#include <string>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

class SwtpmProcess {
 public:
  /// Starts swtpm (FIELD-NOTES flags: not-need-init,startup-clear) and waits until it answers.
  /// Throws std::runtime_error if it does not start within 10 s.
  SwtpmProcess();
  ~SwtpmProcess();
  SwtpmProcess(const SwtpmProcess&) = delete;
  SwtpmProcess& operator=(const SwtpmProcess&) = delete;

  /// Starts it again on the same ports with the same state (persistent objects survive).
  void start();
  /// Stops it by PID (SIGTERM, then SIGKILL after a grace period).
  void stop();
  [[nodiscard]] bool running() const;

  /// "swtpm:host=127.0.0.1,port=P" — for secure_link.identity.tcti and TPM2TOOLS_TCTI.
  [[nodiscard]] std::string tcti() const;
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string log() const;

 private:
  TempDir dir_;
  std::uint16_t port_ = 0;
  std::uint16_t ctrl_port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace guardian::testing

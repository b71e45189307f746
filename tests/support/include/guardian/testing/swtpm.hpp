#pragma once
/// \file
/// A real software TPM (swtpm, TPM 2.0) with its state in its own temporary directory, on
/// owner-only Unix sockets (mode 0600: no other local user can reach it) — never a mock of the
/// TPM. Like a TPM from a factory, it is manufactured by `swtpm_setup` with an RSA endorsement
/// key and, by default, an EK certificate (and a platform certificate) from a test "TPM
/// manufacturer" CA that exists for the life of the test process (swtpm_localca, root and
/// intermediate), or from another such CA, or with no EK certificate at all.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

class SwtpmProcess {
 public:
  /// Who certified the TPM's endorsement key.
  enum class Endorsement : std::uint8_t {
    test_manufacturer,   ///< the CA of manufacturer_ca_file()
    other_manufacturer,  ///< a CA that no test trust service trusts
    none,                ///< an EK, but no EK certificate in NV
  };

  /// Manufactures the TPM (swtpm_setup), starts swtpm (FIELD-NOTES flags:
  /// not-need-init,startup-clear) and waits until it answers. Throws std::runtime_error with
  /// swtpm's output if either fails (within 30 s / 10 s).
  explicit SwtpmProcess(Endorsement endorsement = Endorsement::test_manufacturer);
  ~SwtpmProcess();
  SwtpmProcess(const SwtpmProcess&) = delete;
  SwtpmProcess& operator=(const SwtpmProcess&) = delete;

  /// Starts it again with the same state (persistent objects and NV survive; PCRs start from
  /// zero, as after a reboot).
  void start();
  /// Stops it by PID (SIGTERM, then SIGKILL after a grace period).
  void stop();
  [[nodiscard]] bool running() const;

  /// "swtpm:path=<socket>" — for secure_link.identity.tcti and TPM2TOOLS_TCTI.
  [[nodiscard]] std::string tcti() const;
  [[nodiscard]] std::filesystem::path socket() const { return dir_ / "tpm.sock"; }
  [[nodiscard]] std::string log() const;

  /// The test TPM manufacturer's CA certificates (root and intermediate, PEM): what a trust
  /// service adds with `guardian-trust tpm-ca add` to accept these TPMs.
  [[nodiscard]] static std::filesystem::path manufacturer_ca_file();

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

}  // namespace guardian::testing

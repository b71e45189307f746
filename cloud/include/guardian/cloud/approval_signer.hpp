#pragma once
/// \file
/// The fleet's approval key on the trust service: it signs, for one device, a PCR state that the
/// service has just verified with a quote (tpm_policy.hpp). The device's TPM accepts the
/// signature (TPM2_VerifySignature → TPM2_PolicyAuthorize), and only then does its TLS key sign.
/// So the approval key decides, for every device whose keys were made for it, in which states
/// those keys work: keep it like the fleet CA's key (0600, on the trust service hosts only).
///
/// Thread-safe.

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "guardian/common/result.hpp"
#include "guardian/secure_link/crypto.hpp"
#include "guardian/secure_link/tpm_policy.hpp"

namespace guardian::cloud {

class ApprovalSigner {
 public:
  /// Loads an ECDSA P-256 private key (PEM or DER, unencrypted, mode 0600 or stricter). Errors
  /// name the file and say what is wrong with it.
  [[nodiscard]] static result<std::unique_ptr<ApprovalSigner>> load(const std::filesystem::path& key_file);

  /// Its public half, as devices name it in their keys' policy.
  [[nodiscard]] const secure_link::ApprovalKey& key() const noexcept { return public_; }

  /// The approval of the state whose quoted PCR digest (SHA-256 of the PCR's value) is
  /// `pcr_digest` on `pcr`, for `device_id`'s TLS key.
  [[nodiscard]] result<secure_link::PolicyApproval> approve(unsigned pcr, secure_link::ByteView pcr_digest,
                                                            const std::string& device_id);

 private:
  ApprovalSigner() = default;
  std::mutex mutex_;
  std::unique_ptr<secure_link::PkKey> private_;
  secure_link::ApprovalKey public_;
};

}  // namespace guardian::cloud

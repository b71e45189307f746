#pragma once
/// \file
/// The TPM backend of Identity (see identity.hpp and tpm_identity.cpp). Private to secure-link.

#include <memory>

#include "guardian/secure_link/identity.hpp"

namespace guardian::secure_link {

class OwnerThread;

/// Keys as persistent TPM objects at the configured handles; every TPM command on one owner
/// thread. Thread-safe.
class TpmIdentity final : public Identity {
 public:
  explicit TpmIdentity(const config::SecureLinkConfig& cfg);
  ~TpmIdentity() override;

  [[nodiscard]] config::IdentityBackend backend() const noexcept override {
    return config::IdentityBackend::tpm;
  }
  [[nodiscard]] std::string location() const override;
  [[nodiscard]] result<std::optional<IdentityKeys>> find_keys() override;
  [[nodiscard]] result<IdentityKeys> create_keys() override;
  [[nodiscard]] result<int> remove_keys() override;
  [[nodiscard]] result<Endorsement> endorsement() override;
  [[nodiscard]] result<Bytes> activate_credential(const Credential& credential) override;
  [[nodiscard]] result<void> use_approval(const PolicyApproval& approval) override;
  [[nodiscard]] result<SignedAttestation> certify_tls_key(ByteView qualifying_data) override;
  [[nodiscard]] result<Bytes> sign(HashAlgorithm hash, ByteView digest) override;
  [[nodiscard]] result<void> extend_pcr(unsigned pcr, const Sha256Digest& digest) override;
  [[nodiscard]] result<Sha256Digest> read_pcr(unsigned pcr) override;
  [[nodiscard]] result<SignedAttestation> quote(unsigned pcr, ByteView nonce) override;

 private:
  struct Tpm;
  config::IdentityConfig cfg_;
  std::unique_ptr<Tpm> tpm_;            // used on the owner thread only
  std::unique_ptr<OwnerThread> owner_;
};

}  // namespace guardian::secure_link

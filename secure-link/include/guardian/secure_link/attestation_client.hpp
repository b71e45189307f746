#pragma once
/// \file
/// The device side of attestation: prove what runs (measurement_log.hpp) to the trust service
/// with a TPM quote over a fresh nonce, and receive a short-lived client certificate for the TLS
/// key together with the fleet's approval of the quoted PCR state (which the TLS key's policy
/// needs before it signs anything, tpm_policy.hpp).
///
///   attest():   TLS to the trust service ── {"op":"nonce"} ──▶ nonce, or a credential
///               (first attestation of a TPM: TPM2_ActivateCredential opens it — only the TPM
///               holding the enrolled EK and AK can — and its content is the nonce)
///               TPM2_Quote(pcr, nonce)   ── {"op":"attest", quote, event log} ──▶ certificate
///                                                                                 + approval
///               check: certificate CN = device id, subject key = our TLS key
///
/// Blocks (TPM commands, network) and must run off the io_context thread. Thread-safe as far
/// as the Identity is (it is).

#include <chrono>
#include <optional>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/config/secure_link_config.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/measurement.hpp"
#include "guardian/secure_link/tpm_policy.hpp"

namespace guardian::secure_link {

/// A certificate the trust service issued.
struct IssuedCertificate {
  std::string certificate_pem;  ///< the leaf: CN = device id, subject key = the TLS key
  std::string ca_pem;           ///< the issuing CA (informational)
  std::string serial;           ///< lower-case hex
  std::string subject;          ///< e.g. "CN=store-042, O=Guardian fleet"
  Timestamp not_before{};
  Timestamp not_after{};
  /// The fleet's approval of the PCR state the quote showed (TPM identities).
  std::optional<PolicyApproval> approval;
};

/// Reads a certificate (as stored by the tunnel) back into an IssuedCertificate.
[[nodiscard]] result<IssuedCertificate> parse_issued_certificate(std::string certificate_pem);

/// One client of the trust service for one device.
class AttestationClient {
 public:
  AttestationClient(config::TrustServiceConfig service, std::string device_id);

  /// Runs the protocol once (one TLS connection): nonce (activating a credential when the
  /// service sends one), quote of `pcr`, certificate valid for `lifetime` (the service may
  /// shorten it) with the approval of the quoted state. Refusals carry a TrustRefusal code
  /// (trust_protocol.hpp) and the service's explanation; transport errors their own code. A
  /// readable `cancel_fd` (≥ 0) interrupts the network waits (ECANCELED).
  [[nodiscard]] result<IssuedCertificate> attest(Identity& identity, const Bytes& tls_public_der,
                                                 unsigned pcr,
                                                 std::span<const Measurement> event_log,
                                                 std::chrono::seconds lifetime,
                                                 int cancel_fd = -1);

 private:
  config::TrustServiceConfig service_;
  std::string device_id_;
};

}  // namespace guardian::secure_link

#pragma once
/// \file
/// The trust service's two judgements, pure functions of their inputs (thread-safe):
///   - verify_enrollment(): may this record enter the registry? For a TPM identity: the EK
///     certificate chains to a configured TPM manufacturer CA and certifies the record's EK; the
///     attestation key is a restricted, fixedTPM signing key; it certified (TPM2_Certify) a TLS
///     key that is fixedTPM, fixedParent, generated in the TPM, the same key as the record's
///     SubjectPublicKeyInfo, and usable only through the policy bound to this fleet's approval
///     key and this device id (userWithAuth clear). Whether the AK is in the EK's TPM is proven
///     later, online, by credential activation (trust_service.cpp).
///   - verify_evidence(): does this quote prove an allowed state? Signature by the enrolled
///     attestation key, the nonce as qualifying data, the policy's PCR and bank, a PCR digest
///     recomputed from the whole event log of the boot, every measurement in it allowed by the
///     policy, and the last gateway start complete.
/// Refusals carry a secure_link::TrustRefusal code and say exactly what did not match.

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/cloud/policy.hpp"
#include "guardian/cloud/registry.hpp"
#include "guardian/secure_link/enrollment.hpp"
#include "guardian/secure_link/measurement.hpp"
#include "guardian/secure_link/tpm_structures.hpp"

namespace guardian::cloud {

/// A device id usable as a certificate CN and as the MQTT username in ACL patterns: 1–64 of
/// A–Z a–z 0–9 . _ -, starting with a letter or digit (so never '/', '+', '#' or '@').
[[nodiscard]] bool valid_device_id(std::string_view id) noexcept;

/// What the registry holds that enrollment is checked against.
struct EnrollmentTrust {
  std::string tpm_manufacturer_cas;  ///< PEM bundle (Registry::tpm_cas)
  secure_link::Bytes approval_key;   ///< SubjectPublicKeyInfo (Registry::approval_key); may be empty
};

/// See the file comment. Returns the registry entry to store.
[[nodiscard]] result<DeviceRecord> verify_enrollment(const secure_link::EnrollmentRecord& record,
                                                     const EnrollmentTrust& trust);

/// What an "attest" request carries.
struct Evidence {
  secure_link::Bytes nonce;
  secure_link::SignedAttestation quote;
  std::vector<secure_link::Measurement> event_log;
};

/// What the last gateway start in `event_log` measured (kind → SHA-256 hex): what the device
/// runs now, by its own log. Worth recording only once the log reproduced a verified quote.
[[nodiscard]] std::map<std::string, std::string> what_runs(const std::vector<secure_link::Measurement>& event_log);

/// See the file comment. Returns the verified quote.
[[nodiscard]] result<secure_link::QuoteAttestation> verify_evidence(const DeviceRecord& device,
                                                                    const Policy& policy,
                                                                    const Evidence& evidence);

/// verify_evidence() without its first step, for a caller that has just checked the quote's
/// signature against `device.ak_public_der` itself (the trust service does, before it spends the
/// nonce): an ECDSA verification is the most expensive step of an attestation, done once.
[[nodiscard]] result<secure_link::QuoteAttestation> verify_signed_evidence(const DeviceRecord& device,
                                                                           const Policy& policy,
                                                                           const Evidence& evidence);

}  // namespace guardian::cloud

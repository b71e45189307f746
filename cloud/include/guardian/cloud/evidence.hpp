#pragma once
/// \file
/// The trust service's two judgements, pure functions of their inputs (thread-safe):
///   - verify_enrollment(): may this record enter the registry? For a TPM identity, the
///     attestation key must be a restricted, fixedTPM signing key, and it must have certified
///     (TPM2_Certify) a TLS key that is fixedTPM, fixedParent, generated in the TPM, and the same
///     key as the record's SubjectPublicKeyInfo.
///   - verify_evidence(): does this quote prove an allowed state? Signature by the enrolled
///     attestation key, the nonce as qualifying data, the policy's PCR and bank, a PCR digest
///     recomputed from the event log, and every measurement allowed by the policy.
/// Refusals carry a secure_link::TrustRefusal code and say exactly what did not match.

#include <span>
#include <string_view>
#include <vector>

#include "guardian/cloud/policy.hpp"
#include "guardian/cloud/registry.hpp"
#include "guardian/secure_link/enrollment.hpp"
#include "guardian/secure_link/measurement.hpp"

namespace guardian::cloud {

/// A device id usable as a certificate CN and as the MQTT username in ACL patterns: 1–64 of
/// A–Z a–z 0–9 . _ -, starting with a letter or digit (so never '/', '+', '#' or '@').
[[nodiscard]] bool valid_device_id(std::string_view id) noexcept;

/// See the file comment. Returns the registry entry to store.
[[nodiscard]] result<DeviceRecord> verify_enrollment(const secure_link::EnrollmentRecord& record);

/// What an "attest" request carries.
struct Evidence {
  secure_link::Bytes nonce;
  secure_link::SignedAttestation quote;
  std::vector<secure_link::Measurement> event_log;
};

/// See the file comment.
[[nodiscard]] result<void> verify_evidence(const DeviceRecord& device, const Policy& policy,
                                           const Evidence& evidence);

}  // namespace guardian::cloud

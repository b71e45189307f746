#pragma once
/// \file
/// Provisioning and the enrollment record: what `guardian identity provision` writes and the
/// fleet operator imports into the trust service (`guardian-trust enroll`). The record holds
/// public keys only, and — for a TPM identity — what roots them in the TPM's manufacturer:
///   EK certificate (manufacturer CA) ─▶ EK ─credential activation─▶ AK ─TPM2_Certify─▶ TLS key
/// The trust service checks the certificate chain and the certification at enrollment, and the
/// credential activation at the device's first attestation (the EK and the AK must be in the
/// same TPM to open it), before it ever issues a certificate for the TLS key.

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/secure_link/identity.hpp"

namespace guardian::secure_link {

/// Format tag of the JSON record. v1 records (keys without a policy, no endorsement) are
/// refused with the way out: `guardian identity provision --rotate`.
inline constexpr const char* kEnrollmentFormat = "guardian-enrollment-v2";

/// One device's enrollment.
struct EnrollmentRecord {
  std::string device_id;
  config::IdentityBackend backend = config::IdentityBackend::tpm;
  IdentityKeys keys;
  /// TPM2_Certify of the TLS key by the attestation key over enrollment_qualifying_data()
  /// (TPM backend only).
  std::optional<SignedAttestation> tls_key_certification;
  /// The TPM's endorsement key and its certificate (TPM backend).
  std::optional<Endorsement> endorsement;
  std::string location;   ///< informational: where the keys are
  Timestamp created{};
};

/// The qualifying data of the TLS key's certification: SHA-256("guardian-enrollment-v1" ‖ 0x00
/// ‖ device id), binding the certification to the device id it was made for.
[[nodiscard]] Sha256Digest enrollment_qualifying_data(const std::string& device_id);

/// Creates the keys if needed (idempotent) and builds the record for `device_id`.
[[nodiscard]] result<EnrollmentRecord> provision_identity(Identity& identity,
                                                          const std::string& device_id);

/// The record as JSON (binary fields in base64), and back. Parsing checks shape, not trust:
/// the trust service verifies the content when it imports the record.
[[nodiscard]] nlohmann::json enrollment_to_json(const EnrollmentRecord& record);
[[nodiscard]] result<EnrollmentRecord> enrollment_from_json(const nlohmann::json& json);

/// "tpm" or "software".
[[nodiscard]] std::string_view to_string(config::IdentityBackend backend) noexcept;

}  // namespace guardian::secure_link

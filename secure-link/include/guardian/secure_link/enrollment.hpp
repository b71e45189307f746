#pragma once
/// \file
/// Provisioning and the enrollment record: what `guardian identity provision` writes and the
/// fleet operator imports into the trust service (`guardian-trust enroll`). The record holds
/// public keys only, and — for a TPM identity — the attestation key's certification of the TLS
/// key, which lets the trust service check that the TLS key is a non-exportable key of the same
/// TPM before it ever issues a certificate for it.

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/secure_link/identity.hpp"

namespace guardian::secure_link {

/// Format tag of the JSON record.
inline constexpr const char* kEnrollmentFormat = "guardian-enrollment-v1";

/// One device's enrollment.
struct EnrollmentRecord {
  std::string device_id;
  config::IdentityBackend backend = config::IdentityBackend::tpm;
  IdentityKeys keys;
  /// TPM2_Certify of the TLS key by the attestation key over enrollment_qualifying_data()
  /// (TPM backend only).
  std::optional<SignedAttestation> tls_key_certification;
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

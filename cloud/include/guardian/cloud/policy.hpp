#pragma once
/// \file
/// The fleet's attestation policy: which measurements are allowed, which PCR carries them,
/// whether software identities are acceptable, and how long a certificate may live. Stored in
/// the registry as JSON; set with `guardian-trust policy …`.

#include <chrono>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "guardian/common/result.hpp"
#include "guardian/config/secure_link_config.hpp"
#include "guardian/secure_link/measurement.hpp"

namespace guardian::cloud {

/// See the file comment. The default refuses everything until the operator allows the
/// gateway and configuration hashes of the fleet — and refuses software keys.
struct Policy {
  /// Allowed SHA-256 digests (lower-case hex) per measurement kind, each with a note for humans
  /// ("guardian 0.1.0 amd64"). The gateway and the configuration must each be measured once and
  /// allowed; the firmware must be measured and allowed as soon as its list is not empty.
  std::map<secure_link::MeasurementKind, std::map<std::string, std::string>> allowed;
  bool allow_software_keys = false;  ///< development fleets only
  /// The PCR devices quote (their secure_link.attestation.pcr): 8–15, which no program can
  /// reset without a reboot (see valid_measurement_pcr()).
  unsigned pcr = config::kDefaultMeasurementPcr;
  std::chrono::seconds max_lifetime{std::chrono::hours{24}};
};

/// An error unless `pcr` can carry measurements that cannot be rewound: PCRs 0–7 are the
/// firmware's, 16 and 23 can be reset by any program at locality 0, 17–22 need locality 4.
[[nodiscard]] result<void> valid_measurement_pcr(unsigned pcr);

/// Bounds on max_lifetime: shorter than 5 minutes leaves no time to renew (the fleet would
/// attest continuously), longer than 30 days defeats short-lived certificates.
inline constexpr std::chrono::seconds kMinCertificateLifetime{5 * 60};
inline constexpr std::chrono::seconds kMaxCertificateLifetime{30 * 24 * 3600};

/// An error naming what is wrong with `policy` (its PCR, its lifetime), for a policy about to
/// be stored.
[[nodiscard]] result<void> validate_policy(const Policy& policy);

[[nodiscard]] nlohmann::json policy_to_json(const Policy& policy);
/// Errors name the malformed field.
[[nodiscard]] result<Policy> policy_from_json(const nlohmann::json& json);

}  // namespace guardian::cloud

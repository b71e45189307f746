#pragma once
/// \file
/// Measurements and the event log: what the device extends into its attestation PCR, and how the
/// trust service recomputes the PCR from the log (the log is untrusted until its replay matches
/// the PCR value the TPM quoted). Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "guardian/common/result.hpp"
#include "guardian/secure_link/crypto.hpp"

namespace guardian::secure_link {

/// What was measured. The kind is bound into the extended value, so the hash of an allowed
/// configuration cannot be passed off as the hash of an allowed gateway binary.
enum class MeasurementKind : std::uint8_t {
  gateway,   ///< the running gateway binary (/proc/self/exe)
  firmware,  ///< the firmware image (secure_link.attestation.firmware_image)
  config,    ///< the site configuration file
};

/// "gateway", "firmware", "config".
[[nodiscard]] std::string_view to_string(MeasurementKind kind) noexcept;
[[nodiscard]] std::optional<MeasurementKind> measurement_kind_from(std::string_view text) noexcept;

/// One event of the log.
struct Measurement {
  MeasurementKind kind = MeasurementKind::gateway;
  std::string path;            ///< informational: where the file was (not part of the PCR)
  Sha256Digest file_sha256{};  ///< SHA-256 of the file's content
};

/// The value extended into the PCR for `m`:
/// SHA-256("guardian-measurement-v1" ‖ 0x00 ‖ kind ‖ 0x00 ‖ file_sha256).
[[nodiscard]] Sha256Digest extend_digest(const Measurement& m);

/// TPM2_PCR_Extend for a SHA-256 bank (Part 1 §17.2): SHA-256(pcr ‖ digest).
[[nodiscard]] Sha256Digest pcr_extend(const Sha256Digest& pcr, const Sha256Digest& digest);

/// The PCR value after a reset (all zeros, TPM2_PCR_Reset) and one extend per event in order.
[[nodiscard]] Sha256Digest replay_event_log(std::span<const Measurement> events);

/// The event log as the trust protocol carries it:
///   [{"kind":"gateway","path":"/usr/bin/guardian","sha256":"<64 hex>"}, …]
[[nodiscard]] nlohmann::json event_log_to_json(std::span<const Measurement> events);
/// Parses an event log; an error names the first malformed entry.
[[nodiscard]] result<std::vector<Measurement>> event_log_from_json(const nlohmann::json& log);

}  // namespace guardian::secure_link

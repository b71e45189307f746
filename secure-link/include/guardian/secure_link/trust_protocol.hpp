#pragma once
/// \file
/// The trust protocol's vocabulary, shared by the attestation client (device) and the trust
/// service (cloud): its messages and their parsers, the reasons a request is refused (as an
/// error category, so a caller can test `error.code == TrustRefusal::revoked`), and size limits.
/// The protocol itself — JSON lines over TLS 1.2 — is specified in docs/secure-link.md ("Trust
/// protocol"). Every parser here reads bytes from the other side of a network connection: each
/// is total (an error, never an exception or a crash, whatever the line) and fuzzed
/// (tests/fuzz/fuzz_trust_protocol.cpp).

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <boost/system/error_code.hpp>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/secure_link/endorsement.hpp"
#include "guardian/secure_link/measurement.hpp"
#include "guardian/secure_link/tpm_policy.hpp"
#include "guardian/secure_link/tpm_structures.hpp"

#include <nlohmann/json_fwd.hpp>

namespace guardian::secure_link {

/// Longest request or response line either side accepts.
inline constexpr std::size_t kMaxTrustLine = 256 * 1024;
/// Nonce length in bytes (the quote's qualifying data).
inline constexpr std::size_t kNonceSize = 32;

/// Why the trust service refused a request; the wire spelling is to_string().
enum class TrustRefusal : int {
  malformed_request = 1,  ///< not JSON, unknown op, missing or ill-typed field
  unknown_device,         ///< no enrollment for this device id
  revoked,                ///< the device was revoked by the operator
  bad_nonce,              ///< unknown, already used, expired, or issued to another device
  bad_signature,          ///< the quote is not signed by the enrolled attestation key
  pcr_mismatch,           ///< the quoted PCR is not the replay of the event log, or not the policy's PCR
  measurement_refused,    ///< a measurement is not allowed by the policy (or one is missing)
  software_key_refused,   ///< the device's identity is a software key and the policy refuses those
  unavailable,            ///< the service could not complete the request (its storage failed …)
  enrollment_outdated,    ///< enrolled by an earlier release (keys without policy): rotate, re-enroll
  not_accepted,           ///< an unauthenticated request for an id that cannot attest (which of
                          ///< unknown, revoked or outdated is told only to the operator)
};

// ───────────── requests (device → service) ─────────────

/// {"op":"nonce","device":…}
struct NonceRequest {
  std::string device;
};
/// {"op":"attest","device":…,"nonce":<64 hex>,"quote":{"attest","signature"},"event_log":[…],
///  "lifetime_s":…}
struct AttestRequest {
  std::string device;
  Bytes nonce;
  SignedAttestation quote;
  std::vector<Measurement> event_log;
  std::optional<std::chrono::seconds> lifetime;  ///< absent: the policy's maximum
};
/// {"op":"ping"}
struct PingRequest {};
using TrustRequest = std::variant<NonceRequest, AttestRequest, PingRequest>;

/// Parses one request line. Errors carry TrustRefusal::malformed_request and say which field.
[[nodiscard]] result<TrustRequest> parse_trust_request(std::string_view line);
/// The request line for `request` (no trailing newline).
[[nodiscard]] std::string to_line(const TrustRequest& request);

// ───────────── responses (service → device) ─────────────

/// The answer to a nonce request: the nonce itself, or — for a device whose attestation key
/// has not yet been tied to its endorsement key — a credential only that TPM can open, whose
/// content is the nonce (credential activation, endorsement.hpp).
struct NonceResponse {
  Bytes nonce;                           ///< kNonceSize bytes, when not a credential
  std::optional<Credential> credential;  ///< the nonce, encrypted to the device's EK
  Timestamp expires{};
};
/// The answer to an attestation: the certificate, and the approval of the quoted PCR state that
/// the TLS key's policy needs (tpm_policy.hpp; absent for a software identity).
struct AttestResponse {
  std::string certificate_pem;
  std::string ca_pem;
  std::string serial;
  std::optional<PolicyApproval> approval;
};

/// Reads a response line: its JSON object when "ok" is true; otherwise an Error whose code is
/// the TrustRefusal named by "error" (unavailable when unknown) and whose message is the
/// service's "message". `service` names the peer in errors.
[[nodiscard]] result<nlohmann::json> parse_trust_response(std::string_view line,
                                                          const std::string& service);
[[nodiscard]] result<NonceResponse> nonce_response_from(const nlohmann::json& ok_response);
[[nodiscard]] result<AttestResponse> attest_response_from(const nlohmann::json& ok_response);
/// The "ok" JSON of a response (the service side), and the refusal.
[[nodiscard]] nlohmann::json to_json(const NonceResponse& response);
[[nodiscard]] nlohmann::json to_json(const AttestResponse& response);
[[nodiscard]] nlohmann::json refusal_json(TrustRefusal refusal, const std::string& message);

[[nodiscard]] std::string_view to_string(TrustRefusal refusal) noexcept;
[[nodiscard]] std::optional<TrustRefusal> trust_refusal_from(std::string_view text) noexcept;
/// Category "trust"; message() is to_string().
[[nodiscard]] const boost::system::error_category& trust_category() noexcept;
[[nodiscard]] boost::system::error_code make_error_code(TrustRefusal refusal) noexcept;

}  // namespace guardian::secure_link

template <>
struct boost::system::is_error_code_enum<guardian::secure_link::TrustRefusal> : std::true_type {};

#pragma once
/// \file
/// The trust protocol's vocabulary, shared by the attestation client (device) and the trust
/// service (cloud): operation names, the reasons a request is refused (as an error category, so
/// a caller can test `error.code == TrustRefusal::revoked`), and size limits. The protocol
/// itself — JSON lines over TLS 1.2 — is specified in docs/secure-link.md ("Trust protocol").

#include <cstddef>
#include <optional>
#include <string_view>
#include <type_traits>

#include <boost/system/error_code.hpp>

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
};

[[nodiscard]] std::string_view to_string(TrustRefusal refusal) noexcept;
[[nodiscard]] std::optional<TrustRefusal> trust_refusal_from(std::string_view text) noexcept;
/// Category "trust"; message() is to_string().
[[nodiscard]] const boost::system::error_category& trust_category() noexcept;
[[nodiscard]] boost::system::error_code make_error_code(TrustRefusal refusal) noexcept;

}  // namespace guardian::secure_link

template <>
struct boost::system::is_error_code_enum<guardian::secure_link::TrustRefusal> : std::true_type {};

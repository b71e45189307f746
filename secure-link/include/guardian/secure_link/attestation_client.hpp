#pragma once
/// \file
/// The device side of attestation: measure what runs into the attestation PCR (with an event
/// log), then prove it to the trust service with a TPM quote over a fresh nonce and receive a
/// short-lived client certificate for the TLS key.
///
///   measure():  TPM2_PCR_Reset(pcr); for each file: SHA-256 → TPM2_PCR_Extend, log it
///   attest():   TLS to the trust service ── {"op":"nonce"} ──▶ nonce
///               TPM2_Quote(pcr, nonce)   ── {"op":"attest", quote, event log} ──▶ certificate
///               check: certificate CN = device id, subject key = our TLS key
///
/// Both block (TPM commands, network) and must run off the io_context thread. Thread-safe as
/// far as the Identity is (it is).

#include <chrono>
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

namespace guardian::secure_link {

/// A file to measure, and as what.
struct MeasurementTarget {
  MeasurementKind kind;
  std::filesystem::path path;
};

/// What the device measures for `cfg`: the running binary (/proc/self/exe, reported by its
/// real path), the firmware image when configured, and the configuration file.
[[nodiscard]] std::vector<MeasurementTarget> measurement_targets(
    const config::SecureLinkConfig& cfg);

/// Resets `pcr`, then hashes and extends each target in order. Returns the event log. An error
/// names the file that could not be read or the TPM command that failed.
[[nodiscard]] result<std::vector<Measurement>> measure(Identity& identity, unsigned pcr,
                                                       std::span<const MeasurementTarget> targets);

/// A certificate the trust service issued.
struct IssuedCertificate {
  std::string certificate_pem;  ///< the leaf: CN = device id, subject key = the TLS key
  std::string ca_pem;           ///< the issuing CA (informational)
  std::string serial;           ///< lower-case hex
  std::string subject;          ///< e.g. "CN=store-042, O=Guardian fleet"
  Timestamp not_before{};
  Timestamp not_after{};
};

/// Reads a certificate (as stored by the tunnel) back into an IssuedCertificate.
[[nodiscard]] result<IssuedCertificate> parse_issued_certificate(std::string certificate_pem);

/// One client of the trust service for one device.
class AttestationClient {
 public:
  AttestationClient(config::TrustServiceConfig service, std::string device_id);

  /// Runs the protocol once (one TLS connection): nonce, quote of `pcr`, certificate valid for
  /// `lifetime` (the service may shorten it). Refusals carry a TrustRefusal code
  /// (trust_protocol.hpp) and the service's explanation; transport errors their own code.
  [[nodiscard]] result<IssuedCertificate> attest(Identity& identity, const Bytes& tls_public_der,
                                                 unsigned pcr,
                                                 std::span<const Measurement> event_log,
                                                 std::chrono::seconds lifetime);

 private:
  config::TrustServiceConfig service_;
  std::string device_id_;
};

}  // namespace guardian::secure_link

#pragma once
/// \file
/// The trust service's only state: enrolled devices, single-use nonces, issued certificates,
/// the policy and an audit trail of attestations — behind one interface, in one of two stores:
///
///   SQLite (a file path; the embedded default): WAL, one connection serialised by a mutex.
///     Replicas on one machine may share the file.
///   PostgreSQL (a `postgresql://` URI; libpq): a small pool of connections. Replicas on any
///     number of machines share the fleet: a nonce issued by one is redeemed at another, a
///     revocation at one is enforced by all.
///
/// Either way every operation is one transaction and a nonce is consumed by one atomic UPDATE,
/// so two replicas can never accept the same nonce. Store errors are translated here, once.
///
/// Thread-safety: all methods are thread-safe.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "guardian/cloud/policy.hpp"
#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/config/secure_link_config.hpp"
#include "guardian/secure_link/crypto.hpp"

namespace guardian::cloud {

/// One enrolled device.
struct DeviceRecord {
  std::string id;
  config::IdentityBackend backend = config::IdentityBackend::tpm;
  secure_link::Bytes tls_public_der;  ///< the key certificates are issued for
  secure_link::Bytes ak_public_der;   ///< the key quotes must be signed with
  secure_link::Bytes ak_tpm_public;   ///< its TPM2B_PUBLIC: its Name binds the credential (TPM)
  secure_link::Bytes ek_public;       ///< the endorsement key's TPM2B_PUBLIC (TPM)
  std::string ek_issuer;              ///< who certified the EK (the TPM's manufacturer CA)
  /// When the device proved its AK and EK share a TPM (credential activation); unset until its
  /// first attestation. A TPM device gets credentials instead of plain nonces until then.
  std::optional<Timestamp> activated;
  Timestamp enrolled{};
  std::optional<Timestamp> revoked;
  std::string revocation_reason;
  std::optional<Timestamp> last_attestation;
  std::string last_result;            ///< "ok" or the refusal of the last attestation
  /// What the device last showed it runs (kind → SHA-256 hex: "gateway", "config", …), from
  /// the last event log that reproduced its quote, allowed or not. Empty until then.
  std::map<std::string, std::string> running;
};

/// One issued certificate.
struct CertificateRecord {
  std::string serial;  ///< lower-case hex
  std::string device;
  Timestamp not_before{};
  Timestamp not_after{};
};

/// A TPM manufacturer's CA that EK certificates must chain to.
struct TpmCaRecord {
  std::string fingerprint;  ///< "SHA256:<hex>" of the DER certificate
  std::string subject;
  std::string pem;
  std::string note;
  Timestamp added{};
};

/// A revoked certificate, for the CRL.
struct RevokedCertificate {
  CertificateRecord certificate;
  Timestamp revoked{};
};

/// The CRL last written (by any replica).
struct CrlRecord {
  std::int64_t number = 0;
  Timestamp this_update{};
  Timestamp next_update{};  ///< after this, brokers refuse every client: it must be rewritten before
  std::string file;
};

/// What Registry::purge() deleted.
struct PurgeCounts {
  std::int64_t nonces = 0;
  std::int64_t audit_rows = 0;
};

/// What an attestation found, for the audit trail and the fleet view.
struct AttestationOutcome {
  std::string device;
  Timestamp at{};
  std::string outcome;  ///< "ok" or "<refusal>: <why>"
  /// What the device runs (DeviceRecord::running), when its evidence showed it; empty when
  /// the request failed before (the device's record keeps what it showed last).
  std::map<std::string, std::string> running;
};

/// One device in the fleet view (`guardian-trust list`).
struct FleetEntry {
  DeviceRecord device;
  std::optional<CertificateRecord> certificate;  ///< the last one issued to it (latest expiry)
  std::int64_t refusals = 0;           ///< refused attestations in the window asked for
  std::int64_t failures_in_a_row = 0;  ///< refused attestations since its last success
};

/// What consuming a nonce found.
enum class NonceCheck : std::uint8_t { ok, unknown, already_used, expired, other_device };

class Registry {
 public:
  /// Opens (creating the schema if needed) the registry at `location`: a PostgreSQL URI
  /// (`postgresql://…` or `postgres://…`, libpq's syntax; the password belongs in a passfile,
  /// never in the URI, which is refused if it has one) or else the path of a SQLite file.
  [[nodiscard]] static result<std::unique_ptr<Registry>> open(const std::string& location);
  /// True when `location` names a PostgreSQL database rather than a SQLite file.
  [[nodiscard]] static bool is_postgresql(const std::string& location);
  virtual ~Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// "SQLite /var/lib/…/registry.db" or "PostgreSQL db@host:port" (no credentials), for logs.
  [[nodiscard]] virtual std::string describe() const = 0;

  /// Adds a device. With `replace`, an existing enrollment (e.g. a new unit after a TPM was
  /// replaced or a device stolen) is overwritten and the id may attest again — but a key that
  /// was ever revoked (the TLS key, a TPM's endorsement key) is refused under any id, and the
  /// old unit's certificates stay on the CRL. Without `replace`, an existing id is an error.
  [[nodiscard]] virtual result<void> enroll(const DeviceRecord& device, bool replace) = 0;
  [[nodiscard]] virtual result<std::optional<DeviceRecord>> device(const std::string& id) = 0;
  [[nodiscard]] virtual result<std::vector<DeviceRecord>> devices() = 0;
  /// Every device with its last certificate and its refusals since `since`, by id.
  [[nodiscard]] virtual result<std::vector<FleetEntry>> fleet(Timestamp since) = 0;
  /// Marks a device revoked (no more nonces or certificates), revokes its unexpired
  /// certificates one by one (they go on the CRL) and its keys (never enrolled again). False
  /// when there is no such device.
  [[nodiscard]] virtual result<bool> revoke(const std::string& id, const std::string& reason) = 0;
  /// Bumped by every revocation: a server compares it to decide when to rewrite the CRL.
  [[nodiscard]] virtual result<std::int64_t> revocation_epoch() = 0;

  /// Stores a nonce issued to `device`; the oldest outstanding ones beyond `max_outstanding`
  /// (unused, whatever their expiry) are dropped in the same transaction.
  [[nodiscard]] virtual result<void> add_nonce(const secure_link::Bytes& nonce, const std::string& device,
                                       Timestamp expires, int max_outstanding) = 0;
  /// Unused, unexpired nonces of `device`.
  [[nodiscard]] virtual result<std::int64_t> outstanding_nonces(const std::string& device, Timestamp now) = 0;
  /// Deletes nonces expired for an hour and audit rows older than `audit_retention`.
  [[nodiscard]] virtual result<PurgeCounts> purge(Timestamp now, std::chrono::milliseconds audit_retention) = 0;
  /// Marks `nonce` used, atomically (at most one caller ever gets ok for a nonce).
  [[nodiscard]] virtual result<NonceCheck> consume_nonce(const secure_link::Bytes& nonce,
                                                 const std::string& device, Timestamp now) = 0;

  [[nodiscard]] virtual result<void> add_certificate(const CertificateRecord& certificate) = 0;
  /// Revoked certificates that have not expired, for the CRL.
  [[nodiscard]] virtual result<std::vector<RevokedCertificate>> revoked_certificates(Timestamp now) = 0;
  /// The next CRL number (RFC 5280 §5.2.3: monotonically increasing).
  [[nodiscard]] virtual result<std::int64_t> next_crl_number() = 0;
  /// Records the CRL just written / the last one written (nullopt: none yet).
  [[nodiscard]] virtual result<void> note_crl(const CrlRecord& crl) = 0;
  [[nodiscard]] virtual result<std::optional<CrlRecord>> last_crl() = 0;

  [[nodiscard]] virtual result<Policy> policy() = 0;
  [[nodiscard]] virtual result<void> set_policy(const Policy& policy) = 0;
  /// Reads the policy, applies `edit`, validates and stores the result in one transaction, so
  /// two operators editing at once both get their change. Returns the stored policy.
  [[nodiscard]] virtual result<Policy> update_policy(const std::function<result<void>(Policy&)>& edit) = 0;

  /// Records that `id` activated its credential (its first successful attestation).
  [[nodiscard]] virtual result<void> mark_activated(const std::string& id, Timestamp at) = 0;

  /// TPM manufacturer CAs (every certificate is a trust anchor for EK certificates).
  /// add_tpm_ca is idempotent per certificate.
  [[nodiscard]] virtual result<void> add_tpm_ca(const TpmCaRecord& ca) = 0;
  [[nodiscard]] virtual result<std::vector<TpmCaRecord>> tpm_cas() = 0;
  /// False when no CA has that fingerprint.
  [[nodiscard]] virtual result<bool> remove_tpm_ca(const std::string& fingerprint) = 0;

  /// The public key (DER SubjectPublicKeyInfo) of the fleet's approval key, which the TLS keys
  /// of enrolled TPM devices are bound to; empty until `guardian-trust serve --approval-key`
  /// first ran on this registry.
  [[nodiscard]] virtual result<secure_link::Bytes> approval_key() = 0;
  [[nodiscard]] virtual result<void> set_approval_key(const secure_link::Bytes& spki_der) = 0;

  /// Audit: the outcome of an attestation, also noted on the device's record.
  [[nodiscard]] virtual result<void> record_attestation(const AttestationOutcome& outcome) = 0;

 protected:
  Registry() = default;
};

}  // namespace guardian::cloud

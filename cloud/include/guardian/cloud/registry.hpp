#pragma once
/// \file
/// The trust service's only state: a SQLite database (WAL) of enrolled devices, single-use
/// nonces, issued certificates, the policy and an audit trail of attestations. Several service
/// replicas (and the operator CLI) may use the same file at once: every operation is one
/// transaction, and a nonce is consumed by one atomic UPDATE, so two replicas can never accept
/// the same nonce. SQLite result codes are translated here, once.
///
/// Thread-safety: all methods are thread-safe (one connection, serialised by a mutex).

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
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

/// What consuming a nonce found.
enum class NonceCheck : std::uint8_t { ok, unknown, already_used, expired, other_device };

class Registry {
 public:
  /// Opens (creating if needed) the database at `path`. Errors keep the SQLite code.
  [[nodiscard]] static result<std::unique_ptr<Registry>> open(const std::filesystem::path& path);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Adds a device. With `replace`, an existing enrollment (e.g. a new unit after a TPM was
  /// replaced or a device stolen) is overwritten and the id may attest again — but a key that
  /// was ever revoked (the TLS key, a TPM's endorsement key) is refused under any id, and the
  /// old unit's certificates stay on the CRL. Without `replace`, an existing id is an error.
  [[nodiscard]] result<void> enroll(const DeviceRecord& device, bool replace);
  [[nodiscard]] result<std::optional<DeviceRecord>> device(const std::string& id);
  [[nodiscard]] result<std::vector<DeviceRecord>> devices();
  /// Marks a device revoked (no more nonces or certificates), revokes its unexpired
  /// certificates one by one (they go on the CRL) and its keys (never enrolled again). False
  /// when there is no such device.
  [[nodiscard]] result<bool> revoke(const std::string& id, const std::string& reason);
  /// Bumped by every revocation: a server compares it to decide when to rewrite the CRL.
  [[nodiscard]] result<std::int64_t> revocation_epoch();

  /// Stores a nonce issued to `device`; the oldest outstanding ones beyond `max_outstanding`
  /// (unused, whatever their expiry) are dropped in the same transaction.
  [[nodiscard]] result<void> add_nonce(const secure_link::Bytes& nonce, const std::string& device,
                                       Timestamp expires, int max_outstanding);
  /// Unused, unexpired nonces of `device`.
  [[nodiscard]] result<std::int64_t> outstanding_nonces(const std::string& device, Timestamp now);
  /// Deletes nonces expired for an hour and audit rows older than `audit_retention`.
  [[nodiscard]] result<PurgeCounts> purge(Timestamp now, std::chrono::milliseconds audit_retention);
  /// Marks `nonce` used, atomically (at most one caller ever gets ok for a nonce).
  [[nodiscard]] result<NonceCheck> consume_nonce(const secure_link::Bytes& nonce,
                                                 const std::string& device, Timestamp now);

  [[nodiscard]] result<void> add_certificate(const CertificateRecord& certificate);
  /// Revoked certificates that have not expired, for the CRL.
  [[nodiscard]] result<std::vector<RevokedCertificate>> revoked_certificates(Timestamp now);
  /// The next CRL number (RFC 5280 §5.2.3: monotonically increasing).
  [[nodiscard]] result<std::int64_t> next_crl_number();
  /// Records the CRL just written / the last one written (nullopt: none yet).
  [[nodiscard]] result<void> note_crl(const CrlRecord& crl);
  [[nodiscard]] result<std::optional<CrlRecord>> last_crl();

  [[nodiscard]] result<Policy> policy();
  [[nodiscard]] result<void> set_policy(const Policy& policy);
  /// Reads the policy, applies `edit`, validates and stores the result in one transaction, so
  /// two operators editing at once both get their change. Returns the stored policy.
  [[nodiscard]] result<Policy> update_policy(const std::function<result<void>(Policy&)>& edit);

  /// Records that `id` activated its credential (its first successful attestation).
  [[nodiscard]] result<void> mark_activated(const std::string& id, Timestamp at);

  /// TPM manufacturer CAs (every certificate is a trust anchor for EK certificates).
  /// add_tpm_ca is idempotent per certificate.
  [[nodiscard]] result<void> add_tpm_ca(const TpmCaRecord& ca);
  [[nodiscard]] result<std::vector<TpmCaRecord>> tpm_cas();
  /// False when no CA has that fingerprint.
  [[nodiscard]] result<bool> remove_tpm_ca(const std::string& fingerprint);

  /// The public key (DER SubjectPublicKeyInfo) of the fleet's approval key, which the TLS keys
  /// of enrolled TPM devices are bound to; empty until `guardian-trust serve --approval-key`
  /// first ran on this registry.
  [[nodiscard]] result<secure_link::Bytes> approval_key();
  [[nodiscard]] result<void> set_approval_key(const secure_link::Bytes& spki_der);

  /// Audit: the outcome of an attestation ("ok" or the refusal and its reason).
  [[nodiscard]] result<void> record_attestation(const std::string& device, Timestamp at,
                                                const std::string& outcome);

 private:
  explicit Registry(sqlite3* db) : db_(db) {}
  std::mutex mutex_;
  sqlite3* db_;
};

}  // namespace guardian::cloud

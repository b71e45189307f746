// The registry in a SQLite file: the embedded default (registry.hpp).
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <charconv>
#include <mutex>
#include <utility>

#include "guardian/cloud/registry.hpp"
#include "registry_internal.hpp"

namespace guardian::cloud::detail {
namespace {

using secure_link::Bytes;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class RegistryErrorCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "sqlite"; }
  std::string message(int value) const override { return sqlite3_errstr(value); }
};
#pragma GCC diagnostic pop

const RegistryErrorCategory kCategory;

Error db_error(sqlite3* db, int rc, const std::string& what) {
  return make_error(boost::system::error_code(rc, kCategory),
                    "device registry: " + what + ": " + sqlite3_errmsg(db));
}

// Version 2: endorsement (EK public, issuer, activation) per device, TPM manufacturer CAs.
// Version 3: what each device last showed it runs (the fleet view).
constexpr int kSchemaVersion = 3;
// Version 1 → 2. Devices enrolled under version 1 have no endorsement: their keys have no
// policy either, and they must be rotated and enrolled again (docs/secure-link.md).
constexpr const char* kMigrateFrom1 = R"sql(
ALTER TABLE devices ADD COLUMN ak_tpm_public BLOB;
ALTER TABLE devices ADD COLUMN ek_public BLOB;
ALTER TABLE devices ADD COLUMN ek_issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN activated_ms INTEGER;
INSERT OR IGNORE INTO revoked_certificates(serial, device, revoked_ms, reason)
  SELECT c.serial, c.device, d.revoked_ms, d.revocation_reason FROM certificates c
  JOIN devices d ON d.id = c.device WHERE d.revoked_ms IS NOT NULL;
)sql";
// Version 2 → 3.
constexpr const char* kMigrateFrom2 = R"sql(
ALTER TABLE devices ADD COLUMN running TEXT NOT NULL DEFAULT '{}';
)sql";

// A prepared statement, finalized on destruction; binds by 1-based index.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  [[nodiscard]] bool prepared() const noexcept { return rc_ == SQLITE_OK; }
  [[nodiscard]] int prepare_rc() const noexcept { return rc_; }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, const Bytes& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }

  [[nodiscard]] std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p == nullptr ? std::string{}
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  [[nodiscard]] Bytes blob(int col) const {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
    return p == nullptr ? Bytes{} : Bytes(p, p + sqlite3_column_bytes(stmt_, col));
  }
  [[nodiscard]] std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  [[nodiscard]] bool is_null(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

result<void> exec(sqlite3* db, const char* sql, const char* what) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return db_error(db, rc, what);
  return outcome::success();
}

// Runs a statement that returns no rows.
result<void> run(sqlite3* db, Statement& s, const char* what) {
  if (!s.prepared()) return db_error(db, s.prepare_rc(), what);
  const int rc = s.step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_error(db, rc, what);
  return outcome::success();
}

DeviceRecord read_device(const Statement& s) {
  DeviceRecord d;
  d.id = s.text(0);
  d.backend = backend_from_text(s.text(1));
  d.tls_public_der = s.blob(2);
  d.ak_public_der = s.blob(3);
  d.enrolled = from_ms(s.integer(4));
  if (!s.is_null(5)) d.revoked = from_ms(s.integer(5));
  d.revocation_reason = s.text(6);
  if (!s.is_null(7)) d.last_attestation = from_ms(s.integer(7));
  d.last_result = s.text(8);
  d.ak_tpm_public = s.blob(9);
  d.ek_public = s.blob(10);
  d.ek_issuer = s.text(11);
  if (!s.is_null(12)) d.activated = from_ms(s.integer(12));
  d.running = running_from_text(s.text(13));
  return d;
}

constexpr const char* kDeviceColumns =
    "SELECT id, backend, tls_public, ak_public, enrolled_ms, revoked_ms, revocation_reason, "
    "last_attestation_ms, last_result, ak_tpm_public, ek_public, ek_issuer, activated_ms, running "
    "FROM devices";

// Reads an integer setting (0 when absent); caller holds the mutex.
result<std::int64_t> setting_integer(sqlite3* db, const char* key) {
  Statement s(db, "SELECT value FROM settings WHERE key = ?1");
  if (!s.prepared()) return db_error(db, s.prepare_rc(), "reading a setting");
  s.bind(1, std::string(key));
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::int64_t{0};
  if (rc != SQLITE_ROW) return db_error(db, rc, "reading a setting");
  const std::string text = s.text(0);
  std::int64_t value = 0;
  if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc{})
    return make_error(std::string("device registry: setting ") + key + " is not a number");
  return value;
}

result<void> set_setting(sqlite3* db, const char* key, const std::string& value) {
  Statement s(db, "INSERT INTO settings(key, value) VALUES(?1, ?2) "
                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  s.bind(1, std::string(key)).bind(2, value);
  return run(db, s, "writing a setting");
}

// BEGIN IMMEDIATE … COMMIT, rolled back if not committed (another replica's writer waits on
// the busy timeout rather than failing).
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    begun_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (begun_ && !committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  [[nodiscard]] result<void> begun() const {
    if (!begun_) return db_error(db_, sqlite3_errcode(db_), "starting a transaction");
    return outcome::success();
  }
  [[nodiscard]] result<void> commit() {
    BOOST_OUTCOME_TRY(exec(db_, "COMMIT", "committing"));
    committed_ = true;
    return outcome::success();
  }

 private:
  sqlite3* db_;
  bool begun_ = false;
  bool committed_ = false;
};

class SqliteRegistry final : public Registry {
 public:
  SqliteRegistry(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteRegistry() override { sqlite3_close_v2(db_); }
  SqliteRegistry(const SqliteRegistry&) = delete;
  SqliteRegistry& operator=(const SqliteRegistry&) = delete;

  std::string describe() const override { return "SQLite " + path_; }
  result<void> enroll(const DeviceRecord& device, bool replace) override;
  result<std::optional<DeviceRecord>> device(const std::string& id) override;
  result<std::vector<DeviceRecord>> devices() override;
  result<std::vector<FleetEntry>> fleet(Timestamp since) override;
  result<bool> revoke(const std::string& id, const std::string& reason) override;
  result<std::int64_t> revocation_epoch() override;
  result<void> add_nonce(const Bytes& nonce, const std::string& device, Timestamp expires,
                         int max_outstanding) override;
  result<std::int64_t> outstanding_nonces(const std::string& device, Timestamp now) override;
  result<PurgeCounts> purge(Timestamp now, std::chrono::milliseconds audit_retention) override;
  result<NonceCheck> consume_nonce(const Bytes& nonce, const std::string& device, Timestamp now) override;
  result<void> add_certificate(const CertificateRecord& certificate) override;
  result<std::vector<RevokedCertificate>> revoked_certificates(Timestamp now) override;
  result<std::int64_t> next_crl_number() override;
  result<void> note_crl(const CrlRecord& crl) override;
  result<std::optional<CrlRecord>> last_crl() override;
  result<Policy> policy() override;
  result<void> set_policy(const Policy& policy) override;
  result<Policy> update_policy(const std::function<result<void>(Policy&)>& edit) override;
  result<void> mark_activated(const std::string& id, Timestamp at) override;
  result<void> add_tpm_ca(const TpmCaRecord& ca) override;
  result<std::vector<TpmCaRecord>> tpm_cas() override;
  result<bool> remove_tpm_ca(const std::string& fingerprint) override;
  result<Bytes> approval_key() override;
  result<void> set_approval_key(const Bytes& spki_der) override;
  result<void> record_attestation(const AttestationOutcome& outcome) override;

 private:
  std::mutex mutex_;
  sqlite3* db_;
  std::string path_;
};

}  // namespace

result<std::unique_ptr<Registry>> open_sqlite(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    Error e = make_error(boost::system::error_code(rc, kCategory),
                         "cannot open the device registry " + path);
    sqlite3_close_v2(db);
    return e;
  }
  auto registry = std::make_unique<SqliteRegistry>(db, path);
  sqlite3_busy_timeout(db, 5000);
  // WAL lets replicas read while one writes; synchronous=FULL makes an enrollment or a
  // revocation durable once the command returns.
  BOOST_OUTCOME_TRY(exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", "configuring"));
  // CREATE … IF NOT EXISTS leaves an existing (older) table as it is: the migration adds to it.
  BOOST_OUTCOME_TRY(exec(db, registry_schema("INTEGER", "BLOB").c_str(), "creating the schema"));
  BOOST_OUTCOME_TRY(version, setting_integer(db, "schema_version"));
  const bool from_version_1 = version == 1;
  if (version == 1 || version == 2) {
    Transaction tx(db);
    BOOST_OUTCOME_TRY(tx.begun());
    if (version == 1) {
      BOOST_OUTCOME_TRY(exec(db, kMigrateFrom1, "migrating the registry from schema version 1"));
    }
    BOOST_OUTCOME_TRY(exec(db, kMigrateFrom2, "migrating the registry from schema version 2"));
    BOOST_OUTCOME_TRY(set_setting(db, "schema_version", std::to_string(kSchemaVersion)));
    BOOST_OUTCOME_TRY(tx.commit());
    version = kSchemaVersion;
  }
  if (version == 0) {
    BOOST_OUTCOME_TRY(set_setting(db, "schema_version", std::to_string(kSchemaVersion)));
  } else if (version != kSchemaVersion) {
    return make_error("device registry " + path + " has schema version " +
                      std::to_string(version) + "; this guardian-trust understands version " +
                      std::to_string(kSchemaVersion));
  }
  if (from_version_1) {
    // Version 1 policies named PCR 23 (resettable by anyone); devices of this release measure
    // into kDefaultMeasurementPcr, and must be re-provisioned anyway.
    BOOST_OUTCOME_TRY(policy, registry->policy());
    if (!valid_measurement_pcr(policy.pcr)) {
      policy.pcr = config::kDefaultMeasurementPcr;
      BOOST_OUTCOME_TRY(registry->set_policy(policy));
    }
  }
  return registry;
}

result<void> SqliteRegistry::enroll(const DeviceRecord& d, bool replace) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  BOOST_OUTCOME_TRY(tx.begun());
  // Keys once revoked stay revoked: a stolen unit cannot come back under any id, --replace or not.
  for (const auto& [kind, hash] : device_key_hashes(d.tls_public_der, d.ek_public)) {
    Statement revoked(db_, "SELECT device, revoked_ms, reason FROM revoked_keys WHERE key_sha256 = ?1");
    revoked.bind(1, hash);
    if (!revoked.prepared()) return db_error(db_, revoked.prepare_rc(), "enrolling " + d.id);
    if (revoked.step() == SQLITE_ROW)
      return revoked_key_error(kind, revoked.text(0), revoked.integer(1), revoked.text(2));
  }
  // A replaced enrollment starts unactivated: the new AK must prove itself again. It is a new
  // unit under the same id: the old one's certificates stay revoked (revoked_certificates).
  Statement s(db_, replace
                       ? "INSERT INTO devices(id, backend, tls_public, ak_public, enrolled_ms, "
                         "ak_tpm_public, ek_public, ek_issuer) "
                         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO UPDATE SET "
                         "backend = excluded.backend, tls_public = excluded.tls_public, "
                         "ak_public = excluded.ak_public, enrolled_ms = excluded.enrolled_ms, "
                         "ak_tpm_public = excluded.ak_tpm_public, ek_public = excluded.ek_public, "
                         "ek_issuer = excluded.ek_issuer, activated_ms = NULL, "
                         "revoked_ms = NULL, revocation_reason = '', running = '{}'"
                       : "INSERT INTO devices(id, backend, tls_public, ak_public, enrolled_ms, "
                         "ak_tpm_public, ek_public, ek_issuer) "
                         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  s.bind(1, d.id)
      .bind(2, backend_text(d.backend))
      .bind(3, d.tls_public_der)
      .bind(4, d.ak_public_der)
      .bind(5, ms(d.enrolled))
      .bind(6, d.ak_tpm_public)
      .bind(7, d.ek_public)
      .bind(8, d.ek_issuer);
  if (!s.prepared()) return db_error(db_, s.prepare_rc(), "enrolling " + d.id);
  const int rc = s.step();
  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    return make_error(boost::system::error_code(rc, kCategory), already_enrolled_message(d.id));
  if (rc != SQLITE_DONE) return db_error(db_, rc, "enrolling " + d.id);
  return tx.commit();
}

result<std::optional<DeviceRecord>> SqliteRegistry::device(const std::string& id) {
  std::lock_guard lock(mutex_);
  Statement s(db_, (std::string(kDeviceColumns) + " WHERE id = ?1").c_str());
  if (!s.prepared()) return db_error(db_, s.prepare_rc(), "reading " + id);
  s.bind(1, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<DeviceRecord>{};
  if (rc != SQLITE_ROW) return db_error(db_, rc, "reading " + id);
  return std::optional<DeviceRecord>(read_device(s));
}

result<std::vector<DeviceRecord>> SqliteRegistry::devices() {
  std::lock_guard lock(mutex_);
  Statement s(db_, (std::string(kDeviceColumns) + " ORDER BY id").c_str());
  if (!s.prepared()) return db_error(db_, s.prepare_rc(), "listing devices");
  std::vector<DeviceRecord> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_device(s));
  if (rc != SQLITE_DONE) return db_error(db_, rc, "listing devices");
  return out;
}

result<bool> SqliteRegistry::revoke(const std::string& id, const std::string& reason) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  BOOST_OUTCOME_TRY(tx.begun());
  const auto now = ms(now_ms());
  Statement s(db_, "UPDATE devices SET revoked_ms = ?2, revocation_reason = ?3 WHERE id = ?1");
  s.bind(1, id).bind(2, now).bind(3, reason);
  BOOST_OUTCOME_TRY(run(db_, s, "revoking"));
  if (sqlite3_changes(db_) == 0) return false;
  // Per certificate, not per device: a later enrollment under the same id (a new unit) does not
  // take the old unit's certificates off the CRL.
  // (Expired ones too: the CRL leaves out what has expired when it is written.)
  Statement certificates(db_, "INSERT OR IGNORE INTO revoked_certificates(serial, device, revoked_ms, "
                              "reason) SELECT serial, device, ?2, ?3 FROM certificates "
                              "WHERE device = ?1");
  certificates.bind(1, id).bind(2, now).bind(3, reason);
  BOOST_OUTCOME_TRY(run(db_, certificates, "revoking certificates"));
  // And its keys: the same TPM (or software key) can never be enrolled again, --replace or not.
  Statement keys(db_, "SELECT tls_public, ek_public FROM devices WHERE id = ?1");
  keys.bind(1, id);
  if (!keys.prepared() || keys.step() != SQLITE_ROW) return db_error(db_, sqlite3_errcode(db_), "revoking keys");
  const auto revoked_keys = device_key_hashes(keys.blob(0), keys.blob(1));
  for (const auto& [kind, hash] : revoked_keys) {
    Statement k(db_, "INSERT OR IGNORE INTO revoked_keys(key_sha256, kind, device, revoked_ms, reason) "
                     "VALUES(?1, ?2, ?3, ?4, ?5)");
    k.bind(1, hash).bind(2, kind).bind(3, id).bind(4, now).bind(5, reason);
    BOOST_OUTCOME_TRY(run(db_, k, "revoking keys"));
  }
  BOOST_OUTCOME_TRY(epoch, setting_integer(db_, "revocation_epoch"));
  BOOST_OUTCOME_TRY(set_setting(db_, "revocation_epoch", std::to_string(epoch + 1)));
  BOOST_OUTCOME_TRY(tx.commit());
  return true;
}

result<std::int64_t> SqliteRegistry::revocation_epoch() {
  std::lock_guard lock(mutex_);
  return setting_integer(db_, "revocation_epoch");
}

result<void> SqliteRegistry::add_nonce(const Bytes& nonce, const std::string& device, Timestamp expires,
                                 int max_outstanding) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  BOOST_OUTCOME_TRY(tx.begun());
  // Anyone may ask for a nonce for an enrolled id: what that can make the registry hold is
  // bounded per device — the oldest outstanding ones give way (a device that is really
  // attesting uses its nonce within seconds).
  Statement evict(db_, "DELETE FROM nonces WHERE device = ?1 AND used_ms IS NULL AND nonce NOT IN "
                       "(SELECT nonce FROM nonces WHERE device = ?1 AND used_ms IS NULL "
                       "ORDER BY expires_ms DESC LIMIT ?2)");
  evict.bind(1, device).bind(2, std::int64_t{std::max(0, max_outstanding - 1)});
  BOOST_OUTCOME_TRY(run(db_, evict, "bounding the outstanding nonces"));
  Statement s(db_, "INSERT INTO nonces(nonce, device, expires_ms) VALUES(?1, ?2, ?3)");
  s.bind(1, nonce).bind(2, device).bind(3, ms(expires));
  BOOST_OUTCOME_TRY(run(db_, s, "storing a nonce"));
  return tx.commit();
}

result<PurgeCounts> SqliteRegistry::purge(Timestamp now, std::chrono::milliseconds audit_retention) {
  std::lock_guard lock(mutex_);
  PurgeCounts counts;
  // Nonces are worth keeping a while after expiry (a late reuse is reported as a reuse), not
  // forever; the index on expires_ms keeps this cheap.
  Statement nonces(db_, "DELETE FROM nonces WHERE expires_ms < ?1");
  nonces.bind(1, ms(now) - kNonceKeepMs);
  BOOST_OUTCOME_TRY(run(db_, nonces, "purging nonces"));
  counts.nonces = sqlite3_changes(db_);
  Statement audit(db_, "DELETE FROM attestations WHERE at_ms < ?1");
  audit.bind(1, ms(now - audit_retention));
  BOOST_OUTCOME_TRY(run(db_, audit, "purging the audit"));
  counts.audit_rows = sqlite3_changes(db_);
  return counts;
}

result<std::int64_t> SqliteRegistry::outstanding_nonces(const std::string& device, Timestamp now) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT COUNT(*) FROM nonces WHERE device = ?1 AND used_ms IS NULL AND expires_ms >= ?2");
  s.bind(1, device).bind(2, ms(now));
  if (!s.prepared() || s.step() != SQLITE_ROW) return db_error(db_, sqlite3_errcode(db_), "counting nonces");
  return s.integer(0);
}

result<NonceCheck> SqliteRegistry::consume_nonce(const Bytes& nonce, const std::string& device,
                                           Timestamp now) {
  std::lock_guard lock(mutex_);
  // One atomic UPDATE: of all the replicas that try, exactly one sees the row change.
  Statement take(db_,
                 "UPDATE nonces SET used_ms = ?2 WHERE nonce = ?1 AND used_ms IS NULL "
                 "RETURNING device, expires_ms");
  take.bind(1, nonce).bind(2, ms(now));
  if (!take.prepared()) return db_error(db_, take.prepare_rc(), "consuming a nonce");
  const int rc = take.step();
  if (rc == SQLITE_ROW) {
    const std::string owner = take.text(0);
    const std::int64_t expires = take.integer(1);
    while (take.step() == SQLITE_ROW) {
    }
    if (owner != device) return NonceCheck::other_device;
    if (expires < ms(now)) return NonceCheck::expired;
    return NonceCheck::ok;
  }
  if (rc != SQLITE_DONE) return db_error(db_, rc, "consuming a nonce");
  Statement seen(db_, "SELECT 1 FROM nonces WHERE nonce = ?1");
  seen.bind(1, nonce);
  if (!seen.prepared()) return db_error(db_, seen.prepare_rc(), "consuming a nonce");
  return seen.step() == SQLITE_ROW ? NonceCheck::already_used : NonceCheck::unknown;
}

result<void> SqliteRegistry::add_certificate(const CertificateRecord& c) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "INSERT INTO certificates(serial, device, not_before_ms, not_after_ms) "
                   "VALUES(?1, ?2, ?3, ?4)");
  s.bind(1, c.serial).bind(2, c.device).bind(3, ms(c.not_before)).bind(4, ms(c.not_after));
  return run(db_, s, "recording a certificate");
}

result<std::vector<RevokedCertificate>> SqliteRegistry::revoked_certificates(Timestamp now) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "SELECT c.serial, c.device, c.not_before_ms, c.not_after_ms, r.revoked_ms "
              "FROM revoked_certificates r JOIN certificates c ON c.serial = r.serial "
              "WHERE c.not_after_ms > ?1 ORDER BY c.serial");
  if (!s.prepared()) return db_error(db_, s.prepare_rc(), "listing revoked certificates");
  s.bind(1, ms(now));
  std::vector<RevokedCertificate> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW)
    out.push_back({{s.text(0), s.text(1), from_ms(s.integer(2)), from_ms(s.integer(3))},
                   from_ms(s.integer(4))});
  if (rc != SQLITE_DONE) return db_error(db_, rc, "listing revoked certificates");
  return out;
}

result<std::int64_t> SqliteRegistry::next_crl_number() {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  BOOST_OUTCOME_TRY(tx.begun());
  BOOST_OUTCOME_TRY(number, setting_integer(db_, "crl_number"));
  BOOST_OUTCOME_TRY(set_setting(db_, "crl_number", std::to_string(number + 1)));
  BOOST_OUTCOME_TRY(tx.commit());
  return number + 1;
}

result<void> SqliteRegistry::note_crl(const CrlRecord& crl) {
  std::lock_guard lock(mutex_);
  return set_setting(db_, "crl", crl_to_text(crl));
}

result<std::optional<CrlRecord>> SqliteRegistry::last_crl() {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT value FROM settings WHERE key = 'crl'");
  if (!s.prepared()) return db_error(db_, s.prepare_rc(), "reading the CRL record");
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<CrlRecord>{};
  if (rc != SQLITE_ROW) return db_error(db_, rc, "reading the CRL record");
  BOOST_OUTCOME_TRY(crl, crl_from_text(s.text(0)));
  return std::optional<CrlRecord>(std::move(crl));
}

result<Policy> SqliteRegistry::policy() {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT value FROM settings WHERE key = 'policy'");
  if (!s.prepared()) return db_error(db_, s.prepare_rc(), "reading the policy");
  const int rc = s.step();
  if (rc == SQLITE_DONE) return Policy{};
  if (rc != SQLITE_ROW) return db_error(db_, rc, "reading the policy");
  const auto json = nlohmann::json::parse(s.text(0), nullptr, false);
  return policy_from_json(json);
}

result<void> SqliteRegistry::set_policy(const Policy& policy) {
  std::lock_guard lock(mutex_);
  return set_setting(db_, "policy", policy_to_json(policy).dump());
}

result<Policy> SqliteRegistry::update_policy(const std::function<result<void>(Policy&)>& edit) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  BOOST_OUTCOME_TRY(tx.begun());
  Policy policy;
  {
    Statement s(db_, "SELECT value FROM settings WHERE key = 'policy'");
    if (!s.prepared()) return db_error(db_, s.prepare_rc(), "reading the policy");
    const int rc = s.step();
    if (rc == SQLITE_ROW) {
      BOOST_OUTCOME_TRY(stored, policy_from_json(nlohmann::json::parse(s.text(0), nullptr, false)));
      policy = std::move(stored);
    } else if (rc != SQLITE_DONE) {
      return db_error(db_, rc, "reading the policy");
    }
  }
  BOOST_OUTCOME_TRY(edit(policy));
  BOOST_OUTCOME_TRY(validate_policy(policy));
  BOOST_OUTCOME_TRY(set_setting(db_, "policy", policy_to_json(policy).dump()));
  BOOST_OUTCOME_TRY(tx.commit());
  return policy;
}

result<void> SqliteRegistry::mark_activated(const std::string& id, Timestamp at) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "UPDATE devices SET activated_ms = ?2 WHERE id = ?1 AND activated_ms IS NULL");
  s.bind(1, id).bind(2, ms(at));
  return run(db_, s, "recording an activation");
}

result<void> SqliteRegistry::add_tpm_ca(const TpmCaRecord& ca) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "INSERT INTO tpm_cas(fingerprint, subject, pem, note, added_ms) "
                   "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(fingerprint) DO UPDATE SET "
                   "note = excluded.note");
  s.bind(1, ca.fingerprint).bind(2, ca.subject).bind(3, ca.pem).bind(4, ca.note).bind(5, ms(ca.added));
  return run(db_, s, "adding a TPM manufacturer CA");
}

result<std::vector<TpmCaRecord>> SqliteRegistry::tpm_cas() {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT fingerprint, subject, pem, note, added_ms FROM tpm_cas ORDER BY subject");
  if (!s.prepared()) return db_error(db_, s.prepare_rc(), "listing TPM manufacturer CAs");
  std::vector<TpmCaRecord> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW)
    out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), from_ms(s.integer(4))});
  if (rc != SQLITE_DONE) return db_error(db_, rc, "listing TPM manufacturer CAs");
  return out;
}

result<bool> SqliteRegistry::remove_tpm_ca(const std::string& fingerprint) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "DELETE FROM tpm_cas WHERE fingerprint = ?1");
  s.bind(1, fingerprint);
  BOOST_OUTCOME_TRY(run(db_, s, "removing a TPM manufacturer CA"));
  return sqlite3_changes(db_) > 0;
}

result<Bytes> SqliteRegistry::approval_key() {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT value FROM settings WHERE key = 'approval_key'");
  if (!s.prepared()) return db_error(db_, s.prepare_rc(), "reading the approval key");
  const int rc = s.step();
  if (rc == SQLITE_DONE) return Bytes{};
  if (rc != SQLITE_ROW) return db_error(db_, rc, "reading the approval key");
  auto der = secure_link::from_hex(s.text(0));
  if (!der) return make_error("device registry: the stored approval key is not hexadecimal");
  return der;
}

result<void> SqliteRegistry::set_approval_key(const Bytes& spki_der) {
  std::lock_guard lock(mutex_);
  return set_setting(db_, "approval_key", secure_link::to_hex(spki_der));
}

result<void> SqliteRegistry::record_attestation(const AttestationOutcome& o) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  BOOST_OUTCOME_TRY(tx.begun());
  Statement audit(db_, "INSERT INTO attestations(device, at_ms, outcome) VALUES(?1, ?2, ?3)");
  audit.bind(1, o.device).bind(2, ms(o.at)).bind(3, o.outcome);
  BOOST_OUTCOME_TRY(run(db_, audit, "recording an attestation"));
  Statement last(db_, "UPDATE devices SET last_attestation_ms = ?2, last_result = ?3, "
                      "running = CASE WHEN ?4 = '{}' THEN running ELSE ?4 END WHERE id = ?1");
  last.bind(1, o.device).bind(2, ms(o.at)).bind(3, o.outcome).bind(4, running_to_text(o.running));
  BOOST_OUTCOME_TRY(run(db_, last, "recording an attestation"));
  return tx.commit();
}

result<std::vector<FleetEntry>> SqliteRegistry::fleet(Timestamp since) {
  std::lock_guard lock(mutex_);
  // One read transaction: the devices and their counts are of one moment.
  Statement begin(db_, "BEGIN");
  BOOST_OUTCOME_TRY(run(db_, begin, "reading the fleet"));
  struct End {
    sqlite3* db;
    ~End() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end{db_};
  Statement s(db_, (std::string(kDeviceColumns) + " ORDER BY id").c_str());
  if (!s.prepared()) return db_error(db_, s.prepare_rc(), "reading the fleet");
  std::vector<FleetEntry> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back({read_device(s), std::nullopt, 0, 0});
  if (rc != SQLITE_DONE) return db_error(db_, rc, "reading the fleet");
  for (auto& entry : out) {
    Statement cert(db_, "SELECT serial, device, not_before_ms, not_after_ms FROM certificates "
                        "WHERE device = ?1 ORDER BY not_after_ms DESC LIMIT 1");
    cert.bind(1, entry.device.id);
    if (!cert.prepared()) return db_error(db_, cert.prepare_rc(), "reading the fleet");
    if (cert.step() == SQLITE_ROW)
      entry.certificate = CertificateRecord{cert.text(0), cert.text(1), from_ms(cert.integer(2)),
                                            from_ms(cert.integer(3))};
    Statement counts(db_, "SELECT "
                          "(SELECT COUNT(*) FROM attestations WHERE device = ?1 AND outcome <> 'ok' "
                          "AND at_ms >= ?2), "
                          "(SELECT COUNT(*) FROM attestations WHERE device = ?1 AND outcome <> 'ok' "
                          "AND at_ms > COALESCE((SELECT MAX(at_ms) FROM attestations "
                          "WHERE device = ?1 AND outcome = 'ok'), -1))");
    counts.bind(1, entry.device.id).bind(2, ms(since));
    if (!counts.prepared() || counts.step() != SQLITE_ROW)
      return db_error(db_, sqlite3_errcode(db_), "reading the fleet");
    entry.refusals = counts.integer(0);
    entry.failures_in_a_row = counts.integer(1);
  }
  return out;
}

}  // namespace guardian::cloud::detail

// The registry in PostgreSQL (registry.hpp): any number of guardian-trust replicas, on any
// number of machines, serve one fleet. Every operation is one statement or one transaction on
// a connection of a small pool; what must happen once happens in one atomic statement (a nonce
// is consumed by one UPDATE … RETURNING, the CRL number and the revocation epoch are bumped by
// one upsert), so replicas never need to talk to each other.
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

#include "guardian/cloud/registry.hpp"
#include "registry_internal.hpp"

namespace guardian::cloud::detail {
namespace {

using secure_link::Bytes;
using namespace std::chrono_literals;

constexpr int kSchemaVersion = 3;  // the SQLite store's version 3, in PostgreSQL's types

// Replicas starting at once create the schema one after the other.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7165319431)";
// Policy edits are read-modify-write: one editor at a time, fleet-wide.
constexpr const char* kPolicyLock = "SELECT pg_advisory_xact_lock(7165319432)";

constexpr std::size_t kMaxConnections = 8;
constexpr auto kAcquireTimeout = 10s;

// One statement's parameters, as text (NULL when empty optional). Bytes go as bytea's hex form.
using Param = std::optional<std::string>;
Param p(const std::string& v) { return v; }
Param p(std::int64_t v) { return std::to_string(v); }
Param p(const Bytes& v) { return "\\x" + secure_link::to_hex(v); }

// A statement's result, cleared on destruction.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r) {}
  ~Rows() { PQclear(r_); }
  Rows(Rows&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  Rows& operator=(Rows&&) = delete;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;

  [[nodiscard]] bool ok() const {
    const auto status = PQresultStatus(r_);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  }
  [[nodiscard]] std::string sqlstate() const {
    const char* state = PQresultErrorField(r_, PG_DIAG_SQLSTATE);
    return state == nullptr ? std::string{} : state;
  }
  [[nodiscard]] std::string error() const {
    std::string message = r_ == nullptr ? "out of memory" : PQresultErrorMessage(r_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return message;
  }
  [[nodiscard]] int size() const { return PQntuples(r_); }
  [[nodiscard]] std::int64_t affected() const {
    const char* n = PQcmdTuples(r_);
    std::int64_t v = 0;
    std::from_chars(n, n + std::strlen(n), v);
    return v;
  }
  [[nodiscard]] bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  [[nodiscard]] std::string text(int row, int col) const {
    return {PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col))};
  }
  [[nodiscard]] std::int64_t integer(int row, int col) const {
    const std::string t = text(row, col);
    std::int64_t v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
  }
  [[nodiscard]] std::optional<Timestamp> time(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return from_ms(integer(row, col));
  }
  // bytea in its (default) hex output form, "\x0102…".
  [[nodiscard]] Bytes bytes(int row, int col) const {
    const std::string t = text(row, col);
    if (t.size() < 2) return {};
    auto decoded = secure_link::from_hex(std::string_view(t).substr(2));
    return decoded ? std::move(decoded).value() : Bytes{};
  }

 private:
  PGresult* r_;
};

// Runs `sql` with `params` on `conn`; the error names what was being done.
result<Rows> run(PGconn* conn, const char* sql, const std::vector<Param>& params, const std::string& what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& v : params) values.push_back(v ? v->c_str() : nullptr);
  Rows rows(PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                         nullptr, 0));
  if (!rows.ok()) return make_error("device registry: " + what + ": " + rows.error());
  return rows;
}

// A pool of connections: opened on demand up to kMaxConnections, a broken one is dropped and
// replaced by a fresh one at the next request.
class Connections {
 public:
  explicit Connections(std::string uri) : uri_(std::move(uri)) {}
  ~Connections() {
    for (auto* c : idle_) PQfinish(c);
  }
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  result<PGconn*> acquire() {
    std::unique_lock lock(mutex_);
    if (!available_.wait_for(lock, kAcquireTimeout, [&] { return !idle_.empty() || open_ < kMaxConnections; }))
      return make_error("device registry: all " + std::to_string(kMaxConnections) +
                        " PostgreSQL connections stayed busy for " + std::to_string(kAcquireTimeout.count()) + " s");
    if (!idle_.empty()) {
      auto* c = idle_.back();
      idle_.pop_back();
      return c;
    }
    ++open_;
    lock.unlock();
    auto c = connect();
    if (!c) {
      release(nullptr);
      return c.error();
    }
    return c.value();
  }

  void release(PGconn* c) {
    {
      std::lock_guard lock(mutex_);
      if (c != nullptr && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE) {
        idle_.push_back(c);
      } else {
        if (c != nullptr) PQfinish(c);
        --open_;
      }
    }
    available_.notify_one();
  }

  result<PGconn*> connect() const {
    // Defaults the URI may override (they come before dbname): a bounded connect, and no
    // statement that holds a worker of the trust service for more than 10 s.
    const char* keys[] = {"connect_timeout", "application_name", "options", "dbname", nullptr};
    const char* values[] = {"5", "guardian-trust", "-c statement_timeout=10000", uri_.c_str(), nullptr};
    PGconn* c = PQconnectdbParams(keys, values, 1);
    if (c == nullptr) return make_error("device registry: out of memory connecting to PostgreSQL");
    if (PQstatus(c) != CONNECTION_OK) {
      std::string message = PQerrorMessage(c);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      PQfinish(c);
      return make_error("device registry: cannot connect to PostgreSQL: " + message);
    }
    // NOTICEs ("relation … already exists, skipping") are not the operator's business.
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
    return c;
  }

 private:
  std::string uri_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<PGconn*> idle_;
  std::size_t open_ = 0;
};

// A connection taken from the pool for one operation, given back (or dropped) at scope exit; a
// transaction it began and did not commit is rolled back.
class Lease {
 public:
  explicit Lease(Connections& pool) : pool_(pool) {
    auto c = pool.acquire();
    if (c) conn_ = c.value();
    else error_ = c.error();
  }
  ~Lease() {
    if (conn_ == nullptr) return;
    if (in_transaction_) PQclear(PQexec(conn_, "ROLLBACK"));
    pool_.release(conn_);
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  [[nodiscard]] result<void> usable() const {
    if (conn_ == nullptr) return *error_;
    return outcome::success();
  }
  result<Rows> operator()(const char* sql, const std::vector<Param>& params, const std::string& what) {
    return run(conn_, sql, params, what);
  }
  result<void> begin(const std::string& what) {
    BOOST_OUTCOME_TRY(run(conn_, "BEGIN", {}, what));
    in_transaction_ = true;
    return outcome::success();
  }
  result<void> commit(const std::string& what) {
    BOOST_OUTCOME_TRY(run(conn_, "COMMIT", {}, what));
    in_transaction_ = false;
    return outcome::success();
  }
  [[nodiscard]] PGconn* get() const { return conn_; }

 private:
  Connections& pool_;
  PGconn* conn_ = nullptr;
  std::optional<Error> error_;
  bool in_transaction_ = false;
};

constexpr const char* kDeviceColumns =
    "SELECT id, backend, tls_public, ak_public, enrolled_ms, revoked_ms, revocation_reason, "
    "last_attestation_ms, last_result, ak_tpm_public, ek_public, ek_issuer, activated_ms, running "
    "FROM devices";

DeviceRecord read_device(const Rows& r, int row) {
  DeviceRecord d;
  d.id = r.text(row, 0);
  d.backend = backend_from_text(r.text(row, 1));
  d.tls_public_der = r.bytes(row, 2);
  d.ak_public_der = r.bytes(row, 3);
  d.enrolled = from_ms(r.integer(row, 4));
  d.revoked = r.time(row, 5);
  d.revocation_reason = r.text(row, 6);
  d.last_attestation = r.time(row, 7);
  d.last_result = r.text(row, 8);
  d.ak_tpm_public = r.bytes(row, 9);
  d.ek_public = r.bytes(row, 10);
  d.ek_issuer = r.text(row, 11);
  d.activated = r.time(row, 12);
  d.running = running_from_text(r.text(row, 13));
  return d;
}

// The settings table holds single values: the schema version, counters, the policy, the CRL
// record and the approval key.
result<std::optional<std::string>> read_setting(Lease& db, const char* key, const char* lock_suffix = "") {
  const std::string sql = std::string("SELECT value FROM settings WHERE key = $1") + lock_suffix;
  BOOST_OUTCOME_TRY(rows, db(sql.c_str(), {p(std::string(key))}, std::string("reading ") + key));
  if (rows.size() == 0) return std::optional<std::string>{};
  return std::optional<std::string>(rows.text(0, 0));
}

result<void> write_setting(Lease& db, const char* key, const std::string& value) {
  BOOST_OUTCOME_TRY(db("INSERT INTO settings(key, value) VALUES($1, $2) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       {p(std::string(key)), p(value)}, std::string("writing ") + key));
  return outcome::success();
}

// Adds one to an integer setting, atomically, and returns the new value.
result<std::int64_t> increment_setting(Lease& db, const char* key) {
  BOOST_OUTCOME_TRY(rows, db("INSERT INTO settings(key, value) VALUES($1, '1') ON CONFLICT(key) DO "
                             "UPDATE SET value = (settings.value::BIGINT + 1)::TEXT RETURNING value",
                             {p(std::string(key))}, std::string("updating ") + key));
  return rows.integer(0, 0);
}

class PostgresqlRegistry final : public Registry {
 public:
  PostgresqlRegistry(std::string uri, std::string description)
      : pool_(std::move(uri)), description_(std::move(description)) {}

  result<void> create_schema() {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(db.begin("creating the schema"));
    BOOST_OUTCOME_TRY(db(kSchemaLock, {}, "creating the schema"));
    // PQexecParams runs one statement; the schema is several.
    Rows created(PQexec(db.get(), registry_schema("BIGINT", "BYTEA").c_str()));
    if (!created.ok()) return make_error("device registry: creating the schema: " + created.error());
    BOOST_OUTCOME_TRY(version, read_setting(db, "schema_version"));
    if (!version) {
      BOOST_OUTCOME_TRY(write_setting(db, "schema_version", std::to_string(kSchemaVersion)));
    } else if (*version != std::to_string(kSchemaVersion)) {
      return make_error("device registry " + description_ + " has schema version " + *version +
                        "; this guardian-trust understands version " + std::to_string(kSchemaVersion));
    }
    return db.commit("creating the schema");
  }

  std::string describe() const override { return description_; }

  result<void> enroll(const DeviceRecord& d, bool replace) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    const std::string what = "enrolling " + d.id;
    BOOST_OUTCOME_TRY(db.begin(what));
    for (const auto& [kind, hash] : device_key_hashes(d.tls_public_der, d.ek_public)) {
      BOOST_OUTCOME_TRY(revoked, db("SELECT device, revoked_ms, reason FROM revoked_keys WHERE key_sha256 = $1",
                                    {p(hash)}, what));
      if (revoked.size() > 0)
        return revoked_key_error(kind, revoked.text(0, 0), revoked.integer(0, 1), revoked.text(0, 2));
    }
    const char* insert =
        replace ? "INSERT INTO devices(id, backend, tls_public, ak_public, enrolled_ms, ak_tpm_public, "
                  "ek_public, ek_issuer) VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT(id) DO UPDATE "
                  "SET backend = excluded.backend, tls_public = excluded.tls_public, "
                  "ak_public = excluded.ak_public, enrolled_ms = excluded.enrolled_ms, "
                  "ak_tpm_public = excluded.ak_tpm_public, ek_public = excluded.ek_public, "
                  "ek_issuer = excluded.ek_issuer, activated_ms = NULL, revoked_ms = NULL, "
                  "revocation_reason = '', running = '{}'"
                : "INSERT INTO devices(id, backend, tls_public, ak_public, enrolled_ms, ak_tpm_public, "
                  "ek_public, ek_issuer) VALUES($1, $2, $3, $4, $5, $6, $7, $8) "
                  "ON CONFLICT(id) DO NOTHING RETURNING id";
    BOOST_OUTCOME_TRY(added, db(insert,
                                {p(d.id), p(backend_text(d.backend)), p(d.tls_public_der), p(d.ak_public_der),
                                 p(ms(d.enrolled)), p(d.ak_tpm_public), p(d.ek_public), p(d.ek_issuer)},
                                what));
    if (!replace && added.size() == 0) return make_error(already_enrolled_message(d.id));
    return db.commit(what);
  }

  result<std::optional<DeviceRecord>> device(const std::string& id) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(rows, db((std::string(kDeviceColumns) + " WHERE id = $1").c_str(), {p(id)}, "reading " + id));
    if (rows.size() == 0) return std::optional<DeviceRecord>{};
    return std::optional<DeviceRecord>(read_device(rows, 0));
  }

  result<std::vector<DeviceRecord>> devices() override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(rows, db((std::string(kDeviceColumns) + " ORDER BY id").c_str(), {}, "listing devices"));
    std::vector<DeviceRecord> out;
    for (int i = 0; i < rows.size(); ++i) out.push_back(read_device(rows, i));
    return out;
  }

  result<std::vector<FleetEntry>> fleet(Timestamp since) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    const std::string sql =
        "SELECT d.id, d.backend, d.tls_public, d.ak_public, d.enrolled_ms, d.revoked_ms, "
        "d.revocation_reason, d.last_attestation_ms, d.last_result, d.ak_tpm_public, d.ek_public, "
        "d.ek_issuer, d.activated_ms, d.running, c.serial, c.not_before_ms, c.not_after_ms, "
        "(SELECT COUNT(*) FROM attestations a WHERE a.device = d.id AND a.outcome <> 'ok' "
        " AND a.at_ms >= $1), "
        "(SELECT COUNT(*) FROM attestations a WHERE a.device = d.id AND a.outcome <> 'ok' "
        " AND a.at_ms > COALESCE((SELECT MAX(b.at_ms) FROM attestations b WHERE b.device = d.id "
        " AND b.outcome = 'ok'), -1)) "
        "FROM devices d LEFT JOIN LATERAL (SELECT serial, not_before_ms, not_after_ms FROM certificates "
        "WHERE device = d.id ORDER BY not_after_ms DESC LIMIT 1) c ON true ORDER BY d.id";
    BOOST_OUTCOME_TRY(rows, db(sql.c_str(), {p(ms(since))}, "reading the fleet"));
    std::vector<FleetEntry> out;
    for (int i = 0; i < rows.size(); ++i) {
      FleetEntry e{read_device(rows, i), std::nullopt, rows.integer(i, 17), rows.integer(i, 18)};
      if (!rows.is_null(i, 14))
        e.certificate = CertificateRecord{rows.text(i, 14), e.device.id, from_ms(rows.integer(i, 15)),
                                          from_ms(rows.integer(i, 16))};
      out.push_back(std::move(e));
    }
    return out;
  }

  result<bool> revoke(const std::string& id, const std::string& reason) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    const std::string what = "revoking " + id;
    BOOST_OUTCOME_TRY(db.begin(what));
    const auto now = ms(now_ms());
    BOOST_OUTCOME_TRY(device, db("UPDATE devices SET revoked_ms = $2, revocation_reason = $3 WHERE id = $1 "
                                 "RETURNING tls_public, ek_public",
                                 {p(id), p(now), p(reason)}, what));
    if (device.size() == 0) return false;
    // Per certificate, and per key: see the SQLite store.
    BOOST_OUTCOME_TRY(db("INSERT INTO revoked_certificates(serial, device, revoked_ms, reason) "
                         "SELECT serial, device, $2, $3 FROM certificates WHERE device = $1 "
                         "ON CONFLICT(serial) DO NOTHING",
                         {p(id), p(now), p(reason)}, what));
    for (const auto& [kind, hash] : device_key_hashes(device.bytes(0, 0), device.bytes(0, 1))) {
      BOOST_OUTCOME_TRY(db("INSERT INTO revoked_keys(key_sha256, kind, device, revoked_ms, reason) "
                           "VALUES($1, $2, $3, $4, $5) ON CONFLICT(key_sha256) DO NOTHING",
                           {p(hash), p(kind), p(id), p(now), p(reason)}, what));
    }
    BOOST_OUTCOME_TRY(increment_setting(db, "revocation_epoch"));
    BOOST_OUTCOME_TRY(db.commit(what));
    return true;
  }

  result<std::int64_t> revocation_epoch() override { return integer_setting("revocation_epoch"); }

  result<void> add_nonce(const Bytes& nonce, const std::string& device, Timestamp expires,
                         int max_outstanding) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(db.begin("storing a nonce"));
    BOOST_OUTCOME_TRY(db("DELETE FROM nonces WHERE device = $1 AND used_ms IS NULL AND nonce NOT IN "
                         "(SELECT nonce FROM nonces WHERE device = $1 AND used_ms IS NULL "
                         "ORDER BY expires_ms DESC LIMIT $2)",
                         {p(device), p(std::int64_t{std::max(0, max_outstanding - 1)})},
                         "bounding the outstanding nonces"));
    BOOST_OUTCOME_TRY(db("INSERT INTO nonces(nonce, device, expires_ms) VALUES($1, $2, $3)",
                         {p(nonce), p(device), p(ms(expires))}, "storing a nonce"));
    return db.commit("storing a nonce");
  }

  result<std::int64_t> outstanding_nonces(const std::string& device, Timestamp now) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(rows, db("SELECT COUNT(*) FROM nonces WHERE device = $1 AND used_ms IS NULL AND "
                               "expires_ms >= $2",
                               {p(device), p(ms(now))}, "counting nonces"));
    return rows.integer(0, 0);
  }

  result<PurgeCounts> purge(Timestamp now, std::chrono::milliseconds audit_retention) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(nonces, db("DELETE FROM nonces WHERE expires_ms < $1", {p(ms(now) - kNonceKeepMs)},
                                 "purging nonces"));
    BOOST_OUTCOME_TRY(audit, db("DELETE FROM attestations WHERE at_ms < $1", {p(ms(now - audit_retention))},
                                "purging the audit"));
    return PurgeCounts{nonces.affected(), audit.affected()};
  }

  result<NonceCheck> consume_nonce(const Bytes& nonce, const std::string& device, Timestamp now) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    // One atomic UPDATE: of all the replicas that try, exactly one gets the row back.
    BOOST_OUTCOME_TRY(taken, db("UPDATE nonces SET used_ms = $2 WHERE nonce = $1 AND used_ms IS NULL "
                                "RETURNING device, expires_ms",
                                {p(nonce), p(ms(now))}, "consuming a nonce"));
    if (taken.size() > 0) {
      if (taken.text(0, 0) != device) return NonceCheck::other_device;
      if (taken.integer(0, 1) < ms(now)) return NonceCheck::expired;
      return NonceCheck::ok;
    }
    BOOST_OUTCOME_TRY(seen, db("SELECT 1 FROM nonces WHERE nonce = $1", {p(nonce)}, "consuming a nonce"));
    return seen.size() > 0 ? NonceCheck::already_used : NonceCheck::unknown;
  }

  result<void> add_certificate(const CertificateRecord& c) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(db("INSERT INTO certificates(serial, device, not_before_ms, not_after_ms) "
                         "VALUES($1, $2, $3, $4)",
                         {p(c.serial), p(c.device), p(ms(c.not_before)), p(ms(c.not_after))},
                         "recording a certificate"));
    return outcome::success();
  }

  result<std::vector<RevokedCertificate>> revoked_certificates(Timestamp now) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(rows, db("SELECT c.serial, c.device, c.not_before_ms, c.not_after_ms, r.revoked_ms "
                               "FROM revoked_certificates r JOIN certificates c ON c.serial = r.serial "
                               "WHERE c.not_after_ms > $1 ORDER BY c.serial",
                               {p(ms(now))}, "listing revoked certificates"));
    std::vector<RevokedCertificate> out;
    for (int i = 0; i < rows.size(); ++i)
      out.push_back({{rows.text(i, 0), rows.text(i, 1), from_ms(rows.integer(i, 2)), from_ms(rows.integer(i, 3))},
                     from_ms(rows.integer(i, 4))});
    return out;
  }

  result<std::int64_t> next_crl_number() override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    return increment_setting(db, "crl_number");
  }

  result<void> note_crl(const CrlRecord& crl) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    return write_setting(db, "crl", crl_to_text(crl));
  }

  result<std::optional<CrlRecord>> last_crl() override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(text, read_setting(db, "crl"));
    if (!text) return std::optional<CrlRecord>{};
    BOOST_OUTCOME_TRY(crl, crl_from_text(*text));
    return std::optional<CrlRecord>(std::move(crl));
  }

  result<Policy> policy() override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(text, read_setting(db, "policy"));
    if (!text) return Policy{};
    return policy_from_json(nlohmann::json::parse(*text, nullptr, false));
  }

  result<void> set_policy(const Policy& policy) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    return write_setting(db, "policy", policy_to_json(policy).dump());
  }

  result<Policy> update_policy(const std::function<result<void>(Policy&)>& edit) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(db.begin("editing the policy"));
    BOOST_OUTCOME_TRY(db(kPolicyLock, {}, "editing the policy"));
    BOOST_OUTCOME_TRY(text, read_setting(db, "policy"));
    Policy policy;
    if (text) {
      BOOST_OUTCOME_TRY(stored, policy_from_json(nlohmann::json::parse(*text, nullptr, false)));
      policy = std::move(stored);
    }
    BOOST_OUTCOME_TRY(edit(policy));
    BOOST_OUTCOME_TRY(validate_policy(policy));
    BOOST_OUTCOME_TRY(write_setting(db, "policy", policy_to_json(policy).dump()));
    BOOST_OUTCOME_TRY(db.commit("editing the policy"));
    return policy;
  }

  result<void> mark_activated(const std::string& id, Timestamp at) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(db("UPDATE devices SET activated_ms = $2 WHERE id = $1 AND activated_ms IS NULL",
                         {p(id), p(ms(at))}, "recording an activation"));
    return outcome::success();
  }

  result<void> add_tpm_ca(const TpmCaRecord& ca) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(db("INSERT INTO tpm_cas(fingerprint, subject, pem, note, added_ms) VALUES($1, $2, $3, $4, $5) "
                         "ON CONFLICT(fingerprint) DO UPDATE SET note = excluded.note",
                         {p(ca.fingerprint), p(ca.subject), p(ca.pem), p(ca.note), p(ms(ca.added))},
                         "adding a TPM manufacturer CA"));
    return outcome::success();
  }

  result<std::vector<TpmCaRecord>> tpm_cas() override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(rows, db("SELECT fingerprint, subject, pem, note, added_ms FROM tpm_cas ORDER BY subject",
                               {}, "listing TPM manufacturer CAs"));
    std::vector<TpmCaRecord> out;
    for (int i = 0; i < rows.size(); ++i)
      out.push_back({rows.text(i, 0), rows.text(i, 1), rows.text(i, 2), rows.text(i, 3), from_ms(rows.integer(i, 4))});
    return out;
  }

  result<bool> remove_tpm_ca(const std::string& fingerprint) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(rows, db("DELETE FROM tpm_cas WHERE fingerprint = $1", {p(fingerprint)},
                               "removing a TPM manufacturer CA"));
    return rows.affected() > 0;
  }

  result<Bytes> approval_key() override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(text, read_setting(db, "approval_key"));
    if (!text) return Bytes{};
    auto der = secure_link::from_hex(*text);
    if (!der) return make_error("device registry: the stored approval key is not hexadecimal");
    return std::move(der).value();
  }

  result<void> set_approval_key(const Bytes& spki_der) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    return write_setting(db, "approval_key", secure_link::to_hex(spki_der));
  }

  result<void> record_attestation(const AttestationOutcome& o) override {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(db.begin("recording an attestation"));
    BOOST_OUTCOME_TRY(db("INSERT INTO attestations(device, at_ms, outcome) VALUES($1, $2, $3)",
                         {p(o.device), p(ms(o.at)), p(o.outcome)}, "recording an attestation"));
    BOOST_OUTCOME_TRY(db("UPDATE devices SET last_attestation_ms = $2, last_result = $3, "
                         "running = CASE WHEN $4 = '{}' THEN running ELSE $4 END WHERE id = $1",
                         {p(o.device), p(ms(o.at)), p(o.outcome), p(running_to_text(o.running))},
                         "recording an attestation"));
    return db.commit("recording an attestation");
  }

 private:
  result<std::int64_t> integer_setting(const char* key) {
    Lease db(pool_);
    BOOST_OUTCOME_TRY(db.usable());
    BOOST_OUTCOME_TRY(text, read_setting(db, key));
    if (!text) return std::int64_t{0};
    std::int64_t value = 0;
    if (std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc{})
      return make_error(std::string("device registry: setting ") + key + " is not a number");
    return value;
  }

  Connections pool_;
  std::string description_;
};

}  // namespace

result<std::unique_ptr<Registry>> open_postgresql(const std::string& uri) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &parse_error);
  if (options == nullptr) {
    std::string why = parse_error != nullptr ? parse_error : "out of memory";
    PQfreemem(parse_error);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return make_error("the registry URI is not a PostgreSQL connection URI: " + why);
  }
  std::map<std::string, std::string> given;
  for (auto* o = options; o->keyword != nullptr; ++o)
    if (o->val != nullptr && *o->val != '\0') given[o->keyword] = o->val;
  PQconninfoFree(options);
  // No secret on a command line or in a unit file (ps and journald show them).
  if (given.contains("password"))
    return make_error("the registry URI carries a password: keep it in a passfile instead "
                      "(~/.pgpass or PGPASSFILE, mode 0600; see docs/secure-link.md)");
  const std::string host = given.contains("host") ? given["host"] : "localhost";
  const std::string port = given.contains("port") ? given["port"] : "5432";
  const std::string database = given.contains("dbname") ? given["dbname"] : (given.contains("user") ? given["user"] : "");
  auto registry = std::make_unique<PostgresqlRegistry>(uri, "PostgreSQL " + database + " at " + host + ":" + port);
  BOOST_OUTCOME_TRY(registry->create_schema());
  return std::unique_ptr<Registry>(std::move(registry));
}

}  // namespace guardian::cloud::detail

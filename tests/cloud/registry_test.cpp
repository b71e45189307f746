// The trust service's state: the registry's contract (nonces with an injected clock,
// revocation, policy edits, the fleet view, replicas), on a SQLite file and on a real
// PostgreSQL server.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "guardian/cloud/registry.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/postgres.hpp"

namespace guardian::cloud {
namespace {

using namespace std::chrono_literals;
using secure_link::Bytes;
using secure_link::MeasurementKind;

const Timestamp kNow{std::chrono::milliseconds{1'700'000'000'000}};

std::unique_ptr<Registry> open(const testing::TempDir& dir) {
  auto r = Registry::open(dir / "registry.db");
  if (!r) throw std::runtime_error(r.error().describe());
  return std::move(r).value();
}

// The registry's contract, run against both stores: a SQLite file, and a database on a real
// PostgreSQL server (one per test process, a fresh database per test).
enum class Store : std::uint8_t { sqlite, postgresql };

testing::PostgresServer& postgres() {
  static testing::PostgresServer server;
  return server;
}

class RegistryStore : public ::testing::TestWithParam<Store> {
 protected:
  void SetUp() override {
    if (GetParam() == Store::sqlite) {
      location_ = (dir_ / "registry.db").string();
    } else {
      location_ = postgres().create_database("registry_" + std::to_string(++databases_));
    }
  }
  /// Another connection to this test's store (another replica, another operator).
  std::unique_ptr<Registry> open() const {
    auto r = Registry::open(location_);
    if (!r) throw std::runtime_error(r.error().describe());
    return std::move(r).value();
  }

 private:
  static inline int databases_ = 0;
  testing::TempDir dir_;
  std::string location_;
};

INSTANTIATE_TEST_SUITE_P(Stores, RegistryStore, ::testing::Values(Store::sqlite, Store::postgresql),
                         [](const auto& store) { return store.param == Store::sqlite ? "SQLite" : "PostgreSQL"; });

DeviceRecord device(const std::string& id) {
  DeviceRecord d;
  d.id = id;
  d.backend = config::IdentityBackend::software;
  d.tls_public_der = {1, 2, 3};
  d.ak_public_der = {4, 5, 6};
  d.enrolled = kNow;
  return d;
}

TEST_P(RegistryStore, ANonceIsAcceptedOnceAndThenReportedAsUsed) {
  auto registry = open();
  const Bytes nonce(32, 7);
  ASSERT_TRUE(registry->add_nonce(nonce, "store-042", kNow + 60s, 4));
  EXPECT_EQ(registry->consume_nonce(nonce, "store-042", kNow + 1s).value(), NonceCheck::ok);
  EXPECT_EQ(registry->consume_nonce(nonce, "store-042", kNow + 2s).value(), NonceCheck::already_used);
}

TEST_P(RegistryStore, ANonceThatCameBackTooLateIsExpiredAndCannotBeUsedAfterwards) {
  auto registry = open();
  const Bytes nonce(32, 8);
  ASSERT_TRUE(registry->add_nonce(nonce, "store-042", kNow + 60s, 4));
  EXPECT_EQ(registry->consume_nonce(nonce, "store-042", kNow + 61s).value(), NonceCheck::expired);
  EXPECT_NE(registry->consume_nonce(nonce, "store-042", kNow + 1s).value(), NonceCheck::ok);
}

TEST_P(RegistryStore, ANonceBelongsToTheDeviceItWasIssuedTo) {
  auto registry = open();
  const Bytes nonce(32, 9);
  ASSERT_TRUE(registry->add_nonce(nonce, "store-a", kNow + 60s, 4));
  EXPECT_EQ(registry->consume_nonce(nonce, "store-b", kNow).value(), NonceCheck::other_device);
  EXPECT_EQ(registry->consume_nonce(Bytes(32, 1), "store-a", kNow).value(), NonceCheck::unknown);
}

TEST_P(RegistryStore, RevocationBumpsTheEpochAndPutsOnlyUnexpiredCertificatesOnTheCrlList) {
  auto registry = open();
  ASSERT_TRUE(registry->enroll(device("store-a"), false));
  ASSERT_TRUE(registry->enroll(device("store-b"), false));
  ASSERT_TRUE(registry->add_certificate({"aa01", "store-a", kNow - 2h, kNow - 1h}));  // expired
  ASSERT_TRUE(registry->add_certificate({"aa02", "store-a", kNow - 1h, kNow + 1h}));
  ASSERT_TRUE(registry->add_certificate({"bb01", "store-b", kNow - 1h, kNow + 1h}));
  const auto before = registry->revocation_epoch().value();
  EXPECT_TRUE(registry->revoke("store-a", "stolen").value());
  EXPECT_FALSE(registry->revoke("store-z", "typo").value());
  EXPECT_GT(registry->revocation_epoch().value(), before);
  const auto revoked = registry->revoked_certificates(kNow).value();
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].certificate.serial, "aa02");
  const auto a = registry->device("store-a").value();
  ASSERT_TRUE(a && a->revoked);
  EXPECT_EQ(a->revocation_reason, "stolen");
}

TEST_P(RegistryStore, ARevokedUnitNeverComesBackAndItsCertificatesStayRevokedWhenItsIdIsReplaced) {
  auto registry = open();
  ASSERT_TRUE(registry->enroll(device("store-a"), false));
  EXPECT_FALSE(registry->enroll(device("store-a"), false));  // an id is replaced only on request
  ASSERT_TRUE(registry->add_certificate({"cc01", "store-a", kNow - 1h, kNow + 20h}));
  ASSERT_TRUE(registry->revoke("store-a", "stolen").value());
  // The stolen unit's own record, re-enrolled with --replace: its key was revoked.
  auto again = registry->enroll(device("store-a"), true);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("was revoked with device store-a"), std::string::npos)
      << again.error().message;
  // A new unit under the same id: it may attest, and the stolen one's certificate stays on the CRL.
  auto replacement = device("store-a");
  replacement.tls_public_der = {7, 8, 9};
  ASSERT_TRUE(registry->enroll(replacement, true));
  EXPECT_FALSE(registry->device("store-a").value()->revoked);
  const auto revoked = registry->revoked_certificates(kNow).value();
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].certificate.serial, "cc01");
  // Not under another id either.
  auto renamed = device("store-b");
  EXPECT_FALSE(registry->enroll(renamed, false));
}

TEST_P(RegistryStore, OutstandingNoncesPerDeviceAreBoundedAndExpiredOnesArePurged) {
  auto registry = open();
  std::vector<Bytes> nonces;
  for (std::uint8_t i = 0; i < 10; ++i) {
    nonces.push_back(Bytes(32, i));
    ASSERT_TRUE(registry->add_nonce(nonces.back(), "store-a", kNow + 60s + std::chrono::milliseconds{i}, 4));
  }
  EXPECT_EQ(registry->outstanding_nonces("store-a", kNow).value(), 4);
  // The newest are kept; the oldest gave way.
  EXPECT_EQ(registry->consume_nonce(nonces[9], "store-a", kNow).value(), NonceCheck::ok);
  EXPECT_EQ(registry->consume_nonce(nonces[0], "store-a", kNow).value(), NonceCheck::unknown);
  // Nonces long expired, and audit rows past their retention, go.
  ASSERT_TRUE(registry->record_attestation({"store-a", kNow - 100 * 24h, "ok", {}}));
  ASSERT_TRUE(registry->record_attestation({"store-a", kNow, "ok", {}}));
  const auto purged = registry->purge(kNow + 2h, 90 * 24h).value();
  EXPECT_EQ(purged.nonces, 4);  // three outstanding and the used one, all expired an hour ago
  EXPECT_EQ(purged.audit_rows, 1);
}

TEST_P(RegistryStore, APolicyEditIsValidatedAndAppliedInOneTransaction) {
  auto registry = open();
  auto refused = registry->update_policy([](Policy& p) -> result<void> {
    p.max_lifetime = 0s;
    return outcome::success();
  });
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("between 5 minutes and 30 days"), std::string::npos);
  EXPECT_EQ(registry->policy().value().max_lifetime, 24h);  // nothing was stored
  // Two editors on two connections: each sees the other's change.
  auto other = open();
  ASSERT_TRUE(registry->update_policy([](Policy& p) -> result<void> {
    p.allowed[MeasurementKind::gateway][std::string(64, 'a')] = "one";
    return outcome::success();
  }));
  ASSERT_TRUE(other->update_policy([](Policy& p) -> result<void> {
    p.allowed[MeasurementKind::gateway][std::string(64, 'b')] = "two";
    return outcome::success();
  }));
  EXPECT_EQ(registry->policy().value().allowed.at(MeasurementKind::gateway).size(), 2u);
}

TEST_P(RegistryStore, ThePolicyDefaultsToRefusingEverythingAndSurvivesReopening) {
  {
    auto registry = open();
    const auto p = registry->policy().value();
    EXPECT_FALSE(p.allow_software_keys);
    for (const auto& [kind, list] : p.allowed) EXPECT_TRUE(list.empty());
    EXPECT_EQ(p.max_lifetime, 24h);
    Policy changed = p;
    changed.allowed[MeasurementKind::gateway][std::string(64, 'a')] = "0.1.0";
    changed.max_lifetime = 8h;
    ASSERT_TRUE(registry->set_policy(changed));
  }
  auto reopened = open();
  const auto p = reopened->policy().value();
  EXPECT_EQ(p.max_lifetime, 8h);
  EXPECT_EQ(p.allowed.at(MeasurementKind::gateway).at(std::string(64, 'a')), "0.1.0");
}

TEST_P(RegistryStore, TheFleetViewHasEachDevicesLastCertificateWhatItRunsAndItsRefusals) {
  auto registry = open();
  ASSERT_TRUE(registry->enroll(device("store-a"), false));
  ASSERT_TRUE(registry->enroll(device("store-b"), false));
  ASSERT_TRUE(registry->add_certificate({"aa01", "store-a", kNow - 26h, kNow - 2h}));
  ASSERT_TRUE(registry->add_certificate({"aa02", "store-a", kNow - 2h, kNow + 22h}));
  const std::map<std::string, std::string> runs{{"gateway", std::string(64, 'a')}, {"config", std::string(64, 'c')}};
  ASSERT_TRUE(registry->record_attestation({"store-a", kNow - 30h, "measurement_refused: old", {}}));
  ASSERT_TRUE(registry->record_attestation({"store-a", kNow - 2h, "ok", runs}));
  ASSERT_TRUE(registry->record_attestation({"store-a", kNow - 1h, "bad_nonce: replay", {}}));
  ASSERT_TRUE(registry->record_attestation({"store-a", kNow - 1min, "bad_nonce: replay", {}}));
  const auto fleet = registry->fleet(kNow - 24h).value();
  ASSERT_EQ(fleet.size(), 2u);
  const auto& a = fleet[0];
  EXPECT_EQ(a.device.id, "store-a");
  ASSERT_TRUE(a.certificate);
  EXPECT_EQ(a.certificate->serial, "aa02");  // the latest
  EXPECT_EQ(a.certificate->not_after, kNow + 22h);
  EXPECT_EQ(a.refusals, 2);            // in the window; the 30 h old one is outside
  EXPECT_EQ(a.failures_in_a_row, 2);   // since the last ok
  EXPECT_EQ(a.device.running, runs);   // kept: the refusals since showed nothing new
  EXPECT_EQ(a.device.last_result, "bad_nonce: replay");
  const auto& b = fleet[1];
  EXPECT_FALSE(b.certificate);
  EXPECT_EQ(b.refusals, 0);
  EXPECT_TRUE(b.device.running.empty());
}

TEST_P(RegistryStore, ReplicasShareOneFleetANonceFromOneIsRedeemedOnceAtAnotherAndARevocationHoldsAtAll) {
  auto one = open();
  auto two = open();
  ASSERT_TRUE(one->enroll(device("store-a"), false));
  ASSERT_TRUE(two->device("store-a").value());
  const Bytes nonce(32, 0x42);
  ASSERT_TRUE(one->add_nonce(nonce, "store-a", kNow + 60s, 4));
  // Eight callers on two replicas race for it: exactly one wins.
  std::atomic<int> accepted{0}, reused{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < 8; ++i)
    racers.emplace_back([&, i] {
      auto check = (i % 2 == 0 ? one : two)->consume_nonce(nonce, "store-a", kNow + 1s);
      ASSERT_TRUE(check) << check.error().describe();
      if (check.value() == NonceCheck::ok) ++accepted;
      if (check.value() == NonceCheck::already_used) ++reused;
    });
  for (auto& t : racers) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(reused.load(), 7);
  // A revocation at one is what the other reads, with its epoch and the CRL numbers they share.
  const auto epoch = two->revocation_epoch().value();
  ASSERT_TRUE(one->revoke("store-a", "stolen").value());
  EXPECT_TRUE(two->device("store-a").value()->revoked);
  EXPECT_GT(two->revocation_epoch().value(), epoch);
  const auto first = one->next_crl_number().value();
  EXPECT_EQ(two->next_crl_number().value(), first + 1);
}

TEST(Registry, AVersionOneRegistryIsMigratedItsDevicesMustRotateAndItsResettablePcrIsReplaced) {
  testing::TempDir dir;
  {
    // The registry of the previous release, as its schema wrote it (a fixture made in place).
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "registry.db").c_str(), &db), SQLITE_OK);
    const char* v1 = R"sql(
      CREATE TABLE devices(id TEXT PRIMARY KEY, backend TEXT NOT NULL, tls_public BLOB NOT NULL,
        ak_public BLOB NOT NULL, enrolled_ms INTEGER NOT NULL, revoked_ms INTEGER,
        revocation_reason TEXT NOT NULL DEFAULT '', last_attestation_ms INTEGER,
        last_result TEXT NOT NULL DEFAULT '');
      CREATE TABLE nonces(nonce BLOB PRIMARY KEY, device TEXT NOT NULL, expires_ms INTEGER NOT NULL, used_ms INTEGER);
      CREATE TABLE certificates(serial TEXT PRIMARY KEY, device TEXT NOT NULL, not_before_ms INTEGER NOT NULL,
        not_after_ms INTEGER NOT NULL);
      CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE attestations(device TEXT NOT NULL, at_ms INTEGER NOT NULL, outcome TEXT NOT NULL);
      INSERT INTO devices(id, backend, tls_public, ak_public, enrolled_ms) VALUES('store-old', 'tpm', x'01', x'02', 1);
      INSERT INTO settings VALUES('schema_version', '1');
      INSERT INTO settings VALUES('policy', '{"pcr":23,"allow_software_keys":false,"max_lifetime_s":86400,"allowed":{}}');
    )sql";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto registry = open(dir);
  const auto old = registry->device("store-old").value();
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->ek_public.empty());  // the trust service answers it enrollment_outdated
  EXPECT_FALSE(old->activated);
  EXPECT_EQ(registry->policy().value().pcr, static_cast<unsigned>(config::kDefaultMeasurementPcr));
  // Opening again is a no-op.
  registry.reset();
  EXPECT_TRUE(open(dir)->device("store-old").value());
}

TEST_P(RegistryStore, KeepsTheTpmManufacturerCasAndTheApprovalKeyForEveryReplica) {
  auto registry = open();
  EXPECT_TRUE(registry->approval_key().value().empty());
  ASSERT_TRUE(registry->set_approval_key({0x30, 0x59, 0x01}));
  ASSERT_TRUE(registry->add_tpm_ca({"SHA256:aa", "CN=Root", "-----BEGIN CERTIFICATE-----\n", "vendor", kNow}));
  ASSERT_TRUE(registry->add_tpm_ca({"SHA256:aa", "CN=Root", "-----BEGIN CERTIFICATE-----\n", "again", kNow}));
  auto reopened = open();
  EXPECT_EQ(reopened->approval_key().value(), (Bytes{0x30, 0x59, 0x01}));
  const auto cas = reopened->tpm_cas().value();
  ASSERT_EQ(cas.size(), 1u);
  EXPECT_EQ(cas[0].note, "again");
  EXPECT_TRUE(reopened->remove_tpm_ca("SHA256:aa").value());
  EXPECT_FALSE(reopened->remove_tpm_ca("SHA256:aa").value());
  EXPECT_TRUE(reopened->tpm_cas().value().empty());
}

TEST_P(RegistryStore, AnActivationIsRecordedOnceAndAReplacedEnrollmentMustActivateAgain) {
  auto registry = open();
  ASSERT_TRUE(registry->enroll(device("store-a"), false));
  EXPECT_FALSE(registry->device("store-a").value()->activated);
  ASSERT_TRUE(registry->mark_activated("store-a", kNow));
  ASSERT_TRUE(registry->mark_activated("store-a", kNow + 1h));
  EXPECT_EQ(*registry->device("store-a").value()->activated, kNow);
  ASSERT_TRUE(registry->enroll(device("store-a"), true));
  EXPECT_FALSE(registry->device("store-a").value()->activated);
}

TEST(PostgresqlRegistry, RefusesAUriWithAPasswordAndNamesAServerItCannotReach) {
  auto with_password = Registry::open("postgresql://guardian:s3cret@127.0.0.1:5/fleet");
  ASSERT_FALSE(with_password);
  EXPECT_NE(with_password.error().message.find("passfile"), std::string::npos) << with_password.error().describe();
  EXPECT_EQ(with_password.error().message.find("s3cret"), std::string::npos);
  const auto port = testing::free_tcp_port();  // nothing listens there
  auto unreachable = Registry::open("postgresql://guardian@127.0.0.1:" + std::to_string(port) + "/fleet");
  ASSERT_FALSE(unreachable);
  EXPECT_NE(unreachable.error().message.find("cannot connect to PostgreSQL"), std::string::npos)
      << unreachable.error().describe();
}

}  // namespace
}  // namespace guardian::cloud

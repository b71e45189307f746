// The trust service's state and judgements without processes: the registry (nonces with an
// injected clock), the policy's JSON, the broker configuration it generates, and the evidence
// check against a software identity (whose quotes have the TPM's wire format).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "guardian/cloud/broker_config.hpp"
#include "guardian/cloud/evidence.hpp"
#include "guardian/cloud/registry.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "guardian/secure_link/trust_protocol.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::cloud {
namespace {

using namespace std::chrono_literals;
using secure_link::Bytes;
using secure_link::MeasurementKind;
using secure_link::TrustRefusal;

const Timestamp kNow{std::chrono::milliseconds{1'700'000'000'000}};

std::unique_ptr<Registry> open(const testing::TempDir& dir) {
  auto r = Registry::open(dir / "registry.db");
  if (!r) throw std::runtime_error(r.error().describe());
  return std::move(r).value();
}

DeviceRecord device(const std::string& id) {
  DeviceRecord d;
  d.id = id;
  d.backend = config::IdentityBackend::software;
  d.tls_public_der = {1, 2, 3};
  d.ak_public_der = {4, 5, 6};
  d.enrolled = kNow;
  return d;
}

TEST(Registry, ANonceIsAcceptedOnceAndThenReportedAsUsed) {
  testing::TempDir dir;
  auto registry = open(dir);
  const Bytes nonce(32, 7);
  ASSERT_TRUE(registry->add_nonce(nonce, "store-042", kNow + 60s, 4));
  EXPECT_EQ(registry->consume_nonce(nonce, "store-042", kNow + 1s).value(), NonceCheck::ok);
  EXPECT_EQ(registry->consume_nonce(nonce, "store-042", kNow + 2s).value(), NonceCheck::already_used);
}

TEST(Registry, ANonceThatCameBackTooLateIsExpiredAndCannotBeUsedAfterwards) {
  testing::TempDir dir;
  auto registry = open(dir);
  const Bytes nonce(32, 8);
  ASSERT_TRUE(registry->add_nonce(nonce, "store-042", kNow + 60s, 4));
  EXPECT_EQ(registry->consume_nonce(nonce, "store-042", kNow + 61s).value(), NonceCheck::expired);
  EXPECT_NE(registry->consume_nonce(nonce, "store-042", kNow + 1s).value(), NonceCheck::ok);
}

TEST(Registry, ANonceBelongsToTheDeviceItWasIssuedTo) {
  testing::TempDir dir;
  auto registry = open(dir);
  const Bytes nonce(32, 9);
  ASSERT_TRUE(registry->add_nonce(nonce, "store-a", kNow + 60s, 4));
  EXPECT_EQ(registry->consume_nonce(nonce, "store-b", kNow).value(), NonceCheck::other_device);
  EXPECT_EQ(registry->consume_nonce(Bytes(32, 1), "store-a", kNow).value(), NonceCheck::unknown);
}

TEST(Registry, RevocationBumpsTheEpochAndPutsOnlyUnexpiredCertificatesOnTheCrlList) {
  testing::TempDir dir;
  auto registry = open(dir);
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

TEST(Registry, ARevokedUnitNeverComesBackAndItsCertificatesStayRevokedWhenItsIdIsReplaced) {
  testing::TempDir dir;
  auto registry = open(dir);
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

TEST(Registry, OutstandingNoncesPerDeviceAreBoundedAndExpiredOnesArePurged) {
  testing::TempDir dir;
  auto registry = open(dir);
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
  ASSERT_TRUE(registry->record_attestation("store-a", kNow - 100 * 24h, "ok"));
  ASSERT_TRUE(registry->record_attestation("store-a", kNow, "ok"));
  const auto purged = registry->purge(kNow + 2h, 90 * 24h).value();
  EXPECT_EQ(purged.nonces, 4);  // three outstanding and the used one, all expired an hour ago
  EXPECT_EQ(purged.audit_rows, 1);
}

TEST(Registry, APolicyEditIsValidatedAndAppliedInOneTransaction) {
  testing::TempDir dir;
  auto registry = open(dir);
  auto refused = registry->update_policy([](Policy& p) -> result<void> {
    p.max_lifetime = 0s;
    return outcome::success();
  });
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("between 5 minutes and 30 days"), std::string::npos);
  EXPECT_EQ(registry->policy().value().max_lifetime, 24h);  // nothing was stored
  // Two editors on two connections: each sees the other's change.
  auto other = open(dir);
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

TEST(Registry, ThePolicyDefaultsToRefusingEverythingAndSurvivesReopening) {
  testing::TempDir dir;
  {
    auto registry = open(dir);
    const auto p = registry->policy().value();
    EXPECT_FALSE(p.allow_software_keys);
    for (const auto& [kind, list] : p.allowed) EXPECT_TRUE(list.empty());
    EXPECT_EQ(p.max_lifetime, 24h);
    Policy changed = p;
    changed.allowed[MeasurementKind::gateway][std::string(64, 'a')] = "0.1.0";
    changed.max_lifetime = 8h;
    ASSERT_TRUE(registry->set_policy(changed));
  }
  auto reopened = open(dir);
  const auto p = reopened->policy().value();
  EXPECT_EQ(p.max_lifetime, 8h);
  EXPECT_EQ(p.allowed.at(MeasurementKind::gateway).at(std::string(64, 'a')), "0.1.0");
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

TEST(Registry, KeepsTheTpmManufacturerCasAndTheApprovalKeyForEveryReplica) {
  testing::TempDir dir;
  auto registry = open(dir);
  EXPECT_TRUE(registry->approval_key().value().empty());
  ASSERT_TRUE(registry->set_approval_key({0x30, 0x59, 0x01}));
  ASSERT_TRUE(registry->add_tpm_ca({"SHA256:aa", "CN=Root", "-----BEGIN CERTIFICATE-----\n", "vendor", kNow}));
  ASSERT_TRUE(registry->add_tpm_ca({"SHA256:aa", "CN=Root", "-----BEGIN CERTIFICATE-----\n", "again", kNow}));
  auto reopened = open(dir);
  EXPECT_EQ(reopened->approval_key().value(), (Bytes{0x30, 0x59, 0x01}));
  const auto cas = reopened->tpm_cas().value();
  ASSERT_EQ(cas.size(), 1u);
  EXPECT_EQ(cas[0].note, "again");
  EXPECT_TRUE(reopened->remove_tpm_ca("SHA256:aa").value());
  EXPECT_FALSE(reopened->remove_tpm_ca("SHA256:aa").value());
  EXPECT_TRUE(reopened->tpm_cas().value().empty());
}

TEST(Registry, AnActivationIsRecordedOnceAndAReplacedEnrollmentMustActivateAgain) {
  testing::TempDir dir;
  auto registry = open(dir);
  ASSERT_TRUE(registry->enroll(device("store-a"), false));
  EXPECT_FALSE(registry->device("store-a").value()->activated);
  ASSERT_TRUE(registry->mark_activated("store-a", kNow));
  ASSERT_TRUE(registry->mark_activated("store-a", kNow + 1h));
  EXPECT_EQ(*registry->device("store-a").value()->activated, kNow);
  ASSERT_TRUE(registry->enroll(device("store-a"), true));
  EXPECT_FALSE(registry->device("store-a").value()->activated);
}

TEST(Policy, RefusesAPcrAnyProgramCouldResetOrThatTheFirmwareOwns) {
  EXPECT_TRUE(valid_measurement_pcr(13));
  for (unsigned pcr : {0u, 7u, 16u, 17u, 23u}) EXPECT_FALSE(valid_measurement_pcr(pcr)) << pcr;
  EXPECT_NE(valid_measurement_pcr(23).error().message.find("reset"), std::string::npos);
}

TEST(Policy, RefusesMalformedJsonNamingTheField) {
  EXPECT_NE(policy_from_json({{"pcr", 99}}).error().message.find("pcr"), std::string::npos);
  EXPECT_NE(policy_from_json({{"allowed", {{"kernel", nlohmann::json::array()}}}}).error().message.find(
                "allowed.kernel"),
            std::string::npos);
  EXPECT_NE(policy_from_json({{"allow_software_keys", "yes"}}).error().message.find(
                "allow_software_keys"),
            std::string::npos);
}

BrokerConfigOptions broker_options() {
  BrokerConfigOptions o;
  o.ca_file = "/etc/guardian-fleet/ca.pem";
  o.cert_file = "/etc/guardian-fleet/broker.pem";
  o.key_file = "/etc/guardian-fleet/broker.key";
  o.crl_file = "/var/lib/guardian-trust/crl.pem";
  o.acl_file = "/etc/mosquitto/guardian.acl";
  o.readers = {"dashboard@ops"};
  o.operators = {"commands@ops"};
  return o;
}

TEST(BrokerConfig, TrustsOnlyTheFleetCaRequiresACertificateAndMapsItsNameToTheUser) {
  const auto conf = mosquitto_listener_config(broker_options()).value();
  for (const char* line :
       {"listener 8883 0.0.0.0\n", "cafile /etc/guardian-fleet/ca.pem\n",
        "crlfile /var/lib/guardian-trust/crl.pem\n", "require_certificate true\n",
        "use_identity_as_username true\n", "use_username_as_clientid true\n", "tls_version tlsv1.2\n", "allow_anonymous false\n",
        "acl_file /etc/mosquitto/guardian.acl\n"})
    EXPECT_NE(conf.find(line), std::string::npos) << line << "\n" << conf;
  // No cipher without forward secrecy or without AEAD.
  const auto ciphers = conf.substr(conf.find("ciphers "));
  EXPECT_EQ(ciphers.find("CBC"), std::string::npos);
  EXPECT_EQ(ciphers.find("SHA:"), std::string::npos);
  EXPECT_EQ(ciphers.find(":AES"), std::string::npos);
}

TEST(BrokerConfig, ConfinesEachDeviceToItsPrefixAndGivesReadersAndOperatorsOnlyTheirRights) {
  const auto acl = mosquitto_acl(broker_options()).value();
  EXPECT_NE(acl.find("pattern readwrite guardian/v1/%u/#\n"), std::string::npos) << acl;
  EXPECT_NE(acl.find("user dashboard@ops\ntopic read guardian/v1/#\n"), std::string::npos) << acl;
  EXPECT_NE(acl.find("user commands@ops\ntopic read guardian/v1/#\ntopic write guardian/v1/+/commands\n"),
            std::string::npos)
      << acl;
  // Nothing else may be written by anyone.
  EXPECT_EQ(acl.find("topic write guardian/v1/#"), std::string::npos) << acl;
  EXPECT_EQ(acl.find("topic readwrite"), std::string::npos) << acl;
}

TEST(BrokerConfig, RefusesAReaderNameADeviceCouldHave) {
  auto o = broker_options();
  o.readers = {"store-042"};
  const auto refused = mosquitto_acl(o);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("must contain '@'"), std::string::npos);
  o.readers = {};
  o.operators = {"ops/+"};
  EXPECT_FALSE(mosquitto_acl(o));
}

TEST(BrokerConfig, LoadsTheRevocationPluginOnlyWithTheFileItReads) {
  auto o = broker_options();
  EXPECT_EQ(mosquitto_listener_config(o).value().find("plugin"), std::string::npos);
  o.revocation_plugin = "/usr/local/lib/guardian/guardian_revocation.so";
  const auto alone = mosquitto_listener_config(o);
  ASSERT_FALSE(alone);
  EXPECT_NE(alone.error().message.find("go together"), std::string::npos) << alone.error().describe();
  o.revoked_devices_file = "/var/lib/guardian-trust/revoked-devices";
  const auto conf = mosquitto_listener_config(o).value();
  EXPECT_NE(conf.find("plugin /usr/local/lib/guardian/guardian_revocation.so\n"
                      "plugin_opt_revoked_devices /var/lib/guardian-trust/revoked-devices\n"),
            std::string::npos)
      << conf;
}

TEST(DeviceIds, AreUsableAsCertificateNamesAndMqttUsernames) {
  EXPECT_TRUE(valid_device_id("store-042"));
  EXPECT_TRUE(valid_device_id("demo_espresso.01"));
  for (const char* bad : {"", "-store", "store/042", "store+", "a#", "ops@cloud", "store 42"})
    EXPECT_FALSE(valid_device_id(bad)) << bad;
  EXPECT_FALSE(valid_device_id(std::string(65, 'a')));
}

// Evidence made by a software identity: the real verifier, the real wire format, no TPM.
class SoftwareEvidence : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = open()->create_keys();
    ASSERT_TRUE(keys) << keys.error().describe();
    record_.id = "dev-laptop";
    record_.backend = config::IdentityBackend::software;
    record_.tls_public_der = keys.value().tls_public_der;
    record_.ak_public_der = keys.value().ak_public_der;
    policy_.allow_software_keys = true;
    gateway_ = {MeasurementKind::gateway, "/usr/bin/guardian", secure_link::sha256("gateway")};
    config_ = {MeasurementKind::config, "/etc/guardian/guardian.yaml", secure_link::sha256("config")};
    policy_.allowed[MeasurementKind::gateway][secure_link::to_hex(gateway_.file_sha256)] = "";
    policy_.allowed[MeasurementKind::config][secure_link::to_hex(config_.file_sha256)] = "";
  }

  // A software identity's PCRs live in the process: each instance starts from a "reboot".
  std::unique_ptr<secure_link::Identity> open() const {
    config::SecureLinkConfig c;
    c.identity.backend = config::IdentityBackend::software;
    c.state_dir = dir_.path();
    return secure_link::open_identity(c);
  }

  Evidence evidence(const std::vector<secure_link::Measurement>& log) {
    auto identity = open();
    const unsigned pcr = policy_.pcr;
    for (const auto& m : log) EXPECT_TRUE(identity->extend_pcr(pcr, secure_link::extend_digest(m)));
    const Bytes nonce(32, 0x5a);
    auto quote = identity->quote(pcr, nonce);
    EXPECT_TRUE(quote);
    return {nonce, quote.value(), log};
  }

  testing::TempDir dir_;
  DeviceRecord record_;
  Policy policy_;
  secure_link::Measurement gateway_, config_;
};

TEST_F(SoftwareEvidence, PassesWhenThePolicyAllowsSoftwareKeysAndEveryMeasurement) {
  EXPECT_TRUE(verify_evidence(record_, policy_, evidence({gateway_, config_})));
}

TEST_F(SoftwareEvidence, IsRefusedUnderTheDefaultPolicy) {
  policy_.allow_software_keys = false;
  const auto refused = verify_evidence(record_, policy_, evidence({gateway_, config_}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::software_key_refused));
}

TEST_F(SoftwareEvidence, CannotPassForATpmIdentity) {
  record_.backend = config::IdentityBackend::tpm;
  const auto refused = verify_evidence(record_, policy_, evidence({gateway_, config_}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::bad_signature));
  EXPECT_NE(refused.error().message.find("made by software"), std::string::npos)
      << refused.error().message;
}

TEST_F(SoftwareEvidence, IsRefusedWhenTheLastStartDidNotMeasureItsConfigurationOrMeasuredItTwice) {
  auto refused = verify_evidence(record_, policy_, evidence({gateway_}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::measurement_refused));
  EXPECT_NE(refused.error().message.find("did not measure its configuration"), std::string::npos)
      << refused.error().message;
  refused = verify_evidence(record_, policy_, evidence({gateway_, config_, config_}));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("more than once"), std::string::npos);
}

TEST_F(SoftwareEvidence, PassesForEveryStartOfTheGatewaySinceBootIncludingOneThatCrashed) {
  // The PCR cannot be reset: the log holds each start of this boot, a crashed one included.
  EXPECT_TRUE(verify_evidence(record_, policy_, evidence({gateway_, config_, gateway_, gateway_, config_})));
}

TEST_F(SoftwareEvidence, IsRefusedWhenAnEarlierStartOfThisBootRanSomethingThePolicyDoesNotAllow) {
  const secure_link::Measurement old_gateway{MeasurementKind::gateway, "/usr/bin/guardian",
                                             secure_link::sha256("gateway 0.9 (withdrawn)")};
  const auto refused = verify_evidence(record_, policy_, evidence({old_gateway, config_, gateway_, config_}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::measurement_refused));
  EXPECT_NE(refused.error().message.find(secure_link::to_hex(old_gateway.file_sha256)), std::string::npos);
}

TEST_F(SoftwareEvidence, IsRefusedForALogThatDoesNotBeginWithTheGateway) {
  const auto refused = verify_evidence(record_, policy_, evidence({config_, gateway_, config_}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::measurement_refused));
}

TEST_F(SoftwareEvidence, IsRefusedWhileThePolicyNamesAPcrAnyProgramCanReset) {
  policy_.pcr = 23;
  const auto refused = verify_evidence(record_, policy_, evidence({gateway_, config_}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::pcr_mismatch));
  EXPECT_NE(refused.error().message.find("can be reset"), std::string::npos) << refused.error().message;
}

TEST_F(SoftwareEvidence, IsRefusedWhenTheFirmwareListIsSetAndNoFirmwareWasMeasured) {
  policy_.allowed[MeasurementKind::firmware][std::string(64, 'f')] = "fw 2.1";
  const auto refused = verify_evidence(record_, policy_, evidence({gateway_, config_}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::measurement_refused));
  EXPECT_NE(refused.error().message.find("firmware"), std::string::npos);
}

TEST_F(SoftwareEvidence, IsRefusedForAnotherNonce) {
  auto e = evidence({gateway_, config_});
  e.nonce[0] ^= 1;
  const auto refused = verify_evidence(record_, policy_, e);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::bad_nonce));
}

TEST_F(SoftwareEvidence, IsRefusedForAKindSwappedInTheLog) {
  // The config's allowed hash presented as a gateway measurement: the kind is part of the
  // extended value, so the replay no longer matches the PCR.
  auto e = evidence({gateway_, config_});
  std::swap(e.event_log[0].kind, e.event_log[1].kind);
  const auto refused = verify_evidence(record_, policy_, e);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::pcr_mismatch));
}

}  // namespace
}  // namespace guardian::cloud

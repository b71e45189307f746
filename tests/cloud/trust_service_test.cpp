// The trust service as an operator runs it — the guardian-trust process, its registry and its
// operator CLI — attesting devices whose keys live in a real swtpm. Each refusal the issue asks
// for is its own case; the certificate it issues is checked by openssl and tpm2-tools, not by us.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "guardian/common/time_format.hpp"
#include "guardian/secure_link/attestation_client.hpp"
#include "guardian/secure_link/measurement_log.hpp"
#include "guardian/secure_link/tls_session.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "guardian/secure_link/trust_protocol.hpp"
#include "guardian/testing/device_rig.hpp"
#include "guardian/testing/postgres.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::cloud {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using secure_link::Measurement;
using secure_link::MeasurementKind;
using secure_link::MeasurementTarget;
using secure_link::TrustRefusal;
using test::DeviceRig;
using testing::SecureFleet;

SecureFleet::Options without_broker() {
  SecureFleet::Options o;
  o.broker = false;
  return o;
}

/// One TLS connection to the trust service, speaking its JSON lines directly — for the
/// requests a well-behaved AttestationClient would never send (replays).
class RawTrustSession {
 public:
  explicit RawTrustSession(const SecureFleet& fleet) : RawTrustSession(fleet, fleet.trust_port()) {}
  /// To the replica on `port`.
  RawTrustSession(const SecureFleet& fleet, std::uint16_t port) {
    secure_link::TlsClientOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.ca_file = fleet.ca_file();
    o.server_name = "localhost";
    auto s = secure_link::TlsSession::connect(o);
    if (!s) throw std::runtime_error(s.error().describe());
    session_ = std::move(s).value();
  }
  json call(const json& request) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    if (auto w = session_->write_all(request.dump() + "\n", deadline); !w)
      throw std::runtime_error(w.error().describe());
    auto line = session_->read_line(secure_link::kMaxTrustLine, deadline);
    if (!line) throw std::runtime_error(line.error().describe());
    return json::parse(line.value());
  }
  std::string nonce(const std::string& device) {
    const auto r = call({{"op", "nonce"}, {"device", device}});
    if (!r.value("ok", false)) throw std::runtime_error("no nonce: " + r.dump());
    return r.at("nonce").get<std::string>();
  }

 private:
  std::unique_ptr<secure_link::TlsSession> session_;
};

json attest_request(const std::string& device, const std::string& nonce_hex,
                    const secure_link::SignedAttestation& quote,
                    const std::vector<Measurement>& log) {
  return {{"op", "attest"},
          {"device", device},
          {"nonce", nonce_hex},
          {"quote",
           {{"attest", secure_link::to_base64(quote.attest)},
            {"signature", secure_link::to_base64(quote.signature)}}},
          {"event_log", secure_link::event_log_to_json(log)},
          {"lifetime_s", 3600}};
}

/// A provisioned, enrolled device whose measurements the policy allows, with its identity open,
/// its PCR measured and — a TPM device — its credential activated by a first attestation, so
/// that the service answers it plain nonces: ready to attest (or to replay).
struct AttestingDevice {
  AttestingDevice(SecureFleet& fleet, const std::string& id,
                  config::IdentityBackend backend = config::IdentityBackend::tpm)
      : rig(fleet, id, backend) {
    rig.enroll();
    rig.allow_this_process();
    identity = secure_link::open_identity(rig.cfg);
    auto keys = identity->find_keys();
    if (!keys || !keys.value()) throw std::runtime_error("the identity has no keys");
    tls_public_der = keys.value()->tls_public_der;
    measure(secure_link::measurement_targets(rig.cfg));
    if (auto first = attest(); !first)
      throw std::runtime_error("the first attestation failed: " + first.error().describe());
  }
  void measure(const std::vector<MeasurementTarget>& targets) {
    auto measured = secure_link::measure(*identity, kPcr, targets, rig.cfg.attestation.event_log);
    if (!measured) throw std::runtime_error(measured.error().describe());
    log = std::move(measured).value();
  }
  secure_link::SignedAttestation quote(const std::string& nonce_hex) {
    auto q = identity->quote(kPcr, secure_link::from_hex(nonce_hex).value());
    if (!q) throw std::runtime_error(q.error().describe());
    return q.value();
  }
  result<secure_link::IssuedCertificate> attest(std::chrono::seconds lifetime = 1h) {
    secure_link::AttestationClient client(rig.cfg.trust_service, rig.cfg.device_id);
    return client.attest(*identity, tls_public_der, kPcr, log, lifetime);
  }

  static constexpr unsigned kPcr = config::kDefaultMeasurementPcr;
  DeviceRig rig;
  std::unique_ptr<secure_link::Identity> identity;
  secure_link::Bytes tls_public_der;
  std::vector<Measurement> log;
};

/// The registry's size on disk: the database and its write-ahead log.
std::uintmax_t registry_bytes(const SecureFleet& fleet) {
  std::error_code ec;
  std::filesystem::path wal = fleet.registry();
  wal += "-wal";
  const auto wal_size = std::filesystem::file_size(wal, ec);
  return std::filesystem::file_size(fleet.registry()) + (ec ? 0 : wal_size);
}

/// `guardian-trust enroll` of the device's record after `edit` (a forgery, an old format).
testing::CommandResult enroll_edited_record(SecureFleet& fleet, DeviceRig& rig,
                                            const std::function<void(json&)>& edit) {
  rig.provision();
  auto record = json::parse(testing::read_file(rig.record_path()));
  edit(record);
  const auto edited = rig.dir / "edited.json";
  testing::write_file(edited, record.dump());
  return fleet.cli({"enroll", edited.string()}, /*may_fail=*/true);
}

TEST(TrustService, IssuesADayLongClientCertificateThatOpensslVerifiesAgainstTheFleetCa) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  auto issued = device.attest(24h);
  ASSERT_TRUE(issued) << issued.error().describe() << "\n" << fleet.trust_log();
  const auto& cert = issued.value();
  EXPECT_NE(cert.subject.find("CN=store-042"), std::string::npos) << cert.subject;
  EXPECT_EQ(cert.subject.find("software"), std::string::npos) << cert.subject;
  // 24 h from now, back-dated by at most a minute against clock skew.
  EXPECT_NEAR(std::chrono::duration<double>(cert.not_after - now_ms()).count(), 24 * 3600.0, 30.0);
  EXPECT_LE(cert.not_before, now_ms());
  EXPECT_GE(cert.not_before, now_ms() - 90s);

  const auto pem = device.rig.dir / "certificate.pem";
  testing::write_file(pem, cert.certificate_pem);
  const auto verify = testing::run_command(
      {"openssl", "verify", "-CAfile", fleet.ca_file().string(), "-purpose", "sslclient", pem.string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_NE(verify.output.find(": OK"), std::string::npos) << verify.output;
  const auto text = testing::run_command({"openssl", "x509", "-in", pem.string(), "-noout", "-text"});
  EXPECT_NE(text.output.find("TLS Web Client Authentication"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("CA:FALSE"), std::string::npos) << text.output;

  // The certified key is the TPM's own signing key, read back from the TPM by tpm2-tools.
  const auto tpm_pem = device.rig.dir / "tls-key-from-tpm.pem";
  const auto readpublic = testing::run_command(
      {"tpm2_readpublic", "-c", "0x81000101", "-f", "pem", "-o", tpm_pem.string()}, 30s,
      {{"TPM2TOOLS_TCTI", device.rig.swtpm->tcti()}});
  ASSERT_EQ(readpublic.exit_code, 0) << readpublic.output;
  const auto cert_key = testing::run_command({"openssl", "x509", "-in", pem.string(), "-noout", "-pubkey"});
  const auto tpm_key = testing::run_command({"openssl", "pkey", "-pubin", "-in", tpm_pem.string()});
  ASSERT_EQ(tpm_key.exit_code, 0) << tpm_key.output;
  EXPECT_EQ(cert_key.output, tpm_key.output);
}

TEST(TrustService, ARevokedDeviceGetsNoCertificate) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  ASSERT_TRUE(device.attest()) << fleet.trust_log();

  fleet.cli({"revoke", "store-042", "--reason", "reported stolen"});
  auto refused = device.attest();
  ASSERT_FALSE(refused);
  // Not even a nonce, and no word of why: whoever asks is not yet known to be the device, so the
  // answer does not say that the id is enrolled, nor that (or why) it was revoked.
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::not_accepted)) << refused.error().describe();
  EXPECT_EQ(refused.error().message.find("stolen"), std::string::npos) << refused.error().describe();
  RawTrustSession raw(fleet);
  const auto revoked_answer = raw.call({{"op", "nonce"}, {"device", "store-042"}});
  const auto unknown_answer = raw.call({{"op", "nonce"}, {"device", "store-043"}});
  EXPECT_EQ(revoked_answer.value("error", ""), "not_accepted");
  EXPECT_EQ(unknown_answer.value("error", ""), "not_accepted");
  // The operator sees the reason in the service's log, and the revocation in the registry.
  EXPECT_NE(fleet.trust_log().find("store-042 was revoked: reported stolen"), std::string::npos);
  const auto list = json::parse(fleet.cli({"list", "--json"}).output)["devices"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0]["revoked"].is_null());
  EXPECT_EQ(list[0]["revocation_reason"], "reported stolen");
}

TEST(TrustService, RefusesAChangedGatewayBinary) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  // A gateway binary the policy knows, measured the way the running binary is.
  const auto binary = device.rig.dir / "guardian";
  testing::write_file(binary, "guardian 0.1.0 as released\n");
  fleet.allow("gateway", binary);
  const std::vector<MeasurementTarget> targets{{MeasurementKind::gateway, binary},
                                               {MeasurementKind::config, device.rig.cfg.config_file}};
  device.measure(targets);
  ASSERT_TRUE(device.attest()) << fleet.trust_log();

  // One byte changed: the measurement no longer matches any allowed gateway.
  testing::write_file(binary, "guardian 0.1.0 as released!\n");
  device.measure(targets);
  auto refused = device.attest();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::measurement_refused))
      << refused.error().describe();
  const auto changed = secure_link::to_hex(secure_link::sha256_file(binary).value());
  EXPECT_NE(refused.error().message.find("gateway " + binary.string() + " has SHA-256 " + changed),
            std::string::npos)
      << refused.error().describe();
}

TEST(TrustService, TheFleetViewShowsWhatEachDeviceRunsAndFlagsWhatNeedsAttention) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  const auto binary = device.rig.dir / "guardian";
  testing::write_file(binary, "guardian 0.2.0 as released\n");
  fleet.allow("gateway", binary);
  const std::vector<MeasurementTarget> targets{{MeasurementKind::gateway, binary},
                                               {MeasurementKind::config, device.rig.cfg.config_file}};
  device.measure(targets);
  auto issued = device.attest();
  ASSERT_TRUE(issued) << fleet.trust_log();
  const auto digest = secure_link::to_hex(secure_link::sha256_file(binary).value());

  auto view = json::parse(fleet.cli({"list", "--json"}).output);
  ASSERT_EQ(view["devices"].size(), 1u);
  EXPECT_EQ(view["needing_attention"], 0u) << view.dump(2);
  EXPECT_EQ(view["devices"][0]["certificate"]["serial"], issued.value().serial);
  EXPECT_EQ(view["devices"][0]["running"]["gateway"], digest);
  EXPECT_TRUE(view["devices"][0]["attention"].empty());

  // The operator withdraws that build: the device still holds a certificate, but its next
  // renewal will be refused, and the view says so before it happens.
  fleet.cli({"policy", "disallow", "--kind", "gateway", "--sha256", digest});
  view = json::parse(fleet.cli({"list", "--json"}).output);
  EXPECT_EQ(view["needing_attention"], 1u) << view.dump(2);
  ASSERT_EQ(view["devices"][0]["attention"].size(), 1u) << view.dump(2);
  EXPECT_EQ(view["devices"][0]["attention"][0]["code"], "not_allowed");

  // Three refused attempts in a row: failing (which says more than "refused within the day").
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(device.attest());
  view = json::parse(fleet.cli({"list", "--json"}).output);
  EXPECT_EQ(view["devices"][0]["failures_in_a_row"], 3);
  EXPECT_EQ(view["devices"][0]["refusals_24h"], 3);
  std::set<std::string> codes;
  for (const auto& a : view["devices"][0]["attention"]) codes.insert(a["code"].get<std::string>());
  EXPECT_EQ(codes, (std::set<std::string>{"failing", "not_allowed"})) << view.dump(2);
  const auto text = fleet.cli({"list"}).output;
  EXPECT_NE(text.find("ATTENTION failing: its last 3 attestations were refused"), std::string::npos) << text;
  EXPECT_NE(text.find("1 device(s), 1 needing attention"), std::string::npos) << text;

  // Allowed again, it attests, and only the day's refusals remain to be looked at.
  fleet.allow("gateway", binary);
  ASSERT_TRUE(device.attest()) << fleet.trust_log();
  view = json::parse(fleet.cli({"list", "--json"}).output);
  ASSERT_EQ(view["devices"][0]["attention"].size(), 1u) << view.dump(2);
  EXPECT_EQ(view["devices"][0]["attention"][0]["code"], "refused");
}

TEST(TrustService, RequiresAnAllowedFirmwareImageOnceThePolicyListsOne) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  const auto firmware = device.rig.dir / "firmware.img";
  testing::write_file(firmware, "firmware 2.1\n");
  fleet.cli({"policy", "allow", "--kind", "firmware", "--file", firmware.string(), "--note", "fw 2.1"});
  // Without the image in its measurements the device is refused…
  auto refused = device.attest();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::measurement_refused));
  // …with it, accepted; with another image, refused.
  device.rig.cfg.attestation.firmware_image = firmware;
  device.measure(secure_link::measurement_targets(device.rig.cfg));
  ASSERT_TRUE(device.attest()) << fleet.trust_log();
  testing::write_file(firmware, "firmware 2.2-unsigned\n");
  device.measure(secure_link::measurement_targets(device.rig.cfg));
  refused = device.attest();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("firmware " + firmware.string()), std::string::npos)
      << refused.error().describe();
}

TEST(TrustService, RefusesAReplayedNonce) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  RawTrustSession raw(fleet);
  const auto nonce = raw.nonce("store-042");
  const auto request = attest_request("store-042", nonce, device.quote(nonce), device.log);
  ASSERT_TRUE(raw.call(request).value("ok", false)) << fleet.trust_log();

  // The same request again — nonce, quote and all — as an eavesdropper would replay it.
  RawTrustSession replay(fleet);
  const auto refused = replay.call(request);
  EXPECT_FALSE(refused.value("ok", true));
  EXPECT_EQ(refused.value("error", ""), "bad_nonce") << refused.dump();
  EXPECT_NE(refused.value("message", "").find("already used"), std::string::npos) << refused.dump();
}

TEST(TrustService, RefusesAReplayedQuote) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  RawTrustSession raw(fleet);
  const auto first = raw.nonce("store-042");
  const auto old_quote = device.quote(first);
  ASSERT_TRUE(raw.call(attest_request("store-042", first, old_quote, device.log)).value("ok", false));

  // A fresh nonce, answered with the old (genuine, correctly signed) quote.
  const auto fresh = raw.nonce("store-042");
  const auto refused = raw.call(attest_request("store-042", fresh, old_quote, device.log));
  EXPECT_FALSE(refused.value("ok", true));
  EXPECT_EQ(refused.value("error", ""), "bad_nonce") << refused.dump();
  EXPECT_NE(refused.value("message", "").find("another nonce"), std::string::npos) << refused.dump();
}

TEST(TrustService, RefusesANonceIssuedToAnotherDevice) {
  SecureFleet fleet(without_broker());
  AttestingDevice a(fleet, "store-a");
  AttestingDevice b(fleet, "store-b");
  RawTrustSession raw(fleet);
  const auto nonce_for_a = raw.nonce("store-a");
  const auto refused = raw.call(attest_request("store-b", nonce_for_a, b.quote(nonce_for_a), b.log));
  EXPECT_EQ(refused.value("error", ""), "bad_nonce") << refused.dump();
  EXPECT_NE(refused.value("message", "").find("another device"), std::string::npos) << refused.dump();
}

TEST(TrustService, RefusesAnEventLogThatDoesNotReproduceTheQuotedPcr) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  // Another configuration the policy also allows — but not the one that was measured.
  const auto other = device.rig.dir / "other.yaml";
  testing::write_file(other, "device:\n  id: someone-else\n");
  fleet.allow("config", other);
  RawTrustSession raw(fleet);
  const auto nonce = raw.nonce("store-042");
  auto forged_log = device.log;
  for (auto& event : forged_log)
    if (event.kind == MeasurementKind::config) event.file_sha256 = secure_link::sha256_file(other).value();
  const auto refused = raw.call(attest_request("store-042", nonce, device.quote(nonce), forged_log));
  EXPECT_EQ(refused.value("error", ""), "pcr_mismatch") << refused.dump();
}

TEST(TrustService, RefusesAQuoteNotSignedByTheEnrolledAttestationKey) {
  SecureFleet fleet(without_broker());
  AttestingDevice genuine(fleet, "store-042");
  AttestingDevice impostor(fleet, "store-666");
  RawTrustSession raw(fleet);
  // The impostor's TPM quotes the same measurements for store-042's nonce.
  const auto nonce = raw.nonce("store-042");
  const auto refused =
      raw.call(attest_request("store-042", nonce, impostor.quote(nonce), impostor.log));
  EXPECT_EQ(refused.value("error", ""), "bad_signature") << refused.dump();
}

TEST(TrustService, RefusesASoftwareKeyUnderTheDefaultPolicy) {
  SecureFleet fleet(without_broker());
  DeviceRig rig(fleet, "dev-laptop", config::IdentityBackend::software);
  rig.provision();
  const auto enrolled = fleet.cli({"enroll", rig.record_path().string()});
  EXPECT_NE(enrolled.output.find("software identity"), std::string::npos) << enrolled.output;
  rig.allow_this_process();
  auto identity = secure_link::open_identity(rig.cfg);
  auto log = secure_link::measure(*identity, AttestingDevice::kPcr, secure_link::measurement_targets(rig.cfg),
                                  rig.cfg.attestation.event_log);
  ASSERT_TRUE(log) << log.error().describe();
  secure_link::AttestationClient client(rig.cfg.trust_service, rig.cfg.device_id);
  auto refused = client.attest(*identity, identity->find_keys().value()->tls_public_der, AttestingDevice::kPcr,
                               log.value(), 1h);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::software_key_refused))
      << refused.error().describe();
  EXPECT_EQ(json::parse(fleet.cli({"policy", "show"}).output)["allow_software_keys"], false);
}

TEST(TrustService, AcceptsASoftwareKeyOnlyWhenThePolicySaysSoAndMarksItsCertificate) {
  SecureFleet fleet(without_broker());
  fleet.cli({"policy", "set", "--allow-software-keys", "true"});
  DeviceRig rig(fleet, "dev-laptop", config::IdentityBackend::software);
  rig.enroll();
  rig.allow_this_process();
  auto identity = secure_link::open_identity(rig.cfg);
  auto log = secure_link::measure(*identity, AttestingDevice::kPcr, secure_link::measurement_targets(rig.cfg),
                                  rig.cfg.attestation.event_log);
  ASSERT_TRUE(log) << log.error().describe();
  // The evidence itself says it was not made by a TPM.
  auto quote = identity->quote(AttestingDevice::kPcr, secure_link::Bytes(32, 0x42));
  ASSERT_TRUE(quote);
  EXPECT_TRUE(secure_link::parse_quote(quote.value().attest).value().software_generated);

  secure_link::AttestationClient client(rig.cfg.trust_service, rig.cfg.device_id);
  auto issued = client.attest(*identity, identity->find_keys().value()->tls_public_der, AttestingDevice::kPcr,
                              log.value(), 1h);
  ASSERT_TRUE(issued) << issued.error().describe();
  EXPECT_NE(issued.value().subject.find("OU=software-key"), std::string::npos)
      << issued.value().subject;
  // Its key files are private to the gateway's user.
  int key_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(rig.cfg.state_dir)) {
    if (entry.path().filename().string().find("key") == std::string::npos) continue;
    ++key_files;
    EXPECT_EQ(entry.status().permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
        << entry.path();
  }
  EXPECT_EQ(key_files, 2);
}

TEST(TrustService, AFirstAttestationActivatesACredentialAndIssuesTheApprovalTheTpmKeyNeeds) {
  SecureFleet fleet(without_broker());
  DeviceRig rig(fleet, "store-042");
  rig.enroll();
  rig.allow_this_process();
  EXPECT_NE(fleet.cli({"list"}).output.find("awaiting credential activation"), std::string::npos);
  // Until activation the service hands out no plain nonce: only a credential for this TPM's EK.
  RawTrustSession raw(fleet);
  const auto first = raw.call({{"op", "nonce"}, {"device", "store-042"}});
  EXPECT_TRUE(first.contains("credential")) << first.dump();
  EXPECT_FALSE(first.contains("nonce")) << first.dump();

  auto identity = secure_link::open_identity(rig.cfg);
  auto log = secure_link::measure(*identity, AttestingDevice::kPcr, secure_link::measurement_targets(rig.cfg),
                                  rig.cfg.attestation.event_log);
  ASSERT_TRUE(log) << log.error().describe();
  secure_link::AttestationClient client(rig.cfg.trust_service, rig.cfg.device_id);
  const auto keys = identity->find_keys().value().value();
  auto issued = client.attest(*identity, keys.tls_public_der, AttestingDevice::kPcr, log.value(), 1h);
  ASSERT_TRUE(issued) << issued.error().describe() << "\n" << fleet.trust_log();
  ASSERT_TRUE(issued.value().approval);
  // The approval unlocks the TLS key in the TPM: the device can now sign a handshake.
  ASSERT_TRUE(identity->use_approval(*issued.value().approval));
  EXPECT_TRUE(identity->sign(secure_link::HashAlgorithm::sha256, secure_link::Bytes(32, 1)));
  EXPECT_NE(fleet.cli({"list"}).output.find("activated 20"), std::string::npos);
  EXPECT_NE(fleet.trust_log().find("credential activated"), std::string::npos);
  const auto later = raw.call({{"op", "nonce"}, {"device", "store-042"}});
  EXPECT_TRUE(later.contains("nonce")) << later.dump();
}

TEST(TrustService, AnAttestationKeyFromAnotherTpmThanTheCertifiedEkNeverGetsACertificate) {
  SecureFleet fleet(without_broker());
  DeviceRig genuine(fleet, "store-a");   // a genuine TPM whose EK certificate is borrowed
  DeviceRig intruder(fleet, "store-b");  // the TPM whose keys want a certificate
  const auto a = genuine.provision();
  intruder.provision();
  auto forged = json::parse(testing::read_file(intruder.record_path()));
  forged["endorsement"] = json::parse(testing::read_file(genuine.record_path()))["endorsement"];
  testing::write_file(intruder.record_path(), forged.dump());
  // Everything in the record checks out on paper: a certified EK, an AK that certified the
  // TLS key for this id. Only the TPM can tell that the AK is not beside that EK.
  fleet.enroll(intruder.record_path());
  intruder.allow_this_process();
  auto identity = secure_link::open_identity(intruder.cfg);
  auto log = secure_link::measure(*identity, AttestingDevice::kPcr, secure_link::measurement_targets(intruder.cfg),
                                  intruder.cfg.attestation.event_log);
  ASSERT_TRUE(log);
  secure_link::AttestationClient client(intruder.cfg.trust_service, intruder.cfg.device_id);
  auto refused = client.attest(*identity, identity->find_keys().value()->tls_public_der,
                               AttestingDevice::kPcr, log.value(), 1h);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("TPM2_ActivateCredential"), std::string::npos)
      << refused.error().describe();
  EXPECT_NE(fleet.cli({"list"}).output.find("store-b  tpm  enrolled"), std::string::npos);
  EXPECT_NE(fleet.cli({"list"}).output.find("awaiting credential activation"), std::string::npos);
  EXPECT_EQ(fleet.trust_log().find("store-b: attested"), std::string::npos) << fleet.trust_log();
  (void)a;
}

TEST(TrustServiceCli, RefusesATpmWhoseEkCertificateChainsToNoConfiguredManufacturer) {
  SecureFleet fleet(without_broker());
  DeviceRig foreign(fleet, "store-f", config::IdentityBackend::tpm,
                    testing::SwtpmProcess::Endorsement::other_manufacturer);
  foreign.provision();
  auto refused = fleet.cli({"enroll", foreign.record_path().string()}, /*may_fail=*/true);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("does not chain to a configured TPM manufacturer CA"), std::string::npos)
      << refused.output;

  DeviceRig bare(fleet, "store-n", config::IdentityBackend::tpm, testing::SwtpmProcess::Endorsement::none);
  bare.provision();
  refused = fleet.cli({"enroll", bare.record_path().string()}, /*may_fail=*/true);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("no endorsement key certificate"), std::string::npos) << refused.output;
  EXPECT_EQ(json::parse(fleet.cli({"list", "--json"}).output)["devices"].size(), 0u);

  // Trusting that manufacturer (its CA, as a vendor publishes it) is the operator's decision.
  DeviceRig trusted_now(fleet, "store-t", config::IdentityBackend::tpm,
                        testing::SwtpmProcess::Endorsement::test_manufacturer);
  trusted_now.provision();
  EXPECT_EQ(fleet.cli({"enroll", trusted_now.record_path().string()}).exit_code, 0);
  const auto cas = fleet.cli({"tpm-ca", "list"});
  EXPECT_NE(cas.output.find("SHA256:"), std::string::npos) << cas.output;
}

TEST(TrustServiceCli, RefusesATlsKeyBoundToAnotherFleetsApprovalKey) {
  SecureFleet fleet(without_broker());
  SecureFleet other(without_broker());
  DeviceRig rig(fleet, "store-042");
  rig.cfg.trust_service.approval_key = other.approval_key();
  rig.provision();
  const auto refused = fleet.cli({"enroll", rig.record_path().string()}, /*may_fail=*/true);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("not bound to this fleet's approval key"), std::string::npos)
      << refused.output;
}

TEST(TrustServiceCli, RefusesARecordOfAnEarlierReleaseWithTheWayOut) {
  SecureFleet fleet(without_broker());
  DeviceRig rig(fleet, "store-042");
  const auto refused = enroll_edited_record(fleet, rig, [](json& r) { r["format"] = "guardian-enrollment-v1"; });
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("guardian identity provision --rotate"), std::string::npos) << refused.output;
}

TEST(TrustService, RefusesAnUnknownDeviceWithoutSayingWhatTheRegistryHolds) {
  SecureFleet fleet(without_broker());
  RawTrustSession raw(fleet);
  const auto refused = raw.call({{"op", "nonce"}, {"device", "never-enrolled"}});
  EXPECT_EQ(refused.value("error", ""), "not_accepted") << refused.dump();
}

TEST(TrustService, UnauthenticatedRequestsWriteNothingAndWhatTheyCarryIsLoggedEscapedAndBounded) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  const auto registry_before = registry_bytes(fleet);
  const auto audit_before = json::parse(fleet.cli({"list", "--json"}).output)["devices"][0]["last_result"];
  RawTrustSession raw(fleet);
  // A forged "ok" line and terminal escapes in the id; a huge id; garbage ops; and attestations
  // for the enrolled id that its attestation key did not sign.
  const std::string forged = "store-042\n2026-12-07T00:00:00.000Z info  [trust] store-666: attested, ok\x1b[2J";
  const auto flood_start = std::chrono::steady_clock::now();
  constexpr int kRounds = 50;
  for (int i = 0; i < kRounds; ++i) {
    EXPECT_EQ(raw.call({{"op", "nonce"}, {"device", forged}}).value("error", ""), "not_accepted");
    raw.call({{"op", "nonce"}, {"device", std::string(50000, 'x')}});
    raw.call({{"op", "exec\nrm -rf /"}});
    if (i % 5 == 4) raw = RawTrustSession(fleet);  // within the per-connection request limit
  }
  const auto flood_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now() - flood_start).count() + 1;
  // A line longer than the server takes (64 KiB) is not answered: the connection is closed.
  EXPECT_THROW(raw.call({{"op", "nonce"}, {"device", std::string(100000, 'y')}}), std::runtime_error);
  raw = RawTrustSession(fleet);
  const auto nonce = raw.nonce("store-042");
  auto unsigned_quote = device.quote(nonce);
  unsigned_quote.signature[unsigned_quote.signature.size() - 1] ^= 1;
  EXPECT_EQ(raw.call(attest_request("store-042", nonce, unsigned_quote, device.log)).value("error", ""),
            "bad_signature");
  // No audit row for any of it (the last outcome is still the first attestation's), and the
  // registry file grew by no more than the one nonce.
  EXPECT_EQ(json::parse(fleet.cli({"list", "--json"}).output)["devices"][0]["last_result"], audit_before);
  EXPECT_LT(registry_bytes(fleet), registry_before + 64 * 1024);
  // The nonce was not spent by the unsigned quote: the device's own quote still gets a certificate.
  EXPECT_EQ(raw.call(attest_request("store-042", nonce, device.quote(nonce), device.log)).value("ok", false), true);
  const auto log = fleet.trust_log();
  EXPECT_EQ(log.find("store-666: attested"), std::string::npos) << "a forged line reached the log";
  EXPECT_EQ(log.find("\x1b["), std::string::npos) << "a terminal escape reached the log";
  EXPECT_EQ(log.find(std::string(1000, 'x')), std::string::npos) << "an unbounded id reached the log";
  // At most 20 refusal lines a second reach the log, however many arrive.
  std::size_t logged = 0;
  for (auto at = log.find("request refused"); at != std::string::npos; at = log.find("request refused", at + 1))
    ++logged;
  EXPECT_LE(logged, static_cast<std::size_t>(20 * (flood_seconds + 1))) << logged << " lines in " << flood_seconds << " s";
}

TEST(TrustServiceCli, RefusesAnEnrollmentRecordCopiedToClaimAnotherDeviceId) {
  SecureFleet fleet(without_broker());
  DeviceRig rig(fleet, "store-042");
  const auto refused = enroll_edited_record(fleet, rig, [](json& r) { r["device_id"] = "store-001"; });
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("made for another device id"), std::string::npos) << refused.output;
  EXPECT_EQ(json::parse(fleet.cli({"list", "--json"}).output)["devices"].size(), 0u);
}

TEST(TrustServiceCli, ListShowsUntilWhenTheBrokersCrlIsGoodAndServeNeverLetsItLapse) {
  SecureFleet fleet(without_broker());
  const auto list = json::parse(fleet.cli({"list", "--json"}).output);
  ASSERT_FALSE(list["crl"].is_null()) << list.dump();
  EXPECT_EQ(list["crl"]["expired"], false);
  EXPECT_GE(list["crl"]["number"].get<int>(), 1);
  const auto next = parse_rfc3339(list["crl"]["next_update"].get<std::string>());
  ASSERT_TRUE(next);
  EXPECT_GT(*next, now_ms() + 6 * 24h);  // --crl-validity 7d
  EXPECT_NE(fleet.cli({"list"}).output.find("CRL #"), std::string::npos);
  // A refresh slower than half the validity could let the CRL lapse: refused before serving.
  testing::TempDir dir;
  const auto refused = testing::run_command(
      {testing::binary_path("guardian-trust").string(), "serve", "--registry", (dir / "r.db").string(),
       "--listen", "127.0.0.1:0", "--cert", fleet.pki().pem("trust"), "--key", fleet.pki().key("trust"),
       "--ca-cert", fleet.ca_file().string(), "--ca-key", fleet.ca_key().string(), "--approval-key",
       fleet.approval_private_key().string(), "--crl", (dir / "crl.pem").string(), "--crl-validity",
       "2d", "--crl-refresh", "36h"},
      20s);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("--crl-refresh (36h) must be at most half of --crl-validity"),
            std::string::npos)
      << refused.output;
}

TEST(TrustServiceCli, RefusesToServeWithAFleetCaKeyOthersCanRead) {
  SecureFleet fleet(without_broker());
  testing::TempDir dir;
  const auto loose = dir / "ca.key";
  std::filesystem::copy_file(fleet.ca_key(), loose);
  std::filesystem::permissions(loose, std::filesystem::perms::owner_read |
                                          std::filesystem::perms::owner_write |
                                          std::filesystem::perms::others_read);
  const auto refused = testing::run_command(
      {testing::binary_path("guardian-trust").string(), "serve", "--registry",
       (dir / "r.db").string(), "--listen", "127.0.0.1:0", "--cert", fleet.pki().pem("trust"),
       "--key", fleet.pki().key("trust"), "--ca-cert", fleet.ca_file().string(), "--ca-key",
       loose.string(), "--approval-key", fleet.approval_private_key().string()},
      20s);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("--ca-key " + loose.string() + " has mode 0604"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("chmod 600"), std::string::npos) << refused.output;
}

TEST(TrustServiceCli, EnrollsListsSetsPolicyAndRevokes) {
  SecureFleet fleet(without_broker());
  DeviceRig rig(fleet, "store-042");
  rig.provision();
  const auto enrolled = fleet.cli({"enroll", rig.record_path().string()});
  EXPECT_NE(enrolled.output.find("enrolled store-042 (tpm identity)"), std::string::npos) << enrolled.output;
  // Enrolling the same id again needs --replace (a replaced TPM), so a typo cannot overwrite.
  const auto again = fleet.cli({"enroll", rig.record_path().string()}, true);
  EXPECT_NE(again.exit_code, 0) << again.output;
  EXPECT_EQ(fleet.cli({"enroll", rig.record_path().string(), "--replace"}).exit_code, 0);

  const auto binary = rig.dir / "guardian";
  testing::write_file(binary, "a gateway build\n");
  fleet.cli({"policy", "allow", "--kind", "gateway", "--file", binary.string(), "--note", "0.1.0"});
  auto policy = json::parse(fleet.cli({"policy", "show"}).output);
  ASSERT_EQ(policy["allowed"]["gateway"].size(), 1u);
  EXPECT_EQ(policy["allowed"]["gateway"][0]["sha256"],
            secure_link::to_hex(secure_link::sha256_file(binary).value()));
  EXPECT_EQ(policy["allowed"]["gateway"][0]["note"], "0.1.0");
  fleet.cli({"policy", "disallow", "--kind", "gateway", "--file", binary.string()});
  fleet.cli({"policy", "set", "--max-lifetime", "8h"});
  policy = json::parse(fleet.cli({"policy", "show"}).output);
  EXPECT_TRUE(policy["allowed"]["gateway"].empty());
  EXPECT_EQ(policy["max_lifetime_s"], 8 * 3600);

  const auto list = fleet.cli({"list"});
  EXPECT_NE(list.output.find("store-042  tpm  enrolled"), std::string::npos) << list.output;
  EXPECT_NE(fleet.cli({"revoke", "store-042"}).output.find("revoked store-042"), std::string::npos);
  const auto unknown = fleet.cli({"revoke", "store-999"}, true);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("no device \"store-999\""), std::string::npos) << unknown.output;
}

TEST(TrustService, PublishesACrlThatOpensslVerifiesAndThatListsARevokedDevicesCertificates) {
  SecureFleet fleet(without_broker());
  AttestingDevice device(fleet, "store-042");
  auto issued = device.attest();
  ASSERT_TRUE(issued) << fleet.trust_log();
  fleet.cli({"revoke", "store-042"});
  std::string serial = issued.value().serial;
  for (auto& c : serial) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto crl = testing::run_command(
            {"openssl", "crl", "-in", fleet.crl().string(), "-noout", "-text"});
        return crl.output.find(serial) != std::string::npos;
      },
      10s));
  const auto verified = testing::run_command({"openssl", "crl", "-in", fleet.crl().string(),
                                              "-CAfile", fleet.ca_file().string(), "-noout"});
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_NE(verified.output.find("verify OK"), std::string::npos) << verified.output;
  // And openssl, given the CRL, refuses the certificate.
  const auto pem = device.rig.dir / "certificate.pem";
  testing::write_file(pem, issued.value().certificate_pem);
  const auto chain = testing::run_command({"openssl", "verify", "-crl_check", "-CAfile",
                                           fleet.ca_file().string(), "-CRLfile",
                                           fleet.crl().string(), pem.string()});
  EXPECT_NE(chain.exit_code, 0);
  EXPECT_NE(chain.output.find("certificate revoked"), std::string::npos) << chain.output;
}

// Scale-out: two guardian-trust processes (as on two machines) on one real PostgreSQL server.
TEST(TrustServiceReplicas, TwoReplicasOnOnePostgresqlServeOneFleetNonceAndRevocationAlike) {
  testing::PostgresServer postgres;
  auto options = without_broker();
  options.registry = postgres.create_database("fleet");
  SecureFleet fleet(options);
  const auto second_port = fleet.start_replica();
  // Enrolled through the CLI on the shared database, activated at the first replica.
  AttestingDevice device(fleet, "store-042");

  // A nonce issued by one replica is redeemed at the other — once.
  RawTrustSession one(fleet), two(fleet, second_port);
  const auto nonce = one.nonce("store-042");
  const auto request = attest_request("store-042", nonce, device.quote(nonce), device.log);
  const auto answer = two.call(request);
  ASSERT_TRUE(answer.value("ok", false)) << answer.dump() << fleet.trust_log();
  const auto serial = answer.at("serial").get<std::string>();
  const auto replay = one.call(request);
  EXPECT_FALSE(replay.value("ok", true));
  EXPECT_EQ(replay.value("error", ""), "bad_nonce") << replay.dump();

  // A revocation is enforced by both: no nonce from either, and each replica's CRL lists the
  // certificate the other one issued.
  fleet.cli({"revoke", "store-042", "--reason", "stolen"});
  EXPECT_EQ(one.call({{"op", "nonce"}, {"device", "store-042"}}).value("error", ""), "not_accepted");
  EXPECT_EQ(two.call({{"op", "nonce"}, {"device", "store-042"}}).value("error", ""), "not_accepted");
  std::string upper = serial;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& crl : {fleet.crl(), fleet.replica_crl(1)})
    EXPECT_TRUE(testing::wait_until(
        [&] {
          return testing::run_command({"openssl", "crl", "-in", crl.string(), "-noout", "-text"})
                     .output.find(upper) != std::string::npos;
        },
        10s))
        << crl;
  // The fleet view reads the same database.
  const auto list = json::parse(fleet.cli({"list", "--json"}).output);
  EXPECT_FALSE(list["devices"][0]["revoked"].is_null()) << list.dump(2);
}

}  // namespace
}  // namespace guardian::cloud

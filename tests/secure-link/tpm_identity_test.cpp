// The TPM identity against a real software TPM (swtpm on an owner-only Unix socket), checked and
// attacked independently with tpm2-tools: another process that can reach the TPM must not be
// able to sign with the TLS key, quote with the attestation key, or rewind the measured PCR.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <mbedtls/md.h>

#include <nlohmann/json.hpp>

#include "guardian/cloud/approval_signer.hpp"
#include "guardian/secure_link/attestation_client.hpp"
#include "guardian/secure_link/endorsement.hpp"
#include "guardian/secure_link/enrollment.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/measurement_log.hpp"
#include "guardian/secure_link/tpm_policy.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "guardian/testing/process.hpp"
#include "guardian/testing/swtpm.hpp"

namespace guardian::secure_link {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::SwtpmProcess;
using testing::TempDir;

constexpr unsigned kPcr = config::kDefaultMeasurementPcr;

testing::CommandResult tpm2(const SwtpmProcess& tpm, std::vector<std::string> argv) {
  return testing::run_command(argv, 30s, {{"TPM2TOOLS_TCTI", tpm.tcti()}});
}

// The fleet's approval key, made with openssl as the docs say, signing with the trust service's
// own signer.
struct Approver {
  Approver() {
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.string()},
             {"openssl", "ec", "-in", key.string(), "-pubout", "-out", pub.string()}}) {
      const auto r = testing::run_command(argv, 30s);
      if (r.exit_code != 0) throw std::runtime_error(r.output);
    }
    ::chmod(key.c_str(), 0600);
    auto loaded = cloud::ApprovalSigner::load(key);
    if (!loaded) throw std::runtime_error(loaded.error().describe());
    signer = std::move(loaded).value();
  }
  TempDir dir{"guardian-approver"};
  fs::path key = dir / "approval.key";
  fs::path pub = dir / "approval.pub.pem";
  std::unique_ptr<cloud::ApprovalSigner> signer;
};

// A gateway's view of its TPM: the configuration, the identity, and the files it measures.
struct Device {
  explicit Device(SwtpmProcess& t, const std::string& id = "store-042") : tpm(t) {
    cfg.identity.tcti = tpm.tcti();
    cfg.state_dir = dir / "identity";
    cfg.device_id = id;
    cfg.trust_service.approval_key = approver.pub;
    cfg.attestation.event_log = dir / "run" / "measurements.json";
    cfg.config_file = dir / "site.yaml";
    testing::write_file(cfg.config_file, "device:\n  id: " + id + "\n");
    testing::write_file(binary, "gateway binary 1.0");
    identity = open_identity(cfg);
  }
  void reopen() { identity = open_identity(cfg); }
  [[nodiscard]] std::vector<MeasurementTarget> targets() const {
    return {{MeasurementKind::gateway, binary}, {MeasurementKind::config, cfg.config_file}};
  }
  std::vector<Measurement> measure_now() {
    auto log = measure(*identity, kPcr, targets(), cfg.attestation.event_log);
    if (!log) throw std::runtime_error(log.error().describe());
    return log.value();
  }
  // What the trust service does after a good quote: approve the state the PCR holds now.
  void approve_current_state() {
    auto value = identity->read_pcr(kPcr);
    if (!value) throw std::runtime_error(value.error().describe());
    const auto digest = quote_pcr_digest(value.value());
    auto approval = approver.signer->approve(kPcr, digest, cfg.device_id);
    if (!approval) throw std::runtime_error(approval.error().describe());
    auto used = identity->use_approval(approval.value());
    if (!used) throw std::runtime_error(used.error().describe());
    last_approval = approval.value();
  }
  result<Bytes> sign() { return identity->sign(HashAlgorithm::sha256, Bytes(32, 0x5a)); }

  SwtpmProcess& tpm;
  TempDir dir{"guardian-device"};
  Approver approver;
  fs::path binary = dir / "guardian";
  config::SecureLinkConfig cfg;
  std::unique_ptr<Identity> identity;
  PolicyApproval last_approval;
};

bool verifies(const Bytes& spki, mbedtls_md_type_t md, const Bytes& digest, const Bytes& signature) {
  auto key = PkKey::from_public_der(spki);
  return key && mbedtls_pk_verify(key.value()->get(), md, digest.data(), digest.size(),
                                  signature.data(), signature.size()) == 0;
}

TEST(TpmIdentity, ProvisioningMakesNonExportableKeysThatOnlyItsPolicyUnlocks) {
  SwtpmProcess tpm;
  Device device(tpm);
  auto record = provision_identity(*device.identity, "store-042");
  ASSERT_TRUE(record) << record.error().describe();

  // An independent implementation reads the keys back from the TPM. The TLS key has no
  // userWithAuth: only a policy session can use it, and its policy is the one the fleet expects.
  const auto tls = tpm2(tpm, {"tpm2_readpublic", "-c", "0x81000101"});
  ASSERT_EQ(tls.exit_code, 0) << tls.output;
  EXPECT_NE(tls.output.find("fixedtpm|fixedparent|sensitivedataorigin|noda|sign"), std::string::npos)
      << tls.output;
  EXPECT_EQ(tls.output.find("userwithauth"), std::string::npos) << tls.output;
  auto approver = load_approval_key(device.approver.pub);
  ASSERT_TRUE(approver) << approver.error().describe();
  EXPECT_NE(tls.output.find("authorization policy: " +
                            to_hex(tls_key_policy(approver.value(), "store-042"))),
            std::string::npos)
      << tls.output;
  const auto ak = tpm2(tpm, {"tpm2_readpublic", "-c", "0x81000102"});
  ASSERT_EQ(ak.exit_code, 0) << ak.output;
  EXPECT_NE(ak.output.find("fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign"),
            std::string::npos)
      << ak.output;

  // The authorization value both keys need: readable by the gateway's user only.
  struct stat st{};
  ASSERT_EQ(::stat((device.cfg.state_dir / kKeyAuthFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // What the record says is what the TPM holds, with the manufacturer's EK certificate.
  auto parsed = parse_tpm_public(record.value().keys.tls_tpm_public);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_NE(tls.output.find("name: " + to_hex(parsed.value().name)), std::string::npos) << tls.output;
  ASSERT_TRUE(record.value().tls_key_certification);
  ASSERT_TRUE(record.value().endorsement);
  auto ek = parse_tpm_public(record.value().endorsement->ek_tpm_public);
  ASSERT_TRUE(ek) << ek.error().describe();
  EXPECT_TRUE(check_ek_template(ek.value()));
  auto certified = verify_ek_certificate(record.value().endorsement->ek_certificate, ek.value().spki_der,
                                         testing::read_file(SwtpmProcess::manufacturer_ca_file()));
  EXPECT_TRUE(certified) << certified.error().describe();
}

TEST(TpmIdentity, AnotherProcessWithTheTpmSocketCannotSignQuoteOrResetThePcr) {
  SwtpmProcess tpm;
  Device device(tpm);
  ASSERT_TRUE(provision_identity(*device.identity, "store-042"));
  device.measure_now();
  device.approve_current_state();
  ASSERT_TRUE(device.sign());  // the gateway itself can, in this state
  testing::write_file(device.dir / "message", "speak as the device");

  // tpm2-tools on the same socket, as a process that is not the gateway would.
  const auto sign = tpm2(tpm, {"tpm2_sign", "-c", "0x81000101", "-g", "sha256", "-s", "rsassa",
                               "-o", (device.dir / "sig").string(), (device.dir / "message").string()});
  EXPECT_NE(sign.exit_code, 0) << sign.output;
  EXPECT_NE(sign.output.find("authValue or authPolicy is not available"), std::string::npos)  // TPM_RC_AUTH_UNAVAILABLE
      << sign.output;
  EXPECT_FALSE(fs::exists(device.dir / "sig"));
  // Even with the authorization value (which root could read), a plain authorization is refused:
  // the key has no userWithAuth, so only its policy — the approved PCR state — unlocks it.
  const auto secret = testing::read_file(device.cfg.state_dir / kKeyAuthFile);
  const auto hex_secret = "hex:" + to_hex(ByteView(reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()));
  const auto with_auth = tpm2(tpm, {"tpm2_sign", "-c", "0x81000101", "-p", hex_secret, "-g", "sha256",
                                    "-s", "rsassa", "-o", (device.dir / "sig").string(),
                                    (device.dir / "message").string()});
  EXPECT_NE(with_auth.exit_code, 0) << with_auth.output;
  EXPECT_FALSE(fs::exists(device.dir / "sig"));

  const auto quote = tpm2(tpm, {"tpm2_quote", "-c", "0x81000102", "-l", "sha256:" + std::to_string(kPcr),
                                "-q", std::string(64, 'a'), "-m", (device.dir / "quote.msg").string(),
                                "-s", (device.dir / "quote.sig").string()});
  EXPECT_NE(quote.exit_code, 0) << quote.output;
  EXPECT_NE(quote.output.find("authorization failure"), std::string::npos) << quote.output;  // TPM_RC_BAD_AUTH
  EXPECT_FALSE(fs::exists(device.dir / "quote.sig"));

  const auto before = device.identity->read_pcr(kPcr);
  ASSERT_TRUE(before);
  const auto reset = tpm2(tpm, {"tpm2_pcrreset", std::to_string(kPcr)});
  EXPECT_NE(reset.exit_code, 0) << reset.output;
  EXPECT_EQ(device.identity->read_pcr(kPcr).value(), before.value());

  // The control: with the secret, root's tpm2_quote works (the AK is meant to quote any state),
  // so the refusals above come from the missing secret and the TLS key's policy, not from a
  // command line tpm2-tools did not understand.
  const auto root_quote = tpm2(tpm, {"tpm2_quote", "-c", "0x81000102", "-p", hex_secret, "-l",
                                     "sha256:" + std::to_string(kPcr), "-q", std::string(64, 'a'), "-m",
                                     (device.dir / "quote.msg").string(), "-s",
                                     (device.dir / "quote.sig").string()});
  EXPECT_EQ(root_quote.exit_code, 0) << root_quote.output;

  // None of that locked the gateway out (noDA keys): it still signs and quotes.
  EXPECT_TRUE(device.sign());
  EXPECT_TRUE(device.identity->quote(kPcr, Bytes(32, 1)));
}

TEST(TpmIdentity, SignsWithEveryTls12HashOnlyWhileThePcrHoldsTheApprovedState) {
  SwtpmProcess tpm;
  Device device(tpm);
  auto keys = device.identity->create_keys();
  ASSERT_TRUE(keys) << keys.error().describe();
  device.measure_now();

  auto unapproved = device.sign();
  ASSERT_FALSE(unapproved);
  EXPECT_NE(unapproved.error().message.find("approv"), std::string::npos) << unapproved.error().message;

  device.approve_current_state();
  for (const auto& [hash, md, size] : {std::tuple{HashAlgorithm::sha256, MBEDTLS_MD_SHA256, 32},
                                       std::tuple{HashAlgorithm::sha384, MBEDTLS_MD_SHA384, 48}}) {
    const Bytes digest(static_cast<std::size_t>(size), 0x5a);
    auto signature = device.identity->sign(hash, digest);
    ASSERT_TRUE(signature) << signature.error().describe();
    EXPECT_EQ(signature.value().size(), kTlsSignatureSize);
    EXPECT_TRUE(verifies(keys.value().tls_public_der, md, digest, signature.value()));
  }

  // Another program extends the PCR (it cannot reset it): the approved state is gone, and the
  // TPM — not Guardian — refuses to sign.
  const auto extend = tpm2(tpm, {"tpm2_pcrextend", std::to_string(kPcr) + ":sha256=" + std::string(64, 'b')});
  ASSERT_EQ(extend.exit_code, 0) << extend.output;
  auto refused = device.sign();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code.category(), tss2_category()) << refused.error().describe();
  EXPECT_NE(refused.error().message.find("no longer holds the state the fleet approved"), std::string::npos)
      << refused.error().describe();
}

TEST(TpmIdentity, AGatewayWhoseBinaryChangedCannotSignUntilItsNewStateIsApproved) {
  SwtpmProcess tpm;
  Device device(tpm);
  ASSERT_TRUE(device.identity->create_keys());
  device.measure_now();
  device.approve_current_state();
  ASSERT_TRUE(device.sign());

  const auto old_approval = device.last_approval;

  // An update replaces the binary; the gateway restarts and measures what it now runs. The
  // approval of the old state is genuine (the TPM accepts its signature) but unlocks nothing.
  testing::write_file(device.binary, "gateway binary 1.1");
  device.reopen();
  device.measure_now();
  ASSERT_TRUE(device.identity->use_approval(old_approval));
  auto stale = device.sign();
  ASSERT_FALSE(stale) << "the approval of another state unlocked the key";
  EXPECT_EQ(stale.error().code.category(), tss2_category());
  device.approve_current_state();  // the fleet allows the new binary and approves its state
  EXPECT_TRUE(device.sign());
}

TEST(TpmIdentity, AnApprovalSignedByAnotherKeyOrForAnotherDeviceIsRefusedByTheTpm) {
  SwtpmProcess tpm;
  Device device(tpm);
  ASSERT_TRUE(device.identity->create_keys());
  device.measure_now();
  const auto value = device.identity->read_pcr(kPcr).value();
  const auto digest = quote_pcr_digest(value);

  Approver stranger;
  auto foreign = stranger.signer->approve(kPcr, digest, "store-042");
  ASSERT_TRUE(foreign);
  auto used = device.identity->use_approval(foreign.value());
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error().code.category(), tss2_category()) << used.error().describe();

  auto other_device = device.approver.signer->approve(kPcr, digest, "store-043");
  ASSERT_TRUE(other_device);
  EXPECT_FALSE(device.identity->use_approval(other_device.value()));
  EXPECT_FALSE(device.sign());
}

TEST(TpmIdentity, TheApprovedPolicyOfAStateIsWhatTpm2ToolsComputesForIt) {
  SwtpmProcess tpm;
  Device device(tpm);
  device.measure_now();
  const auto d = device.dir.path();
  // A trial session (no authorization: it only computes) over the PCR's current value.
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"tpm2_startauthsession", "-S", (d / "s.ctx").string()},
           {"tpm2_policypcr", "-S", (d / "s.ctx").string(), "-l", "sha256:" + std::to_string(kPcr), "-L",
            (d / "policy.bin").string()},
           {"tpm2_flushcontext", (d / "s.ctx").string()}}) {
    const auto r = tpm2(tpm, argv);
    ASSERT_EQ(r.exit_code, 0) << argv[0] << ": " << r.output;
  }
  const auto from_tpm = testing::read_file(d / "policy.bin");
  const auto ours = pcr_policy(kPcr, quote_pcr_digest(device.identity->read_pcr(kPcr).value()));
  EXPECT_EQ(to_hex(ByteView(reinterpret_cast<const std::uint8_t*>(from_tpm.data()), from_tpm.size())),
            to_hex(ours));
}

TEST(TpmIdentity, MeasurementsSurviveARestartOfTheGatewayButNotOfTheTpm) {
  SwtpmProcess tpm;
  Device device(tpm);
  const auto first = device.measure_now();
  ASSERT_EQ(first.size(), 2u);
  const auto pcr = device.identity->read_pcr(kPcr).value();
  EXPECT_EQ(pcr, replay_event_log(first));

  // The gateway restarts with the same binary and configuration: nothing new is extended, so
  // the approved state (and the stored certificate) stays usable.
  device.reopen();
  EXPECT_EQ(device.measure_now().size(), 2u);
  EXPECT_EQ(device.identity->read_pcr(kPcr).value(), pcr);

  // With another configuration it appends a start; the trust service replays all of it.
  testing::write_file(device.cfg.config_file, "device:\n  id: store-042\n# edited\n");
  device.reopen();
  const auto grown = device.measure_now();
  ASSERT_EQ(grown.size(), 4u);
  EXPECT_EQ(device.identity->read_pcr(kPcr).value(), replay_event_log(grown));

  // A reboot (the TPM restarts: PCRs start from zero) starts a new log.
  tpm.stop();
  tpm.start();
  device.reopen();
  EXPECT_EQ(device.measure_now().size(), 2u);
}

TEST(TpmIdentity, APcrExtendedByAnotherProgramIsReportedNotPapered) {
  SwtpmProcess tpm;
  Device device(tpm);
  device.measure_now();
  ASSERT_EQ(tpm2(tpm, {"tpm2_pcrextend", std::to_string(kPcr) + ":sha256=" + std::string(64, 'c')}).exit_code, 0);
  device.reopen();
  auto log = measure(*device.identity, kPcr, device.targets(), device.cfg.attestation.event_log);
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().message.find("another program extended it"), std::string::npos)
      << log.error().message;
  EXPECT_FALSE(read_measurement_log(*device.identity, kPcr, device.cfg.attestation.event_log));
}

TEST(TpmIdentity, ACrashBetweenWritingTheLogAndExtendingLeavesAUsableLog) {
  SwtpmProcess tpm;
  Device device(tpm);
  device.measure_now();
  // A start that wrote its events to the log and died before extending the PCR.
  auto text = testing::read_file(device.cfg.attestation.event_log);
  auto j = nlohmann::json::parse(text);
  j["events"].push_back({{"kind", "gateway"}, {"path", "/crashed"}, {"sha256", std::string(64, 'd')}});
  testing::write_file(device.cfg.attestation.event_log, j.dump());
  testing::write_file(device.binary, "gateway binary 2.0");
  device.reopen();
  const auto log = device.measure_now();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[2].path, device.binary.string());
  EXPECT_EQ(device.identity->read_pcr(kPcr).value(), replay_event_log(log));
}

TEST(TpmIdentity, ActivatesOnlyACredentialMadeForItsOwnEndorsementAndAttestationKeys) {
  SwtpmProcess tpm;
  SwtpmProcess other;
  Device device(tpm);
  Device stranger(other, "store-999");
  ASSERT_TRUE(device.identity->create_keys());
  ASSERT_TRUE(stranger.identity->create_keys());
  auto mine = device.identity->endorsement();
  ASSERT_TRUE(mine) << mine.error().describe();
  auto theirs = stranger.identity->endorsement();
  ASSERT_TRUE(theirs) << theirs.error().describe();
  const auto keys = device.identity->find_keys().value().value();
  const auto ak_name = parse_tpm_public(keys.ak_tpm_public).value().name;
  const Bytes secret(32, 0x77);

  auto credential = make_credential(mine.value().ek_tpm_public, ak_name, secret);
  ASSERT_TRUE(credential) << credential.error().describe();
  auto opened = device.identity->activate_credential(credential.value());
  ASSERT_TRUE(opened) << opened.error().describe();
  EXPECT_EQ(opened.value(), secret);

  // A record that pairs this AK with another TPM's (genuine) EK: the credential is encrypted
  // to that EK, and this TPM cannot open it.
  auto misbound = make_credential(theirs.value().ek_tpm_public, ak_name, secret);
  ASSERT_TRUE(misbound);
  auto refused = device.identity->activate_credential(misbound.value());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code.category(), tss2_category()) << refused.error().describe();
  // And the other TPM cannot open a credential bound to this TPM's AK name with its own EK.
  auto not_its_ak = make_credential(theirs.value().ek_tpm_public, ak_name, secret);
  EXPECT_FALSE(stranger.identity->activate_credential(not_its_ak.value()));
}

TEST(TpmIdentity, ReadsTheEkCertificateTheManufacturerWroteAndNoneWhenThereIsNone) {
  SwtpmProcess certified;
  SwtpmProcess uncertified(SwtpmProcess::Endorsement::none);
  Device a(certified);
  Device b(uncertified);
  auto with = a.identity->endorsement();
  ASSERT_TRUE(with) << with.error().describe();
  auto info = describe_ek_certificate(with.value().ek_certificate);
  ASSERT_TRUE(info) << info.error().describe();
  // tpm2-tools reads the same EK (the persistent one swtpm_setup made).
  const auto ek = tpm2(certified, {"tpm2_readpublic", "-c", "0x81010001"});
  ASSERT_EQ(ek.exit_code, 0) << ek.output;
  EXPECT_NE(ek.output.find("name: " + to_hex(parse_tpm_public(with.value().ek_tpm_public).value().name)),
            std::string::npos);
  auto without = b.identity->endorsement();
  ASSERT_TRUE(without) << without.error().describe();
  EXPECT_TRUE(without.value().ek_certificate.empty());
  EXPECT_TRUE(check_ek_template(parse_tpm_public(without.value().ek_tpm_public).value()));
}

TEST(TpmIdentity, KeysOfAnEarlierReleaseAreRefusedUntilRotated) {
  SwtpmProcess tpm;
  Device device(tpm);
  // Guardian 0.1's keys, made with tpm2-tools: empty authorization, no policy.
  const auto d = device.dir.path();
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb", "-c", (d / "p.ctx").string()},
           {"tpm2_create", "-C", (d / "p.ctx").string(), "-g", "sha256", "-G", "rsa2048:null:null", "-a",
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", "-u", (d / "t.pub").string(), "-r",
            (d / "t.priv").string()},
           {"tpm2_load", "-C", (d / "p.ctx").string(), "-u", (d / "t.pub").string(), "-r",
            (d / "t.priv").string(), "-c", (d / "t.ctx").string()},
           {"tpm2_evictcontrol", "-C", "o", "-c", (d / "t.ctx").string(), "0x81000101"},
           {"tpm2_create", "-C", (d / "p.ctx").string(), "-g", "sha256", "-G", "ecc256:ecdsa-sha256:null", "-a",
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign", "-u",
            (d / "a.pub").string(), "-r", (d / "a.priv").string()},
           {"tpm2_load", "-C", (d / "p.ctx").string(), "-u", (d / "a.pub").string(), "-r",
            (d / "a.priv").string(), "-c", (d / "a.ctx").string()},
           {"tpm2_evictcontrol", "-C", "o", "-c", (d / "a.ctx").string(), "0x81000102"}}) {
    const auto r = tpm2(tpm, argv);
    ASSERT_EQ(r.exit_code, 0) << argv[0] << ": " << r.output;
    // swtpm has no resource manager: tpm2-tools leaves what it loaded.
    ASSERT_EQ(tpm2(tpm, {"tpm2_flushcontext", "-t"}).exit_code, 0);
  }
  // Anyone could sign with such a key — which is why it must go.
  testing::write_file(d / "message", "anyone");
  ASSERT_EQ(tpm2(tpm, {"tpm2_sign", "-c", "0x81000101", "-g", "sha256", "-s", "rsassa", "-o",
                       (d / "sig").string(), (d / "message").string()})
                .exit_code,
            0);

  auto found = device.identity->find_keys();
  ASSERT_FALSE(found);
  EXPECT_NE(found.error().message.find("--rotate"), std::string::npos) << found.error().message;
  EXPECT_FALSE(device.identity->create_keys());

  auto removed = device.identity->remove_keys();
  ASSERT_TRUE(removed) << removed.error().describe();
  EXPECT_EQ(removed.value(), 2);
  auto record = provision_identity(*device.identity, "store-042");
  ASSERT_TRUE(record) << record.error().describe();
  const auto tls = tpm2(tpm, {"tpm2_readpublic", "-c", "0x81000101"});
  EXPECT_EQ(tls.output.find("userwithauth"), std::string::npos) << tls.output;
  fs::remove(d / "sig");
  EXPECT_NE(tpm2(tpm, {"tpm2_sign", "-c", "0x81000101", "-g", "sha256", "-s", "rsassa", "-o",
                       (d / "sig").string(), (d / "message").string()})
                .exit_code,
            0);
}

TEST(TpmIdentity, ProvisioningTwiceKeepsTheSameKeysAndTheySurviveATpmRestart) {
  SwtpmProcess tpm;
  Device device(tpm);
  auto first = provision_identity(*device.identity, "store-042");
  ASSERT_TRUE(first) << first.error().describe();
  device.reopen();
  auto second = provision_identity(*device.identity, "store-042");
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(first.value().keys.tls_public_der, second.value().keys.tls_public_der);
  EXPECT_EQ(first.value().keys.ak_public_der, second.value().keys.ak_public_der);
  tpm.stop();
  tpm.start();
  device.reopen();
  auto keys = device.identity->find_keys();
  ASSERT_TRUE(keys) << keys.error().describe();
  ASSERT_TRUE(keys.value());
  EXPECT_EQ(keys.value()->tls_public_der, first.value().keys.tls_public_der);
}

TEST(TpmIdentity, KeysWhoseAuthorizationValueIsLostSayToRotate) {
  SwtpmProcess tpm;
  Device device(tpm);
  ASSERT_TRUE(device.identity->create_keys());
  fs::remove(device.cfg.state_dir / kKeyAuthFile);
  device.reopen();
  auto keys = device.identity->find_keys();
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().message.find("--rotate"), std::string::npos) << keys.error().message;
}

TEST(TpmIdentity, AQuoteCarriesTheNonceAndThePcrTheEventLogReproduces) {
  SwtpmProcess tpm;
  Device device(tpm);
  auto keys = device.identity->create_keys();
  ASSERT_TRUE(keys) << keys.error().describe();
  const auto log = device.measure_now();
  const Bytes nonce(32, 0x42);
  auto quote = device.identity->quote(kPcr, nonce);
  ASSERT_TRUE(quote) << quote.error().describe();
  EXPECT_TRUE(verify_attestation_signature(quote.value().attest, quote.value().signature,
                                           keys.value().ak_public_der));
  auto parsed = parse_quote(quote.value().attest);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed.value().extra_data, nonce);
  EXPECT_EQ(parsed.value().pcrs, std::vector<unsigned>{kPcr});
  const auto expected = quote_pcr_digest(replay_event_log(log));
  EXPECT_EQ(parsed.value().pcr_digest, Bytes(expected.begin(), expected.end()));
}

TEST(TpmIdentity, LeavesAHandleThatHoldsAnotherKeyUntouched) {
  SwtpmProcess tpm;
  Device device(tpm);
  const auto ctx = (device.dir / "other.ctx").string();
  ASSERT_EQ(tpm2(tpm, {"tpm2_createprimary", "-C", "o", "-c", ctx}).exit_code, 0);
  ASSERT_EQ(tpm2(tpm, {"tpm2_evictcontrol", "-C", "o", "-c", ctx, "0x81000101"}).exit_code, 0);
  ASSERT_EQ(tpm2(tpm, {"tpm2_flushcontext", "-t"}).exit_code, 0);
  auto keys = device.identity->create_keys();
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().message.find("0x81000101 holds a key that is not Guardian's"), std::string::npos)
      << keys.error().message;
  auto removed = device.identity->remove_keys();  // --rotate leaves it alone too
  ASSERT_TRUE(removed) << removed.error().describe();
  EXPECT_EQ(removed.value(), 0);
  const auto still = tpm2(tpm, {"tpm2_readpublic", "-c", "0x81000101"});
  EXPECT_NE(still.output.find("restricted|decrypt"), std::string::npos) << still.output;
}

TEST(TpmIdentity, ReportsATpmThatDoesNotAnswerWithItsTcti) {
  TempDir dir;
  config::SecureLinkConfig c;
  c.identity.tcti = "swtpm:path=" + (dir / "no-such.sock").string();
  c.state_dir = dir / "identity";
  auto identity = open_identity(c);
  auto keys = identity->find_keys();
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().message.find(c.identity.tcti), std::string::npos) << keys.error().describe();
  EXPECT_EQ(keys.error().code.category(), tss2_category());
}

TEST(TpmIdentity, AnUnprovisionedIdentityCannotSignAndSaysHowToProvision) {
  SwtpmProcess tpm;
  Device device(tpm);
  auto keys = device.identity->find_keys();
  ASSERT_TRUE(keys) << keys.error().describe();
  EXPECT_FALSE(keys.value());
  auto signature = device.sign();
  ASSERT_FALSE(signature);
  EXPECT_NE(signature.error().message.find("guardian identity provision"), std::string::npos);
}

}  // namespace
}  // namespace guardian::secure_link

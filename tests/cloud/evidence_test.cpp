// The trust service's judgements without processes: the policy's JSON and its limits, device
// ids, and the evidence check against a software identity (whose quotes have the TPM's wire
// format).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "guardian/cloud/evidence.hpp"
#include "guardian/cloud/policy.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "guardian/secure_link/trust_protocol.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::cloud {
namespace {

using secure_link::Bytes;
using secure_link::MeasurementKind;
using secure_link::TrustRefusal;

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

// The secure_link section: the TPM identity and its TCTI, the trust service, the broker end of
// the tunnel, attestation and certificate renewal, and how the section relates to the uplink.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"

namespace guardian::config {
namespace {

using namespace std::chrono_literals;
using testing::has_error;
using testing::loads;
using testing::parse;

constexpr std::string_view kHead =
    "device: {id: store-042}\n"
    "uplink: {broker: 'ssl://mqtt.example.net:8883'}\n"
    "secure_link:\n";
constexpr std::string_view kMinimal =
    "  trust_service: {address: 'trust.example.net:7443', ca_file: /etc/guardian/fleet-ca.pem, "
    "approval_key: /etc/guardian/fleet-approval.pem}\n"
    "  broker: {ca_file: /etc/guardian/fleet-ca.pem}\n";

/// A site whose secure_link section holds `lines` (indented by two spaces), from line 4.
LoadResult with_secure_link(std::string_view lines) {
  return parse(std::string(kHead) + std::string(lines));
}

TEST(SecureLinkSection, TwoAddressesTwoCaFilesAndTheApprovalKeyAreEnoughAndTheRestDefaults) {
  const auto result = with_secure_link(kMinimal);
  ASSERT_TRUE(loads(result));
  ASSERT_TRUE(result.config->uplink.secure_link);
  const auto& s = *result.config->uplink.secure_link;
  EXPECT_EQ(s.identity.backend, IdentityBackend::tpm);
  EXPECT_EQ(s.identity.tcti, "device:/dev/tpmrm0");
  EXPECT_EQ(s.identity.signing_key_handle, 0x81000101u);
  EXPECT_EQ(s.identity.attestation_key_handle, 0x81000102u);
  EXPECT_EQ(s.state_dir, "/var/lib/guardian/identity");
  EXPECT_EQ(s.trust_service.host, "trust.example.net");
  EXPECT_EQ(s.trust_service.port, 7443);
  EXPECT_EQ(s.trust_service.approval_key, "/etc/guardian/fleet-approval.pem");
  EXPECT_EQ(s.attestation.pcr, 13);
  EXPECT_EQ(s.attestation.event_log, "/run/guardian/measurements.json");
  EXPECT_FALSE(s.attestation.firmware_image);
  EXPECT_EQ(s.certificate.lifetime, 24h);
  EXPECT_NEAR(s.certificate.renew_at, 2.0 / 3.0, 1e-9);
  // Filled in from the rest of the file: the certificate's CN and the file that is measured.
  EXPECT_EQ(s.device_id, "store-042");
  EXPECT_EQ(s.config_file, std::string(testing::kFile));
}

TEST(SecureLinkSection, ReadsEveryKey) {
  const auto result = with_secure_link(
      "  identity:\n"
      "    backend: tpm\n"
      "    tcti: 'swtpm:host=127.0.0.1,port=2321'\n"
      "    signing_key_handle: 0x81000201\n"
      "    attestation_key_handle: 0x81000202\n"
      "  state_dir: /var/lib/guardian/id\n"
      "  trust_service:\n"
      "    address: '[::1]:9443'\n"
      "    ca_file: /ca.pem\n"
      "    server_name: trust.internal\n"
      "    timeout: 5s\n"
      "    approval_key: /approval.pem\n"
      "  broker: {ca_file: /broker-ca.pem, server_name: mqtt.internal}\n"
      "  attestation: {pcr: 14, firmware_image: /boot/firmware.img, event_log: /run/gw/m.json}\n"
      "  certificate: {lifetime: 8h, renew_at: 0.5, retry: {min: 1s, max: 5m}}\n");
  ASSERT_TRUE(loads(result));
  const auto& s = *result.config->uplink.secure_link;
  EXPECT_EQ(s.identity.tcti, "swtpm:host=127.0.0.1,port=2321");
  EXPECT_EQ(s.identity.signing_key_handle, 0x81000201u);
  EXPECT_EQ(s.identity.attestation_key_handle, 0x81000202u);
  EXPECT_EQ(s.trust_service.host, "::1");
  EXPECT_EQ(s.trust_service.port, 9443);
  EXPECT_EQ(s.trust_service.server_name, "trust.internal");
  EXPECT_EQ(s.trust_service.timeout, 5s);
  EXPECT_EQ(s.broker.ca_file, "/broker-ca.pem");
  EXPECT_EQ(s.broker.server_name, "mqtt.internal");
  EXPECT_EQ(s.trust_service.approval_key, "/approval.pem");
  EXPECT_EQ(s.attestation.pcr, 14);
  EXPECT_EQ(s.attestation.firmware_image, "/boot/firmware.img");
  EXPECT_EQ(s.attestation.event_log, "/run/gw/m.json");
  EXPECT_EQ(s.certificate.lifetime, 8h);
  EXPECT_DOUBLE_EQ(s.certificate.renew_at, 0.5);
  EXPECT_EQ(s.certificate.retry_min, 1s);
  EXPECT_EQ(s.certificate.retry_max, 5min);
}

TEST(SecureLinkSection, AnUnknownTctiNamesTheOnesThatExist) {
  EXPECT_TRUE(has_error(with_secure_link("  identity: {tcti: 'tmp:/dev/tpm0'}\n" +
                                         std::string(kMinimal)),
                        4, 20, "TCTI 'tmp:/dev/tpm0'"));
}

TEST(SecureLinkSection, KeyHandlesMustBePersistentOwnerHandlesAndDiffer) {
  EXPECT_TRUE(has_error(
      with_secure_link("  identity: {signing_key_handle: 0x80000001}\n" + std::string(kMinimal)), 4,
      34, "expected a persistent handle between 0x81000000 and 0x817FFFFF"));
  EXPECT_TRUE(has_error(with_secure_link("  identity: {signing_key_handle: 0x81000102}\n" +
                                         std::string(kMinimal)),
                        4, 34, "two different persistent handles"));
}

TEST(SecureLinkSection, TheSoftwareBackendRefusesTpmSettings) {
  EXPECT_TRUE(has_error(with_secure_link("  identity: {backend: software, tcti: 'device:/dev/tpm0'}\n" +
                                         std::string(kMinimal)),
                        4, 39, "only applies to backend: tpm"));
  EXPECT_TRUE(loads(with_secure_link("  identity: {backend: software}\n" + std::string(kMinimal))));
}

TEST(SecureLinkSection, MeasurementsGoToAPcrThatNoProgramCanReset) {
  EXPECT_TRUE(has_error(
      with_secure_link(std::string(kMinimal) + "  attestation: {pcr: 23}\n"), 6, 22,
      "any program can reset PCR 23"));
  EXPECT_TRUE(has_error(
      with_secure_link(std::string(kMinimal) + "  attestation: {pcr: 16}\n"), 6, 22, "reset"));
  EXPECT_TRUE(has_error(
      with_secure_link(std::string(kMinimal) + "  attestation: {pcr: 7}\n"), 6, 22,
      "firmware's measurements"));
  EXPECT_TRUE(loads(with_secure_link(std::string(kMinimal) + "  attestation: {pcr: 8}\n")));
}

TEST(SecureLinkSection, ATpmIdentityNeedsTheFleetsApprovalKey) {
  const std::string without =
      "  trust_service: {address: 't:1', ca_file: /ca.pem}\n"
      "  broker: {ca_file: /ca.pem}\n";
  EXPECT_TRUE(has_error(with_secure_link(without), 4, 18, "missing required key 'approval_key'"));
  EXPECT_TRUE(loads(with_secure_link("  identity: {backend: software}\n" + without)));
}

TEST(SecureLinkSection, TheRenewalPointIsAFractionThatLeavesRoomForRetries) {
  EXPECT_TRUE(has_error(
      with_secure_link(std::string(kMinimal) + "  certificate: {renew_at: 0.99}\n"), 6, 27,
      "between 0.1 and 0.95"));
  EXPECT_TRUE(has_error(
      with_secure_link(std::string(kMinimal) + "  certificate: {lifetime: 1s}\n"), 6, 27,
      "secure_link.certificate.lifetime"));
}

TEST(SecureLinkSection, TheTrustServiceNeedsAnAddressWithAPortAndItsCa) {
  EXPECT_TRUE(has_error(with_secure_link("  trust_service: {address: trust.example.net, ca_file: /ca.pem, "
                                         "approval_key: /a.pem}\n"
                                         "  broker: {ca_file: /ca.pem}\n"),
                        4, 28, "the port is required"));
  EXPECT_TRUE(has_error(with_secure_link("  trust_service: {address: 't:1', approval_key: /a.pem}\n"
                                         "  broker: {ca_file: /ca.pem}\n"),
                        4, 18, "missing required key 'ca_file'"));
}

TEST(SecureLinkSection, NeedsAnSslBrokerAndNoTlsFilesOfItsOwn) {
  EXPECT_TRUE(has_error(parse("device: {id: gw}\nuplink: {broker: 'tcp://b:1883'}\nsecure_link:\n" +
                              std::string(kMinimal)),
                        2, 18, "use ssl://host:port"));
  EXPECT_TRUE(has_error(parse("device: {id: gw}\n"
                              "uplink: {broker: 'ssl://b:8883', tls: {ca_file: /ca.pem}}\n"
                              "secure_link:\n" +
                              std::string(kMinimal)),
                        2, 39, "the secure link brings its own TLS"));
  EXPECT_TRUE(has_error(parse("device: {id: gw}\nsecure_link:\n" + std::string(kMinimal)), 3, 3,
                        "add an uplink section"));
}

TEST(SecureLinkSection, AMisspeltKeySuggestsTheRightOne) {
  EXPECT_TRUE(has_error(with_secure_link(std::string(kMinimal) + "  certificat: {lifetime: 8h}\n"),
                        6, 3, "did you mean 'certificate'?"));
}

}  // namespace
}  // namespace guardian::config

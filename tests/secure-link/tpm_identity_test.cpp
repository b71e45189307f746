// The TPM identity against a real software TPM (swtpm), checked independently with tpm2-tools.
#include <gtest/gtest.h>

#include <mbedtls/md.h>

#include "guardian/secure_link/attestation_client.hpp"
#include "guardian/secure_link/enrollment.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "guardian/testing/process.hpp"
#include "guardian/testing/swtpm.hpp"

namespace guardian::secure_link {
namespace {

using namespace std::chrono_literals;
using testing::SwtpmProcess;
using testing::TempDir;

config::IdentityConfig tpm_config(const SwtpmProcess& tpm) {
  config::IdentityConfig c;
  c.tcti = tpm.tcti();
  return c;
}

testing::CommandResult tpm2(const SwtpmProcess& tpm, std::vector<std::string> argv) {
  return testing::run_command(argv, 30s, {{"TPM2TOOLS_TCTI", tpm.tcti()}});
}

TEST(TpmIdentity, ProvisioningCreatesKeysThatTpm2ReadpublicShowsAsNonExportable) {
  SwtpmProcess tpm;
  TempDir dir;
  auto identity = open_identity(tpm_config(tpm), dir.path());
  auto record = provision_identity(*identity, "store-042");
  ASSERT_TRUE(record) << record.error().describe();

  // An independent implementation reads the keys back from the TPM.
  const auto tls = tpm2(tpm, {"tpm2_readpublic", "-c", "0x81000101"});
  ASSERT_EQ(tls.exit_code, 0) << tls.output;
  EXPECT_NE(tls.output.find("fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign"),
            std::string::npos)
      << tls.output;
  EXPECT_EQ(tls.output.find("decrypt"), std::string::npos) << tls.output;
  EXPECT_NE(tls.output.find("value: rsa"), std::string::npos) << tls.output;
  const auto ak = tpm2(tpm, {"tpm2_readpublic", "-c", "0x81000102"});
  ASSERT_EQ(ak.exit_code, 0) << ak.output;
  EXPECT_NE(ak.output.find("fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign"),
            std::string::npos)
      << ak.output;

  // What the record says is what the TPM holds.
  auto parsed = parse_tpm_public(record.value().keys.tls_tpm_public);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_NE(tls.output.find("name: " + to_hex(parsed.value().name)), std::string::npos) << tls.output;
  EXPECT_EQ(parsed.value().spki_der, record.value().keys.tls_public_der);
  ASSERT_TRUE(record.value().tls_key_certification);
}

TEST(TpmIdentity, ProvisioningTwiceKeepsTheSameKeys) {
  SwtpmProcess tpm;
  TempDir dir;
  auto identity = open_identity(tpm_config(tpm), dir.path());
  auto first = provision_identity(*identity, "store-042");
  ASSERT_TRUE(first) << first.error().describe();
  auto again = open_identity(tpm_config(tpm), dir.path());
  auto second = provision_identity(*again, "store-042");
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(first.value().keys.tls_public_der, second.value().keys.tls_public_der);
  EXPECT_EQ(first.value().keys.ak_public_der, second.value().keys.ak_public_der);
}

TEST(TpmIdentity, KeysSurviveATpmRestart) {
  SwtpmProcess tpm;
  TempDir dir;
  Bytes before;
  {
    auto identity = open_identity(tpm_config(tpm), dir.path());
    auto keys = identity->create_keys();
    ASSERT_TRUE(keys) << keys.error().describe();
    before = keys.value().tls_public_der;
  }
  tpm.stop();
  tpm.start();
  auto identity = open_identity(tpm_config(tpm), dir.path());
  auto keys = identity->find_keys();
  ASSERT_TRUE(keys) << keys.error().describe();
  ASSERT_TRUE(keys.value());
  EXPECT_EQ(keys.value()->tls_public_der, before);
}

TEST(TpmIdentity, SignaturesVerifyWithThePublicKeyForEveryTls12Hash) {
  SwtpmProcess tpm;
  TempDir dir;
  auto identity = open_identity(tpm_config(tpm), dir.path());
  auto keys = identity->create_keys();
  ASSERT_TRUE(keys) << keys.error().describe();
  auto key = PkKey::from_public_der(keys.value().tls_public_der);
  ASSERT_TRUE(key);
  for (const auto& [hash, md, size] : {std::tuple{HashAlgorithm::sha256, MBEDTLS_MD_SHA256, 32},
                                       std::tuple{HashAlgorithm::sha384, MBEDTLS_MD_SHA384, 48}}) {
    const Bytes digest(static_cast<std::size_t>(size), 0x5a);
    auto signature = identity->sign(hash, digest);
    ASSERT_TRUE(signature) << signature.error().describe();
    EXPECT_EQ(signature.value().size(), kTlsSignatureSize);
    EXPECT_EQ(mbedtls_pk_verify(key.value()->get(), md, digest.data(), digest.size(),
                                signature.value().data(), signature.value().size()),
              0);
  }
}

TEST(TpmIdentity, AQuoteCarriesTheNonceAndThePcrTheEventLogReproduces) {
  SwtpmProcess tpm;
  TempDir dir;
  auto identity = open_identity(tpm_config(tpm), dir.path());
  auto keys = identity->create_keys();
  ASSERT_TRUE(keys) << keys.error().describe();
  testing::write_file(dir / "site.yaml", "device:\n  id: store-042\n");
  const std::vector<MeasurementTarget> targets{{MeasurementKind::gateway, "/proc/self/exe"},
                                               {MeasurementKind::config, dir / "site.yaml"}};
  auto log = measure(*identity, 23, targets);
  ASSERT_TRUE(log) << log.error().describe();
  ASSERT_EQ(log.value().size(), 2u);
  auto pcr = identity->read_pcr(23);
  ASSERT_TRUE(pcr);
  EXPECT_EQ(pcr.value(), replay_event_log(log.value()));

  const Bytes nonce(32, 0x42);
  auto quote = identity->quote(23, nonce);
  ASSERT_TRUE(quote) << quote.error().describe();
  EXPECT_TRUE(verify_attestation_signature(quote.value().attest, quote.value().signature,
                                           keys.value().ak_public_der));
  auto parsed = parse_quote(quote.value().attest);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed.value().extra_data, nonce);
  EXPECT_EQ(parsed.value().pcrs, std::vector<unsigned>{23});
  const auto expected = quote_pcr_digest(replay_event_log(log.value()));
  EXPECT_EQ(parsed.value().pcr_digest, Bytes(expected.begin(), expected.end()));
  // Someone else extending the PCR afterwards changes what the TPM quotes.
  ASSERT_TRUE(identity->extend_pcr(23, Sha256Digest{}));
  auto later = identity->quote(23, nonce);
  ASSERT_TRUE(later);
  EXPECT_NE(parse_quote(later.value().attest).value().pcr_digest, parsed.value().pcr_digest);
}

TEST(TpmIdentity, LeavesAHandleThatHoldsAnotherKeyUntouched) {
  SwtpmProcess tpm;
  TempDir dir;
  // Someone else's key (a storage primary made with tpm2-tools) already at our handle.
  ASSERT_EQ(tpm2(tpm, {"tpm2_createprimary", "-C", "o", "-c", (dir / "other.ctx").string()}).exit_code, 0);
  ASSERT_EQ(tpm2(tpm, {"tpm2_evictcontrol", "-C", "o", "-c", (dir / "other.ctx").string(),
                       "0x81000101"})
                .exit_code,
            0);
  auto identity = open_identity(tpm_config(tpm), dir.path());
  auto keys = identity->create_keys();
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().message.find("0x81000101 holds a key that is not Guardian's"),
            std::string::npos)
      << keys.error().message;
  const auto still = tpm2(tpm, {"tpm2_readpublic", "-c", "0x81000101"});
  EXPECT_NE(still.output.find("restricted|decrypt"), std::string::npos) << still.output;
}

TEST(TpmIdentity, ReportsATpmThatDoesNotAnswerWithItsTcti) {
  TempDir dir;
  config::IdentityConfig c;
  c.tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(testing::free_tcp_port());
  auto identity = open_identity(c, dir.path());
  auto keys = identity->find_keys();
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().message.find(c.tcti), std::string::npos) << keys.error().describe();
  EXPECT_EQ(keys.error().code.category(), tss2_category());
}

TEST(TpmIdentity, AnUnprovisionedIdentityCannotSignAndSaysHowToProvision) {
  SwtpmProcess tpm;
  TempDir dir;
  auto identity = open_identity(tpm_config(tpm), dir.path());
  auto keys = identity->find_keys();
  ASSERT_TRUE(keys) << keys.error().describe();
  EXPECT_FALSE(keys.value());
  auto signature = identity->sign(HashAlgorithm::sha256, Bytes(32, 1));
  ASSERT_FALSE(signature);
  EXPECT_NE(signature.error().message.find("guardian identity provision"), std::string::npos);
}

}  // namespace
}  // namespace guardian::secure_link

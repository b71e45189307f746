// The development identity: key files only its owner can read, and evidence that says what it is.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::secure_link {
namespace {

std::unique_ptr<Identity> software_identity(const testing::TempDir& dir) {
  config::SecureLinkConfig c;
  c.identity.backend = config::IdentityBackend::software;
  c.state_dir = dir.path();
  return open_identity(c);
}

TEST(SoftwareIdentity, WritesKeyFilesOnlyItsOwnerCanRead) {
  testing::TempDir dir;
  auto identity = software_identity(dir);
  ASSERT_TRUE(identity->create_keys());
  int keys = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++keys;
    EXPECT_EQ(entry.status().permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
        << entry.path();
  }
  EXPECT_EQ(keys, 2);
}

TEST(SoftwareIdentity, RefusesAKeyFileOthersCanReadAndSaysHowToFixIt) {
  testing::TempDir dir;
  ASSERT_TRUE(software_identity(dir)->create_keys());
  const auto key = dir / "software-tls-key.pem";
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  const auto refused = software_identity(dir)->find_keys();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("has mode 0644"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("chmod 600 " + key.string()), std::string::npos);
}

TEST(SoftwareIdentity, ItsQuotesSayTheyWereMadeBySoftwareNotByATpm) {
  testing::TempDir dir;
  auto identity = software_identity(dir);
  ASSERT_TRUE(identity->create_keys());
  EXPECT_EQ(identity->backend(), config::IdentityBackend::software);
  EXPECT_NE(identity->location().find("development only"), std::string::npos);
  const auto quote = identity->quote(23, Bytes(32, 1));
  ASSERT_TRUE(quote) << quote.error().describe();
  const auto parsed = parse_quote(quote.value().attest);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_TRUE(parsed.value().software_generated);
  // It cannot certify its TLS key: there is no TPM to vouch for it.
  EXPECT_FALSE(identity->certify_tls_key(Bytes(32, 2)));
}

}  // namespace
}  // namespace guardian::secure_link

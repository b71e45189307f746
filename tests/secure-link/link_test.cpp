// make_link and the plain / TLS-files links, with fixture certificates
// (tests/secure-link/fixtures, made by make_link_fixtures.sh).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

#include "guardian/common/time_format.hpp"
#include "guardian/secure_link/link.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::secure_link {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr const char* kClientNotAfter = "2126-11-02T15:20:28.000Z";

fs::path fixture(const std::string& name) {
  return testing::source_path("tests/secure-link/fixtures/" + name);
}

// Copies the fixture key into `dir` with the given mode (git does not keep 0600).
fs::path key_with_mode(const TempDir& dir, ::mode_t mode) {
  const fs::path key = dir / "client.key";
  fs::copy_file(fixture("client.key"), key, fs::copy_options::overwrite_existing);
  ::chmod(key.c_str(), mode);
  return key;
}

config::UplinkConfig tls_uplink(const fs::path& key) {
  config::UplinkConfig u;
  u.broker = "ssl://127.0.0.1:8883";
  u.tls = config::TlsFilesConfig{fixture("ca.pem"), fixture("client.pem"), key, {}};
  return u;
}

TEST(PlainLink, HandsPahoTheConfiguredUriWithoutTls) {
  config::UplinkConfig u;
  u.broker = "tcp://127.0.0.1:1883";
  auto link = make_link(u);
  auto endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe();
  EXPECT_EQ(endpoint.value().server_uri, "tcp://127.0.0.1:1883");
  EXPECT_FALSE(endpoint.value().tls);
  EXPECT_EQ(link->info().kind, "plain");
  EXPECT_FALSE(link->info().cert_not_after);
}

TEST(MakeLink, RefusesTlsSettingsWithAPlainBrokerUri) {
  config::UplinkConfig u;
  u.broker = "tcp://127.0.0.1:1883";
  u.tls = config::TlsFilesConfig{};
  EXPECT_THROW((void)make_link(u), std::invalid_argument);
}

TEST(MakeLink, RefusesABrokerUriWithAnUnsupportedScheme) {
  config::UplinkConfig u;
  u.broker = "ws://127.0.0.1:8080";
  try {
    (void)make_link(u);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("ssl://"), std::string::npos) << e.what();
  }
}

TEST(FileTlsLink, ReadsTheClientCertificatesSubjectAndExpiry) {
  TempDir dir;
  auto link = make_link(tls_uplink(key_with_mode(dir, 0600)));
  EXPECT_EQ(link->info().kind, "tls-files");
  auto endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe();
  ASSERT_TRUE(endpoint.value().tls);
  EXPECT_EQ(endpoint.value().server_uri, "ssl://127.0.0.1:8883");
  EXPECT_EQ(endpoint.value().tls->ca_file, fixture("ca.pem"));
  EXPECT_EQ(endpoint.value().tls->cert_file, fixture("client.pem"));
  EXPECT_EQ(endpoint.value().tls->key_file, dir / "client.key");
  const auto info = link->info();
  EXPECT_NE(info.identity.find("CN=store-042"), std::string::npos) << info.identity;
  ASSERT_TRUE(info.cert_not_after);
  EXPECT_EQ(format_rfc3339(*info.cert_not_after), kClientNotAfter);
}

TEST(FileTlsLink, RefusesAKeyFileThatGroupOrOthersCanRead) {
  TempDir dir;
  const auto key = key_with_mode(dir, 0640);
  auto link = make_link(tls_uplink(key));
  auto endpoint = link->open();
  ASSERT_FALSE(endpoint);
  const auto message = endpoint.error().describe();
  EXPECT_NE(message.find("0640"), std::string::npos) << message;
  EXPECT_NE(message.find("0600"), std::string::npos) << message;
  EXPECT_NE(message.find("chmod 600 " + key.string()), std::string::npos) << message;

  ::chmod(key.c_str(), 0400);  // stricter than 0600 is fine
  EXPECT_TRUE(link->open());
}

TEST(FileTlsLink, NamesTheMissingCaFileAndTheConfigurationKey) {
  TempDir dir;
  auto u = tls_uplink(key_with_mode(dir, 0600));
  u.tls->ca_file = dir / "missing-ca.pem";
  auto endpoint = make_link(u)->open();
  ASSERT_FALSE(endpoint);
  const auto message = endpoint.error().describe();
  EXPECT_NE(message.find("uplink.tls.ca_file"), std::string::npos) << message;
  EXPECT_NE(message.find("missing-ca.pem"), std::string::npos) << message;
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;
}

TEST(FileTlsLink, RefusesACertificateFileThatIsNotACertificate) {
  TempDir dir;
  auto u = tls_uplink(key_with_mode(dir, 0600));
  testing::write_file(dir / "not-a-cert.pem", "hello\n");
  u.tls->cert_file = dir / "not-a-cert.pem";
  auto endpoint = make_link(u)->open();
  ASSERT_FALSE(endpoint);
  EXPECT_NE(endpoint.error().describe().find("uplink.tls.cert_file"), std::string::npos)
      << endpoint.error().describe();
  EXPECT_EQ(endpoint.error().code.category().name(), std::string("mbedtls"));
}

TEST(FileTlsLink, RequiresTheCertificateAndTheKeyTogether) {
  TempDir dir;
  auto u = tls_uplink(key_with_mode(dir, 0600));
  u.tls->key_file.clear();
  auto endpoint = make_link(u)->open();
  ASSERT_FALSE(endpoint);
  EXPECT_NE(endpoint.error().message.find("go together"), std::string::npos);
}

TEST(FileTlsLink, ConnectsWithoutAClientCertificateWhenNoneIsConfigured) {
  config::UplinkConfig u;
  u.broker = "ssl://broker.example:8883";
  u.tls = config::TlsFilesConfig{fixture("ca.pem"), {}, {}, {}};
  auto link = make_link(u);
  auto endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe();
  EXPECT_TRUE(endpoint.value().tls->cert_file.empty());
  EXPECT_FALSE(link->info().cert_not_after);
}

TEST(FileTlsLink, RefusesAServerNameThatIsNotTheUriHost) {
  config::UplinkConfig u;
  u.broker = "ssl://10.0.0.5:8883";
  u.tls = config::TlsFilesConfig{fixture("ca.pem"), {}, {}, "broker.example"};
  auto endpoint = make_link(u)->open();
  ASSERT_FALSE(endpoint);
  EXPECT_NE(endpoint.error().message.find("uplink.tls.server_name"), std::string::npos);

  u.broker = "ssl://broker.example:8883";
  EXPECT_TRUE(make_link(u)->open());
}

}  // namespace
}  // namespace guardian::secure_link

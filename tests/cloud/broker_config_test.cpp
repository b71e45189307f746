// The broker configuration guardian-trust generates: listener, ACL, revocation plugin.
#include <gtest/gtest.h>

#include "guardian/cloud/broker_config.hpp"

namespace guardian::cloud {
namespace {

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

}  // namespace
}  // namespace guardian::cloud

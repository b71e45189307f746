// The uplink, queue and control sections: secrets, TLS, the broker address, the topic prefix and
// the rules that relate their keys.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"

namespace guardian::config {
namespace {

using namespace std::chrono_literals;
using testing::has_error;
using testing::has_errors;
using testing::loads;
using testing::parse;

/// A site whose uplink section holds `lines` (already indented by two spaces), from line 3.
LoadResult with_uplink(std::string_view lines) {
  return parse("device: {id: gw}\nuplink:\n" + std::string(lines));
}

TEST(UplinkSecrets, AnInlinePasswordIsRefusedAndPointsToPasswordFile) {
  const auto result = with_uplink("  username: gw\n  password: hunter2\n");
  EXPECT_TRUE(has_error(result, 4, 3,
                        "uplink.password: secrets are never written in this file: put the password "
                        "alone in a file readable only by the guardian user and give its path as "
                        "password_file"));
  // The secret itself never appears in the message.
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].message.find("hunter2"), std::string::npos);
}

TEST(UplinkSecrets, AMisspeltPasswordKeySuggestsPasswordFileNotPassword) {
  EXPECT_TRUE(has_error(with_uplink("  username: gw\n  pasword_file: /p\n"), 4, 3,
                        "uplink: unknown key 'pasword_file' (did you mean 'password_file'?)"));
}

TEST(UplinkSecrets, APasswordFileNeedsAUsername) {
  EXPECT_TRUE(has_error(with_uplink("  password_file: /etc/guardian/pw\n"), 3, 18,
                        "uplink.password_file: a password needs a username"));
  const auto result = with_uplink("  username: gw\n  password_file: /etc/guardian/pw\n");
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(result.config->uplink.password_file, "/etc/guardian/pw");
}

TEST(UplinkTls, AnSslBrokerNeedsATlsSection) {
  EXPECT_TRUE(has_error(with_uplink("  broker: ssl://mqtt.example.net:8883\n"), 3, 11,
                        "uplink.broker: an ssl:// broker needs a 'tls' section with at least "
                        "ca_file"));
}

TEST(UplinkTls, TheTlsSectionNeedsACaFile) {
  EXPECT_TRUE(has_error(with_uplink("  broker: ssl://b:8883\n  tls: {server_name: b}\n"), 4, 8,
                        "uplink.tls: missing required key 'ca_file'"));
}

TEST(UplinkTls, ATcpBrokerRefusesTlsSettings) {
  EXPECT_TRUE(has_error(with_uplink("  broker: tcp://b:1883\n  tls: {ca_file: /ca.pem}\n"), 4, 8,
                        "uplink.tls: tls only applies to an ssl:// broker"));
}

TEST(UplinkTls, AServerNameOtherThanTheBrokersHostIsRefusedBeforeTheLinkWouldRefuseIt) {
  EXPECT_TRUE(has_error(
      with_uplink("  broker: ssl://127.0.0.1:8883\n  tls:\n    ca_file: /ca.pem\n    server_name: broker.local\n"),
      6, 18,
      "uplink.tls.server_name: \"broker.local\" differs from the host of ssl://127.0.0.1:8883: the MQTT "
      "client checks the broker's certificate against the host in the broker URI, so write that "
      "name there (ssl://broker.local:PORT"));
  // The same name, or an IPv6 host in brackets, is fine.
  EXPECT_TRUE(loads(with_uplink("  broker: ssl://broker.local:8883\n  tls: {ca_file: /ca.pem, server_name: broker.local}\n")));
  EXPECT_TRUE(loads(with_uplink("  broker: ssl://[::1]:8883\n  tls: {ca_file: /ca.pem, server_name: \"::1\"}\n")));
}

TEST(UplinkTls, CertificateAndKeyGoTogether) {
  EXPECT_TRUE(has_error(
      with_uplink("  broker: ssl://b:8883\n  tls:\n    ca_file: /ca.pem\n    cert_file: /c.pem\n"),
      6, 16, "uplink.tls.cert_file: cert_file and key_file go together"));
  EXPECT_TRUE(has_error(
      with_uplink("  broker: ssl://b:8883\n  tls:\n    ca_file: /ca.pem\n    key_file: /k.pem\n"),
      6, 15, "uplink.tls.key_file: cert_file and key_file go together"));
  const auto both = with_uplink(
      "  broker: ssl://b:8883\n  tls: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem}\n");
  ASSERT_TRUE(loads(both));
  EXPECT_EQ(both.config->uplink.tls->cert_file, "/c.pem");
}

TEST(UplinkBroker, AcceptsTcpAndSslWithAHostAndAPort) {
  for (const std::string uri : {"tcp://127.0.0.1:1883", "tcp://[::1]:1883", "tcp://broker:65535"}) {
    const auto result = with_uplink("  broker: " + uri + "\n");
    ASSERT_TRUE(loads(result)) << uri;
    EXPECT_EQ(result.config->uplink.broker, uri);
  }
}

TEST(UplinkBroker, RefusesOtherSchemesMissingPortsAndBadPorts) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"mqtt://b:1883", "the scheme must be tcp:// or ssl://, not mqtt://"},
      {"b:1883", "it must start with tcp:// or ssl://"},
      {"tcp://b", "the port is required"},
      {"tcp://[::1]", "the port is required"},
      {"tcp://:1883", "the host is missing"},
      {"tcp://b:0", "the port must be between 1 and 65535"},
      {"tcp://b:70000", "the port must be between 1 and 65535"},
      {"tcp://b:http", "the port must be between 1 and 65535"},
  };
  for (const auto& [uri, fragment] : cases)
    EXPECT_TRUE(has_error(with_uplink("  broker: '" + uri + "'\n"), 3, 11,
                          "uplink.broker: expected a broker address tcp://host:port or "
                          "ssl://host:port, got '" +
                              uri + "'; " + fragment))
        << uri;
}

TEST(UplinkBroker, AnInvalidBrokerDoesNotCascadeIntoTlsRules) {
  EXPECT_TRUE(has_error(with_uplink("  broker: mqtts://b:8883\n  tls: {ca_file: /ca.pem}\n"), 3, 11,
                        "the scheme must be tcp:// or ssl://, not mqtts://"));
}

TEST(UplinkTopicPrefix, SubstitutesTheDeviceIdAndEndsWithASlash) {
  const auto result = with_uplink("  topic_prefix: sites/{device_id}/gw\n");
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(result.config->topic_prefix(), "sites/gw/gw/");
}

TEST(UplinkTopicPrefix, RefusesWildcardsAndUnknownPlaceholders) {
  EXPECT_TRUE(has_error(with_uplink("  topic_prefix: guardian/+/x\n"), 3, 17,
                        "+ and # are subscription wildcards"));
  EXPECT_TRUE(has_error(with_uplink("  topic_prefix: 'guardian/#'\n"), 3, 17,
                        "+ and # are subscription wildcards"));
  EXPECT_TRUE(has_error(with_uplink("  topic_prefix: guardian/{site}/\n"), 3, 17,
                        "{device_id} is the only placeholder"));
}

TEST(UplinkReconnect, MinMustNotExceedMaxIncludingTheDefault) {
  EXPECT_TRUE(has_error(with_uplink("  reconnect: {min: 10s, max: 5s}\n"), 3, 30,
                        "uplink.reconnect.max: min (10s) is greater than max (5s)"));
  EXPECT_TRUE(has_error(with_uplink("  reconnect: {min: 2m}\n"), 3, 20,
                        "uplink.reconnect.min: min (2m) is greater than max (1m, the default)"));
  const auto result = with_uplink("  reconnect: {min: 2m, max: 10m}\n");
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(result.config->uplink.reconnect_min, 2min);
  EXPECT_EQ(result.config->uplink.reconnect_max, 10min);
}

TEST(UplinkLimits, EnforceTheDocumentedRanges) {
  EXPECT_TRUE(
      has_errors(with_uplink("  max_readings_per_message: 100001\n"
                             "  health_interval: 500ms\n"
                             "  client_id: ''\n"),
                 {{3, 29, "100001 is out of range: expected an integer between 1 and 100000"},
                  {4, 20, "500ms is out of range: expected a duration between 1s and 1d"},
                  {5, 14, "expected a text value, got an empty string"}}));
}

TEST(QueueRules, PendingBytesMustNotExceedTheQueueSize) {
  EXPECT_TRUE(
      has_error(parse("device: {id: gw}\nqueue:\n  max_bytes: 4MiB\n  max_pending_bytes: 8MiB\n"),
                4, 22, "queue.max_pending_bytes: must not exceed max_bytes (4MiB)"));
  EXPECT_TRUE(has_error(parse("device: {id: gw}\nqueue:\n  max_pending_bytes: 1GiB\n"), 3, 22,
                        "must not exceed max_bytes (256MiB)"));
  EXPECT_TRUE(
      loads(parse("device: {id: gw}\nqueue: {max_bytes: 4MiB, max_pending_bytes: 4MiB}\n")));
}

TEST(QueueRules, SynchronousIsFullOrNormal) {
  EXPECT_TRUE(
      has_error(parse("device: {id: gw}\nqueue: {synchronous: off}\n"), 2, 22,
                "queue.synchronous: unknown value 'off'; expected one of 'full', 'normal'"));
}

TEST(ControlRules, TheSocketPathMustFitAUnixSocketAddress) {
  const std::string longest = "/" + std::string(106, 's');
  const auto ok = parse("device: {id: gw}\ncontrol: {socket: " + longest + "}\n");
  ASSERT_TRUE(loads(ok));
  EXPECT_EQ(ok.config->control.socket, longest);
  EXPECT_TRUE(has_error(parse("device: {id: gw}\ncontrol: {socket: " + longest + "s}\n"), 2, 19,
                        "expected a socket path of at most 107 bytes"));
}

TEST(UplinkDelivery, DefaultsToMqtt5AutoWithA128KiBMessageBoundAndThreeDisconnects) {
  const auto result = parse("device: {id: gw}\n");
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(result.config->uplink.mqtt_version, MqttVersion::automatic);
  EXPECT_EQ(result.config->uplink.max_message_bytes, 128u * 1024u);
  EXPECT_EQ(result.config->uplink.refuse_after_disconnects, 3);
  const auto set = parse(
      "device: {id: gw}\n"
      "uplink: {mqtt_version: 3.1.1, max_message_bytes: 4000B, refuse_after_disconnects: 5}\n");
  ASSERT_TRUE(loads(set));
  EXPECT_EQ(set.config->uplink.mqtt_version, MqttVersion::v3_1_1);
  EXPECT_EQ(set.config->uplink.max_message_bytes, 4000u);
  EXPECT_EQ(set.config->uplink.refuse_after_disconnects, 5);
  EXPECT_EQ(parse("device: {id: gw}\nuplink: {mqtt_version: 5}\n").config->uplink.mqtt_version,
            MqttVersion::v5);
}

TEST(UplinkDelivery, BadValuesAreLocatedAndExplained) {
  EXPECT_TRUE(has_errors(parse("device: {id: gw}\n"
                               "uplink:\n"
                               "  mqtt_version: 4\n"
                               "  max_message_bytes: 100B\n"
                               "  refuse_after_disconnects: 0\n"),
                         {{3, 17, "unknown value '4'"},
                          {4, 22, "expected a size between 1KiB and 255MiB"},
                          {5, 29, "out of range"}}));
}

TEST(UplinkDelivery, TheCompactPayloadAndItsCompressionAreChosenPerUplink) {
  const auto v2 = parse("device: {id: gw}\nuplink: {payload: v2, compression: deflate}\n");
  ASSERT_TRUE(loads(v2));
  EXPECT_EQ(v2.config->uplink.payload, PayloadFormat::v2);
  EXPECT_EQ(v2.config->uplink.compression, Compression::deflate);
  EXPECT_EQ(parse("device: {id: gw}\n").config->uplink.payload, PayloadFormat::v1);
  EXPECT_TRUE(has_error(parse("device: {id: gw}\nuplink: {compression: deflate}\n"), 2, 23,
                        "compression applies to the compact payload: add 'payload: v2'"));
  EXPECT_TRUE(has_error(parse("device: {id: gw}\nuplink: {payload: v3}\n"), 2, 19,
                        "unknown value 'v3'"));
}

}  // namespace
}  // namespace guardian::config

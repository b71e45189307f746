// MqttUplink over Paho TLS with certificate files (FileTlsLink) against a mosquitto TLS listener,
// with a PKI generated for each test by the openssl command line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <stdexcept>

#include "guardian/gateway/mqtt_uplink.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/mqtt_collector.hpp"
#include "guardian/testing/pki.hpp"
#include "guardian/testing/process.hpp"
#include "queue_test_support.hpp"
#include "uplink_rig.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
using test::run_io_until;
using test::telemetry_message;
using test::UplinkRig;
using testing::MosquittoBroker;
using testing::MqttCollector;
using testing::TempDir;
using testing::TestPki;

// The broker side of a TLS test: a PKI whose "ca" issued the gateway's client certificate, and a
// mosquitto (plain listener for the collector) whose TLS listener presents a server certificate
// from `server_ca` for `server_san` and requires a client certificate from "ca".
struct TlsBroker {
  TlsBroker(const std::string& server_ca, const std::string& server_san) {
    pki.make_ca("ca");
    if (server_ca != "ca") pki.make_ca(server_ca);
    pki.make_leaf("server", server_ca, "guardian-test-broker", server_san);
    pki.make_leaf("client", "ca", "store-042", "");
    broker = std::make_unique<MosquittoBroker>(
        "listener " + std::to_string(tls_port) + " 127.0.0.1\n" + "cafile " + pki.pem("ca") + "\n" +
        "certfile " + pki.pem("server") + "\n" + "keyfile " + pki.key("server") + "\n" +
        "require_certificate true\n");
    if (!testing::wait_for_tcp_port(tls_port, 10s))
      throw std::runtime_error("no TLS listener: " + broker->log());
  }
  /// Points the uplink at the TLS listener with the gateway's certificate files.
  void configure(config::SiteConfig& s) const {
    s.uplink.broker = "ssl://127.0.0.1:" + std::to_string(tls_port);
    s.uplink.tls = config::TlsFilesConfig{pki.pem("ca"), pki.pem("client"), pki.key("client"), {}};
  }

  TestPki pki;
  std::uint16_t tls_port = testing::free_tcp_port();
  std::unique_ptr<MosquittoBroker> broker;
};

TEST(MqttUplinkOverTls, DeliversThroughMutualTlsWithCertificateFiles) {
  TlsBroker tls("ca", "IP:127.0.0.1,DNS:localhost");
  MqttCollector collector(tls.broker->uri(), "guardian/v1/store-042/#");
  UplinkRig rig(tls.broker->uri(), [&](config::SiteConfig& s) { tls.configure(s); });
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 10)));
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.outbox->counters().acknowledged == 50; }, 30s))
      << rig.uplink->counters().last_error << "\n"
      << tls.broker->log();
  EXPECT_TRUE(collector.wait_for_count("/telemetry", 50, 10s));
  EXPECT_EQ(rig.uplink->counters().connect_failures, 0u);

  const auto info = rig.uplink->link_info();
  EXPECT_EQ(info.kind, "tls-files");
  EXPECT_NE(info.identity.find("CN=store-042"), std::string::npos) << info.identity;
  ASSERT_TRUE(info.cert_not_after);
  EXPECT_GT(*info.cert_not_after, now_ms() + std::chrono::hours{47});
  EXPECT_LT(*info.cert_not_after, now_ms() + std::chrono::hours{49});
}

TEST(MqttUplinkOverTls, RefusesABrokerWhoseCertificateComesFromAnotherCa) {
  TlsBroker tls("other-ca", "IP:127.0.0.1,DNS:localhost");
  MqttCollector collector(tls.broker->uri(), "guardian/v1/store-042/#");
  UplinkRig rig(tls.broker->uri(), [&](config::SiteConfig& s) { tls.configure(s); });
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 10)));
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->counters().connect_failures >= 2; }, 30s));
  const auto& error = rig.uplink->counters().last_error;
  EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
  EXPECT_NE(error.find("ssl://127.0.0.1:" + std::to_string(tls.tls_port)), std::string::npos)
      << error;
  EXPECT_EQ(rig.uplink->counters().connects, 0u);
  EXPECT_EQ(rig.uplink->counters().published, 0u);
  EXPECT_EQ(rig.outbox->stats().depth, 5u);
  EXPECT_TRUE(collector.messages().empty());
}

TEST(MqttUplinkOverTls, RefusesABrokerCertificateIssuedForAnotherName) {
  TlsBroker tls("ca", "DNS:broker.example");
  UplinkRig rig(tls.broker->uri(), [&](config::SiteConfig& s) { tls.configure(s); });
  ASSERT_TRUE(rig.outbox->submit(telemetry_message("meter-1", 1)));
  rig.uplink->start();
  ASSERT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->counters().connect_failures >= 1; }, 30s));
  // Paho reports no OpenSSL error for a failed host name check; the message still points at it.
  EXPECT_NE(rig.uplink->counters().last_error.find("does not name the host"), std::string::npos)
      << rig.uplink->counters().last_error;
  EXPECT_EQ(rig.uplink->counters().connects, 0u);
  EXPECT_EQ(rig.uplink->counters().published, 0u);
}

}  // namespace
}  // namespace guardian::gateway

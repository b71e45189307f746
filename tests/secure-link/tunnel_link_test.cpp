// The TPM tunnel (make_link with a secure_link section) against real peers: swtpm, the
// guardian-trust process, mosquitto configured by `guardian-trust broker-config`, and Paho.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <filesystem>
#include <iostream>

#include "guardian/cloud/certificate_authority.hpp"
#include "guardian/common/time_format.hpp"
#include "guardian/secure_link/attestation_client.hpp"
#include "guardian/secure_link/measurement_log.hpp"
#include "guardian/secure_link/link.hpp"
#include "guardian/secure_link/tls_session.hpp"
#include "guardian/secure_link/trust_protocol.hpp"
#include "guardian/testing/device_rig.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::secure_link {
namespace {

using namespace std::chrono_literals;
using test::DeviceRig;
using testing::SecureFleet;

std::uint64_t counter(const Link& link, const std::string& name) {
  const auto info = link.info();
  const auto it = info.counters.find(name);
  return it == info.counters.end() ? 0 : it->second;
}

std::uint16_t port_of(const std::string& uri) {
  return static_cast<std::uint16_t>(std::stoi(uri.substr(uri.rfind(':') + 1)));
}

bool received(const testing::MqttCollector& reader, const std::string& topic, const std::string& payload) {
  for (const auto& m : reader.messages())
    if (m.topic == topic && m.payload == payload) return true;
  return false;
}

// The device's identity, attested once: its TLS key then holds the fleet's approval of the
// measured state, without which the TPM would not sign a handshake.
std::unique_ptr<Identity> attested_identity(const DeviceRig& rig) {
  auto identity = open_identity(rig.cfg);
  const auto pcr = static_cast<unsigned>(rig.cfg.attestation.pcr);
  auto log = measure(*identity, pcr, measurement_targets(rig.cfg), rig.cfg.attestation.event_log);
  if (!log) throw std::runtime_error(log.error().describe());
  auto keys = identity->find_keys();
  if (!keys || !keys.value()) throw std::runtime_error("not provisioned");
  AttestationClient client(rig.cfg.trust_service, rig.cfg.device_id);
  auto issued = client.attest(*identity, keys.value()->tls_public_der, pcr, log.value(), 1h);
  if (!issued || !issued.value().approval) throw std::runtime_error("no approval");
  if (!identity->use_approval(*issued.value().approval)) throw std::runtime_error("approval refused");
  return identity;
}

// A TLS session to the broker authenticated with `certificate_pem` and the device's TPM key.
result<std::unique_ptr<TlsSession>> broker_session(const SecureFleet& fleet, Identity& identity,
                                                   const std::string& certificate_pem) {
  TlsClientOptions o;
  o.host = "127.0.0.1";
  o.port = fleet.broker_port();
  o.ca_file = fleet.ca_file();
  o.server_name = "localhost";
  o.credential = ClientCredential{certificate_pem, &identity};
  // The identity outlives the handshake: connect() completes it before returning.
  return TlsSession::connect(o);
}

TEST(TunnelLink, AttestsAndCarriesMqttFromPahoToTheBroker) {
  SecureFleet fleet;
  DeviceRig rig(fleet, "store-042");
  rig.enroll();
  rig.allow_this_process();
  auto reader = fleet.reader("guardian/v1/#");

  auto link = make_link(rig.uplink());
  auto endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe() << "\n" << fleet.trust_log();
  EXPECT_TRUE(endpoint.value().server_uri.starts_with("tcp://127.0.0.1:"));
  EXPECT_FALSE(endpoint.value().tls);  // Paho speaks plain MQTT to the tunnel
  auto paho = test::connect_paho(endpoint.value().server_uri, "store-042");
  test::publish(*paho, "guardian/v1/store-042/telemetry", "hello through the TPM");
  EXPECT_TRUE(reader->wait_for(
      [](const auto& all) {
        for (const auto& m : all)
          if (m.payload == "hello through the TPM") return true;
        return false;
      },
      10s));

  const auto info = link->info();
  EXPECT_EQ(info.kind, "tpm-tunnel");
  EXPECT_NE(info.identity.find("CN=store-042"), std::string::npos) << info.identity;
  ASSERT_TRUE(info.cert_not_after);
  EXPECT_GT(*info.cert_not_after, now_ms() + 59min);
  EXPECT_LE(*info.cert_not_after, now_ms() + 61min);
  // One attestation: the renewal thread and the first open() do not both attest at start.
  EXPECT_EQ(counter(*link, "attestations"), 1u);
  EXPECT_EQ(counter(*link, "sessions"), 1u);
  EXPECT_GT(counter(*link, "bytes_up"), 0u);
  paho->disconnect()->wait_for(5s);
  link->close();
}

TEST(TunnelLink, CarriesLargeMessagesBothWaysIntactAndInOrder) {
  SecureFleet fleet;
  DeviceRig rig(fleet, "store-042");
  rig.enroll();
  rig.allow_this_process();
  auto link = make_link(rig.uplink());
  auto endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe();
  auto paho = test::connect_paho(endpoint.value().server_uri, "store-042");
  std::mutex mutex;
  std::vector<std::string> echoed;
  paho->set_message_callback([&](mqtt::const_message_ptr m) {
    std::lock_guard lock(mutex);
    echoed.push_back(m->to_string());
  });
  paho->subscribe("guardian/v1/store-042/echo", 1)->wait_for(10s);

  // Messages of several TLS records each (up to 200 KB), every byte value, each one different:
  // the tunnel splits, coalesces and buffers them both ways.
  std::vector<std::string> sent;
  for (int i = 0; i < 40; ++i) {
    std::string body(static_cast<std::size_t>(1000 + i * 5000), '\0');
    for (std::size_t k = 0; k < body.size(); ++k)
      body[k] = static_cast<char>((k * 131 + static_cast<std::size_t>(i) * 7) & 0xff);
    sent.push_back(body);
    paho->publish("guardian/v1/store-042/echo", body.data(), body.size(), 1, false);
  }
  ASSERT_TRUE(testing::wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return echoed.size() >= sent.size();
      },
      30s));
  std::lock_guard lock(mutex);
  ASSERT_EQ(echoed.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_TRUE(echoed[i] == sent[i]) << "message " << i;
  EXPECT_GT(counter(*link, "bytes_down"), 3'900'000u);  // 3.94 MB of bodies
  paho->disconnect()->wait_for(5s);
}

TEST(TunnelLink, RefusesASecondLocalProcessAndCountsIt) {
  SecureFleet fleet;
  DeviceRig rig(fleet, "store-042");
  rig.enroll();
  rig.allow_this_process();
  auto reader = fleet.reader("guardian/v1/#");
  auto link = make_link(rig.uplink());
  auto endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe();
  const auto port = port_of(endpoint.value().server_uri);

  // Another process on this host tries to speak MQTT as the device through the tunnel.
  const std::string intruder = R"py(
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.settimeout(5)
# MQTT 3.1.1 §3.1 CONNECT, clean session, client id "intruder"
connect = bytes.fromhex("101400044d5154540402003c0008696e747275646572")
try:
    s.sendall(connect)
    reply = s.recv(64)
    print("closed" if reply == b"" else "answered " + reply.hex())
except (ConnectionResetError, BrokenPipeError):
    print("closed")
)py";
  testing::write_file(rig.dir / "intruder.py", intruder);
  const auto attempt = testing::run_command(
      {"/usr/bin/python3", (rig.dir / "intruder.py").string(), std::to_string(port)}, 20s);
  EXPECT_EQ(attempt.exit_code, 0) << attempt.output;
  EXPECT_NE(attempt.output.find("closed"), std::string::npos) << attempt.output;
  EXPECT_EQ(counter(*link, "refused_local_connections"), 1u);

  // The gateway's own client still gets through, and then nobody else can even connect.
  auto paho = test::connect_paho(endpoint.value().server_uri, "store-042");
  test::publish(*paho, "guardian/v1/store-042/telemetry", "still ours");
  EXPECT_TRUE(reader->wait_for(
      [](const auto& all) { return !all.empty() && all.back().payload == "still ours"; }, 10s));
  const auto late = testing::run_command(
      {"/usr/bin/python3", (rig.dir / "intruder.py").string(), std::to_string(port)}, 20s);
  EXPECT_NE(late.exit_code, 0) << late.output;  // connection refused: the listener is gone
  for (const auto& m : reader->messages()) EXPECT_EQ(m.payload.find("intruder"), std::string::npos);
  paho->disconnect()->wait_for(5s);
}

TEST(TunnelLink, RefusesABrokerWhoseCertificateComesFromAnotherCa) {
  SecureFleet::Options options;
  options.broker_issuer = "other-ca";
  SecureFleet fleet(options);
  DeviceRig rig(fleet, "store-042");
  rig.enroll();
  rig.allow_this_process();
  auto link = make_link(rig.uplink());
  auto endpoint = link->open();
  ASSERT_FALSE(endpoint);
  EXPECT_NE(endpoint.error().message.find("not correctly signed by the trusted CA"), std::string::npos)
      << endpoint.error().describe();
  EXPECT_NE(endpoint.error().message.find("ssl://127.0.0.1:" + std::to_string(fleet.broker_port())),
            std::string::npos);
  EXPECT_EQ(counter(*link, "handshake_failures"), 1u);
  EXPECT_EQ(counter(*link, "sessions"), 0u);
  // The device did attest: only the broker was refused.
  EXPECT_GE(counter(*link, "attestations"), 1u);
}

TEST(TunnelLink, RefusesABrokerWhoseCertificateNamesAnotherHost) {
  SecureFleet fleet;
  DeviceRig rig(fleet, "store-042");
  rig.cfg.broker.server_name = "mqtt.example.net";  // the broker's certificate says localhost
  rig.enroll();
  rig.allow_this_process();
  auto link = make_link(rig.uplink());
  auto endpoint = link->open();
  ASSERT_FALSE(endpoint);
  EXPECT_NE(endpoint.error().message.find("does not match"), std::string::npos)
      << endpoint.error().describe();
  EXPECT_EQ(counter(*link, "sessions"), 0u);
}

TEST(TunnelLink, RefusesABrokerThatOffersNoForwardSecretAeadSuite) {
  SecureFleet fleet(SecureFleet::Options{.broker = false});
  DeviceRig rig(fleet, "store-042");
  rig.enroll();
  rig.allow_this_process();
  // openssl as a TLS 1.2 "broker" with the fleet's broker certificate, offering only `ciphers`.
  // -www: it serves without reading stdin, so it keeps accepting.
  const auto open_against = [&](const std::string& ciphers, const std::string& log) {
    const auto port = testing::free_tcp_port();
    testing::Process server({{"openssl", "s_server", "-accept", std::to_string(port), "-cert",
                              fleet.pki().pem("broker"), "-key", fleet.pki().key("broker"),
                              "-tls1_2", "-www", "-cipher", ciphers},
                             {},
                             rig.dir / log,
                             {}});
    // Not probed by connecting: the probe would be the session under test.
    EXPECT_TRUE(testing::wait_until(
        [&] { return server.log().find("ACCEPT") != std::string::npos; }, 10s))
        << server.log();
    auto uplink = rig.uplink();
    uplink.broker = "ssl://127.0.0.1:" + std::to_string(port);
    auto link = make_link(uplink);
    return std::pair{link->open().has_value(), counter(*link, "handshake_failures")};
  };
  // The control: the same server with an ECDHE + AEAD suite is accepted…
  EXPECT_EQ(open_against("ECDHE-ECDSA-AES128-GCM-SHA256", "aead.log"), std::pair(true, std::uint64_t{0}));
  // …and with CBC suites only (a downgrade), refused.
  EXPECT_EQ(open_against("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA", "cbc.log"),
            std::pair(false, std::uint64_t{1}));
  EXPECT_NE(testing::read_file(rig.dir / "cbc.log").find("no shared cipher"), std::string::npos);
}

TEST(TunnelLink, AnExpiredCertificateIsRejectedByTheBrokerAndTheDeviceRenews) {
  SecureFleet fleet;
  DeviceRig rig(fleet, "store-042");
  rig.enroll();
  rig.allow_this_process();
  auto reader = fleet.reader("guardian/v1/#");

  // A certificate for the device's own TPM key, from the fleet CA, that expired an hour ago.
  auto ca = cloud::CertificateAuthority::load(fleet.ca_file(), fleet.ca_key());
  ASSERT_TRUE(ca) << ca.error().describe();
  auto identity = attested_identity(rig);
  auto keys = identity->find_keys();
  ASSERT_TRUE(keys && keys.value());
  auto expired = ca.value()->issue(
      {"store-042", keys.value()->tls_public_der, now_ms() - 2h, now_ms() - 1h, false});
  ASSERT_TRUE(expired) << expired.error().describe();

  auto refused = broker_session(fleet, *identity, expired.value().pem);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("certificate expired"), std::string::npos)
      << refused.error().describe();

  // Left in the state directory, the expired certificate is not used: the device attests.
  std::filesystem::create_directories(rig.cfg.state_dir);
  testing::write_file(rig.cfg.state_dir / "certificate.pem", expired.value().pem);
  auto link = make_link(rig.uplink());
  auto endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe();
  ASSERT_TRUE(link->info().cert_not_after);
  EXPECT_GT(*link->info().cert_not_after, now_ms() + 50min);
  auto paho = test::connect_paho(endpoint.value().server_uri, "store-042");
  test::publish(*paho, "guardian/v1/store-042/telemetry", "renewed");
  EXPECT_TRUE(reader->wait_for(
      [](const auto& all) { return !all.empty() && all.back().payload == "renewed"; }, 10s));
  const auto stored = parse_issued_certificate(testing::read_file(rig.cfg.state_dir / "certificate.pem"));
  ASSERT_TRUE(stored);
  EXPECT_NE(stored.value().serial, expired.value().serial);
  paho->disconnect()->wait_for(5s);
}

TEST(TunnelLink, RenewsBeforeExpiryAndEndsASessionWhenItsCertificateLapses) {
  SecureFleet fleet;
  DeviceRig rig(fleet, "store-042");
  rig.cfg.certificate.lifetime = 12s;
  rig.cfg.certificate.renew_at = 0.5;
  rig.enroll();
  rig.allow_this_process();
  auto reader = fleet.reader("guardian/v1/#");
  auto link = make_link(rig.uplink());
  auto endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe();
  const auto first = link->info().cert_not_after;
  auto paho = test::connect_paho(endpoint.value().server_uri, "store-042");

  // Renewed at about half the lifetime, while the session goes on with the old certificate…
  ASSERT_TRUE(testing::wait_until([&] { return counter(*link, "attestations") >= 2; }, 20s))
      << fleet.trust_log();
  EXPECT_TRUE(paho->is_connected());
  // …which ends the session when it expires: no session outlives its certificate.
  ASSERT_TRUE(testing::wait_until([&] { return counter(*link, "sessions_ended_at_expiry") == 1; }, 20s));
  ASSERT_TRUE(testing::wait_until([&] { return !paho->is_connected(); }, 10s));

  // The next connection uses the renewed certificate.
  endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe();
  EXPECT_GT(*link->info().cert_not_after, *first);
  paho = test::connect_paho(endpoint.value().server_uri, "store-042");
  test::publish(*paho, "guardian/v1/store-042/telemetry", "after renewal");
  EXPECT_TRUE(reader->wait_for(
      [](const auto& all) { return !all.empty() && all.back().payload == "after renewal"; }, 10s));
  paho->disconnect()->wait_for(5s);
}

TEST(TunnelLink, KeepsAValidCertificateWhileTheTrustServiceIsDownAndRenewsWhenItReturns) {
  SecureFleet fleet;
  DeviceRig rig(fleet, "store-042");
  rig.enroll();
  rig.allow_this_process();
  {
    auto first = make_link(rig.uplink());
    ASSERT_TRUE(first->open());
  }
  fleet.stop_trust_service();

  auto link = make_link(rig.uplink());
  auto endpoint = link->open();
  ASSERT_TRUE(endpoint) << endpoint.error().describe();  // the stored certificate is still valid
  ASSERT_TRUE(testing::wait_until([&] { return counter(*link, "attestation_failures") >= 1; }, 20s));
  EXPECT_NE(link->info().last_error.find("127.0.0.1:" + std::to_string(fleet.trust_port())),
            std::string::npos)
      << link->info().last_error;
  auto paho = test::connect_paho(endpoint.value().server_uri, "store-042");
  EXPECT_TRUE(paho->is_connected());

  fleet.restart_trust_service();  // the renewal thread retries with back-off (max 1 s here)
  EXPECT_TRUE(testing::wait_until([&] { return counter(*link, "attestations") >= 1; }, 20s));
  EXPECT_TRUE(link->info().last_error.empty()) << link->info().last_error;
  paho->disconnect()->wait_for(5s);
}

// Two enrolled devices, each connected through its own TPM tunnel, and the fleet's reader.
struct TwoDevices {
  TwoDevices() {
    a.enroll();
    b.enroll();
    a.allow_this_process();
    b.allow_this_process();
    link_a = make_link(a.uplink());
    link_b = make_link(b.uplink());
    auto endpoint_a = link_a->open();
    auto endpoint_b = link_b->open();
    if (!endpoint_a || !endpoint_b) throw std::runtime_error("a tunnel did not open");
    paho_a = test::connect_paho(endpoint_a.value().server_uri, "store-a");
    paho_b = test::connect_paho(endpoint_b.value().server_uri, "store-b");
  }
  ~TwoDevices() {
    for (auto* paho : {paho_a.get(), paho_b.get()}) {
      try {
        paho->disconnect()->wait_for(5s);
      } catch (const mqtt::exception&) {
        // already gone: the broker ended its session
      }
    }
  }
  /// Waits until the reader has every one of `payloads`.
  bool reader_got(const std::vector<std::string>& payloads) const {
    return reader->wait_for(
        [&](const auto& all) {
          for (const auto& p : payloads) {
            bool found = false;
            for (const auto& m : all) found = found || m.payload == p;
            if (!found) return false;
          }
          return true;
        },
        10s);
  }

  SecureFleet fleet;
  DeviceRig a{fleet, "store-a"};
  DeviceRig b{fleet, "store-b"};
  std::unique_ptr<testing::MqttCollector> reader = fleet.reader("guardian/v1/#");
  std::unique_ptr<Link> link_a, link_b;
  std::unique_ptr<mqtt::async_client> paho_a, paho_b;
};

TEST(TunnelLink, ADeviceCannotPublishOnAnotherDevicesTopics) {
  TwoDevices devices;
  // B publishes as A (the broker drops it silently: MQTT 3.1.1 has no negative PUBACK), then on
  // its own topic; A publishes genuinely. Both markers arriving bound the wait.
  test::publish(*devices.paho_b, "guardian/v1/store-a/telemetry", "forged by b");
  test::publish(*devices.paho_b, "guardian/v1/store-a/commands", "a command forged by b");
  test::publish(*devices.paho_b, "guardian/v1/store-b/telemetry", "marker b");
  test::publish(*devices.paho_a, "guardian/v1/store-a/telemetry", "genuine a");
  ASSERT_TRUE(devices.reader_got({"marker b", "genuine a"}));
  EXPECT_FALSE(received(*devices.reader, "guardian/v1/store-a/telemetry", "forged by b"));
  EXPECT_FALSE(received(*devices.reader, "guardian/v1/store-a/commands", "a command forged by b"));
  EXPECT_TRUE(devices.paho_b->is_connected());
}

TEST(TunnelLink, ADeviceCannotSubscribeToAnotherDevicesTopics) {
  TwoDevices devices;
  std::vector<std::string> b_received;
  std::mutex b_mutex;
  devices.paho_b->set_message_callback([&](mqtt::const_message_ptr m) {
    std::lock_guard lock(b_mutex);
    b_received.push_back(m->get_topic() + " " + m->to_string());
  });
  // B listens on A's topics, on the whole tree, and on its own (the control).
  devices.paho_b->subscribe("guardian/v1/store-a/#", 1)->wait_for(10s);
  devices.paho_b->subscribe("guardian/v1/#", 1)->wait_for(10s);
  devices.paho_b->subscribe("guardian/v1/store-b/#", 1)->wait_for(10s);
  test::publish(*devices.paho_a, "guardian/v1/store-a/telemetry", "secret of a");
  test::publish(*devices.paho_b, "guardian/v1/store-b/telemetry", "marker b");
  ASSERT_TRUE(devices.reader_got({"secret of a", "marker b"}));
  // A's message was PUBACKed before B published its marker, so had the broker forwarded it to
  // B, it would have reached B first on B's one connection.
  ASSERT_TRUE(testing::wait_until(
      [&] {
        std::lock_guard lock(b_mutex);
        for (const auto& m : b_received)
          if (m.find("marker b") != std::string::npos) return true;
        return false;
      },
      10s));
  std::lock_guard lock(b_mutex);
  for (const auto& m : b_received) EXPECT_EQ(m.find("secret of a"), std::string::npos) << m;
}

TEST(TunnelLink, AnotherCertificateHolderCannotTakeOverADevicesClientId) {
  TwoDevices devices;
  // A certificate from the fleet CA for a name that is not store-a, connecting with store-a's
  // client id: the broker uses the certificate's name as the client id instead.
  devices.fleet.make_client("intruder", "store-x");
  testing::MqttCollector intruder(
      "ssl://127.0.0.1:" + std::to_string(devices.fleet.broker_port()), "guardian/v1/store-x/#",
      "store-a", false,
      testing::CollectorTls{devices.fleet.ca_file().string(), devices.fleet.pki().pem("intruder"),
                            devices.fleet.pki().key("intruder")});
  test::publish(*devices.paho_a, "guardian/v1/store-a/telemetry", "still here");
  ASSERT_TRUE(devices.reader_got({"still here"}));
  EXPECT_TRUE(devices.paho_a->is_connected());
}

TEST(TunnelLink, RevokingADeviceEndsItsLiveSessionWithinSeconds) {
  TwoDevices devices;
  std::atomic<bool> lost{false};
  devices.paho_a->set_connection_lost_handler([&](const std::string&) { lost = true; });
  const auto revoked_at = std::chrono::steady_clock::now();
  devices.fleet.cli({"revoke", "store-a", "--reason", "reported stolen"});
  // The trust service lists it with the next CRL (within --crl-check) and the broker's
  // guardian_revocation plugin ends its session: not at the certificate's expiry, an hour away.
  ASSERT_TRUE(testing::wait_until([&] { return lost.load(); }, 20s)) << devices.fleet.broker().log();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - revoked_at);
  std::cout << "revoke to session end: " << took.count() << " ms\n";
  // The plugin logs after it has ended the session: the line may reach the file a moment later.
  EXPECT_TRUE(testing::wait_until(
      [&] { return devices.fleet.broker().log().find("store-a is revoked") != std::string::npos; },
      5s))
      << devices.fleet.broker().log();
  // The other device is untouched.
  test::publish(*devices.paho_b, "guardian/v1/store-b/telemetry", "b carries on");
  ASSERT_TRUE(devices.reader_got({"b carries on"}));
  EXPECT_TRUE(devices.paho_b->is_connected());
}

TEST(TunnelLink, ARevokedDevicesCertificateIsRefusedByTheBrokerOnceTheCrlIsPublished) {
  SecureFleet fleet;
  DeviceRig rig(fleet, "store-042");
  rig.enroll();
  rig.allow_this_process();
  auto link = make_link(rig.uplink());
  ASSERT_TRUE(link->open());
  link->close();
  const auto pem = testing::read_file(rig.cfg.state_dir / "certificate.pem");
  auto issued = parse_issued_certificate(pem);
  ASSERT_TRUE(issued);
  auto identity = attested_identity(rig);
  ASSERT_TRUE(broker_session(fleet, *identity, pem));  // accepted before the revocation

  fleet.cli({"revoke", "store-042", "--reason", "stolen"});
  // The trust service rewrites the CRL and tells the broker to reload it (SIGHUP).
  std::string serial = issued.value().serial;
  for (auto& c : serial) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto text = testing::run_command({"openssl", "crl", "-in", fleet.crl().string(), "-noout", "-text"});
        return text.output.find(serial) != std::string::npos;
      },
      10s));
  // The broker applies the reload asynchronously: wait for the refusal itself.
  result<std::unique_ptr<TlsSession>> refused = make_error("not tried");
  ASSERT_TRUE(testing::wait_until(
      [&] {
        refused = broker_session(fleet, *identity, pem);
        return !refused;
      },
      10s, 100ms))
      << fleet.broker().log();
  EXPECT_NE(refused.error().message.find("certificate revoked"), std::string::npos)
      << refused.error().describe();
}

// A listening socket on loopback that never accepts and never answers: a trust service or broker
// that hangs mid-handshake.
struct SilentPeer {
  SilentPeer() : socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof a;
    if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(socket.get(), 16) != 0 ||
        ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&a), &length) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port = ntohs(a.sin_port);
  }
  // True once a client's connection waits to be accepted (its handshake has begun).
  [[nodiscard]] bool connected_to(std::chrono::milliseconds deadline) const {
    pollfd p{socket.get(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(deadline.count())) > 0;
  }
  Socket socket;
  std::uint16_t port = 0;
};

TEST(TlsSession, AHandshakeWithASilentPeerEndsWhenItsCancelFdIsSignalled) {
  SilentPeer peer;
  testing::TempDir dir("guardian-cancel");
  const auto ca = dir.path() / "ca.pem";
  const auto made = testing::run_command(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-days", "1", "-subj", "/CN=cancel test CA", "-keyout", (dir.path() / "ca.key").string(),
       "-out", ca.string()});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const int cancel = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  TlsClientOptions o;
  o.host = "127.0.0.1";
  o.port = peer.port;
  o.ca_file = ca;
  o.timeout = 120s;  // far beyond the test's own deadline below
  o.cancel_fd = cancel;
  auto session = std::async(std::launch::async, [&] { return TlsSession::connect(o); });
  ASSERT_TRUE(peer.connected_to(10s));
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(cancel, &one, sizeof one), 8);
  ASSERT_EQ(session.wait_for(30s), std::future_status::ready);
  const auto r = session.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code.value(), ECANCELED) << r.error().describe();
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(peer.port) + " interrupted"),
            std::string::npos)
      << r.error().describe();
  ::close(cancel);
}

// stop() of an uplink interrupts its link's open(): here the tunnel waits for a trust service
// that accepted the connection and never answers (its timeout is two minutes).
TEST(TunnelLink, AnOpenWaitingForASilentTrustServiceReturnsAtOnceWhenInterrupted) {
  SecureFleet fleet;
  DeviceRig rig(fleet, "store-042", config::IdentityBackend::software);
  rig.provision();
  SilentPeer silent;
  auto uplink = rig.uplink();
  uplink.secure_link->trust_service.port = silent.port;
  uplink.secure_link->trust_service.timeout = 120s;
  auto link = make_link(uplink);
  auto opened = std::async(std::launch::async, [&] { return link->open(); });
  ASSERT_TRUE(silent.connected_to(10s));  // an attestation is under way
  link->interrupt();
  ASSERT_EQ(opened.wait_for(30s), std::future_status::ready);
  const auto endpoint = opened.get();
  ASSERT_FALSE(endpoint);
  EXPECT_EQ(endpoint.error().code.value(), ECANCELED) << endpoint.error().describe();
  // Until resume(), a new open() does not even try.
  const auto again = link->open();
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("the gateway is stopping"), std::string::npos)
      << again.error().describe();
  // Destroying the link stops its renewal thread, whose attestation is interrupted too.
  auto destroyed = std::async(std::launch::async, [&] { link.reset(); });
  EXPECT_EQ(destroyed.wait_for(30s), std::future_status::ready);
}

}  // namespace
}  // namespace guardian::secure_link

// bench_secure_link: what the secure link costs, against real peers started for the run — swtpm,
// guardian-trust and a TLS mosquitto configured by `guardian-trust broker-config`.
//   1. Time to a certificate and a session: measuring into the PCR, one attestation (TLS to the
//      trust service, nonce, TPM quote, certificate), one mTLS handshake with the broker signed by
//      the TPM, and the whole cold start of the tunnel (no stored certificate) to Paho's CONNACK.
//   2. Throughput: Paho publishing QoS 1 through the TPM tunnel against Paho's own ssl:// (OpenSSL,
//      a key file) to the same broker, alternating rounds in the same run.
//   bench_secure_link [--rounds 5] [--messages 20000] [--payload 1000] [--inflight 100]
// See bench/README.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <deque>
#include <iostream>

#include <mqtt/async_client.h>

#include "guardian/secure_link/attestation_client.hpp"
#include "guardian/secure_link/link.hpp"
#include "guardian/secure_link/measurement_log.hpp"
#include "guardian/secure_link/tls_session.hpp"
#include "guardian/secure_link/trust_protocol.hpp"
#include "guardian/testing/device_rig.hpp"
#include "guardian/testing/secure_fleet.hpp"

namespace {

using namespace guardian;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

template <typename T>
T must(result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().describe());
  return std::move(r).value();
}

struct Options {
  int rounds = 5;
  int messages = 20000;
  int payload = 1000;
  int inflight = 100;
};

struct Throughput {
  double seconds = 0;
  double cpu_seconds = 0;  // this process: Paho's threads, and the tunnel's for the tunnel
};

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Connects, publishes `messages` QoS 1 messages keeping at most `inflight` unacknowledged, and
// times from the first publish to the last PUBACK.
Throughput publish_all(const std::string& uri, const std::string& client_id,
                       std::optional<mqtt::ssl_options> ssl, const Options& o) {
  mqtt::async_client client(uri, client_id,
                            mqtt::create_options_builder()
                                .mqtt_version(MQTTVERSION_3_1_1)
                                .max_buffered_messages(o.inflight * 2)
                                .finalize());
  auto builder = mqtt::connect_options_builder().clean_session(true).max_inflight(o.inflight);
  if (ssl) builder.ssl(*ssl);
  client.connect(builder.finalize())->wait_for(20s);
  if (!client.is_connected()) throw std::runtime_error("Paho did not connect to " + uri);
  const std::string topic = "guardian/v1/" + client_id + "/telemetry";
  const std::string body(static_cast<std::size_t>(o.payload), 'x');
  std::deque<mqtt::delivery_token_ptr> window;
  const double cpu0 = process_cpu_seconds();
  const auto start = Clock::now();
  for (int i = 0; i < o.messages; ++i) {
    if (static_cast<int>(window.size()) >= o.inflight) {
      window.front()->wait();
      window.pop_front();
    }
    window.push_back(client.publish(topic, body.data(), body.size(), 1, false));
  }
  for (auto& token : window) token->wait();
  Throughput t{ms_since(start) / 1000.0, process_cpu_seconds() - cpu0};
  client.disconnect()->wait_for(10s);
  return t;
}

void print_throughput(const char* name, const std::vector<Throughput>& rounds, const Options& o) {
  std::vector<double> seconds, cpu;
  for (const auto& r : rounds) {
    seconds.push_back(r.seconds);
    cpu.push_back(r.cpu_seconds);
  }
  const double s = median(seconds);
  std::printf("  %-22s %9.0f msg/s  %7.2f MiB/s  CPU %.2f s  (median of %zu)\n", name,
              o.messages / s, o.messages * static_cast<double>(o.payload) / s / (1 << 20),
              median(cpu), rounds.size());
}

}  // namespace

int main(int argc, char** argv) {
  ::setenv("TSS2_LOG", "all+NONE", 0);
  Options o;
  CLI::App app{"bench_secure_link — attestation, handshake and tunnel throughput"};
  app.add_option("--rounds", o.rounds)->capture_default_str();
  app.add_option("--messages", o.messages)->capture_default_str();
  app.add_option("--payload", o.payload, "bytes per message")->capture_default_str();
  app.add_option("--inflight", o.inflight)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    testing::SecureFleet fleet;
    test::DeviceRig rig(fleet, "bench-dev");
    rig.enroll();
    rig.allow_this_process();
    fleet.make_client("paho", "bench-paho");
    std::printf("secure link bench: swtpm %s, trust service :%u, broker :%u\n",
                rig.swtpm->tcti().c_str(), fleet.trust_port(), fleet.broker_port());

    // ── 1. Time to a certificate and a session ──
    {
      auto identity = secure_link::open_identity(rig.cfg);
      const auto keys = must(identity->find_keys(), "keys");
      secure_link::AttestationClient client(rig.cfg.trust_service, rig.cfg.device_id);
      const auto targets = secure_link::measurement_targets(rig.cfg);
      const auto pcr = static_cast<unsigned>(rig.cfg.attestation.pcr);
      const auto& log_file = rig.cfg.attestation.event_log;
      std::vector<double> measure_ms, attest_ms, approve_ms, sign_ms, handshake_ms, cold_ms;
      double first_attest_ms = 0;
      for (int round = 0; round < std::max(o.rounds, 5) + 1; ++round) {
        // Round 0 is the device's first attestation (credential activation): reported apart.
        auto start = Clock::now();
        const auto log = must(secure_link::measure(*identity, pcr, targets, log_file), "measure");
        if (round > 0) measure_ms.push_back(ms_since(start));

        start = Clock::now();
        const auto issued = must(client.attest(*identity, keys->tls_public_der, pcr, log, 1h), "attest");
        if (round == 0) {
          first_attest_ms = ms_since(start);
        } else {
          attest_ms.push_back(ms_since(start));
        }
        start = Clock::now();
        must(identity->use_approval(*issued.approval), "approval");
        if (round > 0) approve_ms.push_back(ms_since(start));
        start = Clock::now();
        must(identity->sign(secure_link::HashAlgorithm::sha256, secure_link::Bytes(32, 1)), "sign");
        if (round > 0) sign_ms.push_back(ms_since(start));

        secure_link::TlsClientOptions tls;
        tls.host = "127.0.0.1";
        tls.port = fleet.broker_port();
        tls.ca_file = fleet.ca_file();
        tls.server_name = "localhost";
        tls.credential = secure_link::ClientCredential{issued.certificate_pem, identity.get()};
        start = Clock::now();
        auto session = must(secure_link::TlsSession::connect(tls), "handshake");
        handshake_ms.push_back(ms_since(start));
        session->close_notify();
      }
      // Where an attestation's time goes: the same protocol, step by step.
      std::vector<double> connect_ms, nonce_ms, quote_ms, issue_ms;
      for (int round = 0; round < std::max(o.rounds, 5); ++round) {
        secure_link::TlsClientOptions tls;
        tls.host = "127.0.0.1";
        tls.port = fleet.trust_port();
        tls.ca_file = fleet.ca_file();
        tls.server_name = "localhost";
        auto start = Clock::now();
        auto session = must(secure_link::TlsSession::connect(tls), "trust service");
        connect_ms.push_back(ms_since(start));
        const auto call = [&](const nlohmann::json& request) {
          const auto deadline = Clock::now() + 10s;
          must(session->write_all(request.dump() + "\n", deadline), "write");
          return nlohmann::json::parse(
              must(session->read_line(secure_link::kMaxTrustLine, deadline), "read"));
        };
        start = Clock::now();
        const auto nonce = call({{"op", "nonce"}, {"device", rig.cfg.device_id}});
        nonce_ms.push_back(ms_since(start));
        const auto log = must(secure_link::measure(*identity, pcr, targets, log_file), "measure");
        start = Clock::now();
        const auto quote = must(
            identity->quote(pcr, must(secure_link::from_hex(nonce.at("nonce").get<std::string>()), "hex")),
            "quote");
        quote_ms.push_back(ms_since(start));
        start = Clock::now();
        const auto answer = call({{"op", "attest"},
                                  {"device", rig.cfg.device_id},
                                  {"nonce", nonce.at("nonce")},
                                  {"quote",
                                   {{"attest", secure_link::to_base64(quote.attest)},
                                    {"signature", secure_link::to_base64(quote.signature)}}},
                                  {"event_log", secure_link::event_log_to_json(log)},
                                  {"lifetime_s", 3600}});
        issue_ms.push_back(ms_since(start));
        if (!answer.value("ok", false)) throw std::runtime_error("attest: " + answer.dump());
      }
      identity.reset();
      // The tunnel from nothing: no stored certificate, so open() measures and attests first.
      for (int round = 0; round < std::max(o.rounds, 5); ++round) {
        std::filesystem::remove(rig.cfg.state_dir / "certificate.pem");
        std::filesystem::remove(rig.cfg.state_dir / "approval.json");
        const auto start = Clock::now();
        auto link = secure_link::make_link(rig.uplink());
        const auto endpoint = must(link->open(), "tunnel");
        auto paho = test::connect_paho(endpoint.server_uri, "bench-dev");
        cold_ms.push_back(ms_since(start));
        paho->disconnect()->wait_for(5s);
        link->close();
      }
      const double attest = median(attest_ms), handshake = median(handshake_ms);
      std::printf("\n1. certificate and session (median of %zu; ms)\n", attest_ms.size());
      std::printf("  first attestation (credential activation, EK)   %7.1f   (once per device)\n",
                  first_attest_ms);
      std::printf("  measure again (restart, same binary+config)       %7.1f\n", median(measure_ms));
      std::printf("  attestation (TLS, nonce, TPM quote, certificate)  %7.1f\n", attest);
      std::printf("    of which: TLS to the trust service %.1f, nonce %.1f, TPM quote %.1f,"
                  " verification and certificate %.1f\n",
                  median(connect_ms), median(nonce_ms), median(quote_ms), median(issue_ms));
      std::printf("  approval: TPM2_LoadExternal + VerifySignature     %7.1f\n", median(approve_ms));
      std::printf("  one TLS-key signature under its policy            %7.1f   (5 TPM commands)\n",
                  median(sign_ms));
      std::printf("  mTLS handshake with the broker (TPM signs)        %7.1f\n", handshake);
      std::printf("  attestation + handshake                           %7.1f   (target <= 50)\n",
                  attest + handshake);
      std::printf("  cold start: make_link → open → Paho CONNACK       %7.1f\n", median(cold_ms));
    }

    // ── 2. Throughput: the tunnel against Paho's own ssl:// ──
    mqtt::ssl_options ssl = mqtt::ssl_options_builder()
                                .trust_store(fleet.ca_file().string())
                                .key_store(fleet.pki().pem("paho"))
                                .private_key(fleet.pki().key("paho"))
                                .enable_server_cert_auth(true)
                                .finalize();
    const std::string ssl_uri = "ssl://127.0.0.1:" + std::to_string(fleet.broker_port());
    auto link = secure_link::make_link(rig.uplink());
    std::vector<Throughput> tunnel, paho_ssl;
    for (int round = 0; round < o.rounds; ++round) {
      const auto endpoint = must(link->open(), "tunnel");
      tunnel.push_back(publish_all(endpoint.server_uri, "bench-dev", std::nullopt, o));
      link->close();
      paho_ssl.push_back(publish_all(ssl_uri, "bench-paho", ssl, o));
    }
    std::printf("\n2. throughput: %d QoS 1 messages of %d bytes, %d in flight, alternating rounds\n",
                o.messages, o.payload, o.inflight);
    print_throughput("TPM tunnel", tunnel, o);
    print_throughput("Paho ssl:// (OpenSSL)", paho_ssl, o);
    std::vector<double> ratio;
    for (std::size_t i = 0; i < tunnel.size(); ++i) ratio.push_back(paho_ssl[i].seconds / tunnel[i].seconds);
    std::printf("  tunnel / Paho ssl:// throughput: %.2fx median (rounds:", median(ratio));
    for (const double r : ratio) std::printf(" %.2f", r);
    std::printf(")   (target >= 0.9x)\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_secure_link: %s\n", e.what());
    return 1;
  }
  return 0;
}

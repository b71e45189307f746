// guardian-trust — the fleet's trust service and its operator CLI.
//
//   guardian-trust serve --registry DB --listen HOST:PORT --cert F --key F --ca-cert F --ca-key F
//                        --approval-key F [--crl F [--on-crl-update CMD]] [--port-file F]
//   guardian-trust tpm-ca add|list|remove --registry DB …
//   guardian-trust enroll --registry DB RECORD.json [--replace]
//   guardian-trust revoke --registry DB DEVICE [--reason TEXT]
//   guardian-trust list --registry DB [--json]
//   guardian-trust policy show|allow|disallow|set --registry DB …
//   guardian-trust crl --registry DB --ca-cert F --ca-key F --out F
//   guardian-trust broker-config --ca F --cert F --key F --crl F --acl F [--reader CN]…
//                                [--operator CN]… --out F
//
// Exit codes: 0 success, 1 usage or invalid input, 2 failure (registry, files, network).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <iostream>

#include "guardian/cloud/approval_signer.hpp"
#include "guardian/cloud/broker_config.hpp"
#include "guardian/cloud/certificate_authority.hpp"
#include "guardian/cloud/evidence.hpp"
#include "guardian/cloud/fleet_view.hpp"
#include "guardian/cloud/registry.hpp"
#include "guardian/cloud/trust_server.hpp"
#include "guardian/cloud/trust_service.hpp"
#include "guardian/common/byte_text.hpp"
#include "guardian/common/log.hpp"
#include "guardian/common/time_format.hpp"
#include "guardian/secure_link/enrollment.hpp"

namespace {

using namespace guardian;
using namespace guardian::cloud;

constexpr int kUsage = 1;
constexpr int kFailure = 2;

int fail(const Error& e) {
  std::cerr << "guardian-trust: " << e.describe() << '\n';
  return kFailure;
}

// "500ms", "60s", "10m", "24h", "7d".
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || value < 0) return std::nullopt;
  const std::string unit(end, text.data() + text.size());
  if (unit == "ms") return std::chrono::milliseconds{value};
  if (unit == "s") return std::chrono::seconds{value};
  if (unit == "m") return std::chrono::minutes{value};
  if (unit == "h") return std::chrono::hours{value};
  if (unit == "d") return std::chrono::hours{24 * value};
  return std::nullopt;
}

CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& text) {
        return parse_duration(text) ? std::string{} : "expected a duration such as 60s, 24h or 7d";
      },
      "DURATION");
}

result<std::unique_ptr<Registry>> open_registry(const std::string& path) {
  return Registry::open(path);
}

int cmd_enroll(const std::string& registry_path, const std::string& file, bool replace) {
  auto text = secure_link::read_text_file(file);
  if (!text) return fail(text.error());
  const auto json = nlohmann::json::parse(text.value(), nullptr, false);
  auto record = secure_link::enrollment_from_json(json);
  if (!record) return fail(make_error(file + ": " + record.error().message));
  auto registry = open_registry(registry_path);
  if (!registry) return fail(registry.error());
  EnrollmentTrust trust;
  auto cas = registry.value()->tpm_cas();
  if (!cas) return fail(cas.error());
  for (const auto& ca : cas.value()) trust.tpm_manufacturer_cas += ca.pem;
  auto approval_key = registry.value()->approval_key();
  if (!approval_key) return fail(approval_key.error());
  trust.approval_key = std::move(approval_key).value();
  auto device = verify_enrollment(record.value(), trust);
  if (!device) {
    std::cerr << "guardian-trust: " << file << ": refused: " << device.error().describe() << '\n';
    return kUsage;
  }
  if (auto done = registry.value()->enroll(device.value(), replace); !done) return fail(done.error());
  std::cout << "enrolled " << device.value().id << " ("
            << secure_link::to_string(device.value().backend) << " identity)\n";
  if (device.value().backend == config::IdentityBackend::tpm)
    std::cout << "endorsement key certified by " << device.value().ek_issuer
              << "\ncredential activation at its first attestation will show the attestation key "
                 "is in that TPM\n";
  if (device.value().backend == config::IdentityBackend::software)
    std::cout << "note: a software identity gets certificates only if the policy allows software "
                 "keys (guardian-trust policy set --allow-software-keys true)\n";
  return 0;
}

int cmd_revoke(const std::string& registry_path, const std::string& id, const std::string& reason) {
  auto registry = open_registry(registry_path);
  if (!registry) return fail(registry.error());
  auto revoked = registry.value()->revoke(id, reason);
  if (!revoked) return fail(revoked.error());
  if (!revoked.value()) {
    std::cerr << "guardian-trust: no device \"" << id << "\" is enrolled\n";
    return kUsage;
  }
  std::cout << "revoked " << id << ": no more certificates; its unexpired certificates go on the "
                                    "CRL at the next publication\n";
  return 0;
}

int cmd_list(const std::string& registry_path, bool json) {
  auto registry = open_registry(registry_path);
  if (!registry) return fail(registry.error());
  const auto now = now_ms();
  auto fleet = registry.value()->fleet(now - kAttentionWindow);
  if (!fleet) return fail(fleet.error());
  auto crl = registry.value()->last_crl();
  if (!crl) return fail(crl.error());
  auto policy = registry.value()->policy();
  if (!policy) return fail(policy.error());
  std::size_t needing_attention = 0;
  std::vector<std::vector<Attention>> attention;
  for (const auto& entry : fleet.value()) {
    attention.push_back(assess(entry, policy.value(), now));
    if (!attention.back().empty()) ++needing_attention;
  }
  // Every string below came from a device or an operator once: printed escaped, so that none
  // can forge a line or steer the terminal.
  const auto optional_time = [](const std::optional<Timestamp>& t) {
    return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json();
  };
  if (json) {
    auto list = nlohmann::json::array();
    for (std::size_t i = 0; i < fleet.value().size(); ++i) {
      const auto& e = fleet.value()[i];
      const auto& d = e.device;
      auto flags = nlohmann::json::array();
      for (const auto& a : attention[i]) flags.push_back({{"code", a.code}, {"what", a.what}});
      list.push_back({{"device", d.id},
                      {"backend", secure_link::to_string(d.backend)},
                      {"enrolled", format_rfc3339(d.enrolled)},
                      {"ek_issuer", d.ek_issuer},
                      {"activated", optional_time(d.activated)},
                      {"revoked", optional_time(d.revoked)},
                      {"revocation_reason", d.revocation_reason},
                      {"last_attestation", optional_time(d.last_attestation)},
                      {"last_result", d.last_result},
                      {"certificate", e.certificate ? nlohmann::json{{"serial", e.certificate->serial},
                                                                     {"not_after", format_rfc3339(e.certificate->not_after)}}
                                                    : nlohmann::json()},
                      {"running", d.running},
                      {"refusals_24h", e.refusals},
                      {"failures_in_a_row", e.failures_in_a_row},
                      {"attention", flags}});
    }
    nlohmann::json out{{"devices", list}, {"needing_attention", needing_attention}};
    if (crl.value())
      out["crl"] = {{"number", crl.value()->number},
                    {"this_update", format_rfc3339(crl.value()->this_update)},
                    {"next_update", format_rfc3339(crl.value()->next_update)},
                    {"expired", crl.value()->next_update <= now},
                    {"file", crl.value()->file}};
    else
      out["crl"] = nullptr;
    std::cout << out.dump(2) << '\n';
    return 0;
  }
  if (crl.value()) {
    const auto& c = *crl.value();
    const auto left = std::chrono::duration_cast<std::chrono::hours>(c.next_update - now);
    std::cout << "CRL #" << c.number << " (" << printable(c.file) << ") valid until "
              << format_rfc3339(c.next_update)
              << (c.next_update <= now ? "  EXPIRED: the broker refuses every client until it is rewritten"
                                       : "  (in " + std::to_string(left.count()) + " h)")
              << '\n';
  } else {
    std::cout << "CRL: none written yet (guardian-trust serve --crl writes it)\n";
  }
  for (std::size_t i = 0; i < fleet.value().size(); ++i) {
    const auto& e = fleet.value()[i];
    const auto& d = e.device;
    std::cout << printable(d.id, 64) << "  " << secure_link::to_string(d.backend) << "  enrolled "
              << format_rfc3339(d.enrolled);
    if (d.backend == config::IdentityBackend::tpm)
      std::cout << (d.activated ? "  activated " + format_rfc3339(*d.activated)
                                : std::string("  awaiting credential activation"));
    if (d.revoked)
      std::cout << "  REVOKED " << format_rfc3339(*d.revoked) << " (" << printable(d.revocation_reason) << ")";
    if (d.last_attestation)
      std::cout << "  last attestation " << format_rfc3339(*d.last_attestation) << ": "
                << printable(d.last_result, 300);
    std::cout << '\n';
    if (e.certificate)
      std::cout << "    certificate " << e.certificate->serial << " valid until "
                << format_rfc3339(e.certificate->not_after) << '\n';
    if (!d.running.empty()) {
      std::cout << "    runs";
      for (const auto& [kind, digest] : d.running)
        std::cout << "  " << printable(kind, 16) << " " << printable(digest, 64).substr(0, 16) << "…";
      std::cout << '\n';
    }
    for (const auto& a : attention[i]) std::cout << "    ATTENTION " << a.code << ": " << printable(a.what, 300) << '\n';
  }
  if (fleet.value().empty())
    std::cout << "no devices enrolled\n";
  else
    std::cout << fleet.value().size() << " device(s), " << needing_attention << " needing attention\n";
  return 0;
}

struct PolicyArgs {
  std::string kind;
  std::string sha256;
  std::string file;
  std::string note;
  std::string allow_software;
  int pcr = -1;
  std::string max_lifetime;
};

int cmd_policy(const std::string& registry_path, const std::string& action, const PolicyArgs& a) {
  auto registry = open_registry(registry_path);
  if (!registry) return fail(registry.error());
  if (action == "show") {
    auto policy = registry.value()->policy();
    if (!policy) return fail(policy.error());
    std::cout << policy_to_json(policy.value()).dump(2) << '\n';
    return 0;
  }
  std::string digest;
  std::optional<secure_link::MeasurementKind> kind;
  if (action == "allow" || action == "disallow") {
    kind = secure_link::measurement_kind_from(a.kind);
    if (!kind) {
      std::cerr << "guardian-trust: --kind must be gateway, firmware or config\n";
      return kUsage;
    }
    digest = a.sha256;
    if (!a.file.empty()) {
      auto hashed = secure_link::sha256_file(a.file);
      if (!hashed) return fail(hashed.error());
      digest = secure_link::to_hex(hashed.value());
    }
    const auto bytes = secure_link::from_hex(digest);
    if (!bytes || bytes.value().size() != 32) {
      std::cerr << "guardian-trust: give --sha256 (64 hex digits) or --file\n";
      return kUsage;
    }
    for (auto& c : digest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  // One transaction from read to write, validated before it is stored: two operators editing at
  // once both get their change, and no edit can leave a policy the service cannot use.
  auto stored = registry.value()->update_policy([&](Policy& p) -> result<void> {
    if (action == "allow") {
      p.allowed[*kind][digest] = a.note.empty() ? a.file : a.note;
    } else if (action == "disallow") {
      p.allowed[*kind].erase(digest);
    } else {
      if (!a.allow_software.empty()) p.allow_software_keys = a.allow_software == "true";
      if (a.pcr >= 0) p.pcr = static_cast<unsigned>(a.pcr);
      if (!a.max_lifetime.empty())
        p.max_lifetime = std::chrono::duration_cast<std::chrono::seconds>(*parse_duration(a.max_lifetime));
    }
    return outcome::success();
  });
  if (!stored) {
    std::cerr << "guardian-trust: policy not changed: " << stored.error().describe() << '\n';
    return kUsage;
  }
  if (action == "set")
    std::cout << policy_to_json(stored.value()).dump(2) << '\n';
  else
    std::cout << (action == "allow" ? "allowed " : "disallowed ") << a.kind << " " << digest << '\n';
  return 0;
}

int cmd_tpm_ca(const std::string& registry_path, const std::string& action,
               const std::vector<std::string>& files, const std::string& note) {
  auto registry = open_registry(registry_path);
  if (!registry) return fail(registry.error());
  if (action == "list") {
    auto cas = registry.value()->tpm_cas();
    if (!cas) return fail(cas.error());
    for (const auto& ca : cas.value())
      std::cout << ca.fingerprint << "  " << ca.subject << (ca.note.empty() ? "" : "  (" + ca.note + ")")
                << '\n';
    if (cas.value().empty())
      std::cout << "no TPM manufacturer CA: every TPM enrollment is refused until one is added\n";
    return 0;
  }
  if (action == "remove") {
    for (const auto& fingerprint : files) {
      auto removed = registry.value()->remove_tpm_ca(fingerprint);
      if (!removed) return fail(removed.error());
      if (!removed.value()) {
        std::cerr << "guardian-trust: no TPM manufacturer CA has the fingerprint " << fingerprint << '\n';
        return kUsage;
      }
      std::cout << "removed " << fingerprint << '\n';
    }
    return 0;
  }
  for (const auto& file : files) {
    // Every certificate of the file (a root and its intermediates, or a vendor's bundle).
    auto chain = secure_link::X509Chain::from_file(file);
    if (!chain) return fail(chain.error());
    for (const mbedtls_x509_crt* c = chain.value()->get(); c != nullptr && c->raw.len > 0; c = c->next) {
      TpmCaRecord ca;
      const secure_link::ByteView der(c->raw.p, c->raw.len);
      ca.fingerprint = "SHA256:" + secure_link::to_hex(secure_link::sha256(der));
      ca.subject = secure_link::certificate_subject(*c);
      ca.pem = secure_link::der_to_pem(der, "CERTIFICATE");
      ca.note = note;
      ca.added = now_ms();
      if (auto added = registry.value()->add_tpm_ca(ca); !added) return fail(added.error());
      std::cout << "trusted for EK certificates: " << ca.subject << "  " << ca.fingerprint << '\n';
    }
  }
  return 0;
}

int cmd_crl(const std::string& registry_path, const std::string& ca_cert, const std::string& ca_key,
            const std::string& out) {
  auto registry = open_registry(registry_path);
  if (!registry) return fail(registry.error());
  auto ca = CertificateAuthority::load(ca_cert, ca_key);
  if (!ca) return fail(ca.error());
  CrlPublisher publisher(*registry.value(), *ca.value(), CrlOptions{out});
  if (auto done = publisher.publish(); !done) return fail(done.error());
  return 0;
}

int cmd_broker_config(const BrokerConfigOptions& options, const std::string& out) {
  auto conf = mosquitto_listener_config(options);
  if (!conf) {
    std::cerr << "guardian-trust: " << conf.error().message << '\n';
    return kUsage;
  }
  auto acl = mosquitto_acl(options);
  if (!acl) return fail(acl.error());
  if (auto w = secure_link::write_file_atomically(options.acl_file, acl.value(), 0644); !w) return fail(w.error());
  if (auto w = secure_link::write_file_atomically(out, conf.value(), 0644); !w) return fail(w.error());
  std::cout << "wrote " << out << " and " << options.acl_file.string() << '\n';
  return 0;
}

struct ServeArgs {
  std::string registry, listen = "0.0.0.0:7443", cert, key, ca_cert, ca_key, approval_key, crl,
      revoked_devices, on_crl_update,
      port_file, nonce_lifetime = "60s", crl_validity = "7d", crl_refresh = "24h",
      crl_check = "2s", audit_retention = "90d", handshake_timeout = "5s", request_timeout = "10s";
  TrustServerLimits limits;
};

int cmd_serve(const ServeArgs& a) {
  const auto colon = a.listen.rfind(':');
  std::uint16_t port = 0;
  if (colon == std::string::npos ||
      std::from_chars(a.listen.data() + colon + 1, a.listen.data() + a.listen.size(), port).ec != std::errc{}) {
    std::cerr << "guardian-trust: --listen must be HOST:PORT (PORT 0 picks a free port)\n";
    return kUsage;
  }
  std::string host = a.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);

  // Signals are taken by sigwait() below, not by whichever thread they would hit.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // The fleet CA's key signs every device certificate: refuse to serve with it world-readable.
  for (const auto& [key, what] : {std::pair{a.ca_key, "--ca-key"}, std::pair{a.key, "--key"},
                                  std::pair{a.approval_key, "--approval-key"}})
    if (auto private_ok = secure_link::check_private_file(key, what); !private_ok)
      return fail(private_ok.error());
  auto registry = open_registry(a.registry);
  if (!registry) return fail(registry.error());
  auto ca = CertificateAuthority::load(a.ca_cert, a.ca_key);
  if (!ca) return fail(ca.error());
  auto tls = secure_link::TlsServerContext::load(a.cert, a.key);
  if (!tls) return fail(tls.error());
  auto approver = ApprovalSigner::load(a.approval_key);
  if (!approver) return fail(approver.error());
  // Every enrolled TPM key names the approval key in its policy: one registry, one key, on
  // every replica.
  auto registered = registry.value()->approval_key();
  if (!registered) return fail(registered.error());
  if (registered.value().empty()) {
    if (auto set = registry.value()->set_approval_key(approver.value()->key().spki_der); !set)
      return fail(set.error());
    log::info("trust", "registry bound to the approval key " + approver.value()->key().fingerprint());
  } else if (registered.value() != approver.value()->key().spki_der) {
    auto bound = secure_link::approval_key_from_public(registered.value());
    return fail(make_error("--approval-key " + a.approval_key + " (" + approver.value()->key().fingerprint() +
                           ") is not the key this registry's devices are bound to (" +
                           (bound ? bound.value().fingerprint() : std::string("unreadable")) +
                           "): every replica must use the same approval key"));
  }
  TrustService service(*registry.value(), *ca.value(), *approver.value(),
                       TrustServiceOptions{std::chrono::duration_cast<std::chrono::seconds>(
                           *parse_duration(a.nonce_lifetime))});
  // A CRL past its nextUpdate makes the broker refuse every client: it must be rewritten well
  // before it lapses, even when nothing was revoked.
  if (*parse_duration(a.crl_refresh) * 2 > *parse_duration(a.crl_validity)) {
    std::cerr << "guardian-trust: --crl-refresh (" << a.crl_refresh << ") must be at most half of "
              << "--crl-validity (" << a.crl_validity << "), so that a CRL is always rewritten "
              << "before it expires\n";
    return kUsage;
  }
  RegistryPurge purge(*registry.value(), *parse_duration(a.audit_retention));
  purge.start();
  std::unique_ptr<CrlPublisher> crl;
  if (!a.crl.empty()) {
    crl = std::make_unique<CrlPublisher>(
        *registry.value(), *ca.value(),
        CrlOptions{a.crl, std::chrono::duration_cast<std::chrono::seconds>(*parse_duration(a.crl_validity)),
                   std::chrono::duration_cast<std::chrono::seconds>(*parse_duration(a.crl_refresh)),
                   *parse_duration(a.crl_check), a.on_crl_update, a.revoked_devices});
    // The first CRL is written before serving: a broker must never start without one.
    if (auto first = crl->publish(); !first) return fail(first.error());
    crl->start();
  }
  TrustServerLimits limits = a.limits;
  limits.new_connections_burst = 2 * limits.new_connections_per_second;
  limits.handshake_timeout = *parse_duration(a.handshake_timeout);
  limits.request_timeout = *parse_duration(a.request_timeout);
  TrustServer server(service, *tls.value(), host, port, limits);
  if (auto started = server.start(); !started) return fail(started.error());
  log::info("trust", "serving on " + host + ":" + std::to_string(server.port()) + ", registry: " +
                         registry.value()->describe());
  if (!a.port_file.empty()) {
    if (auto w = secure_link::write_file_atomically(a.port_file, std::to_string(server.port()) + "\n", 0644); !w)
      return fail(w.error());
  }
  int received = 0;
  sigwait(&stop_signals, &received);
  log::info("trust", std::string("received ") + (received == SIGINT ? "SIGINT" : "SIGTERM") + "; stopping");
  server.stop();
  const auto& c = server.counters();
  log::info("trust", std::to_string(c.accepted) + " connection(s), " + std::to_string(c.requests) +
                         " request(s); refused: " + std::to_string(c.refused_busy) + " busy, " +
                         std::to_string(c.refused_per_address) + " per address; " +
                         std::to_string(c.timeouts) + " timeout(s), " +
                         std::to_string(c.handshake_failures) + " failed handshake(s), " +
                         std::to_string(c.accept_backoffs) + " accept back-off(s)");
  if (crl) crl->stop();
  purge.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"guardian-trust — attests Guardian gateways and issues their short-lived certificates"};
  app.require_subcommand(1);
  std::string registry;
  auto add_registry = [&](CLI::App* cmd) {
    cmd->add_option("--registry", registry,
                    "Device registry: a SQLite file, or a postgresql:// URI shared by replicas")
        ->required();
  };

  ServeArgs serve_args;
  auto* serve = app.add_subcommand("serve", "Serve the trust protocol over TLS");
  add_registry(serve);
  serve->add_option("--listen", serve_args.listen, "HOST:PORT to listen on")->capture_default_str();
  serve->add_option("--cert", serve_args.cert, "The service's TLS certificate (PEM)")->required();
  serve->add_option("--key", serve_args.key, "Its private key (PEM)")->required();
  serve->add_option("--ca-cert", serve_args.ca_cert, "Fleet CA certificate (PEM)")->required();
  serve->add_option("--ca-key", serve_args.ca_key, "Fleet CA private key (PEM)")->required();
  serve->add_option("--approval-key", serve_args.approval_key,
                    "The fleet's approval key (ECDSA P-256 private key, PEM, mode 0600): approves "
                    "the PCR states in which devices' TLS keys may sign")
      ->required();
  serve->add_option("--crl", serve_args.crl, "Maintain the broker's CRL in this file");
  serve->add_option("--revoked-devices", serve_args.revoked_devices,
                    "Also write the revoked device ids here with each CRL (for the broker's "
                    "guardian_revocation plugin, which ends their sessions at once)");
  serve->add_option("--on-crl-update", serve_args.on_crl_update,
                    "Shell command run after each CRL rewrite (make the broker reload it)");
  serve->add_option("--crl-validity", serve_args.crl_validity, "CRL nextUpdate − thisUpdate")
      ->check(duration_validator())->capture_default_str();
  serve->add_option("--crl-refresh", serve_args.crl_refresh, "Rewrite the CRL at least this often")
      ->check(duration_validator())->capture_default_str();
  serve->add_option("--crl-check", serve_args.crl_check, "How often to look for revocations")
      ->check(duration_validator())->capture_default_str();
  serve->add_option("--nonce-lifetime", serve_args.nonce_lifetime, "How long a nonce is valid")
      ->check(duration_validator())->capture_default_str();
  serve->add_option("--port-file", serve_args.port_file, "Write the bound port here once listening");
  serve->add_option("--max-connections", serve_args.limits.max_connections,
                    "Connections open at once (all clients)")->capture_default_str();
  serve->add_option("--max-connections-per-address", serve_args.limits.max_connections_per_address,
                    "Connections open at once from one address")->capture_default_str();
  serve->add_option("--connection-rate", serve_args.limits.new_connections_per_second,
                    "New connections per second from one address (burst: twice as many)")
      ->capture_default_str();
  serve->add_option("--handshake-timeout", serve_args.handshake_timeout, "Time to complete a TLS handshake")
      ->check(duration_validator())->capture_default_str();
  serve->add_option("--request-timeout", serve_args.request_timeout,
                    "Time to send a whole request line (idle and slow clients are closed)")
      ->check(duration_validator())->capture_default_str();
  serve->add_option("--workers", serve_args.limits.workers, "Threads running requests")->capture_default_str();
  serve->add_option("--audit-retention", serve_args.audit_retention,
                    "How long attestation outcomes are kept in the registry")
      ->check(duration_validator())->capture_default_str();

  std::vector<std::string> ca_files;
  std::string ca_note;
  auto* tpm_ca = app.add_subcommand("tpm-ca", "Manage the TPM manufacturer CAs EK certificates must chain to");
  tpm_ca->require_subcommand(1);
  auto* tpm_ca_add = tpm_ca->add_subcommand("add", "Trust every certificate of these PEM/DER files");
  auto* tpm_ca_list = tpm_ca->add_subcommand("list", "List the trusted TPM manufacturer CAs");
  auto* tpm_ca_remove = tpm_ca->add_subcommand("remove", "Stop trusting a CA (by fingerprint)");
  for (auto* cmd : {tpm_ca_add, tpm_ca_list, tpm_ca_remove}) add_registry(cmd);
  tpm_ca_add->add_option("files", ca_files, "CA certificate files")->required();
  tpm_ca_add->add_option("--note", ca_note, "What this is (e.g. the vendor)");
  tpm_ca_remove->add_option("fingerprint", ca_files, "SHA256:<hex> as tpm-ca list shows it")->required();

  std::string record;
  bool replace = false;
  auto* enroll = app.add_subcommand("enroll", "Verify and import a device's enrollment record");
  add_registry(enroll);
  enroll->add_option("record", record, "Enrollment record (JSON from `guardian identity provision`)")->required();
  enroll->add_flag("--replace", replace, "Replace an existing enrollment (e.g. a replaced TPM)");

  std::string device, reason = "revoked by the operator";
  auto* revoke = app.add_subcommand("revoke", "Revoke a device: no more certificates; CRL");
  add_registry(revoke);
  revoke->add_option("device", device, "Device id")->required();
  revoke->add_option("--reason", reason, "Why (kept in the registry)");

  bool list_json = false;
  auto* list = app.add_subcommand("list", "List enrolled devices");
  add_registry(list);
  list->add_flag("--json", list_json, "JSON output");

  PolicyArgs policy_args;
  auto* policy = app.add_subcommand("policy", "Show or change the attestation policy");
  policy->require_subcommand(1);
  auto* policy_show = policy->add_subcommand("show", "Print the policy (JSON)");
  auto* policy_allow = policy->add_subcommand("allow", "Allow a measurement");
  auto* policy_disallow = policy->add_subcommand("disallow", "Remove an allowed measurement");
  auto* policy_set = policy->add_subcommand("set", "Change settings");
  for (auto* cmd : {policy_show, policy_allow, policy_disallow, policy_set}) add_registry(cmd);
  for (auto* cmd : {policy_allow, policy_disallow}) {
    cmd->add_option("--kind", policy_args.kind, "gateway, firmware or config")->required()
        ->check(CLI::IsMember({"gateway", "firmware", "config"}));
    cmd->add_option("--sha256", policy_args.sha256, "SHA-256 of the file (hex)");
    cmd->add_option("--file", policy_args.file, "Hash this file instead");
  }
  policy_allow->add_option("--note", policy_args.note, "What this is (shown by policy show)");
  policy_set->add_option("--allow-software-keys", policy_args.allow_software, "true or false")
      ->check(CLI::IsMember({"true", "false"}));
  policy_set->add_option("--pcr", policy_args.pcr, "The PCR devices quote (8–15)");
  policy_set->add_option("--max-lifetime", policy_args.max_lifetime, "Longest certificate lifetime")
      ->check(duration_validator());

  std::string ca_cert, ca_key, out;
  auto* crl = app.add_subcommand("crl", "Write the CRL once");
  add_registry(crl);
  crl->add_option("--ca-cert", ca_cert, "Fleet CA certificate")->required();
  crl->add_option("--ca-key", ca_key, "Fleet CA private key")->required();
  crl->add_option("--out", out, "CRL file to write (PEM)")->required();

  BrokerConfigOptions broker;
  std::string broker_out;
  auto* broker_config = app.add_subcommand("broker-config", "Write a mosquitto listener and ACL");
  broker_config->add_option("--ca", broker.ca_file, "Fleet CA certificate")->required();
  broker_config->add_option("--cert", broker.cert_file, "Broker certificate")->required();
  broker_config->add_option("--key", broker.key_file, "Broker key")->required();
  broker_config->add_option("--crl", broker.crl_file, "CRL file (from serve --crl)")->required();
  broker_config->add_option("--acl", broker.acl_file, "ACL file to write")->required();
  broker_config->add_option("--bind", broker.bind, "Listen address")->capture_default_str();
  broker_config->add_option("--port", broker.port, "Listen port")->capture_default_str();
  broker_config->add_option("--topic-root", broker.topic_root, "Devices get ROOT/<id>/#")->capture_default_str();
  broker_config->add_option("--reader", broker.readers, "CN of a read-only client (must contain '@')");
  broker_config->add_option("--operator", broker.operators,
                            "CN of a client that reads everything and sends cloud commands "
                            "(must contain '@')");
  broker_config->add_option("--revocation-plugin", broker.revocation_plugin,
                            "guardian_revocation.so: ends a revoked device's session at once");
  broker_config->add_option("--revoked-devices", broker.revoked_devices_file,
                            "The file guardian-trust serve --revoked-devices writes");
  broker_config->add_option("--out", broker_out, "mosquitto configuration to write")->required();

  CLI11_PARSE(app, argc, argv);
  try {
    if (*serve) {
      serve_args.registry = registry;
      return cmd_serve(serve_args);
    }
    if (*enroll) return cmd_enroll(registry, record, replace);
    if (*tpm_ca_add) return cmd_tpm_ca(registry, "add", ca_files, ca_note);
    if (*tpm_ca_list) return cmd_tpm_ca(registry, "list", ca_files, ca_note);
    if (*tpm_ca_remove) return cmd_tpm_ca(registry, "remove", ca_files, ca_note);
    if (*revoke) return cmd_revoke(registry, device, reason);
    if (*list) return cmd_list(registry, list_json);
    if (*policy_show) return cmd_policy(registry, "show", policy_args);
    if (*policy_allow) return cmd_policy(registry, "allow", policy_args);
    if (*policy_disallow) return cmd_policy(registry, "disallow", policy_args);
    if (*policy_set) return cmd_policy(registry, "set", policy_args);
    if (*crl) return cmd_crl(registry, ca_cert, ca_key, out);
    if (*broker_config) return cmd_broker_config(broker, broker_out);
  } catch (const std::exception& e) {
    std::cerr << "guardian-trust: " << e.what() << '\n';
    return kFailure;
  }
  return kUsage;
}

#include "identity_command.hpp"

#include <sys/stat.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "guardian/common/time_format.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/secure_link/attestation_client.hpp"
#include "guardian/secure_link/enrollment.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/measurement_log.hpp"
#include "guardian/secure_link/tpm_structures.hpp"

namespace guardian::tools {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace guardian::secure_link;

constexpr const char* kRecordFile = "enrollment.json";
constexpr const char* kCertificateFile = "certificate.pem";
constexpr const char* kApprovalFile = "approval.json";

std::optional<config::SecureLinkConfig> load(const std::string& file) {
  const auto loaded = config::load_site_config(file);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << '\n';
    return std::nullopt;
  }
  if (!loaded.config->uplink.secure_link) {
    std::cerr << file << ": there is no secure_link section: the identity is configured there "
                         "(docs/configuration.md \"secure_link\")\n";
    return std::nullopt;
  }
  return *loaded.config->uplink.secure_link;
}

json key_json(const Bytes& spki, const Bytes& tpm_public) {
  json k{{"sha256", to_hex(sha256(ByteView(spki)))}};
  if (!tpm_public.empty()) {
    if (auto parsed = parse_tpm_public(tpm_public)) {
      k["type"] = parsed.value().type == 0x0001 ? "rsa" : "ecc";
      k["attributes"] = parsed.value().describe_attributes();
      k["name"] = to_hex(parsed.value().name);
      k["policy"] = parsed.value().auth_policy.empty() ? json() : json(to_hex(parsed.value().auth_policy));
    }
  }
  return k;
}

int provision(const IdentityCommand& c) {
  const auto cfg = load(c.config);
  if (!cfg) return 1;
  auto identity = open_identity(*cfg);
  if (c.rotate) {
    // New keys replace the old ones (and their authorization value); what was issued for the
    // old TLS key is of no use to the new one.
    auto removed = identity->remove_keys();
    if (!removed) {
      std::cerr << "guardian identity provision --rotate: " << removed.error().describe() << '\n';
      return 2;
    }
    std::error_code ec;
    for (const char* stale : {kCertificateFile, kApprovalFile}) fs::remove(cfg->state_dir / stale, ec);
    std::cout << "rotate: removed " << removed.value() << " key(s) of the previous identity\n";
  }
  auto before = identity->find_keys();
  if (!before) {
    std::cerr << "guardian identity provision: " << before.error().describe() << '\n';
    return 2;
  }
  auto record = provision_identity(*identity, cfg->device_id);
  if (!record) {
    std::cerr << "guardian identity provision: " << record.error().describe() << '\n';
    return 2;
  }
  std::error_code ec;
  if (fs::create_directories(cfg->state_dir, ec)) ::chmod(cfg->state_dir.c_str(), 0700);
  const auto text = enrollment_to_json(record.value()).dump(2) + "\n";
  const auto path = cfg->state_dir / kRecordFile;
  for (const auto& target : {path, fs::path(c.out)}) {
    if (target.empty()) continue;
    if (auto w = write_file_atomically(target, text, 0644); !w) {
      std::cerr << "guardian identity provision: " << w.error().describe() << '\n';
      return 2;
    }
  }
  std::cout << (before.value() ? "already provisioned: " : "provisioned: ") << cfg->device_id
            << " — " << identity->location() << '\n';
  if (cfg->identity.backend == config::IdentityBackend::software)
    std::cout << "WARNING: software identity (development only): the trust service refuses it "
                 "unless its policy allows software keys\n";
  const auto& k = record.value().keys;
  std::cout << "TLS key:         " << key_json(k.tls_public_der, k.tls_tpm_public).dump() << '\n';
  std::cout << "attestation key: " << key_json(k.ak_public_der, k.ak_tpm_public).dump() << '\n';
  if (const auto& e = record.value().endorsement) {
    if (e->ek_certificate.empty()) {
      std::cout << "endorsement:     WARNING: this TPM has no EK certificate (NV 0x01C00002); "
                   "a trust service that checks the manufacturer (the default) will refuse it\n";
    } else if (auto info = describe_ek_certificate(e->ek_certificate)) {
      std::cout << "endorsement:     EK certificate issued by " << info.value().issuer << '\n';
    }
  }
  std::cout << "enrollment record: " << (c.out.empty() ? path.string() : c.out) << '\n';
  std::cout << "next: the fleet operator imports it with `guardian-trust enroll --registry "
               "<registry.db> <record>`"
            << (c.rotate ? " --replace" : "") << "\n";
  return 0;
}

int show(const IdentityCommand& c) {
  const auto cfg = load(c.config);
  if (!cfg) return 1;
  auto identity = open_identity(*cfg);
  json j{{"device", cfg->device_id},
         {"backend", to_string(cfg->identity.backend)},
         {"location", identity->location()},
         {"state_dir", cfg->state_dir.string()}};
  int status = 0;
  auto keys = identity->find_keys();
  if (!keys) {
    j["state"] = "error";
    j["error"] = keys.error().describe();
    status = 2;
  } else if (!keys.value()) {
    j["state"] = "not provisioned";
  } else {
    j["state"] = "provisioned";
    j["tls_key"] = key_json(keys.value()->tls_public_der, keys.value()->tls_tpm_public);
    j["attestation_key"] = key_json(keys.value()->ak_public_der, keys.value()->ak_tpm_public);
    const auto pcr_index = static_cast<unsigned>(cfg->attestation.pcr);
    if (auto pcr = identity->read_pcr(pcr_index)) {
      j["pcr"] = {{"index", cfg->attestation.pcr}, {"sha256", to_hex(pcr.value())}};
      // Does this boot's measurement log still explain the PCR?
      if (auto log = read_measurement_log(*identity, pcr_index, cfg->attestation.event_log))
        j["measurements"] = {{"log", cfg->attestation.event_log.string()},
                             {"events", event_log_to_json(log.value())},
                             {"consistent", true}};
      else
        j["measurements"] = {{"log", cfg->attestation.event_log.string()},
                             {"consistent", false},
                             {"error", log.error().message}};
    }
  }
  j["enrollment_record"] = fs::exists(cfg->state_dir / kRecordFile)
                               ? json((cfg->state_dir / kRecordFile).string())
                               : json();
  if (auto pem = read_text_file(cfg->state_dir / kCertificateFile)) {
    if (auto cert = parse_issued_certificate(pem.value())) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(cert.value().not_after - now_ms());
      j["certificate"] = {{"subject", cert.value().subject},
                          {"serial", cert.value().serial},
                          {"not_before", format_rfc3339(cert.value().not_before)},
                          {"not_after", format_rfc3339(cert.value().not_after)},
                          {"expires_in_s", left.count()},
                          {"valid", left.count() > 0}};
    }
  }
  if (!j.contains("certificate")) j["certificate"] = nullptr;
  if (c.json) {
    std::cout << j.dump(2) << '\n';
    return status;
  }
  std::cout << "device:       " << cfg->device_id << '\n'
            << "backend:      " << j["backend"].get<std::string>() << " — " << identity->location() << '\n'
            << "state:        " << j["state"].get<std::string>() << '\n';
  if (j.contains("error")) std::cout << "error:        " << j["error"].get<std::string>() << '\n';
  if (j.contains("tls_key")) {
    std::cout << "TLS key:      " << j["tls_key"].value("attributes", std::string("(software)"))
              << "  sha256:" << j["tls_key"]["sha256"].get<std::string>() << '\n';
    std::cout << "attest. key:  " << j["attestation_key"].value("attributes", std::string("(software)"))
              << "  sha256:" << j["attestation_key"]["sha256"].get<std::string>() << '\n';
  }
  if (j.contains("tls_key") && j["tls_key"].contains("policy") && !j["tls_key"]["policy"].is_null())
    std::cout << "TLS policy:   PolicyAuthorize(approval key) + PolicyAuthValue  "
              << j["tls_key"]["policy"].get<std::string>() << '\n';
  if (j.contains("pcr"))
    std::cout << "PCR " << cfg->attestation.pcr << ":       " << j["pcr"]["sha256"].get<std::string>() << '\n';
  if (j.contains("measurements")) {
    const auto& m = j["measurements"];
    if (m["consistent"].get<bool>())
      std::cout << "measured:     " << m["events"].size() << " event(s) since boot in "
                << m["log"].get<std::string>() << '\n';
    else
      std::cout << "measured:     INCONSISTENT: " << m["error"].get<std::string>() << '\n';
  }
  std::cout << "enrollment:   "
            << (j["enrollment_record"].is_null() ? std::string("no record (run `guardian identity provision`)")
                                                 : j["enrollment_record"].get<std::string>())
            << '\n';
  if (j["certificate"].is_null()) {
    std::cout << "certificate:  none yet (the gateway attests at start)\n";
  } else {
    const auto& cert = j["certificate"];
    std::cout << "certificate:  " << cert["subject"].get<std::string>() << ", serial "
              << cert["serial"].get<std::string>() << ", valid until "
              << cert["not_after"].get<std::string>()
              << (cert["valid"].get<bool>() ? "" : " (EXPIRED)") << '\n';
  }
  return status;
}

}  // namespace

void add_identity_command(CLI::App& app, IdentityCommand& c, const std::string& default_config) {
  c.config = default_config;
  auto* identity = app.add_subcommand("identity", "The device's hardware-bound identity");
  identity->require_subcommand(1);
  c.provision = identity->add_subcommand(
      "provision", "Create the TPM keys (idempotent) and write the enrollment record");
  c.provision->add_option("-c,--config", c.config, "Configuration file (secure_link section)")
      ->capture_default_str();
  c.provision->add_option("--out", c.out, "Also write the enrollment record here");
  c.provision->add_flag("--rotate", c.rotate,
                        "Replace the existing keys (e.g. keys made by an earlier release without a "
                        "policy) with new ones; the operator enrolls the new record with --replace");
  c.show = identity->add_subcommand("show", "Show the identity, its keys and its certificate");
  c.show->add_option("-c,--config", c.config, "Configuration file (secure_link section)")
      ->capture_default_str();
  c.show->add_flag("--json", c.json, "Print JSON");
}

int run_identity_command(const IdentityCommand& c) {
  if (c.provision != nullptr && *c.provision) return provision(c);
  if (c.show != nullptr && *c.show) return show(c);
  return 1;
}

}  // namespace guardian::tools

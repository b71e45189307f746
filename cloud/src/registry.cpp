#include "guardian/cloud/registry.hpp"

#include <nlohmann/json.hpp>

#include "guardian/common/time_format.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "registry_internal.hpp"

namespace guardian::cloud {

bool Registry::is_postgresql(const std::string& location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

result<std::unique_ptr<Registry>> Registry::open(const std::string& location) {
  if (is_postgresql(location)) return detail::open_postgresql(location);
  return detail::open_sqlite(location);
}

namespace detail {

std::vector<std::pair<std::string, std::string>> device_key_hashes(const secure_link::Bytes& tls_public_der,
                                                                   const secure_link::Bytes& ek_tpm_public) {
  std::vector<std::pair<std::string, std::string>> keys;
  if (!tls_public_der.empty())
    keys.emplace_back("tls", secure_link::to_hex(secure_link::sha256(secure_link::ByteView(tls_public_der))));
  if (ek_tpm_public.empty()) return keys;  // a software identity has no endorsement key
  if (auto ek = secure_link::parse_tpm_public(ek_tpm_public))
    keys.emplace_back("ek", secure_link::to_hex(secure_link::sha256(secure_link::ByteView(ek.value().spki_der))));
  return keys;
}

Error revoked_key_error(const std::string& kind, const std::string& device, std::int64_t revoked_ms,
                        const std::string& reason) {
  return make_error("this " + std::string(kind == "ek" ? "TPM (its endorsement key)" : "TLS key") +
                    " was revoked with device " + device + " at " + format_rfc3339(from_ms(revoked_ms)) +
                    " (" + reason + "): it cannot be enrolled again");
}

std::string already_enrolled_message(const std::string& id) {
  return "device " + id + " is already enrolled; use --replace to enroll it again "
         "(e.g. after its TPM was replaced)";
}

std::string running_to_text(const std::map<std::string, std::string>& running) {
  return nlohmann::json(running).dump();
}

std::map<std::string, std::string> running_from_text(const std::string& text) {
  std::map<std::string, std::string> out;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& [kind, digest] : j.items())
    if (digest.is_string()) out[kind] = digest.get<std::string>();
  return out;
}

std::string crl_to_text(const CrlRecord& crl) {
  return nlohmann::json{{"number", crl.number},
                        {"this_update_ms", ms(crl.this_update)},
                        {"next_update_ms", ms(crl.next_update)},
                        {"file", crl.file}}
      .dump();
}

result<CrlRecord> crl_from_text(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return make_error("device registry: the CRL record is not JSON");
  CrlRecord crl;
  crl.number = j.value("number", std::int64_t{0});
  crl.this_update = from_ms(j.value("this_update_ms", std::int64_t{0}));
  crl.next_update = from_ms(j.value("next_update_ms", std::int64_t{0}));
  crl.file = j.value("file", std::string{});
  return crl;
}

std::string backend_text(config::IdentityBackend backend) {
  return backend == config::IdentityBackend::tpm ? "tpm" : "software";
}

config::IdentityBackend backend_from_text(const std::string& text) {
  return text == "software" ? config::IdentityBackend::software : config::IdentityBackend::tpm;
}


namespace {
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS devices(
  id TEXT PRIMARY KEY,
  backend TEXT NOT NULL,
  tls_public $BLOB NOT NULL,
  ak_public $BLOB NOT NULL,
  enrolled_ms $INT NOT NULL,
  revoked_ms $INT,
  revocation_reason TEXT NOT NULL DEFAULT '',
  last_attestation_ms $INT,
  last_result TEXT NOT NULL DEFAULT '',
  ak_tpm_public $BLOB,
  ek_public $BLOB,
  ek_issuer TEXT NOT NULL DEFAULT '',
  activated_ms $INT,
  running TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS tpm_cas(
  fingerprint TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  pem TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  added_ms $INT NOT NULL);
CREATE TABLE IF NOT EXISTS nonces(
  nonce $BLOB PRIMARY KEY,
  device TEXT NOT NULL,
  expires_ms $INT NOT NULL,
  used_ms $INT);
CREATE TABLE IF NOT EXISTS certificates(
  serial TEXT PRIMARY KEY,
  device TEXT NOT NULL,
  not_before_ms $INT NOT NULL,
  not_after_ms $INT NOT NULL);
CREATE INDEX IF NOT EXISTS certificates_by_device ON certificates(device, not_after_ms);
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attestations(device TEXT NOT NULL, at_ms $INT NOT NULL,
                                        outcome TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attestations_by_time ON attestations(at_ms);
CREATE INDEX IF NOT EXISTS attestations_by_device ON attestations(device, at_ms);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces(expires_ms);
CREATE INDEX IF NOT EXISTS nonces_by_device ON nonces(device, used_ms, expires_ms);
CREATE TABLE IF NOT EXISTS revoked_certificates(
  serial TEXT PRIMARY KEY,
  device TEXT NOT NULL,
  revoked_ms $INT NOT NULL,
  reason TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS revoked_keys(
  key_sha256 TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  device TEXT NOT NULL,
  revoked_ms $INT NOT NULL,
  reason TEXT NOT NULL DEFAULT '');
)sql";
}  // namespace

std::string registry_schema(std::string_view integer, std::string_view blob) {
  std::string out;
  out.reserve(kSchema.size() + 256);
  for (std::size_t i = 0; i < kSchema.size();) {
    if (kSchema.substr(i, 4) == "$INT") {
      out += integer;
      i += 4;
    } else if (kSchema.substr(i, 5) == "$BLOB") {
      out += blob;
      i += 5;
    } else {
      out += kSchema[i++];
    }
  }
  return out;
}
}  // namespace detail
}  // namespace guardian::cloud

#include "guardian/secure_link/attestation_client.hpp"

#include <nlohmann/json.hpp>

#include "guardian/common/time_format.hpp"
#include "guardian/secure_link/tls_session.hpp"
#include "guardian/secure_link/trust_protocol.hpp"

namespace guardian::secure_link {
namespace {

using nlohmann::json;
using std::chrono::steady_clock;

// One request line, one response line; a refusal becomes an Error with its TrustRefusal code.
result<json> exchange(TlsSession& session, const json& request, SteadyDeadline deadline,
                      const std::string& service) {
  BOOST_OUTCOME_TRY(session.write_all(request.dump() + "\n", deadline));
  BOOST_OUTCOME_TRY(line, session.read_line(kMaxTrustLine, deadline));
  json response = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!response.is_object() || !response.contains("ok") || !response["ok"].is_boolean())
    return make_error("the trust service " + service + " sent a malformed response");
  if (response["ok"].get<bool>()) return response;
  const auto reason = response.value("error", std::string("unavailable"));
  const auto refusal = trust_refusal_from(reason).value_or(TrustRefusal::unavailable);
  return make_error(make_error_code(refusal), "the trust service " + service + " refused: " +
                                                  reason + ": " +
                                                  response.value("message", std::string{}));
}

std::string string_field(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string{};
}

}  // namespace

std::vector<MeasurementTarget> measurement_targets(const config::SecureLinkConfig& cfg) {
  std::vector<MeasurementTarget> targets;
  // Hashed through /proc/self/exe: the image actually running, even if its file was replaced
  // since; measure() logs its real path for humans.
  targets.push_back({MeasurementKind::gateway, "/proc/self/exe"});
  if (cfg.attestation.firmware_image)
    targets.push_back({MeasurementKind::firmware, *cfg.attestation.firmware_image});
  if (!cfg.config_file.empty()) targets.push_back({MeasurementKind::config, cfg.config_file});
  return targets;
}

result<std::vector<Measurement>> measure(Identity& identity, unsigned pcr,
                                         std::span<const MeasurementTarget> targets) {
  BOOST_OUTCOME_TRY(identity.reset_pcr(pcr));
  std::vector<Measurement> log;
  for (const auto& target : targets) {
    BOOST_OUTCOME_TRY(digest, sha256_file(target.path));
    Measurement m{target.kind, target.path.string(), digest};
    if (target.path == "/proc/self/exe") {
      std::error_code ec;
      const auto real = std::filesystem::read_symlink(target.path, ec);
      if (!ec) m.path = real.string();
    }
    BOOST_OUTCOME_TRY(identity.extend_pcr(pcr, extend_digest(m)));
    log.push_back(std::move(m));
  }
  return log;
}

result<IssuedCertificate> parse_issued_certificate(std::string certificate_pem) {
  BOOST_OUTCOME_TRY(chain, X509Chain::from_pem(certificate_pem));
  IssuedCertificate issued;
  issued.serial = certificate_serial_hex(*chain->get());
  issued.subject = certificate_subject(*chain->get());
  issued.not_before = certificate_not_before(*chain->get());
  issued.not_after = certificate_not_after(*chain->get());
  issued.certificate_pem = std::move(certificate_pem);
  return issued;
}

AttestationClient::AttestationClient(config::TrustServiceConfig service, std::string device_id)
    : service_(std::move(service)), device_id_(std::move(device_id)) {}

result<IssuedCertificate> AttestationClient::attest(Identity& identity,
                                                    const Bytes& tls_public_der, unsigned pcr,
                                                    std::span<const Measurement> event_log,
                                                    std::chrono::seconds lifetime) {
  const std::string service = service_.host + ":" + std::to_string(service_.port);
  const auto deadline = steady_clock::now() + service_.timeout;
  TlsClientOptions options;
  options.host = service_.host;
  options.port = service_.port;
  options.ca_file = service_.ca_file;
  options.server_name = service_.server_name;
  options.timeout = service_.timeout;
  BOOST_OUTCOME_TRY(session, TlsSession::connect(options));

  BOOST_OUTCOME_TRY(nonce_response,
                    exchange(*session, {{"op", "nonce"}, {"device", device_id_}}, deadline, service));
  const std::string nonce_hex = string_field(nonce_response, "nonce");
  auto nonce = from_hex(nonce_hex);
  if (!nonce || nonce.value().size() != kNonceSize)
    return make_error("the trust service " + service + " sent a malformed nonce");

  BOOST_OUTCOME_TRY(quote, identity.quote(pcr, nonce.value()));
  const json request{{"op", "attest"},
                     {"device", device_id_},
                     {"nonce", nonce_hex},
                     {"quote", {{"attest", to_base64(quote.attest)},
                                {"signature", to_base64(quote.signature)}}},
                     {"event_log", event_log_to_json(event_log)},
                     {"lifetime_s", lifetime.count()}};
  BOOST_OUTCOME_TRY(response, exchange(*session, request, deadline, service));
  session->close_notify();

  // Trust, but check: the certificate must name this device and certify this device's key —
  // a certificate for anything else would be useless at the broker, and confusing in health.
  auto pem = string_field(response, "certificate");
  BOOST_OUTCOME_TRY(chain, X509Chain::from_pem(pem));
  if (certificate_common_name(*chain->get()) != device_id_)
    return make_error("the trust service issued a certificate for \"" +
                      certificate_common_name(*chain->get()) + "\", not for " + device_id_);
  Bytes subject_key(4096);
  const int n = mbedtls_pk_write_pubkey_der(&chain->get()->pk, subject_key.data(), subject_key.size());
  if (n < 0 || Bytes(subject_key.end() - n, subject_key.end()) != tls_public_der)
    return make_error("the trust service issued a certificate for another key");
  BOOST_OUTCOME_TRY(issued, parse_issued_certificate(std::move(pem)));
  issued.ca_pem = string_field(response, "ca");
  return issued;
}

}  // namespace guardian::secure_link

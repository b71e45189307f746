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
result<json> exchange(TlsSession& session, const TrustRequest& request, SteadyDeadline deadline,
                      const std::string& service) {
  BOOST_OUTCOME_TRY(session.write_all(to_line(request) + "\n", deadline));
  BOOST_OUTCOME_TRY(line, session.read_line(kMaxTrustLine, deadline));
  return parse_trust_response(line, service);
}

}  // namespace

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
                                                    std::chrono::seconds lifetime,
                                                    int cancel_fd) {
  const std::string service = service_.host + ":" + std::to_string(service_.port);
  const auto deadline = steady_clock::now() + service_.timeout;
  TlsClientOptions options;
  options.host = service_.host;
  options.port = service_.port;
  options.ca_file = service_.ca_file;
  options.server_name = service_.server_name;
  options.timeout = service_.timeout;
  options.cancel_fd = cancel_fd;
  BOOST_OUTCOME_TRY(session, TlsSession::connect(options));

  BOOST_OUTCOME_TRY(nonce_json, exchange(*session, NonceRequest{device_id_}, deadline, service));
  BOOST_OUTCOME_TRY(nonce_response, nonce_response_from(nonce_json));
  Bytes nonce = std::move(nonce_response.nonce);
  if (nonce_response.credential) {
    // The service has not yet seen this TPM prove that the AK and the certified EK are its own:
    // the nonce comes encrypted to the EK, for the AK's Name.
    BOOST_OUTCOME_TRY(opened, identity.activate_credential(*nonce_response.credential));
    if (opened.size() != kNonceSize)
      return make_error("the credential from the trust service " + service +
                        " does not hold a nonce");
    nonce = std::move(opened);
  }

  BOOST_OUTCOME_TRY(quote, identity.quote(pcr, nonce));
  AttestRequest request;
  request.device = device_id_;
  request.nonce = std::move(nonce);
  request.quote = std::move(quote);
  request.event_log.assign(event_log.begin(), event_log.end());
  request.lifetime = lifetime;
  BOOST_OUTCOME_TRY(response_json, exchange(*session, request, deadline, service));
  BOOST_OUTCOME_TRY(response, attest_response_from(response_json));
  session->close_notify();

  // Trust, but check: the certificate must name this device and certify this device's key —
  // a certificate for anything else would be useless at the broker, and confusing in health.
  BOOST_OUTCOME_TRY(chain, X509Chain::from_pem(response.certificate_pem));
  if (certificate_common_name(*chain->get()) != device_id_)
    return make_error("the trust service issued a certificate for \"" +
                      certificate_common_name(*chain->get()) + "\", not for " + device_id_);
  Bytes subject_key(4096);
  const int n = mbedtls_pk_write_pubkey_der(&chain->get()->pk, subject_key.data(), subject_key.size());
  if (n < 0 || Bytes(subject_key.end() - n, subject_key.end()) != tls_public_der)
    return make_error("the trust service issued a certificate for another key");
  BOOST_OUTCOME_TRY(issued, parse_issued_certificate(std::move(response.certificate_pem)));
  issued.ca_pem = std::move(response.ca_pem);
  issued.approval = std::move(response.approval);
  return issued;
}

}  // namespace guardian::secure_link

#include "guardian/cloud/evidence.hpp"

#include <algorithm>

#include "guardian/secure_link/endorsement.hpp"
#include "guardian/secure_link/tpm_policy.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "guardian/secure_link/trust_protocol.hpp"

namespace guardian::cloud {
namespace {

namespace attr = secure_link::object_attribute;
using secure_link::MeasurementKind;
using secure_link::TrustRefusal;

Error refuse(TrustRefusal why, std::string message) {
  return make_error(make_error_code(why), std::move(message));
}

constexpr std::uint16_t kAlgSha256 = 0x000B;  // TPM2_ALG_SHA256

}  // namespace

bool valid_device_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id.front())) return false;
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

result<DeviceRecord> verify_enrollment(const secure_link::EnrollmentRecord& r,
                                       const EnrollmentTrust& trust) {
  if (!valid_device_id(r.device_id))
    return make_error("device id \"" + r.device_id +
                      "\" is not usable: it becomes the certificate CN and the MQTT username, so "
                      "it must be 1–64 characters of A–Z a–z 0–9 . _ - starting with a letter or digit");
  DeviceRecord d;
  d.id = r.device_id;
  d.backend = r.backend;
  d.enrolled = now_ms();
  if (r.backend == config::IdentityBackend::software) {
    // Nothing to verify: a software identity proves nothing, and the policy decides whether
    // such devices get certificates at all.
    BOOST_OUTCOME_TRY(secure_link::PkKey::from_public_der(r.keys.tls_public_der));
    BOOST_OUTCOME_TRY(secure_link::PkKey::from_public_der(r.keys.ak_public_der));
    d.tls_public_der = r.keys.tls_public_der;
    d.ak_public_der = r.keys.ak_public_der;
    return d;
  }

  BOOST_OUTCOME_TRY(ak, secure_link::parse_tpm_public(r.keys.ak_tpm_public));
  if (!ak.has(attr::kRestricted | attr::kSign | attr::kFixedTpm | attr::kFixedParent |
              attr::kSensitiveDataOrigin) ||
      ak.has(attr::kDecrypt))
    return make_error("the attestation key is not a restricted, non-exportable signing key "
                      "generated in the TPM (attributes: " + ak.describe_attributes() + ")");
  BOOST_OUTCOME_TRY(tls, secure_link::parse_tpm_public(r.keys.tls_tpm_public));
  if (!tls.has(attr::kSign | attr::kFixedTpm | attr::kFixedParent | attr::kSensitiveDataOrigin) ||
      tls.has(attr::kDecrypt) || tls.has(attr::kRestricted))
    return make_error("the TLS key is not a non-exportable signing key generated in the TPM "
                      "(attributes: " + tls.describe_attributes() + ")");
  if (tls.spki_der != r.keys.tls_public_der)
    return make_error("the TLS key's public_der is not the key of its tpm_public");
  // The TLS key must be usable only through its policy — the state this fleet approves, and
  // the gateway's secret — never with a bare authorization value (userWithAuth).
  if (trust.approval_key.empty())
    return make_error("the registry has no approval key yet, so the TLS key's policy cannot be "
                      "checked: start `guardian-trust serve --approval-key …` once on this "
                      "registry before enrolling TPM devices");
  BOOST_OUTCOME_TRY(approver, secure_link::approval_key_from_public(trust.approval_key));
  const auto expected_policy = secure_link::tls_key_policy(approver, r.device_id);
  if (tls.has(attr::kUserWithAuth) ||
      !std::equal(tls.auth_policy.begin(), tls.auth_policy.end(), expected_policy.begin(),
                  expected_policy.end()))
    return make_error(tls.auth_policy.empty()
                          ? "the TLS key has no policy (any program that reaches the TPM could "
                            "sign with it): the gateway must run `guardian identity provision "
                            "--rotate` with this release"
                          : "the TLS key's policy is not bound to this fleet's approval key (" +
                                approver.fingerprint() + ") and to device id " + r.device_id +
                                ": either the record was made for another device id, or the "
                                "gateway's secure_link.trust_service.approval_key is not this "
                                "registry's key");

  // Rooted in the manufacturer: the EK certificate chains to a configured TPM CA.
  if (!r.endorsement)
    return make_error("a TPM enrollment needs the endorsement key and its certificate");
  BOOST_OUTCOME_TRY(ek, secure_link::parse_tpm_public(r.endorsement->ek_tpm_public));
  if (auto template_ok = secure_link::check_ek_template(ek); !template_ok) return template_ok.error();
  if (r.endorsement->ek_certificate.empty())
    return make_error("the TPM has no endorsement key certificate (NV index 0x01C00002), so "
                      "nothing shows it is a genuine TPM; it is refused");
  auto certified_ek = secure_link::verify_ek_certificate(r.endorsement->ek_certificate, ek.spki_der,
                                                         trust.tpm_manufacturer_cas);
  if (!certified_ek)
    return make_error(certified_ek.error().code,
                      "the TPM's endorsement is not trusted: " + certified_ek.error().message);
  if (!r.tls_key_certification)
    return make_error("a TPM enrollment needs the attestation key's certification of the TLS key");
  const auto& cert = *r.tls_key_certification;
  if (auto signed_ok = secure_link::verify_attestation_signature(cert.attest, cert.signature, ak.spki_der);
      !signed_ok)
    return make_error(signed_ok.error().code,
                      "the TLS key certification is not signed by the attestation key: " +
                          signed_ok.error().message);
  BOOST_OUTCOME_TRY(certified, secure_link::parse_certify(cert.attest));
  if (certified.name != tls.name)
    return make_error("the certification names another key than the TLS key");
  const auto expected = secure_link::enrollment_qualifying_data(r.device_id);
  if (!std::equal(certified.extra_data.begin(), certified.extra_data.end(), expected.begin(),
                  expected.end()))
    return make_error("the certification was made for another device id than " + r.device_id);
  d.tls_public_der = tls.spki_der;
  d.ak_public_der = ak.spki_der;
  d.ak_tpm_public = r.keys.ak_tpm_public;
  d.ek_public = r.endorsement->ek_tpm_public;
  d.ek_issuer = certified_ek.value().issuer;
  return d;
}

std::map<std::string, std::string> what_runs(const std::vector<secure_link::Measurement>& event_log) {
  std::map<std::string, std::string> running;
  for (const auto& event : event_log) {
    if (event.kind == MeasurementKind::gateway) running.clear();
    running[std::string(to_string(event.kind))] = secure_link::to_hex(event.file_sha256);
  }
  return running;
}

namespace {
result<void> refuse_software_unless_allowed(const DeviceRecord& device, const Policy& policy) {
  if (device.backend == config::IdentityBackend::software && !policy.allow_software_keys)
    return refuse(TrustRefusal::software_key_refused,
                  device.id + " has a software identity (keys in files, quotes made by software); "
                              "the policy accepts TPM identities only");
  return outcome::success();
}
}  // namespace

result<secure_link::QuoteAttestation> verify_evidence(const DeviceRecord& device,
                                                      const Policy& policy, const Evidence& evidence) {
  if (auto software = refuse_software_unless_allowed(device, policy); !software) return software.error();
  if (auto signed_ok = secure_link::verify_attestation_signature(
          evidence.quote.attest, evidence.quote.signature, device.ak_public_der);
      !signed_ok)
    return refuse(TrustRefusal::bad_signature,
                  "the quote is not signed by the enrolled attestation key of " + device.id + ": " +
                      signed_ok.error().message);
  return verify_signed_evidence(device, policy, evidence);
}

result<secure_link::QuoteAttestation> verify_signed_evidence(const DeviceRecord& device, const Policy& policy,
                                                             const Evidence& evidence) {
  if (auto software = refuse_software_unless_allowed(device, policy); !software) return software.error();
  auto parsed = secure_link::parse_quote(evidence.quote.attest);
  if (!parsed) return refuse(TrustRefusal::bad_signature, parsed.error().message);
  const auto& quote = parsed.value();
  // The evidence must say what made it: a TPM identity's quote claims TPM_GENERATED, a software
  // identity's quote says it is software (and was let through above only by the policy).
  const bool software = device.backend == config::IdentityBackend::software;
  if (quote.software_generated != software)
    return refuse(TrustRefusal::bad_signature,
                  std::string("the quote says it was made by ") +
                      (quote.software_generated ? "software" : "a TPM") + ", but " + device.id +
                      " is enrolled with a " + (software ? "software" : "TPM") + " identity");
  if (quote.extra_data != evidence.nonce)
    return refuse(TrustRefusal::bad_nonce,
                  "the quote was made for another nonce (a replayed quote?)");
  if (auto usable = valid_measurement_pcr(policy.pcr); !usable)
    return refuse(TrustRefusal::pcr_mismatch, "the policy's " + usable.error().message +
                                                  " (guardian-trust policy set --pcr)");
  if (quote.pcr_bank != kAlgSha256 || quote.pcrs != std::vector<unsigned>{policy.pcr})
    return refuse(TrustRefusal::pcr_mismatch,
                  "the quote must cover exactly SHA-256 PCR " + std::to_string(policy.pcr));
  const auto replayed = secure_link::replay_event_log(evidence.event_log);
  const auto expected_digest = secure_link::quote_pcr_digest(replayed);
  if (!std::equal(quote.pcr_digest.begin(), quote.pcr_digest.end(), expected_digest.begin(),
                  expected_digest.end()))
    return refuse(TrustRefusal::pcr_mismatch,
                  "the event log does not reproduce the quoted PCR " + std::to_string(policy.pcr) +
                      " (an event is missing, altered, or was extended by someone else)");

  // The whole log of the boot: every start of the gateway since the PCR was last reset, each
  // beginning with its binary. Everything that ran since boot must be allowed (a binary
  // disallowed since it ran leaves its mark until the device reboots), and the last start —
  // what runs now — must have measured all it measures.
  if (evidence.event_log.empty() || evidence.event_log.front().kind != MeasurementKind::gateway)
    return refuse(TrustRefusal::measurement_refused,
                  "the event log must begin with a gateway measurement");
  for (const auto& event : evidence.event_log) {
    const auto digest = secure_link::to_hex(event.file_sha256);
    const auto list = policy.allowed.find(event.kind);
    if (list == policy.allowed.end() || !list->second.contains(digest))
      return refuse(TrustRefusal::measurement_refused,
                    std::string(to_string(event.kind)) + " " + event.path + " has SHA-256 " +
                        digest + ", which the policy does not allow");
  }
  std::map<MeasurementKind, int> start;  // the kinds measured since the last gateway event
  for (const auto& event : evidence.event_log) {
    if (event.kind == MeasurementKind::gateway) start.clear();
    if (++start[event.kind] > 1)
      return refuse(TrustRefusal::measurement_refused,
                    "a gateway start measured its " + std::string(to_string(event.kind)) +
                        " more than once");
  }
  if (start[MeasurementKind::config] != 1)
    return refuse(TrustRefusal::measurement_refused,
                  "the last gateway start did not measure its configuration");
  const auto firmware = policy.allowed.find(MeasurementKind::firmware);
  if (firmware != policy.allowed.end() && !firmware->second.empty() &&
      start[MeasurementKind::firmware] != 1)
    return refuse(TrustRefusal::measurement_refused,
                  "the policy requires a measured firmware image, and the last gateway start "
                  "measured none");
  return quote;
}

}  // namespace guardian::cloud

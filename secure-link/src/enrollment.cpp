#include "guardian/secure_link/enrollment.hpp"

#include <nlohmann/json.hpp>

#include "guardian/common/time_format.hpp"

namespace guardian::secure_link {
namespace {

using nlohmann::json;

result<Bytes> binary_field(const json& object, const char* key, bool required) {
  if (!object.contains(key) || object[key].is_null()) {
    if (required) return make_error(std::string("enrollment record: \"") + key + "\" is missing");
    return Bytes{};
  }
  if (!object[key].is_string())
    return make_error(std::string("enrollment record: \"") + key + "\" must be a base64 string");
  auto bytes = from_base64(object[key].get<std::string>());
  if (!bytes) return make_error(std::string("enrollment record: \"") + key + "\" is not base64");
  return bytes;
}

// A string field or "" — never an exception, whatever the record holds (it comes from outside).
std::string text_or_empty(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

}  // namespace

std::string_view to_string(config::IdentityBackend backend) noexcept {
  return backend == config::IdentityBackend::tpm ? "tpm" : "software";
}

Sha256Digest enrollment_qualifying_data(const std::string& device_id) {
  std::string data = kEnrollmentFormat;
  data.push_back('\0');
  data += device_id;
  return sha256(std::string_view(data));
}

result<EnrollmentRecord> provision_identity(Identity& identity, const std::string& device_id) {
  BOOST_OUTCOME_TRY(keys, identity.create_keys());
  EnrollmentRecord record;
  record.device_id = device_id;
  record.backend = identity.backend();
  record.keys = std::move(keys);
  record.location = identity.location();
  record.created = now_ms();
  if (identity.backend() == config::IdentityBackend::tpm) {
    BOOST_OUTCOME_TRY(certification,
                      identity.certify_tls_key(enrollment_qualifying_data(device_id)));
    record.tls_key_certification = std::move(certification);
    BOOST_OUTCOME_TRY(endorsement, identity.endorsement());
    record.endorsement = std::move(endorsement);
  }
  return record;
}

json enrollment_to_json(const EnrollmentRecord& r) {
  json j{{"format", kEnrollmentFormat},
         {"device_id", r.device_id},
         {"backend", to_string(r.backend)},
         {"location", r.location},
         {"created", format_rfc3339(r.created)},
         {"tls_key",
          {{"public_der", to_base64(r.keys.tls_public_der)},
           {"tpm_public", r.keys.tls_tpm_public.empty() ? json() : json(to_base64(r.keys.tls_tpm_public))}}},
         {"attestation_key",
          {{"public_der", to_base64(r.keys.ak_public_der)},
           {"tpm_public", r.keys.ak_tpm_public.empty() ? json() : json(to_base64(r.keys.ak_tpm_public))}}}};
  if (r.tls_key_certification)
    j["tls_key_certification"] = {{"attest", to_base64(r.tls_key_certification->attest)},
                                  {"signature", to_base64(r.tls_key_certification->signature)}};
  else
    j["tls_key_certification"] = nullptr;
  if (r.endorsement)
    j["endorsement"] = {{"ek_public", to_base64(r.endorsement->ek_tpm_public)},
                        {"ek_certificate", r.endorsement->ek_certificate.empty()
                                               ? json()
                                               : json(to_base64(r.endorsement->ek_certificate))}};
  else
    j["endorsement"] = nullptr;
  return j;
}

result<EnrollmentRecord> enrollment_from_json(const json& j) {
  if (!j.is_object()) return make_error("not an enrollment record: a JSON object is expected");
  const auto format = text_or_empty(j, "format");
  if (format == "guardian-enrollment-v1")
    return make_error("this enrollment record was made by an earlier Guardian, whose TPM keys "
                      "have no policy and whose record has no endorsement key: run `guardian "
                      "identity provision --rotate` on the gateway and enroll the new record "
                      "with --replace");
  if (format != kEnrollmentFormat)
    return make_error(std::string("not an enrollment record: \"format\" must be \"") +
                      kEnrollmentFormat + "\"");
  EnrollmentRecord r;
  if (!j.contains("device_id") || !j["device_id"].is_string())
    return make_error("enrollment record: \"device_id\" is missing");
  r.device_id = j["device_id"].get<std::string>();
  const auto backend = text_or_empty(j, "backend");
  if (backend == "tpm")
    r.backend = config::IdentityBackend::tpm;
  else if (backend == "software")
    r.backend = config::IdentityBackend::software;
  else
    return make_error("enrollment record: \"backend\" must be \"tpm\" or \"software\"");
  r.location = text_or_empty(j, "location");
  if (auto created = parse_rfc3339(text_or_empty(j, "created"))) r.created = *created;
  for (const char* key : {"tls_key", "attestation_key"})
    if (!j.contains(key) || !j[key].is_object())
      return make_error(std::string("enrollment record: \"") + key + "\" is missing");
  const bool tpm = r.backend == config::IdentityBackend::tpm;
  BOOST_OUTCOME_TRY(tls_der, binary_field(j["tls_key"], "public_der", true));
  BOOST_OUTCOME_TRY(tls_tpm, binary_field(j["tls_key"], "tpm_public", tpm));
  BOOST_OUTCOME_TRY(ak_der, binary_field(j["attestation_key"], "public_der", true));
  BOOST_OUTCOME_TRY(ak_tpm, binary_field(j["attestation_key"], "tpm_public", tpm));
  r.keys = IdentityKeys{std::move(tls_der), std::move(tls_tpm), std::move(ak_der), std::move(ak_tpm)};
  if (j.contains("tls_key_certification") && j["tls_key_certification"].is_object()) {
    const auto& c = j["tls_key_certification"];
    BOOST_OUTCOME_TRY(attest, binary_field(c, "attest", true));
    BOOST_OUTCOME_TRY(signature, binary_field(c, "signature", true));
    r.tls_key_certification = SignedAttestation{std::move(attest), std::move(signature)};
  } else if (tpm) {
    return make_error("enrollment record: a TPM identity needs \"tls_key_certification\"");
  }
  if (j.contains("endorsement") && j["endorsement"].is_object()) {
    const auto& e = j["endorsement"];
    BOOST_OUTCOME_TRY(ek, binary_field(e, "ek_public", true));
    BOOST_OUTCOME_TRY(certificate, binary_field(e, "ek_certificate", false));
    r.endorsement = Endorsement{std::move(ek), std::move(certificate)};
  } else if (tpm) {
    return make_error("enrollment record: a TPM identity needs \"endorsement\"");
  }
  return r;
}

}  // namespace guardian::secure_link

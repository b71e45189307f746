#include "guardian/secure_link/trust_protocol.hpp"

#include <array>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "guardian/common/time_format.hpp"

namespace guardian::secure_link {
namespace {

constexpr std::array<std::pair<TrustRefusal, std::string_view>, 11> kSpellings{{
    {TrustRefusal::malformed_request, "malformed_request"},
    {TrustRefusal::unknown_device, "unknown_device"},
    {TrustRefusal::revoked, "revoked"},
    {TrustRefusal::bad_nonce, "bad_nonce"},
    {TrustRefusal::bad_signature, "bad_signature"},
    {TrustRefusal::pcr_mismatch, "pcr_mismatch"},
    {TrustRefusal::measurement_refused, "measurement_refused"},
    {TrustRefusal::software_key_refused, "software_key_refused"},
    {TrustRefusal::unavailable, "unavailable"},
    {TrustRefusal::enrollment_outdated, "enrollment_outdated"},
    {TrustRefusal::not_accepted, "not_accepted"},
}};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class TrustCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "trust"; }
  std::string message(int value) const override {
    return std::string(to_string(static_cast<TrustRefusal>(value)));
  }
};
#pragma GCC diagnostic pop

}  // namespace

std::string_view to_string(TrustRefusal refusal) noexcept {
  for (const auto& [value, spelling] : kSpellings)
    if (value == refusal) return spelling;
  return "unavailable";
}

std::optional<TrustRefusal> trust_refusal_from(std::string_view text) noexcept {
  for (const auto& [value, spelling] : kSpellings)
    if (spelling == text) return value;
  return std::nullopt;
}

const boost::system::error_category& trust_category() noexcept {
  static const TrustCategory instance;
  return instance;
}

boost::system::error_code make_error_code(TrustRefusal refusal) noexcept {
  return {static_cast<int>(refusal), trust_category()};
}

}  // namespace guardian::secure_link

// ───────────────────────────── messages ─────────────────────────────

namespace guardian::secure_link {
namespace {

using nlohmann::json;

Error malformed(std::string message) {
  return make_error(make_error_code(TrustRefusal::malformed_request), std::move(message));
}

// A string field; `required` absent → error. Never throws, whatever the JSON holds.
result<std::string> string_field(const json& j, const char* key, bool required = true) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return malformed(std::string("\"") + key + "\" is missing");
    return std::string{};
  }
  if (!it->is_string()) return malformed(std::string("\"") + key + "\" must be a string");
  return it->get<std::string>();
}

result<Bytes> base64_field(const json& j, const char* key) {
  BOOST_OUTCOME_TRY(text, string_field(j, key));
  auto bytes = from_base64(text);
  if (!bytes) return malformed(std::string("\"") + key + "\" is not base64");
  return bytes;
}

result<Bytes> hex_field(const json& j, const char* key, std::size_t size) {
  BOOST_OUTCOME_TRY(text, string_field(j, key));
  auto bytes = from_hex(text);
  if (!bytes || bytes.value().size() != size)
    return malformed(std::string("\"") + key + "\" must be " + std::to_string(size * 2) +
                     " hexadecimal digits");
  return bytes;
}

result<const json*> object_field(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_object())
    return malformed(std::string("\"") + key + "\" must be an object");
  return &*it;
}

json parse_object(std::string_view line) {
  auto j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json();
}

}  // namespace

result<TrustRequest> parse_trust_request(std::string_view line) {
  const json j = parse_object(line);
  if (j.is_null()) return malformed("a request is one JSON object per line");
  BOOST_OUTCOME_TRY(op, string_field(j, "op"));
  if (op == "ping") return TrustRequest{PingRequest{}};
  if (op != "nonce" && op != "attest")
    return malformed("unknown op (known: nonce, attest, ping)");
  BOOST_OUTCOME_TRY(device, string_field(j, "device"));
  if (op == "nonce") return TrustRequest{NonceRequest{std::move(device)}};

  AttestRequest r;
  r.device = std::move(device);
  BOOST_OUTCOME_TRY(nonce, hex_field(j, "nonce", kNonceSize));
  r.nonce = std::move(nonce);
  BOOST_OUTCOME_TRY(quote, object_field(j, "quote"));
  BOOST_OUTCOME_TRY(attest, base64_field(*quote, "attest"));
  BOOST_OUTCOME_TRY(signature, base64_field(*quote, "signature"));
  r.quote = {std::move(attest), std::move(signature)};
  const auto log = j.find("event_log");
  if (log == j.end()) return malformed("\"event_log\" is missing");
  auto events = event_log_from_json(*log);
  if (!events) return malformed(events.error().message);
  r.event_log = std::move(events).value();
  if (const auto lifetime = j.find("lifetime_s"); lifetime != j.end() && !lifetime->is_null()) {
    if (!lifetime->is_number_unsigned() || lifetime->get<std::uint64_t>() > 10ull * 365 * 86400)
      return malformed("\"lifetime_s\" must be a number of seconds");
    r.lifetime = std::chrono::seconds{lifetime->get<std::int64_t>()};
  }
  return TrustRequest{std::move(r)};
}

std::string to_line(const TrustRequest& request) {
  struct Visitor {
    json operator()(const NonceRequest& r) const { return {{"op", "nonce"}, {"device", r.device}}; }
    json operator()(const PingRequest&) const { return {{"op", "ping"}}; }
    json operator()(const AttestRequest& r) const {
      json j{{"op", "attest"},
             {"device", r.device},
             {"nonce", to_hex(r.nonce)},
             {"quote", {{"attest", to_base64(r.quote.attest)}, {"signature", to_base64(r.quote.signature)}}},
             {"event_log", event_log_to_json(r.event_log)}};
      if (r.lifetime) j["lifetime_s"] = r.lifetime->count();
      return j;
    }
  };
  return std::visit(Visitor{}, request).dump();
}

result<json> parse_trust_response(std::string_view line, const std::string& service) {
  json j = parse_object(line);
  if (j.is_null() || !j.contains("ok") || !j["ok"].is_boolean())
    return make_error("the trust service " + service + " sent a malformed response");
  if (j["ok"].get<bool>()) return j;
  auto reason = string_field(j, "error", false);
  auto message = string_field(j, "message", false);
  const auto refusal =
      trust_refusal_from(reason ? reason.value() : std::string{}).value_or(TrustRefusal::unavailable);
  return make_error(make_error_code(refusal),
                    "the trust service " + service + " refused: " + std::string(to_string(refusal)) +
                        ": " + (message ? message.value() : std::string{}));
}

result<NonceResponse> nonce_response_from(const json& j) {
  NonceResponse r;
  BOOST_OUTCOME_TRY(expires_text, string_field(j, "expires"));
  const auto expires = parse_rfc3339(expires_text);
  if (!expires) return malformed("\"expires\" is not an RFC 3339 time");
  r.expires = *expires;
  if (const auto c = j.find("credential"); c != j.end() && !c->is_null()) {
    if (!c->is_object()) return malformed("\"credential\" must be an object");
    BOOST_OUTCOME_TRY(id_object, base64_field(*c, "id_object"));
    BOOST_OUTCOME_TRY(secret, base64_field(*c, "encrypted_secret"));
    r.credential = Credential{std::move(id_object), std::move(secret)};
    return r;
  }
  BOOST_OUTCOME_TRY(nonce, hex_field(j, "nonce", kNonceSize));
  r.nonce = std::move(nonce);
  return r;
}

result<AttestResponse> attest_response_from(const json& j) {
  AttestResponse r;
  BOOST_OUTCOME_TRY(certificate, string_field(j, "certificate"));
  r.certificate_pem = std::move(certificate);
  BOOST_OUTCOME_TRY(ca, string_field(j, "ca", false));
  r.ca_pem = std::move(ca);
  BOOST_OUTCOME_TRY(serial, string_field(j, "serial", false));
  r.serial = std::move(serial);
  if (const auto a = j.find("approval"); a != j.end() && !a->is_null()) {
    if (!a->is_object()) return malformed("\"approval\" must be an object");
    PolicyApproval approval;
    const auto pcr = a->find("pcr");
    if (pcr == a->end() || !pcr->is_number_unsigned() || pcr->get<std::uint64_t>() >= 24)
      return malformed("\"approval.pcr\" must be a PCR index");
    approval.pcr = pcr->get<unsigned>();
    BOOST_OUTCOME_TRY(digest, hex_field(*a, "pcr_digest", 32));
    approval.pcr_digest = std::move(digest);
    BOOST_OUTCOME_TRY(signature, base64_field(*a, "signature"));
    approval.signature = std::move(signature);
    r.approval = std::move(approval);
  }
  return r;
}

json to_json(const NonceResponse& r) {
  json j{{"ok", true}, {"expires", format_rfc3339(r.expires)}};
  if (r.credential)
    j["credential"] = {{"id_object", to_base64(r.credential->id_object)},
                       {"encrypted_secret", to_base64(r.credential->encrypted_secret)}};
  else
    j["nonce"] = to_hex(r.nonce);
  return j;
}

json to_json(const AttestResponse& r) {
  json j{{"ok", true}, {"certificate", r.certificate_pem}, {"ca", r.ca_pem}, {"serial", r.serial}};
  if (r.approval)
    j["approval"] = {{"pcr", r.approval->pcr},
                     {"pcr_digest", to_hex(r.approval->pcr_digest)},
                     {"signature", to_base64(r.approval->signature)}};
  return j;
}

json refusal_json(TrustRefusal refusal, const std::string& message) {
  return {{"ok", false}, {"error", std::string(to_string(refusal))}, {"message", message}};
}

}  // namespace guardian::secure_link

#include "guardian/cloud/policy.hpp"

#include <nlohmann/json.hpp>

namespace guardian::cloud {

using nlohmann::json;
using secure_link::MeasurementKind;

result<void> valid_measurement_pcr(unsigned pcr) {
  if (pcr == 16 || pcr == 23)
    return make_error("PCR " + std::to_string(pcr) +
                      " can be reset by any program that reaches the TPM, which could then rebuild "
                      "an allowed state; use a PCR from 8 to 15 (Guardian's default is " +
                      std::to_string(config::kDefaultMeasurementPcr) + ")");
  if (pcr < 8 || pcr > 15)
    return make_error("PCR " + std::to_string(pcr) +
                      (pcr < 8 ? " holds the firmware's measurements" : " belongs to dynamic launch") +
                      "; use a PCR from 8 to 15");
  return outcome::success();
}

result<void> validate_policy(const Policy& p) {
  if (auto usable = valid_measurement_pcr(p.pcr); !usable) return make_error("pcr: " + usable.error().message);
  if (p.max_lifetime < kMinCertificateLifetime || p.max_lifetime > kMaxCertificateLifetime)
    return make_error("max lifetime " + std::to_string(p.max_lifetime.count()) +
                      " s: it must be between 5 minutes and 30 days");
  return outcome::success();
}

json policy_to_json(const Policy& p) {
  json allowed = json::object();
  for (const auto kind : {MeasurementKind::gateway, MeasurementKind::firmware, MeasurementKind::config}) {
    json list = json::array();
    if (const auto it = p.allowed.find(kind); it != p.allowed.end())
      for (const auto& [digest, note] : it->second) list.push_back({{"sha256", digest}, {"note", note}});
    allowed[std::string(to_string(kind))] = std::move(list);
  }
  return {{"allow_software_keys", p.allow_software_keys},
          {"pcr", p.pcr},
          {"max_lifetime_s", p.max_lifetime.count()},
          {"allowed", std::move(allowed)}};
}

result<Policy> policy_from_json(const json& j) {
  if (!j.is_object()) return make_error("policy: not a JSON object");
  Policy p;
  if (j.contains("allow_software_keys")) {
    if (!j["allow_software_keys"].is_boolean()) return make_error("policy: allow_software_keys must be true or false");
    p.allow_software_keys = j["allow_software_keys"].get<bool>();
  }
  if (j.contains("pcr")) {
    if (!j["pcr"].is_number_unsigned() || j["pcr"].get<unsigned>() > 23)
      return make_error("policy: pcr must be 0–23");
    p.pcr = j["pcr"].get<unsigned>();
  }
  if (j.contains("max_lifetime_s")) {
    if (!j["max_lifetime_s"].is_number_unsigned() || j["max_lifetime_s"].get<std::int64_t>() < 1)
      return make_error("policy: max_lifetime_s must be a positive number of seconds");
    p.max_lifetime = std::chrono::seconds{j["max_lifetime_s"].get<std::int64_t>()};
  }
  if (j.contains("allowed")) {
    if (!j["allowed"].is_object()) return make_error("policy: allowed must be an object");
    for (const auto& [name, list] : j["allowed"].items()) {
      const auto kind = secure_link::measurement_kind_from(name);
      if (!kind) return make_error("policy: allowed." + name + " is not a measurement kind");
      if (!list.is_array()) return make_error("policy: allowed." + name + " must be a list");
      auto& entries = p.allowed[*kind];
      for (const auto& entry : list) {
        if (!entry.is_object() || !entry.contains("sha256") || !entry["sha256"].is_string())
          return make_error("policy: allowed." + name + " entries need a sha256");
        const auto note = entry.find("note");
        entries[entry["sha256"].get<std::string>()] =
            note != entry.end() && note->is_string() ? note->get<std::string>() : std::string{};
      }
    }
  }
  return p;
}

}  // namespace guardian::cloud

#include "guardian/secure_link/measurement.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace guardian::secure_link {

std::string_view to_string(MeasurementKind kind) noexcept {
  switch (kind) {
    case MeasurementKind::gateway: return "gateway";
    case MeasurementKind::firmware: return "firmware";
    case MeasurementKind::config: return "config";
  }
  return "gateway";
}

std::optional<MeasurementKind> measurement_kind_from(std::string_view text) noexcept {
  for (const auto kind : {MeasurementKind::gateway, MeasurementKind::firmware,
                          MeasurementKind::config})
    if (to_string(kind) == text) return kind;
  return std::nullopt;
}

Sha256Digest extend_digest(const Measurement& m) {
  std::string data = "guardian-measurement-v1";
  data.push_back('\0');
  data.append(to_string(m.kind));
  data.push_back('\0');
  data.append(reinterpret_cast<const char*>(m.file_sha256.data()), m.file_sha256.size());
  return sha256(std::string_view(data));
}

Sha256Digest pcr_extend(const Sha256Digest& pcr, const Sha256Digest& digest) {
  std::array<std::uint8_t, 64> both{};
  std::copy(pcr.begin(), pcr.end(), both.begin());
  std::copy(digest.begin(), digest.end(), both.begin() + 32);
  return sha256(ByteView(both));
}

Sha256Digest replay_event_log(std::span<const Measurement> events) {
  Sha256Digest pcr{};
  for (const auto& e : events) pcr = pcr_extend(pcr, extend_digest(e));
  return pcr;
}

nlohmann::json event_log_to_json(std::span<const Measurement> events) {
  auto log = nlohmann::json::array();
  for (const auto& e : events)
    log.push_back({{"kind", to_string(e.kind)}, {"path", e.path}, {"sha256", to_hex(e.file_sha256)}});
  return log;
}

result<std::vector<Measurement>> event_log_from_json(const nlohmann::json& log) {
  if (!log.is_array()) return make_error("event_log must be an array");
  std::vector<Measurement> events;
  for (std::size_t i = 0; i < log.size(); ++i) {
    const auto& entry = log[i];
    const std::string where = "event_log[" + std::to_string(i) + "]";
    if (!entry.is_object() || !entry.contains("kind") || !entry["kind"].is_string() ||
        !entry.contains("sha256") || !entry["sha256"].is_string())
      return make_error(where + " needs \"kind\" and \"sha256\" strings");
    Measurement m;
    const auto kind = measurement_kind_from(entry["kind"].get<std::string>());
    if (!kind) return make_error(where + ": unknown kind \"" + entry["kind"].get<std::string>() + "\"");
    m.kind = *kind;
    if (entry.contains("path") && entry["path"].is_string()) m.path = entry["path"].get<std::string>();
    auto digest = from_hex(entry["sha256"].get<std::string>());
    if (!digest || digest.value().size() != m.file_sha256.size())
      return make_error(where + ": sha256 must be 64 hexadecimal digits");
    std::copy(digest.value().begin(), digest.value().end(), m.file_sha256.begin());
    events.push_back(std::move(m));
  }
  return events;
}

}  // namespace guardian::secure_link

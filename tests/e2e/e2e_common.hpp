#pragma once
// Shared helpers of the e2e tests: payload parsing, seq bookkeeping, schema validation.

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/mqtt_collector.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

/// Messages of `all` whose topic ends with `suffix` (for MqttCollector::wait_for predicates,
/// which run under the collector's lock and must not call back into it).
inline std::vector<ReceivedMessage> on_topic(const std::vector<ReceivedMessage>& all,
                                             const std::string& suffix) {
  std::vector<ReceivedMessage> out;
  for (const auto& m : all)
    if (m.topic.ends_with(suffix)) out.push_back(m);
  return out;
}

/// A pymodbus unit 1 with 40 holding registers (1000…1039), for load tests.
inline nlohmann::json counter_registers() {
  nlohmann::json hr = nlohmann::json::object();
  for (int i = 0; i < 40; ++i) hr[std::to_string(i)] = 1000 + i;
  return nlohmann::json{{"units", {{"1", {{"hr", hr}}}}}};
}

/// The adapters YAML of a fast-polling device "meter-1" reading those 40 registers (40 points per
/// poll: many small messages in flight at any moment).
inline std::string fast_adapter(std::uint16_t port, const std::string& poll) {
  std::string yaml = "  - name: bus\n    type: modbus\n    host: 127.0.0.1\n    port: " +
                     std::to_string(port) +
                     "\n    backoff: {min: 100ms, max: 500ms}\n    devices:\n      - name: meter-1\n"
                     "        unit_id: 1\n        poll_interval: " + poll + "\n        points:\n";
  for (int i = 0; i < 40; ++i)
    yaml += "          - {name: r" + std::to_string(i) + ", table: holding, address: " +
            std::to_string(i) + ", type: uint16}\n";
  return yaml;
}

/// Every queued message (telemetry/records/gaps) received, by seq; duplicates counted.
struct SeqLedger {
  std::map<std::uint64_t, std::string> first_payload;  // seq → payload of its first arrival
  std::map<std::uint64_t, int> arrivals;               // seq → how many times it arrived
  std::vector<std::string> mismatched;                 // duplicates whose payload differed

  explicit SeqLedger(const std::vector<ReceivedMessage>& messages) {
    for (const auto& m : messages) {
      if (m.topic.ends_with("/health") || m.topic.ends_with("/status")) continue;
      const auto j = nlohmann::json::parse(m.payload);
      const auto seq = j.at("seq").get<std::uint64_t>();
      auto [it, fresh] = first_payload.try_emplace(seq, m.payload);
      if (!fresh && it->second != m.payload) mismatched.push_back(m.payload);
      ++arrivals[seq];
    }
  }
  /// Seqs in [1, last] that never arrived.
  [[nodiscard]] std::vector<std::uint64_t> missing(std::uint64_t last) const {
    std::vector<std::uint64_t> out;
    for (std::uint64_t s = 1; s <= last; ++s)
      if (!first_payload.contains(s)) out.push_back(s);
    return out;
  }
  [[nodiscard]] std::set<std::uint64_t> duplicated() const {
    std::set<std::uint64_t> out;
    for (const auto& [seq, n] : arrivals)
      if (n > 1) out.insert(seq);
    return out;
  }
  [[nodiscard]] bool has_all(std::uint64_t last) const {
    return first_payload.size() >= last && missing(last).empty();
  }
};

/// Lowercase hex of `bytes` (what `mosquitto_sub -F %x` prints for a payload).
inline std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

/// Validates every received payload against docs/schema/guardian-v1.schema.json with
/// python3-jsonschema. Returns the validator's exit code and output.
inline CommandResult validate_against_schema(const std::vector<ReceivedMessage>& messages,
                                             const TempDir& dir) {
  std::string lines;
  for (const auto& m : messages) {
    if (m.payload.empty()) continue;  // a cleared retained message
    if (m.payload.front() == '{') {
      lines += nlohmann::json{{"topic", m.topic}, {"payload", m.payload}}.dump() + "\n";
      continue;
    }
    // Not text (a deflated v2 payload): hex, inflated by the validator.
    lines += nlohmann::json{{"topic", m.topic}, {"payload_hex", to_hex(m.payload)}}.dump() + "\n";
  }
  write_file(dir / "messages.jsonl", lines);
  return run_command({"/usr/bin/python3", source_path("tests/support/validate_payloads.py").string(),
                      source_path("docs/schema/guardian-v1.schema.json").string(),
                      (dir / "messages.jsonl").string()});
}

}  // namespace guardian::testing

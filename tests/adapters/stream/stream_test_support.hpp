#pragma once
// Shared by the stream adapter tests: adapter configurations written as the technician writes
// them (YAML, through the real loader), codec drivers, and an adapter harness on a real
// io_context run by the test thread.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/adapters/adapter.hpp"
#include "guardian/adapters/stream/codec.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/testing/io_driver.hpp"

namespace guardian::adapters::stream::testing {

using namespace std::chrono_literals;

/// The one adapter of a site whose `adapters:` list is `adapter_yaml` (a YAML list item starting
/// with "- name: …", at column 0). Fails the test with every loader error when it does not load.
inline config::StreamAdapterConfig load_adapter(std::string_view adapter_yaml) {
  std::string site = "device: {id: gw}\nadapters:\n";
  std::size_t pos = 0;
  while (pos < adapter_yaml.size()) {
    const auto end = std::min(adapter_yaml.find('\n', pos), adapter_yaml.size());
    site += "  " + std::string(adapter_yaml.substr(pos, end - pos)) + "\n";
    pos = end + 1;
  }
  const auto loaded = config::parse_site_config(site, "test.yaml");
  std::string errors;
  for (const auto& e : loaded.errors) errors += e.to_string() + "\n";
  EXPECT_TRUE(loaded.ok()) << errors << site;
  if (!loaded.ok()) return {};
  return std::get<config::StreamAdapterConfig>(loaded.config->adapters.at(0));
}

inline std::vector<std::uint8_t> bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}

/// Feeds `input` to `codec` in pieces of `chunk` bytes (0 = all at once).
inline std::vector<Decoded> feed(Codec& codec, const std::vector<std::uint8_t>& input,
                                 std::size_t chunk = 0) {
  std::vector<Decoded> out;
  const Timestamp ts = now_ms();
  if (chunk == 0) chunk = input.empty() ? 1 : input.size();
  for (std::size_t pos = 0; pos < input.size(); pos += chunk)
    codec.feed(
        std::span<const std::uint8_t>(input).subspan(pos, std::min(chunk, input.size() - pos)), ts,
        out);
  return out;
}

/// The value of field `name` in `d` (monostate when absent).
inline Value field(const Decoded& d, const std::string& name) {
  for (const auto& r : d.fields)
    if (r.point == name) return r.value;
  return {};
}

inline const Reading* reading(const std::vector<Reading>& rs, const std::string& name) {
  for (const auto& r : rs)
    if (r.point == name) return &r;
  return nullptr;
}

/// Records what an adapter delivers; everything happens on the test thread.
struct Received {
  std::vector<ReadingBatch> batches;
  std::vector<Record> records;
  [[nodiscard]] ReadingSink reading_sink() {
    return [this](ReadingBatch&& b) { batches.push_back(std::move(b)); };
  }
  [[nodiscard]] RecordSink record_sink() {
    return [this](Record&& r) { records.push_back(std::move(r)); };
  }
  /// Batches of `source` whose every reading has `quality`.
  [[nodiscard]] std::size_t batches_with(const std::string& source, Quality quality) const {
    std::size_t n = 0;
    for (const auto& b : batches) {
      if (b.source != source || b.readings.empty()) continue;
      bool all = true;
      for (const auto& r : b.readings) all = all && r.quality == quality;
      n += all ? 1u : 0u;
    }
    return n;
  }
  [[nodiscard]] std::size_t records_of(const std::string& source) const {
    std::size_t n = 0;
    for (const auto& r : records) n += r.source == source ? 1u : 0u;
    return n;
  }
};

using guardian::testing::IoDriver;

/// The counter `name` of source `source` in `h` (0 when absent).
inline std::uint64_t source_counter(const AdapterHealth& h, const std::string& source,
                                    const std::string& name) {
  for (const auto& s : h.sources)
    if (s.source == source) {
      const auto it = s.counters.find(name);
      return it == s.counters.end() ? 0 : it->second;
    }
  return 0;
}

inline const SourceHealth* source_health(const AdapterHealth& h, const std::string& source) {
  for (const auto& s : h.sources)
    if (s.source == source) return &s;
  return nullptr;
}

}  // namespace guardian::adapters::stream::testing
